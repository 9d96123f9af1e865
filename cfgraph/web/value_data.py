"""The data behind each chart of the values page, computed once and rendered three ways: drawn in
the page (and as a downloadable SVG file), as CSV and as JSON.

A chart is a dict: ``name`` (its file name: ``heatmap``, ``intervals``, ``scaling``, ``value-bars``,
``convergence``), ``title``, ``columns`` and ``rows`` (the data, one list per row), ``kind`` (the
macro of ``_charts.html`` that draws it), ``ch`` (its geometry) and what the JSON adds (``extra``).
"""

from __future__ import annotations

import math

import numpy as np

from cfgraph.errors import CfgraphError
from cfgraph.lattice import membership
from cfgraph.scoring import perfect_score
from cfgraph.values.scaling import NoFit, power_law_fit, scaling_points
from cfgraph.display import fixed
from cfgraph.web.value_charts import heatmap_chart, interval_chart, scaling_chart


def _num(x) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def ranked(values: np.ndarray) -> list[int]:
    """Unit indices by value, highest first, missing (NaN) last, ties by index.

    Examples
    --------
    >>> ranked(np.array([0.1, np.nan, 0.3, 0.1]))
    [2, 0, 3, 1]
    """
    v = np.asarray(values, dtype=float)
    return sorted(range(len(v)), key=lambda i: (bool(np.isnan(v[i])), -(0.0 if np.isnan(v[i]) else v[i]), i))


def unit_rows(units) -> np.ndarray | None:
    """Training rows of each unit (int64 (n,)), or None when any unit's size is unknown."""
    sizes = [u.size for u in units]
    return None if any(s is None for s in sizes) else np.asarray(sizes, dtype=np.int64)


def heatmap(world, values: np.ndarray, slices: list[str], chosen: int, method: str, low=None, high=None,
            note: str = "") -> dict:
    """The unit x slice heatmap of one method, units ranked by their value on slice ``chosen``.

    Parameters
    ----------
    values : ndarray (n, m)
        NaN where missing.
    low, high : ndarray (n, m), optional
        Each value's interval (mean ± half-width across seeds, or a sampled estimate's ci).
    """
    order = ranked(values[:, chosen])
    units = world.units
    columns = ["rank", "unit", "name", "slice", "value", "ci_low", "ci_high"]
    rows, tips = [], []
    for rank, i in enumerate(order, 1):
        tip_row = []
        for j, s in enumerate(slices):
            v = _num(values[i, j])
            a = None if low is None else _num(low[i, j])
            b = None if high is None else _num(high[i, j])
            rows.append([rank, units[i].label, units[i].name, s, v, a, b])
            # Three decimals in the drawn map (the CSV and JSON keep every digit): thousands of tooltips.
            text = "missing" if v is None else fixed(v, 3) + (f" [{fixed(a, 3)}, {fixed(b, 3)}]" if a is not None
                                                              else "")
            tip_row.append(f"{units[i].label} · {s}: {text}")
        tips.append(tip_row)
    labels = [f"{rank}. {units[i].label}" for rank, i in enumerate(order, 1)]
    names = [units[i].name if units[i].name != units[i].label else None for i in order]
    ch = heatmap_chart(labels, slices, values[order], chosen, tips, names=names)
    return {"name": "heatmap", "kind": "heatmap", "ch": ch, "columns": columns, "rows": rows,
            "title": f"{method} of each unit on each slice, ranked on slice {slices[chosen]}", "note": note,
            "extra": {"method": method, "slice": slices[chosen], "order": [units[i].label for i in order]}}


