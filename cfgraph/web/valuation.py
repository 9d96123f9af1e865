"""Values: LOO, Shapley, Banzhaf and Beta Shapley of each unit on each slice, as a table and
bar charts, and the scaling curve as a line chart (SVG drawn server-side)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from cfgraph import questions as Q
from cfgraph.web import state
from cfgraph.web.charts import bar_chart, line_chart

bp = Blueprint("valuation", __name__)


def values_model(world) -> dict:
    """The value table of every unit on every slice, and the charts for one slice.

    Raises
    ------
    CfgraphError, NotFound
        On bad alpha / beta, or an unknown slice, metric or seed.
    """
    grid = state.load_grid(world)
    alpha = Q.parse_float(request.args.get("alpha"), "alpha", Q.DEFAULT_ALPHA)
    beta = Q.parse_float(request.args.get("beta"), "beta", Q.DEFAULT_BETA)
    chosen = request.args.get("slice") or grid.slices[-1]
    j = grid.slice_index(chosen)
    table = Q.unit_values(grid, alpha, beta)
    methods = table["methods"]
    rows = []
    for s, name in enumerate(grid.slices):
        for u, unit in enumerate(grid.letters):
            rows.append([name, unit] + [Q.jsonable(float(table["values"][m][u, s])) for m in methods])
    series = [(m, [Q.jsonable(float(table["values"][m][u, j])) for u in range(len(grid.letters))]) for m in methods]
    scaling = Q.scaling_table(grid, j)
    return {
        "grid": grid, "alpha": alpha, "beta": beta, "slice": chosen, "methods": methods, "rows": rows,
        "missing": table["missing"], "scaling": scaling,
        "bars": bar_chart(list(grid.letters), series),
        "line": line_chart(scaling["k"], [(f"mean score on {chosen}", scaling["mean"])]),
    }


@bp.route("/world/<world>/values")
def page(world: str):
    """The values page."""
    w = state.load_world(world)
    return render_template("values.html", world=w, **values_model(w))
