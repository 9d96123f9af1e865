"""The grid explorer: training sets x evaluation slices, a selection, and the question panel.

Rows are training sets (by default sorted by size then label; ``sort``, ``dir``,
``vslice`` and the filters ``size``, ``has``, ``lacks``, ``vmin``, ``vmax`` of
:mod:`cfgraph.grid_window` reorder and filter them), columns are evaluation
slices, cells are coloured by score. A grid larger than
:data:`RAW_DEFAULT_MAX_CELLS` is drawn as a window (``page`` of rows x ``cpage``
of slices) that the page's script widens from ``/api/worlds/<w>/grid/window``
as one scrolls or moves with the keyboard; without script the window pages by
links. Clicking cells and headers edits the selection in the URL (``cell=ACD:B``,
``row=AB``, ``col=B``, ``layer=2``); the panel (also served alone at
``.../grid/panel`` for the page's script) answers the twelve questions of
:mod:`cfgraph.questions` for it, apart from those that used default parameters.
"""

from __future__ import annotations

from urllib.parse import urlencode

import numpy as np
from flask import Blueprint, current_app, render_template, request, url_for
from markupsafe import Markup

from cfgraph import grid_window as GW
from cfgraph import questions as Q
from cfgraph.display import fixed
from cfgraph.errors import CfgraphError
from cfgraph.focus_sources import answer_groups, current_first
from cfgraph.web import state
from cfgraph.web.charts import Scale
from cfgraph.web.graph_params import Problems
from cfgraph.web.grid_cache import cached_grid

bp = Blueprint("grid", __name__)

#: Above this many cells the raw values are hidden unless asked for (raw=1), and the grid is windowed.
RAW_DEFAULT_MAX_CELLS = 4096
#: The window of a big grid: rows x slices drawn by the server (the script widens it).
WINDOW_ROWS, WINDOW_COLUMNS = 64, 32
#: The most cells one window request may ask for.
MAX_WINDOW_CELLS = 16384


def row_order(grid) -> np.ndarray:
    """Masks sorted by training-set size, then label."""
    return GW.row_order(grid)


def interval_text(cell: dict | None) -> str:
    """A cell across seeds as text: "0.912 ± 0.013 (n=10)" (blank when missing).

    Examples
    --------
    >>> interval_text({"mean": 0.9124, "half_width": 0.0131, "std": 0.02, "n": 10})
    '0.912 ± 0.013 (n=10)'
    """
    if cell is None:
        return ""
    half = "" if cell["half_width"] is None else f" ± {fixed(cell['half_width'], 3)}"
    return f"{fixed(cell['mean'], 3)}{half} (n={cell['n']})"


def _cells_html(values: np.ndarray, status: np.ndarray, buckets: np.ndarray, selected: set[int],
                tips: list[str] | None = None) -> Markup:
    """One row's cells. Only numbers and fixed class names go in (the tooltips across seeds are
    numbers too), so no escaping is needed."""
    parts = []
    for j, (v, b) in enumerate(zip(values.tolist(), buckets.tolist())):
        sel = " sel" if j in selected else ""
        if b >= 0:
            tip = f' title="{tips[j]}"' if tips else ""
            parts.append(f'<td class="c{b}{sel}"{tip}>{fixed(v, 3)}</td>')
        elif status[j] == "failed":
            parts.append(f'<td class="f{sel}">fail</td>')
        else:
            parts.append(f'<td class="m{sel}"></td>')
    return Markup("".join(parts))


def window_shape(grid, per_page: int) -> tuple[int, int | None]:
    """Rows per page and slices per column page (None: every slice) for a grid."""
    if grid.values.size > RAW_DEFAULT_MAX_CELLS:
        return min(per_page, WINDOW_ROWS), WINDOW_COLUMNS
    return per_page, None


