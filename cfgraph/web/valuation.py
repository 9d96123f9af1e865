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
from flask import Blueprint, Response, render_template, request

from cfgraph import questions as Q
from cfgraph import summaries
from cfgraph.errors import CfgraphError, NotFound
from cfgraph.render import csv_text
from cfgraph.web import estimates, state, value_data
from cfgraph.web.beside_exact import estimates_beside_exact
from cfgraph.web.charts import bar_chart, line_chart
from cfgraph.web.graph_params import Problems, refused_free_url

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


#: The values table shows a page of slices holding at most this many rows (units x slices);
#: every row is in the table's CSV.
TABLE_ROWS = 200


def values_model(world, problems: Problems | None = None) -> dict:
    """The value table of every unit on every slice, and the charts for one slice.

    The methods are ``method`` (as :func:`cfgraph.summaries.parse_methods` reads it, e.g.
    ``loo+beta:4,2``) or by default LOO, Shapley, Banzhaf and Beta(``alpha``, ``beta``).

    Parameters
    ----------
    world : cfgraph.world.World
        An exhaustive world.
    problems : cfgraph.web.graph_params.Problems, optional
        Strict by default (the first bad parameter raises: the files and the JSON API); the page
        passes a lenient one, which notes each bad parameter and uses its default instead.

    Returns
    -------
    dict
        ``grid`` (the LatticeTable shown: one seed's, or the mean over seeds), ``seeds``,
        ``across_seeds``, ``methods``, ``rows`` ([slice, unit, value per method]),
        ``intervals`` (per row, per method: dict mean, half_width, std, n; None for one seed),
        ``table`` (the page of ``rows`` the page's table shows), ``missing``, ``scaling``,
        ``bars``, ``line``, ``charts``, ``problems`` and ``refused``.

    Raises
    ------
    CfgraphError, NotFound
        When strict: on bad alpha / beta, an unknown method, or an unknown slice, metric or seed.
    """
    problems = problems or Problems(strict=True)
    take, args = problems.take, request.args
    metric = take("metric", lambda: world.choose(args.get("metric"))[0] and args.get("metric"), None)
    seed = take("seed", lambda: world.choose(metric, args.get("seed"))[1] is not None and args.get("seed"), None)
    grid = world.grid(metric, seed or None).table
    alpha = take("alpha", lambda: state.beta_parameter(args.get("alpha"), "alpha", Q.DEFAULT_ALPHA), Q.DEFAULT_ALPHA)
    beta = take("beta", lambda: state.beta_parameter(args.get("beta"), "beta", Q.DEFAULT_BETA), Q.DEFAULT_BETA)
    chosen = take("slice", lambda: grid.slices[grid.slice_index(args.get("slice") or default_slice(grid))],
                  default_slice(grid))
    j = grid.slice_index(chosen)
    default = [("loo", ()), ("shapley", ()), ("banzhaf", ()), ("beta", (alpha, beta))]
    asked = args.get("method")
    if asked is not None and asked.strip():  # a "+" in a URL arrives as a space
        methods = take("method", lambda: summaries.parse_methods("+".join(asked.split())), default)
    else:
        methods = default
    result = world.values(methods, None, metric, seed or None)
    names = result.methods
    rows, intervals = [], []
    for s, name in enumerate(grid.slices):
        for u, unit in enumerate(grid.letters):
            rows.append([name, unit] + [Q.jsonable(float(result.mean[m][u, s])) for m in names])
            intervals.append([_interval(result, m, u, s) for m in names] if result.across_seeds else None)
    series = [(m, [Q.jsonable(float(result.mean[m][u, j])) for u in range(len(grid.letters))]) for m in names]
    scaling = Q.scaling_table(grid, j)
    model = {
        "grid": grid, "seeds": result.seeds, "across_seeds": result.across_seeds, "alpha": alpha, "beta": beta,
        "slice": chosen, "methods": names, "rows": rows, "intervals": intervals,
        "missing": result.missing_counts(), "scaling": scaling,
        "heat": take("heat", lambda: heat_method(names), default_heat(names)),
        "bars": bar_chart(list(grid.letters), series),
        "line": line_chart(scaling["k"], [(f"mean score on {chosen}", scaling["mean"])]),
    }
    model["table"] = table_page(len(grid.letters), list(grid.slices), j, problems)
    model["charts"] = value_data.exhaustive_charts(world, model, result, grid)
    model["problems"], model["refused"] = problems.messages, problems.params
    return model


