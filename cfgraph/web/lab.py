"""The counterfactual lab: put cells into World A and World B, compare every A x B pair.

The whole state is the query string (:class:`cfgraph.lab_state.LabState`):
``/lab?a=digits|ABCD|all&b=digits|BCD|all&p.tol=0``. Clicking a cell of the
picker grid submits ``add=<cell>`` (toggled in the side ``p.side``), which
redirects to the new state's URL; ``drop``, ``clear`` and ``swap`` edit the sets
the same way. A cell that does not resolve (an unknown world, training set, slice,
metric or seed) is refused at the add step: 400, one line on the page, the state
kept. Everything in the query is the page's own input, so an unknown name in it
(a cell, ``p.world``, ``p.seed``) is a 400 with the message inline, not a 404.
``/api/lab`` returns the same comparison as JSON (one model, two
renderings); ``/lab/state.json`` downloads the state and ``POST /lab/import``
reads one back, all or nothing.
"""

from __future__ import annotations

import json
import math
from urllib.parse import parse_qsl, urlsplit
from types import SimpleNamespace

import numpy as np
from flask import Blueprint, Response, redirect, render_template, request, url_for

from cfgraph import compare as C
from cfgraph.errors import CfgraphError, NotFound
from cfgraph.lab_presets import presets
from cfgraph.lab_state import DEFAULT_TOP, LENSES, MAX_DOCUMENT_BYTES, MAX_TOP, CellRef, LabState, check_params
from cfgraph.web import state as view_state
from cfgraph.web.charts import Scale
from cfgraph.web.db import get_session
from cfgraph.web.grid import row_order
from cfgraph.world import World, default_world_name

bp = Blueprint("lab", __name__)

#: The picker shows at most this many training sets and slices of a big world (and says so).
PICK_ROWS, PICK_COLUMNS = 64, 24
#: Parameters the picker form sets itself (the other state travels in hidden inputs).
PICKER_PARAMS = ("p.world", "p.seed", "p.side")
#: Parameters the pairing form sets itself.
PAIRING_PARAMS = ("p.pairing", "p.add", "p.match")
__all__ = ["bp", "comparison_model", "LENSES", "DEFAULT_TOP", "MAX_TOP"]


def _num(x):
    x = float(x)
    return None if math.isnan(x) else x


def state_url(state: LabState) -> str:
    return state.url()


def _line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _bad_input(exc: CfgraphError) -> CfgraphError:
    """A NotFound in the lab's query as a plain CfgraphError (400): the query is the page's own input."""
    return CfgraphError(_line(exc)) if isinstance(exc, NotFound) else exc


def _edited(state: LabState, args, session) -> LabState | None:
    """The state after an edit carried by the query (add, drop, clear, swap, cell), or None.

    Raises
    ------
    CfgraphError
        On a malformed cell or side, or an added cell that does not resolve in the store
        (:func:`_check_added`): the edit is refused whole.
    """
    side = args.get("to") or state.param("side") or "a"
    if side not in ("a", "b"):
        raise CfgraphError(f"side {side[:10]!r} is not a or b")
    sets = {"a": list(state.a), "b": list(state.b)}
    edited, added = False, []
    for text in args.getlist("add") + [t for t in args.getlist("cell") if t.strip()]:
        ref = CellRef.from_text(text.strip())
        if ref in sets[side]:
            sets[side].remove(ref)  # a second click takes a cell out again
        else:
            sets[side].append(ref)
            added.append(ref)
        edited = True
    if added:
        _check_added(session, state, side, added)
    for text in args.getlist("drop"):
        where, _, cell = text.partition(":")
        if where in sets:
            ref = CellRef.from_text(cell)
            sets[where] = [r for r in sets[where] if r != ref]
        edited = True
    for where in args.getlist("clear"):
        if where in sets:
            sets[where] = []
        edited = True
    if args.get("swap"):
        sets["a"], sets["b"] = sets["b"], sets["a"]
        edited = True
    if "cell" in args and not edited:
        return state  # an empty typed cell: back to the state
    if not edited:
        return None
    return LabState(tuple(sets["a"]), tuple(sets["b"]), state.lens, state.params)


