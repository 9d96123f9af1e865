"""Values: LOO, Shapley, Banzhaf and Beta Shapley of each unit on each slice, as a table and
bar charts, and the scaling curve as a line chart (SVG drawn server-side).

With several seeds stored and none named, each value is the mean over seeds
with its 95% interval (the values are linear in the cells: the mean of the
per-seed values is the value of the mean grid).

A sampled world's values page is the estimates page (:mod:`cfgraph.web.estimates`):
sampled estimates, and the stored results of the methods beyond sampling. An
exhaustive world's page lists every stored valuation beside the exact values of
the same column (:mod:`cfgraph.web.beside_exact`).
"""

from __future__ import annotations

import numpy as np
from flask import Blueprint, render_template, request

from cfgraph import questions as Q
from cfgraph import summaries
from cfgraph.web import estimates, state
from cfgraph.web.beside_exact import estimates_beside_exact
from cfgraph.web.charts import bar_chart, line_chart

bp = Blueprint("valuation", __name__)


#: The slice the charts open on when the world has one of this name.
DEFAULT_SLICE = "all"


def default_slice(table) -> str:
    """The slice the charts show by default: ``all`` when present, else the first slice with
    every cell present for the table's metric, else the first slice.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> t = SimpleNamespace(slices=["code-bench", "overall"], values=np.array([[np.nan, 0.3], [np.nan, 0.4]]))
    >>> default_slice(t)
    'overall'
    >>> default_slice(SimpleNamespace(slices=["A", "all"], values=np.full((2, 2), np.nan)))
    'all'
    """
    slices = list(table.slices)
    if DEFAULT_SLICE in slices:
        return DEFAULT_SLICE
    complete = ~np.isnan(np.asarray(table.values, dtype=float)).any(axis=0)
    return next((s for s, full in zip(slices, complete.tolist()) if full), slices[0])


def values_model(world) -> dict:
    """The value table of every unit on every slice, and the charts for one slice.

    The methods are ``method`` (as :func:`cfgraph.summaries.parse_methods` reads it, e.g.
    ``loo+beta:4,2``) or by default LOO, Shapley, Banzhaf and Beta(``alpha``, ``beta``).

    Returns
    -------
    dict
        ``grid`` (the LatticeTable shown: one seed's, or the mean over seeds), ``seeds``,
        ``across_seeds``, ``methods``, ``rows`` ([slice, unit, value per method]),
        ``intervals`` (per row, per method: dict mean, half_width, std, n; None for one seed),
        ``missing``, ``scaling``, ``bars``, ``line``.

    Raises
    ------
    CfgraphError, NotFound
        On bad alpha / beta, an unknown method, or an unknown slice, metric or seed.
    """
    shown = state.load_grid(world)
    grid = shown.table
    alpha = state.beta_parameter(request.args.get("alpha"), "alpha", Q.DEFAULT_ALPHA)
    beta = state.beta_parameter(request.args.get("beta"), "beta", Q.DEFAULT_BETA)
    chosen = request.args.get("slice") or default_slice(grid)
    j = grid.slice_index(chosen)
    asked = request.args.get("method")
    if asked is not None and asked.strip():
        methods = summaries.parse_methods("+".join(asked.split()))  # a "+" in a URL arrives as a space
    else:
        methods = [("loo", ()), ("shapley", ()), ("banzhaf", ()), ("beta", (alpha, beta))]
    result = world.values(methods, None, request.args.get("metric"), request.args.get("seed"))
    names = result.methods
    rows, intervals = [], []
    for s, name in enumerate(grid.slices):
        for u, unit in enumerate(grid.letters):
            rows.append([name, unit] + [Q.jsonable(float(result.mean[m][u, s])) for m in names])
            intervals.append([_interval(result, m, u, s) for m in names] if result.across_seeds else None)
    series = [(m, [Q.jsonable(float(result.mean[m][u, j])) for u in range(len(grid.letters))]) for m in names]
    scaling = Q.scaling_table(grid, j)
    return {
        "grid": grid, "seeds": result.seeds, "across_seeds": result.across_seeds, "alpha": alpha, "beta": beta,
        "slice": chosen, "methods": names, "rows": rows, "intervals": intervals,
        "missing": result.missing_counts(), "scaling": scaling,
        "bars": bar_chart(list(grid.letters), series),
        "line": line_chart(scaling["k"], [(f"mean score on {chosen}", scaling["mean"])]),
    }


def _interval(result, method: str, u: int, s: int) -> dict | None:
    mean = Q.jsonable(float(result.mean[method][u, s]))
    if mean is None:
        return None
    return {"mean": mean, "half_width": Q.jsonable(float(result.half_width[method][u, s])),
            "std": Q.jsonable(float(result.std[method][u, s])), "n": int(result.count[method][u, s])}


def exact_values(world):
    """``values_of(method, params, slice, metric, seed)``: one column's exact values (ndarray (n,))
    of an exhaustive world, to set beside its sampled estimates."""

    def values_of(method, params, slice_name, metric, seed):
        result = world.values([(method, params)], [slice_name], metric, seed)
        return result.mean[summaries.method_name(method, params)][:, 0]

    return values_of


@bp.route("/world/<world>/values")
def page(world: str):
    """The values page: exact values (and any sampled estimates beside them) of an exhaustive world,
    the estimates with their intervals of a sampled one."""
    w = state.load_world(world)
    if w.sampled:
        return estimates.sampled_page(w)
    return render_template("values.html", world=w, **values_model(w),
                           sampled=estimates_beside_exact(w, exact_values(w)))