def table_page(n: int, slices: list[str], chosen: int, problems: Problems) -> dict:
    """Which slices the values table shows: a page of whole slices, at most :data:`TABLE_ROWS` rows
    (``page`` from the query; by default the page holding the charts' slice).

    Returns
    -------
    dict
        ``page``, ``pages``, ``first`` and ``last`` (row indices, end excluded, into the model's
        ``rows``), ``slices`` (the names on the page) and ``total`` (every row).

    Examples
    --------
    >>> strict = Problems(strict=True)
    >>> from flask import Flask
    >>> with Flask(__name__).test_request_context("/?page=2"):
    ...     t = table_page(8, [str(i) for i in range(60)], 0, strict)
    >>> t["pages"], t["page"], t["slices"][0], t["first"], t["last"]
    (3, 2, '25', 200, 400)
    """
    per = max(1, TABLE_ROWS // max(n, 1))
    pages = max(1, -(-len(slices) // per))
    home = chosen // per + 1
    asked = (request.args.get("page") or "").strip()
    page = problems.take("page", lambda: estimates.state_page(asked, pages), home) if asked else home
    shown = slices[(page - 1) * per: page * per]
    return {"page": page, "pages": pages, "first": (page - 1) * per * n, "last": (page - 1) * per * n + len(shown) * n,
            "slices": shown, "total": len(slices) * n}


def default_heat(names: list[str]) -> str:
    """Shapley when computed, else the first method."""
    return "shapley" if "shapley" in names else names[0]


def heat_method(names: list[str]) -> str:
    """The method the heatmap and interval chart show: ``heat`` from the query, else Shapley when
    computed, else the first method.

    Raises
    ------
    CfgraphError
        If ``heat`` names a method not computed on this page.
    """
    asked = (request.args.get("heat") or "").strip()
    if asked:
        if asked not in names:
            raise CfgraphError(f"heat must be one of the methods shown ({', '.join(names)}), not {asked[:40]!r}")
        return asked
    return default_heat(names)


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
    the estimates with their intervals of a sampled one. A bad parameter is named inline beside the
    controls (status 400) and its default used; the files and the JSON API refuse it (one line)."""
    w = state.load_world(world)
    if w.sampled:
        return estimates.sampled_page(w)
    model = values_model(w, Problems(strict=False))
    body = render_template("values.html", world=w, **model, sampled=estimates_beside_exact(w, exact_values(w)),
                           here=lambda **changes: refused_free_url(model["refused"], **changes),
                           file_args={k: v for k, v in request.args.items() if k not in model["refused"] | {"page"}})
    return body, (400 if model["problems"] else 200)


#: The charts a values page may offer as files.
CHART_NAMES = ("heatmap", "intervals", "scaling", "value-bars", "convergence")


def chart_of(world, name: str) -> dict:
    """One chart of the world's values page (as the page's query string asks) by name: the one
    function behind its SVG file, its CSV and its JSON.

    Raises
    ------
    CfgraphError, NotFound
        On a chart this world's page does not draw (or the page's own errors).
    """
    if name not in CHART_NAMES:
        raise NotFound(f"no chart {name[:40]!r} (charts: {', '.join(CHART_NAMES)})")
    if world.sampled or name == "convergence":
        view = estimates.values_view(world)
        charts = value_data.sampled_charts(world, view) if world.sampled else {}
        conv = value_data.convergence_chart(view)
        if conv is not None:
            charts["convergence"] = conv
    else:
        charts = values_model(world)["charts"]
    if name not in charts:
        raise NotFound(f"world {world.name!r}'s values page has no {name} chart for these arguments")
    return charts[name]


def _file_name(world, chart: dict, suffix: str) -> str:
    name = f"{world.name}-{chart['name']}.{suffix}"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:120]


@bp.route("/world/<world>/values/<name>.svg")
def chart_svg(world: str, name: str):
    """One chart of the values page as a standalone SVG file (same arguments as the page)."""
    w = state.load_world(world)
    chart = chart_of(w, name)
    body = render_template("chart_file.html", chart=chart, standalone=True)
    return Response(body, mimetype="image/svg+xml",
                    headers={"Content-Disposition": f'attachment; filename="{_file_name(w, chart, "svg")}"'})


@bp.route("/world/<world>/values/<name>.csv")
def chart_csv(world: str, name: str):
    """One chart's data as CSV (cells a spreadsheet would run as formulas are quoted)."""
    w = state.load_world(world)
    chart = chart_of(w, name)
    return Response(csv_text(chart["columns"], chart["rows"]), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{_file_name(w, chart, "csv")}"'})


@bp.route("/api/worlds/<world>/values/<name>")
def chart_api(world: str, name: str):
    """One chart's data as JSON: ``columns`` and ``rows`` as in the CSV, plus what the chart adds."""
    w = state.load_world(world)
    chart = chart_of(w, name)
    return {"world": w.name, "chart": chart["name"], "title": chart["title"], "columns": chart["columns"],
            "rows": chart["rows"], **chart.get("extra", {})}