def _check_added(session, state: LabState, side: str, added) -> None:
    """Refuse cells that do not resolve: an unknown world, training set, slice, metric or seed, or a
    cell on another metric than the cells already chosen (the comparison reads one metric).

    Raises
    ------
    CfgraphError
        ``'<cell>' not added to World B: <why>`` (status 400, a NotFound included).
    """
    metric = None
    for ref in state.a + state.b:  # the metric of the first chosen cell, if it resolves
        try:
            metric = World.open(session, ref.world).choose(ref.metric, ref.seed)[0]
        except CfgraphError:
            continue
        break
    for ref in added:
        try:
            C.resolve(session, [ref], side.upper(), metric=metric)
        except CfgraphError as exc:
            if exc.status >= 500:
                raise
            raise CfgraphError(f"{ref.to_text()[:80]!r} not added to World {side.upper()}: {_line(exc)}") from None


def comparison_model(session, state: LabState) -> dict:
    """The comparison of a state as plain data: counts, totals, top pairs, difference grids.

    Raises
    ------
    CfgraphError, NotFound
        On an unknown world, training set, slice, metric or seed, a metric mismatch, a bad tolerance
        or lens, or too many pairs.
    """
    check_params(state.lens, state.params)
    tolerance = _tolerance(state.param("tol"))
    top = state.param("top") or str(DEFAULT_TOP)
    comparison = C.compare_refs(session, state.a, state.b, tolerance, **pairing_of(state))
    counts = comparison.counts()
    classes = [{"class": name, "pairs": int(row.sum()), **dict(zip(C.OUTCOMES, row.tolist()))}
               for name, row in zip(C.CLASSES, counts) if row.sum()]
    top_pairs = comparison.top(int(top))
    for pair in top_pairs:
        for side in ("a", "b"):
            cell = pair[side]
            cell["url"] = url_for("grid.page", world=cell["world"], cell=f"{cell['train']}:{cell['slice']}",
                                  metric=cell["metric"], seed=cell["seed"])
    return {"metric": comparison.a.metric, "tolerance": tolerance, "n_a": len(comparison.a),
            "n_b": len(comparison.b), "n_pairs": comparison.n_pairs, "pairing": comparison.pairing,
            "match": comparison.match, "add": comparison.add, "unpaired": comparison.unpaired,
            "totals": comparison.totals(),
            "classes": classes, "top": top_pairs, "grids": [_grid_model(g) for g in comparison.diff_grids()]}


def pairing_of(state: LabState) -> dict:
    """:func:`cfgraph.compare.compare`'s pairing arguments from the state's ``p.pairing``, ``p.add``, ``p.match``."""
    return {"pairing": state.param("pairing") or "all", "add": state.param("add") or "",
            "match": state.param("match") or C.MATCHES[0]}


def _tolerance(text: str | None) -> float:
    """The tolerance ``p.tol`` (a number >= 0; :func:`cfgraph.compare.compare` checks the range)."""
    if text is None or not text.strip():
        return C.DEFAULT_TOLERANCE
    try:
        return float(text)
    except ValueError:
        raise CfgraphError(f"the tolerance must be a number, not {text[:30]!r}") from None


def _grid_model(grid: C.DiffGrid) -> dict:
    """A difference grid in the grid page's row order, rows and slices without a pair dropped."""
    order = row_order(SimpleNamespace(letters=grid.letters, labels=grid.labels, slices=grid.slices, values=grid.delta))
    rows_kept = order[grid.paired[order].any(axis=1)]
    cols = np.flatnonzero(grid.paired.any(axis=0))
    delta = grid.delta[np.ix_(rows_kept, cols)]
    paired = grid.paired[np.ix_(rows_kept, cols)]
    magnitude = np.abs(delta)
    scale = Scale(0.0, float(np.nanmax(magnitude)) if np.isfinite(magnitude).any() and np.nanmax(magnitude) > 0
                  else 1.0)
    level = scale.buckets(magnitude) // 2  # five shades per sign
    rows = []
    for r, mask in enumerate(rows_kept.tolist()):
        cells = []
        for c in range(len(cols)):
            d = float(delta[r, c])
            if not paired[r, c]:
                css = "none"
            elif math.isnan(d):
                css = "m"
            else:
                css = ("up" if d > 0 else "down" if d < 0 else "same") + f" i{int(level[r, c])}"
            cells.append({"delta": None if math.isnan(d) else d, "css": css})
        rows.append({"train": grid.labels[mask], "cells": cells})
    present = paired & ~np.isnan(delta)
    return {"world_a": grid.world_a, "world_b": grid.world_b, "seed_a": int(grid.seed_a), "seed_b": int(grid.seed_b),
            "kind": grid.kind, "title": _grid_title(grid), "changed": grid.changed, "add": grid.add,
            "slice_b": grid.slice_b, "slices": [grid.slices[c] for c in cols.tolist()], "rows": rows,
            "max_abs": scale.hi, "up": int((delta[present] > 0).sum()), "down": int((delta[present] < 0).sum()),
            "same": int((delta[present] == 0).sum()), "missing": int((paired & np.isnan(delta)).sum())}


