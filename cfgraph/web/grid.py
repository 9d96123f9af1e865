"""The grid explorer: training sets x evaluation slices, a selection, and the question panel.

Rows are training sets sorted by size then label, columns are evaluation
slices, cells are coloured by score. Clicking cells and headers edits the
selection in the URL (``cell=ACD:B``, ``row=AB``, ``col=B``, ``layer=2``); the
panel (also served alone at ``.../grid/panel`` for the page's script) answers
the twelve questions of :mod:`cfgraph.questions` for it.
"""

from __future__ import annotations

from urllib.parse import urlencode

import numpy as np
from flask import Blueprint, current_app, render_template, request, url_for
from markupsafe import Markup

from cfgraph import questions as Q
from cfgraph.display import fixed
from cfgraph.errors import CfgraphError
from cfgraph.web import state
from cfgraph.web.charts import Scale

bp = Blueprint("grid", __name__)

#: Above this many cells the raw values are hidden unless asked for (raw=1).
RAW_DEFAULT_MAX_CELLS = 4096


def row_order(grid) -> np.ndarray:
    """Masks sorted by training-set size, then label."""
    n = len(grid.letters)
    size = np.bitwise_count(np.arange(1 << n, dtype=np.uint64)).astype(np.int64)
    return np.lexsort((np.asarray(grid.labels), size))


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


def grid_view(grid, selection: Q.Selection, page: int, per_page: int, shown=None) -> dict:
    """Rows of one page of the grid, with colour classes, selection marks and the legend.

    With ``shown`` (a :class:`cfgraph.world.Grid` across seeds) each cell's title is its
    mean ± half-width and the number of seeds, and ``n_stored`` counts the stored cells
    of every seed (``n_cells`` and ``n_present`` are per seed).

    Raises
    ------
    CfgraphError
        If the page is out of range.
    """
    order = row_order(grid)
    pages = max(1, -(-len(order) // per_page))
    if not 1 <= page <= pages:
        raise CfgraphError(f"page={page} is out of range 1..{pages}")
    masks = order[(page - 1) * per_page: page * per_page]
    scale = Scale.of(grid.values)
    buckets = scale.buckets(grid.values[masks])
    chosen: dict[int, set[int]] = {}
    for mask, j in selection.cells:
        chosen.setdefault(mask, set()).add(j)
    rows_selected = set(selection.rows)
    rows = []
    for t, mask in enumerate(masks.tolist()):
        size = mask.bit_count()
        rows.append({
            "label": grid.labels[mask], "size": size,
            "selected": mask in rows_selected or selection.layer == size,
            "cells": _cells_html(grid.values[mask], grid.status[mask], buckets[t], chosen.get(mask, set()),
                                 _tips(shown, mask, len(grid.slices))),
        })
    columns = [{"name": name, "selected": j in selection.columns} for j, name in enumerate(grid.slices)]
    present = int((~np.isnan(grid.values)).sum())
    across = shown is not None and shown.across_seeds
    return {"rows": rows, "columns": columns, "scale": scale, "page": page, "pages": pages,
            "n_cells": int(grid.values.size), "n_present": present,
            # across seeds: every (cell, seed) the store holds, against cells per seed x seeds
            "n_seeds": len(shown.seeds) if across else 1,
            "n_stored": int(shown.summary["n"].sum()) if across else present}


def _tips(shown, mask: int, m: int) -> list[str] | None:
    if shown is None or not shown.across_seeds:
        return None
    return [interval_text(shown.interval(mask, j)) for j in range(m)]


def presets(world: str, grid, focus: Q.Focus) -> list[tuple[str, str]]:
    """The site's presets as links that replace the selection: current cell, LOO pair, eval
    pair, Shapley column, layer k."""
    S, E, i = focus.train, focus.column, focus.unit
    kept = state.kept_args(drop=state.SELECTION_KEYS + ("page",))

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


def _encode(pairs) -> str:
    return urlencode(pairs)


def _context(world_name: str) -> dict:
    world = state.load_world(world_name)
    shown = state.load_grid(world)
    grid = shown.table
    asked = state.ask(world, grid)
    selection, focus, answers = asked.selection, asked.focus, asked.answers
    open_key = request.args.get("q")
    if open_key and open_key not in Q.TITLES:
        raise CfgraphError(f"unknown question q={open_key[:40]!r} (questions: {', '.join(Q.TITLES)})")
    metrics, seeds = world.metrics, world.seeds
    share = url_for("grid.page", world=world.name) + ("?" + _encode(state.kept_args(drop=())) if request.args else "")
    return {
        "world": world, "grid": grid, "shown": shown, "selection": selection, "focus": focus, "answers": answers,
        "open_key": open_key, "presets": presets(world.name, grid, focus), "share": share,
        "metrics": metrics, "seeds": seeds, "hidden": state.kept_args(drop=state.FOCUS_KEYS),
        "panel_url": url_for("grid.panel", world=world.name),
        "related": state.related_topics("questions"),
    }


@bp.route("/world/<world>/grid")
def page(world: str):
    """The grid explorer page (a sampled world has no grid: a page that says so and links on)."""
    w = state.load_world(world)
    if w.sampled:
        return render_template("sampled_only.html", world=w, page_name="grid")
    ctx = _context(world)
    per_page = int(current_app.config["GRID_PAGE_ROWS"])
    page_no = Q.parse_int(request.args.get("page"), "page") or 1
    ctx["view"] = grid_view(ctx["grid"], ctx["selection"], page_no, per_page, ctx["shown"])
    raw = request.args.get("raw")
    ctx["raw"] = (raw == "1") if raw in ("0", "1") else ctx["view"]["n_cells"] <= RAW_DEFAULT_MAX_CELLS
    ctx["palette"] = state.palette()
    ctx["palettes"] = state.PALETTES
    return render_template("grid.html", **ctx)


@bp.route("/world/<world>/grid/panel")
def panel(world: str):
    """The question panel alone (the grid page's script swaps it in after a click)."""
    try:
        ctx = _context(world)
    except CfgraphError as exc:
        return render_template("_panel_error.html", message=str(exc).splitlines()[0]), exc.status
    return render_template("_panel.html", **ctx)