def intervals(world, value: np.ndarray, low, high, slice_name: str, method: str, what: str) -> dict:
    """Each unit's value on one slice with its interval (``what`` says which), ranked.

    Above :data:`cfgraph.web.estimates.FOLDED_ABOVE` units the chart draws the top and bottom
    :data:`cfgraph.web.estimates.EACH_END` (as the estimates table opens), with a line saying how
    many are left out; its CSV and JSON hold every unit."""
    from cfgraph.web import estimates

    order = ranked(value)
    rows = []
    for rank, i in enumerate(order, 1):
        rows.append([rank, world.units[i].label, world.units[i].name, _num(value[i]),
                     None if low is None else _num(low[i]), None if high is None else _num(high[i])])
    drawn = [{"label": f"{r[0]}. {r[1]}", "value": r[3], "low": r[4], "high": r[5]} for r in rows]
    each, folded = estimates.EACH_END, len(rows) > estimates.FOLDED_ABOVE and len(rows) > 2 * estimates.EACH_END
    if folded:
        drawn = drawn[:each] + [{"gap": len(rows) - 2 * each}] + drawn[-each:]
    ch = interval_chart(drawn)
    title = f"{method} on slice {slice_name}: {what}"
    if folded:
        title += f" (the top and bottom {each} of {len(rows)} units)"
    return {"name": "intervals", "kind": "intervals", "ch": ch,
            "columns": ["rank", "unit", "name", "value", "ci_low", "ci_high"], "rows": rows,
            "title": title, "note": what, "folded": folded,
            "extra": {"method": method, "slice": slice_name}}


def scaling(rows_per_set, score, slice_name: str, by_units: bool, metric: str | None = None) -> dict:
    """Mean score against training rows with the fitted power law (``fit`` None and ``no_fit`` the
    reason when the points do not determine one); the asymptote is kept at or below the metric's
    perfect score (:func:`cfgraph.scoring.perfect_score`)."""
    points = scaling_points(rows_per_set, score)
    law, reason = None, None
    try:
        law = power_law_fit(points.rows, points.score, weights=points.count,
                            ceiling=perfect_score(metric) if metric else None)
    except NoFit as exc:
        reason = str(exc)
    x_name = "units" if by_units else "training rows"
    table = [[float(r), float(s), int(c), None if law is None else float(law(r))]
             for r, s, c in zip(points.rows, points.score, points.count)]
    per_point = (int(points.count.min()), int(points.count.max())) if points.count.size else (0, 0)
    return {"name": "scaling", "kind": "scaling", "ch": scaling_chart(points.rows, points.score, points.count, law),
            "columns": [x_name.replace(" ", "_"), "mean_score", "training_sets", "fitted"], "rows": table,
            "title": f"Mean score on slice {slice_name} against {x_name}", "x_name": x_name,
            "binned": points.binned, "per_point": per_point, "sets": int(points.count.sum()),
            "fit": None if law is None else law.to_dict(), "no_fit": reason,
            "extra": {"slice": slice_name, "x": x_name, "fit": None if law is None else law.to_dict(),
                      "no_fit": reason, "binned": points.binned}}


def exhaustive_scaling(world, grid, j: int) -> dict:
    """The scaling chart of an exhaustive world on slice column ``j``: every training set's cell
    against its rows (the sum of its units' sizes; the number of units when sizes are unknown)."""
    n = len(grid.letters)
    sizes = unit_rows(world.units)
    member = membership(np.arange(1 << n), n)
    rows = member.sum(axis=1) if sizes is None else member.astype(np.int64) @ sizes
    return scaling(rows, np.asarray(grid.values[:, j], dtype=float), grid.slices[j], sizes is None, grid.metric)


def sampled_scaling(world, slice_name: str, metric, seed) -> dict:
    """The scaling chart of a sampled world: its stored training sets' cells against their rows."""
    from cfgraph.store import nodes

    ids, members = nodes.stored_members(world.session, world.record)
    sizes = unit_rows(world.units)
    members = np.asarray(members, dtype=bool).reshape(len(ids), world.n)
    rows = members.sum(axis=1) if sizes is None else members.astype(np.int64) @ sizes
    score, _, _, _ = world.stored_column(ids, slice_name, metric, "" if seed is None else seed)
    return scaling(rows, np.asarray(score, dtype=float), slice_name, sizes is None, metric)