def _grid_title(grid: C.DiffGrid) -> str:
    """``B - A`` in words: each side's world, seed when they differ, the added units, B's slice."""
    seeds = grid.seed_a != grid.seed_b

    def side(world, seed, train, slice_):
        return (world + (f" seed {seed}" if seeds else "") + (f", T + {train}" if train else "")
                + (f", slice {slice_}" if slice_ else ""))

    b = side(grid.world_b, grid.seed_b, grid.add, grid.slice_b)
    a = side(grid.world_a, grid.seed_a, "T" if grid.add else "", None).replace(", T + T", ", T")
    changed = f" ({' + '.join(grid.changed)})" if "joint shift" in grid.kind and grid.changed else ""
    return f"{grid.kind[:1].upper()}{grid.kind[1:]}{changed}: {b} − {a}"


def _picker(session, state: LabState) -> dict:
    """The world whose grid the picker shows, its seed, and the first rows and slices of its grid."""
    name = state.param("world") or (state.a[0].world if state.a else None) or default_world_name(session)
    world = view_state.load_world(name)
    if world.sampled:
        return {"world": world, "problem": f"{world.name} is a sampled world: the lab compares cells of exhaustive "
                                           "worlds by training-set label"}
    seed = state.param("seed") or None
    table = world.table(None, seed)
    order = row_order(table)
    rows = order[:PICK_ROWS]
    m = min(len(table.slices), PICK_COLUMNS)
    buckets = Scale.of(table.values).buckets(table.values[rows, :m])
    side = state.param("side") or "a"
    chosen = {(r.world, r.train, r.slice, r.seed) for r in (state.a if side == "a" else state.b)}
    seed_part = "" if seed is None else f"||{table.seed}"
    grid_rows = []
    for t, mask in enumerate(rows.tolist()):
        label = table.labels[mask]
        cells = []
        for j in range(m):
            v = float(table.values[mask, j])
            text = f"{world.name}|{label}|{table.slices[j]}{seed_part}"
            chosen_here = (world.name, label, table.slices[j], None if seed is None else table.seed) in chosen
            cells.append({"ref": text, "value": None if math.isnan(v) else v, "css": f"c{buckets[t, j]}"
                          if buckets[t, j] >= 0 else "m", "chosen": chosen_here, "slice": table.slices[j]})
        grid_rows.append({"train": label, "row_ref": f"{world.name}|{label}|*{seed_part}", "cells": cells})
    from cfgraph.world import list_worlds

    return {"world": world, "problem": None, "worlds": [w["name"] for w in list_worlds(session)],
            "seeds": world.seeds, "seed": seed, "side": side, "slices": table.slices[:m],
            "slice_refs": [f"{world.name}|*|{s}{seed_part}" for s in table.slices[:m]],
            "all_ref": f"{world.name}|*|*{seed_part}", "rows": grid_rows,
            "n_rows": len(order), "n_columns": len(table.slices),
            "presets": [(title, s.url()) for title, s in presets(world, params=state.params)]}


@bp.route("/lab")
def page():
    """The lab page (an edit in the query redirects to the edited state's URL; a refused one is a 400)."""
    try:
        state = LabState.from_query(request.args)
    except CfgraphError as exc:  # a malformed query: the empty lab, with the reason
        return _render(LabState(), problem=_line(exc))
    try:
        edited = _edited(state, request.args, get_session())
    except CfgraphError as exc:
        if exc.status >= 500:
            raise
        # the edit is refused whole: the state as it was, the message inline, the typed text kept to fix
        return _render(state, problem=_line(exc), typed=request.args.get("cell", ""))
    if edited is not None:
        return redirect(state_url(edited), code=303)
    return _render(state)