def grid_view(grid, selection: Q.Selection, page: int, per_page: int, shown=None,
              query: GW.RowQuery = GW.RowQuery(), cpage: int = 1, per_cpage: int | None = None,
              order: np.ndarray | None = None) -> dict:
    """Rows and columns of one window of the grid, with colour classes, selection marks and the legend.

    With ``shown`` (a :class:`cfgraph.world.Grid` across seeds) each cell's title is its
    mean ± half-width and the number of seeds, and ``n_stored`` counts the stored cells
    of every seed (``n_cells`` and ``n_present`` are per seed). ``order`` is the row order of
    ``query`` when the caller has it already.

    Raises
    ------
    CfgraphError
        If the page or column page is out of range.
    """
    order = GW.row_order(grid, query) if order is None else order
    across = shown is not None and shown.across_seeds
    pages = max(1, -(-len(order) // per_page))
    if not 1 <= page <= pages:
        raise CfgraphError(f"page={page} is out of range 1..{pages}")
    m = len(grid.slices)
    per_cpage = per_cpage or max(m, 1)
    cpages = max(1, -(-m // per_cpage))
    if not 1 <= cpage <= cpages:
        raise CfgraphError(f"cpage={cpage} is out of range 1..{cpages}")
    c0, c1 = (cpage - 1) * per_cpage, min(m, cpage * per_cpage)
    r0 = (page - 1) * per_page
    masks = order[r0: r0 + per_page]
    scale = Scale.of(grid.values)
    buckets = scale.buckets(grid.values[masks, c0:c1])
    chosen: dict[int, set[int]] = {}
    for mask, j in selection.cells:
        chosen.setdefault(mask, set()).add(j - c0)
    rows_selected = set(selection.rows)
    rows = []
    for t, mask in enumerate(masks.tolist()):
        size = mask.bit_count()
        rows.append({
            "label": grid.labels[mask], "size": size,
            "selected": mask in rows_selected or selection.layer == size,
            "cells": _cells_html(grid.values[mask, c0:c1], grid.status[mask, c0:c1], buckets[t],
                                 chosen.get(mask, set()), _tips(shown, mask, c0, c1)),
        })
    columns = [{"name": grid.slices[j], "selected": j in selection.columns} for j in range(c0, c1)]
    present = int((~np.isnan(grid.values)).sum())
    return {"rows": rows, "columns": columns, "scale": scale, "page": page, "pages": pages,
            "cpage": cpage, "cpages": cpages, "r0": r0, "r1": r0 + len(masks), "c0": c0, "c1": c1,
            "n_rows": len(order), "n_training_sets": len(grid.labels), "n_slices": m,
            "windowed": len(masks) < len(grid.labels) or c1 - c0 < m, "query": query,
            "n_cells": int(grid.values.size), "n_present": present,
            # stored training sets: those with at least one cell on this metric (and seed, or any seed)
            "n_sets_stored": int((shown.summary["n"] > 0).any(axis=1).sum() if across
                                 else (~np.isnan(grid.values)).any(axis=1).sum()),
            # across seeds: every (cell, seed) the store holds, against cells per seed x seeds
            "n_seeds": len(shown.seeds) if across else 1,
            "n_stored": int(shown.summary["n"].sum()) if across else present}


def _tips(shown, mask: int, c0: int, c1: int) -> list[str] | None:
    if shown is None or not shown.across_seeds:
        return None
    return [interval_text(shown.interval(mask, j)) for j in range(c0, c1)]


def presets(world: str, grid, focus: Q.Focus, kept: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The site's presets as links that replace the selection (``kept``: the other arguments they
    carry): current cell, LOO pair, eval pair, Shapley column, layer k."""
    S, E, i = focus.train, focus.column, focus.unit

    def link(**selection):
        args = kept + [(k, v) for k, vs in selection.items() for v in (vs if isinstance(vs, list) else [vs])]
        return url_for("grid.page", world=world) + "?" + _encode(args)

    cell = f"{grid.labels[S]}:{grid.slices[E]}"
    out = [("current cell", link(cell=cell))]
    if i is not None and S >> i & 1:
        out.append((f"LOO pair (unit {grid.letters[i]})", link(cell=[cell, f"{grid.labels[S & ~(1 << i)]}:{grid.slices[E]}"])))
    if len(grid.slices) > 1:
        E2 = focus.other_column if focus.other_column is not None else (E + 1) % len(grid.slices)
        out.append(("eval pair", link(cell=[cell, f"{grid.labels[S]}:{grid.slices[E2]}"])))
    out.append((f"Shapley column ({grid.slices[E]})", link(col=grid.slices[E])))
    out.append((f"layer k={focus.k}", link(layer=str(focus.k), col=grid.slices[E])))
    return out


def lab_link(world: str, grid, selection: Q.Selection, focus: Q.Focus, seed: int | None) -> str | None:
    """A link to the Lab comparing the current cell (set A) with the other selected cells (set B);
    None when the app has no Lab or a name cannot travel in a lab cell."""
    if "lab.page" not in current_app.view_functions:
        return None
    from cfgraph.lab_state import MAX_CELLS, CellRef, LabState

    here = (focus.train, focus.column)
    others = [c for c in selection.cells if c != here][:MAX_CELLS]
    try:
        def ref(cell):
            return CellRef(world, grid.labels[cell[0]], grid.slices[cell[1]], seed=seed)
        return url_for("lab.page") + LabState(a=(ref(here),), b=tuple(ref(c) for c in others)).url()[len("/lab"):]
    except CfgraphError:
        return None


def _encode(pairs) -> str:
    return urlencode(pairs)


class _Args:
    """The request's query arguments less the values refused (links and forms leave them behind)."""

    def __init__(self):
        self.pairs = [(k, v) for k, vs in request.args.to_dict(flat=False).items() for v in vs]
        self.bad: set[tuple[str, str]] = set()

    def refuse(self, *keys, value=None):
        """Drop every value of ``keys`` (or only ``value``, for a repeated key like ``cell``)."""
        self.bad |= {(k, v) for k, v in self.pairs if k in keys and (value is None or v == value)}

    def kept(self, drop=()) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.pairs if k not in drop and (k, v) not in self.bad]

    def get(self, key: str, default: str = "") -> str:
        return next((v for k, v in self.kept() if k == key), default)

    def url(self, **changes) -> str:
        """As the template global ``query_url``, on the arguments kept."""
        from cfgraph.web import url_with

        args: dict[str, list[str]] = {}
        for k, v in self.kept():
            args.setdefault(k, []).append(v)
        return url_with(args, **changes)


def _take(problems: Problems, args: _Args, param: str, read, default, *, value=None, also=()):
    """``problems.take``, dropping the refused value from the links."""
    before = len(problems.messages)
    got = problems.take(param, read, default)
    if len(problems.messages) > before:
        args.refuse(param, *also, value=value)
    return got


def _read_selection(grid, args: _Args, problems: Problems) -> Q.Selection:
    """The selection, each cell, row and column read on its own (a bad one is refused alone)."""
    def one(key, text):
        got = {"cell": lambda: Q.parse_selection(grid, cells=[text]).cells,
               "row": lambda: Q.parse_selection(grid, rows=[text]).rows,
               "col": lambda: Q.parse_selection(grid, columns=[text]).columns}[key]
        return _take(problems, args, key, got, (), value=text)

    cells = [c for text in request.args.getlist("cell") for c in one("cell", text)]
    rows = [r for text in request.args.getlist("row") for r in one("row", text)]
    columns = [c for text in request.args.getlist("col") for c in one("col", text)]
    layer = _take(problems, args, "layer",
                  lambda: Q.parse_int(request.args.get("layer"), "layer", 0, len(grid.letters)), None)
    return Q.Selection(cells=tuple(dict.fromkeys(cells)), rows=tuple(dict.fromkeys(rows)),
                       columns=tuple(dict.fromkeys(columns)), layer=layer)


def _read_focus(grid, selection: Q.Selection, args: _Args, problems: Problems):
    """The focus (current cell: the last cell added) and the answers, each parameter checked alone."""
    tol = _take(problems, args, "tol", lambda: state.tolerance_arg(request.args), None, also=("tolerance",))
    typed = {key: request.args.get(key) for key in ("unit", "pair", "coalition", "k", "alpha", "beta")}
    typed["tolerance"] = tol
    given = {}
    for key, text in typed.items():
        if text is None or str(text).strip() == "":
            continue
        param = "tol" if key == "tolerance" else key

        def check(key=key, text=text):
            if key in ("alpha", "beta"):
                state.beta_parameter(text, key, 1.0)
            Q.resolve(grid, selection, **{key: text})
            return text
        got = _take(problems, args, param, check, None, also=("tolerance",) if param == "tol" else ())
        if got is not None:
            given[key] = got
    focus = Q.resolve(grid, selection, **given)
    answers = _take(problems, args, "alpha" if "alpha" in given else "beta", lambda: Q.ask_all(grid, focus), None)
    if answers is None:  # Beta Shapley's weights overflowed: ask again with the default alpha and beta
        given.pop("alpha", None), given.pop("beta", None)
        focus = Q.resolve(grid, selection, **given)
        answers = Q.ask_all(grid, focus)
    shown_given = {key: given.get(key) for key in state.FOCUS_KEYS if key != "tol"}
    shown_given["tol"] = given.get("tolerance")
    return focus, answers, shown_given


def _context(world_name: str, problems: Problems) -> dict:
    """Everything the page and the panel show; a bad parameter is noted in ``problems`` and its
    default used (only an unknown world, or a store that does not answer, raises)."""
    world = state.load_world(world_name)
    args = _Args()
    metric = _take(problems, args, "metric", lambda: world.choose(request.args.get("metric"))[0]
                   and request.args.get("metric"), None)
    seed = _take(problems, args, "seed", lambda: world.choose(metric, request.args.get("seed"))
                 and request.args.get("seed"), None)
    shown = cached_grid(world, metric, seed)
    grid = shown.table
    selection = _read_selection(grid, args, problems)
    focus, answers, given = _read_focus(grid, current_first(selection), args, problems)

    def question():
        key = request.args.get("q")
        if key and key not in Q.TITLES:
            raise CfgraphError(f"unknown question q={key[:40]!r} (questions: {', '.join(Q.TITLES)})")
        return key or None
    open_key = _take(problems, args, "q", question, None)
    metrics, seeds = world.metrics, world.seeds
    return {
        "world": world, "grid": grid, "shown": shown, "selection": selection, "focus": focus, "answers": answers,
        "groups": answer_groups(grid, selection, focus, answers, given),
        "open_key": open_key, "args": args,
        "metrics": metrics, "seeds": seeds,
        "panel_url": url_for("grid.panel", world=world.name),
        "related": state.related_topics("questions"),
    }


def _links(ctx: dict, problems: Problems) -> None:
    """The links and forms of the context, made once every parameter is read (so none carries a
    refused value), and the problems split between the page's controls and the panel's form."""
    world, grid, focus, args = ctx["world"], ctx["grid"], ctx["focus"], ctx["args"]
    kept = args.kept()
    ctx["share"] = url_for("grid.page", world=world.name) + ("?" + _encode(kept) if kept else "")
    ctx["presets"] = presets(world.name, grid, focus, args.kept(drop=state.SELECTION_KEYS + ("page",)))
    ctx["lab"] = lab_link(world.name, grid, ctx["selection"], focus, ctx["shown"].seed)
    ctx["hidden"] = args.kept(drop=state.FOCUS_KEYS + ("tolerance",))
    ctx["query_url"] = args.url
    ctx["typed"] = args.get
    panel_keys = set(state.FOCUS_KEYS)
    ctx["problems"] = [(p, m) for p, m in problems.messages if p not in panel_keys]
    ctx["panel_problems"] = [(p, m) for p, m in problems.messages if p in panel_keys]


@bp.route("/world/<world>/grid")
def page(world: str):
    """The grid explorer page (a sampled world has no grid: a page that says so and links on).

    A bad parameter does not cost the grid: it is named inline beside its control (status 400)
    and its default used, as on the lattice page (:mod:`cfgraph.web.graph_params`).
    """
    w = state.load_world(world)
    if w.sampled:
        return render_template("sampled_only.html", world=w, page_name="grid")
    problems = Problems(strict=False)
    ctx = _context(world, problems)
    grid, args = ctx["grid"], ctx["args"]
    per_page, per_cpage = window_shape(grid, int(current_app.config["GRID_PAGE_ROWS"]))
    query = GW.parse_row_query(grid, request.args, lambda p, read, d: _take(problems, args, p, read, d))
    order = GW.row_order(grid, query)
    pages = max(1, -(-len(order) // per_page))
    cpages = max(1, -(-len(grid.slices) // (per_cpage or max(len(grid.slices), 1))))
    page_no = _take(problems, args, "page", lambda: Q.parse_int(request.args.get("page"), "page", 1, pages), None) or 1
    cpage_no = _take(problems, args, "cpage", lambda: Q.parse_int(request.args.get("cpage"), "cpage", 1, cpages), None) or 1
    ctx["view"] = grid_view(grid, ctx["selection"], page_no, per_page, ctx["shown"], query, cpage_no, per_cpage,
                            order=order)
    ctx["filter_text"] = GW.filter_text(grid, query)

    def choice(name, allowed):
        def read():
            value = request.args.get(name)
            if value is not None and value not in allowed:
                raise CfgraphError(f"{name} must be one of {', '.join(allowed)}, not {value[:20]!r}")
            return value
        return read
    raw = _take(problems, args, "raw", choice("raw", ("0", "1")), None)
    ctx["raw"] = (raw == "1") if raw is not None else ctx["view"]["n_cells"] <= RAW_DEFAULT_MAX_CELLS
    ctx["palette"] = _take(problems, args, "palette", choice("palette", state.PALETTES), None) or state.PALETTES[0]
    ctx["palettes"] = state.PALETTES
    ctx["sorts"] = GW.SORTS
    ctx["window_url"] = url_for("grid.window", world=w.name)
    ctx["query_hidden"] = args.kept(drop=GW.ROW_QUERY_KEYS + ("page", "cpage"))
    _links(ctx, problems)
    ctx["clean_url"] = args.url()
    return render_template("grid.html", **ctx), (400 if problems.messages else 200)


@bp.route("/world/<world>/grid/panel")
def panel(world: str):
    """The question panel alone (the grid page's script swaps it in after a click); a bad parameter
    is named inside it (status 400) and its default used."""
    problems = Problems(strict=False)
    try:
        ctx = _context(world, problems)
    except CfgraphError as exc:  # an unknown world, or a store that does not answer
        return render_template("_panel_error.html", message=str(exc).splitlines()[0]), exc.status
    _links(ctx, problems)
    ctx["panel_problems"] = problems.messages  # alone, the panel names them all
    return render_template("_panel.html", **ctx), (400 if problems.messages else 200)


def _range(first: str, last: str, total: int, default: int) -> tuple[int, int]:
    """Window bounds ``first:last`` from the query, within 0..total (``last`` clipped to total)."""
    start = Q.parse_int(request.args.get(first), first, 0, total) or 0
    stop = Q.parse_int(request.args.get(last), last, 0)
    stop = start + default if stop is None else stop
    if stop < start:
        raise CfgraphError(f"{last}={stop} is below {first}={start}")
    return start, min(stop, total)


@bp.route("/api/worlds/<world>/grid/window")
def window(world: str):
    """One window of the grid as JSON: rows ``r0:r1`` of the sorted, filtered row order x slices ``c0:c1``.

    Takes the grid page's row query (``sort``, ``dir``, ``vslice``, ``size``, ``has``, ``lacks``,
    ``vmin``, ``vmax``), ``metric`` and ``seed``. Returns labels, sizes, slice names, values (null
    where missing), status codes (0 stored, 1 missing, 2 failed), colour buckets (0..9, -1 none)
    on the whole grid's scale, and across seeds each cell's 95% half-width and number of seeds.
    """
    w = state.load_world(world)
    shown = cached_grid(w, request.args.get("metric"), request.args.get("seed"))
    grid = shown.table
    query = GW.parse_row_query(grid, request.args)
    order = GW.row_order(grid, query)
    r0, r1 = _range("r0", "r1", len(order), WINDOW_ROWS)
    c0, c1 = _range("c0", "c1", len(grid.slices), WINDOW_COLUMNS)
    if (r1 - r0) * (c1 - c0) > MAX_WINDOW_CELLS:
        raise CfgraphError(f"a window holds at most {MAX_WINDOW_CELLS} cells, not {(r1 - r0) * (c1 - c0)}")
    masks = order[r0:r1]
    values, codes = GW.window_cells(grid.values, grid.status, masks, c0, c1)
    scale = Scale.of(grid.values)
    out = {
        "world": w.name, "metric": grid.metric, "seed": shown.seed, "seeds": shown.seeds,
        "n_training_sets": len(grid.labels), "n_rows": len(order), "n_slices": len(grid.slices),
        "r0": r0, "r1": r1, "c0": c0, "c1": c1, "scale": {"lo": scale.lo, "hi": scale.hi},
        "labels": [grid.labels[m] for m in masks.tolist()],
        "sizes": np.bitwise_count(masks.astype(np.uint64)).astype(int).tolist(),
        "slices": list(grid.slices[c0:c1]),
        "values": np.where(np.isnan(values), None, values).tolist(),
        "status": codes.tolist(), "buckets": scale.buckets(values).tolist(),
        "status_names": list(GW.STATUS_CODES),
    }
    if shown.across_seeds:
        half = shown.summary["half_width"][masks, c0:c1]
        out["half_width"] = np.where(np.isnan(half), None, half).tolist()
        out["n"] = shown.summary["n"][masks, c0:c1].astype(int).tolist()
    return out