def value_bars(model: dict) -> dict:
    """The grouped bars of the exhaustive page (one group per unit, one bar per method)."""
    letters = list(model["grid"].letters)
    at = {(r[0], r[1]): r[2:] for r in model["rows"] if r[0] == model["slice"]}
    rows = [[u] + list(at.get((model["slice"], u), [None] * len(model["methods"]))) for u in letters]
    return {"name": "value-bars", "kind": "bars", "ch": model["bars"], "columns": ["unit"] + model["methods"],
            "rows": rows, "title": f"Value of each unit on slice {model['slice']}",
            "extra": {"slice": model["slice"]}}


def exhaustive_charts(world, model: dict, result, grid) -> dict:
    """Every chart of an exhaustive world's values page, by name."""
    j = grid.slice_index(model["slice"])
    method = model["heat"]
    values = np.asarray(result.mean[method], dtype=float)
    low = high = None
    what = "seed " + str(result.seeds[0]) + ": one seed, so no interval"
    if result.across_seeds:
        half = np.asarray(result.half_width[method], dtype=float)
        low, high = values - half, values + half
        what = f"mean over {len(result.seeds)} seeds ± the half-width of the 95% Student-t interval"
    charts = {
        "heatmap": heatmap(world, values, list(grid.slices), j, method, low, high, what),
        "intervals": intervals(world, values[:, j], None if low is None else low[:, j],
                               None if high is None else high[:, j], model["slice"], method, what),
        "scaling": exhaustive_scaling(world, grid, j),
        "value-bars": value_bars(model),
    }
    return charts


def sampled_charts(world, view: dict) -> dict:
    """The charts of a sampled world's values page (the shown method's estimates on every slice of
    the shown column's metric and seed), by name; empty without a valuation."""
    column = view.get("column")
    if not view.get("rows") or column is None:
        return {}
    method = view["method"]
    slices = [s for s in dict.fromkeys(c["slice"] for c in view["columns"]
                                       if c["metric"] == column["metric"] and c["seed"] == column["seed"])]
    n = world.n
    values = np.full((n, len(slices)), np.nan)
    low, high = np.full_like(values, np.nan), np.full_like(values, np.nan)
    for j, s in enumerate(slices):
        table = view["rows"] if s == column["slice"] else world.estimate_table(
            method, s, column["metric"], "mean" if column["seed"] is None else column["seed"])["rows"]
        for r in table:
            values[r["idx"], j] = np.nan if r["value"] is None else r["value"]
            low[r["idx"], j] = np.nan if r["ci_low"] is None else r["ci_low"]
            high[r["idx"], j] = np.nan if r["ci_high"] is None else r["ci_high"]
    j = slices.index(column["slice"])
    what = "each estimate's 95% interval (its samples)"
    charts = {"heatmap": heatmap(world, values, slices, j, method, low, high, what),
              "intervals": intervals(world, values[:, j], low[:, j], high[:, j], column["slice"], method, what)}
    try:
        charts["scaling"] = sampled_scaling(world, column["slice"], column["metric"], column["seed"])
    except CfgraphError:
        pass  # a slice the cells do not have (a method's own column): no scaling chart
    return charts


def convergence_chart(view: dict) -> dict | None:
    """The sampled page's convergence chart as data (None without a trace to draw)."""
    conv = view.get("convergence")
    if not conv or conv.get("chart") is None or not conv.get("trace"):
        return None
    t = conv["trace"]
    rows = [[e, v, a, b] for e, v, a, b in zip(t["evaluations"], t["value"], t["low"], t["high"])]
    return {"name": "convergence", "kind": "convergence", "ch": conv["chart"],
            "columns": ["training_sets_used", "value", "ci_low", "ci_high"], "rows": rows,
            "title": conv["caption"], "extra": {"unit": view["unit"].label, "caption": conv["caption"]}}