def _render(state: LabState, import_problem: str | None = None, problem: str | None = None, typed: str = ""):
    """The lab page for ``state``, status 400 with the message inline when anything in it is refused.

    ``import_problem``: a refused import's message; ``problem``: a refused edit's; ``typed``: the text
    of a refused typed cell (kept in its field). The picker's own parameters (``p.world``, ``p.seed``)
    and the comparison add their problems; the picker then falls back to the default world.
    """
    session = get_session()
    problems, status = [problem] if problem else [], 200
    picker = None
    for candidate in (state, state.with_params(world=None, seed=None), LabState(params=_side_only(state))):
        try:
            picker = _picker(session, candidate)
            break
        except CfgraphError as exc:
            if exc.status >= 500:
                raise
            if _line(exc) not in problems:
                problems.append(_line(exc))
    if picker is None:
        picker = {"world": None, "problem": "no world to pick cells from", "presets": []}
    model = None
    try:
        if state.a and state.b:
            model = comparison_model(session, state)
        else:  # one set chosen so far: its cells must still resolve
            for side, refs in (("A", state.a), ("B", state.b)):
                if refs:
                    C.resolve(session, refs, side)
    except CfgraphError as exc:
        if exc.status >= 500:
            raise
        if _line(exc) not in problems:
            problems.append(_line(exc))
    if problems or import_problem is not None:
        status = 400  # everything here is the page's own input: an unknown name in it is bad input, not 404
    pairing = pairing_of(state)
    query = state.to_query()
    return render_template("lab.html", state=state, picker=picker, model=model, problem="; ".join(problems),
                           typed=typed,
                           import_problem=import_problem, pairing=pairing, matches=C.MATCHES,
                           hidden=[(k, v) for k, v in query if k not in PICKER_PARAMS],
                           hidden_pairing=[(k, v) for k, v in query if k not in PAIRING_PARAMS],
                           hidden_all=query, export_url=url_for("lab.export") + _query(state),
                           api_url=url_for("lab.api") + _query(state), lens=state.lens), status


def _side_only(state: LabState) -> tuple:
    """The state's ``p.side`` if it is a or b (the last fallback picker keeps only the chosen side)."""
    return tuple((k, v) for k, v in state.params if k == "side" and v in ("a", "b"))


def _query(state: LabState) -> str:
    url = state.url()
    return url[len("/lab"):]


@bp.route("/api/lab")
def api():
    """The same comparison as JSON, with the state as its document (an unknown name in it: 400, as on the page)."""
    try:
        state = LabState.from_query(request.args)
        return {"state": state.to_document(), "url": state.url(), **comparison_model(get_session(), state)}
    except NotFound as exc:
        raise _bad_input(exc) from None


@bp.route("/lab/state.json")
def export():
    """The state as a versioned JSON document, downloaded; a state import would refuse: a JSON error (400)."""
    try:
        state = LabState.from_query(request.args)
        check_params(state.lens, state.params)
    except CfgraphError as exc:
        return {"error": _line(exc), "status": 400}, 400
    body = json.dumps(state.to_document(), ensure_ascii=False, indent=1)
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; filename="cfgraph-lab.json"'})


@bp.route("/lab/import", methods=["POST"])
def import_state():
    """Read an exported document (multipart field ``file``): 303 to its state, or 400 with one line.

    The document is checked whole, and its cells resolved, before anything else happens; nothing is
    written anywhere (the state lives only in the URL it redirects to).
    """
    upload = request.files.get("file")
    try:
        if upload is None:
            raise CfgraphError("choose a lab document (a .json file exported from the lab) to import")
        try:
            data = upload.stream.read(MAX_DOCUMENT_BYTES + 1)
        finally:
            upload.close()  # a big upload is spooled to a temporary file: close it now, not at collection
        state = LabState.from_document(data)
        session = get_session()
        cells = [C.resolve(session, refs, side) for side, refs in (("A", state.a), ("B", state.b)) if refs]
        C.add_mask(pairing_of(state)["add"], C.unit_letters(*cells))  # the page's check of the units it adds
    except CfgraphError as exc:  # NotFound too: an unknown world in a document is a bad document
        return _render(_back(request.form.get("back", "")), "import refused: " + str(exc).splitlines()[0])
    return redirect(state_url(state), code=303)


def _back(url: str) -> LabState:
    """The state the import form was sent from (its hidden ``back`` URL), or the empty state."""
    try:
        return LabState.from_query(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    except CfgraphError:
        return LabState()
