"""Values of a sampled world: each unit's estimate with its 95% interval, and a convergence chart.

A sampled world has no exact values, only estimates stored by sampled
valuations (:mod:`cfgraph.valuation`). The page shows the latest valuation of
one method on one (slice, metric, seed) column, sorted server-side by query
arguments (``sort=value|rank|unit|stderr|n_samples``, ``order=asc|desc``) so it
works without script. With more than :data:`FOLDED_ABOVE` units it opens on
the top and bottom :data:`EACH_END` units; ``view=all`` pages through all of
them, :data:`PER_PAGE` a page (a ``page`` alone opens that view; with ``view=ends`` it is refused). ``unit=<label>`` draws that unit's estimate and
95% band (value ± 1.96 stderr) against the training sets used, from the
valuation's trace (its target column), also served as an SVG file.

On an exhaustive world the same estimates (samplers run on its stored cells)
are listed under the exact values by :func:`estimates_beside_exact`, and the
page itself is ``/world/<w>/estimates`` (on any world).
"""

from __future__ import annotations

import math

from flask import Blueprint, Response, render_template, request, url_for

from cfgraph.errors import CfgraphError
from cfgraph.web import state
from cfgraph.web.charts import Frame, band_chart, interval_bars
from cfgraph.world_estimates import ESTIMATE_SORTS, parse_method
from cfgraph.world_sampled import natural_key, quoted

bp = Blueprint("estimates", __name__)

#: Above this many units the page opens on the top and bottom EACH_END units.
FOLDED_ABOVE = 60
EACH_END = 25
#: Units per page of the full list.
PER_PAGE = 100
#: A convergence chart needs at least this many checkpoints.
MIN_TRACE_POINTS = 2


def sort_rows(rows: list[dict], sort: str, order: str) -> list[dict]:
    """Rows ordered by ``sort`` (missing values last whatever the order).

    Raises
    ------
    CfgraphError
        On an unknown sort key or order.

    Examples
    --------
    >>> rows = [{"name": "r10", "value": 0.1, "rank": 2, "stderr": 0.01, "n_samples": 4, "idx": 0},
    ...         {"name": "r2", "value": 0.3, "rank": 1, "stderr": None, "n_samples": 5, "idx": 1}]
    >>> [r["name"] for r in sort_rows(rows, "unit", "asc")], [r["name"] for r in sort_rows(rows, "stderr", "desc")]
    (['r2', 'r10'], ['r10', 'r2'])
    """
    if sort not in ESTIMATE_SORTS:
        raise CfgraphError(f"sort must be one of {', '.join(ESTIMATE_SORTS)}, not {sort[:20]!r}")
    if order not in ("asc", "desc"):
        raise CfgraphError(f"order must be asc or desc, not {order[:20]!r}")
    if sort == "unit":
        return sorted(rows, key=lambda r: natural_key(r["name"]), reverse=order == "desc")
    present = [r for r in rows if r.get(sort) is not None]
    missing = [r for r in rows if r.get(sort) is None]
    return sorted(present, key=lambda r: (r[sort], -r["idx"] if order == "desc" else r["idx"]),
                  reverse=order == "desc") + missing


def values_view(world, args=None) -> dict:
    """Everything the sampled values page (and its JSON twin) shows, from the query string.

    Returns
    -------
    dict
        The :meth:`cfgraph.world.World.estimate_table` fields plus ``sort``, ``order``,
        ``view`` ("ends", "all" or "one"), ``page``, ``pages``, ``shown`` (rows, with a None
        between the two ends), ``total``, ``bars`` (interval geometry per shown row),
        ``unit`` (the charted unit or None) and ``convergence``.

    Raises
    ------
    CfgraphError
        On an unknown method, column, sort, order, view, unit or a page out of range.
    """
    args = request.args if args is None else args
    table = world.estimate_table(args.get("method"), args.get("slice"), args.get("metric"), args.get("seed"))
    sort = (args.get("sort") or "value").strip()
    order = (args.get("order") or ("asc" if sort in ("unit", "rank") else "desc")).strip()
    rows = sort_rows(table["rows"], sort, order)
    total = len(rows)
    paged = str(args.get("page") or "").strip() != ""
    # A page number asks for the paged list: it opens the full view rather than being ignored.
    view = (args.get("view") or "").strip() or ("ends" if total > FOLDED_ABOVE and not paged else "all")
    if view not in ("ends", "all"):
        raise CfgraphError(f"view must be ends or all, not {quoted(view, 20)}")
    if view == "ends" and paged:
        raise CfgraphError("page applies to the full list (view=all); the top-and-bottom view has no pages")
    pages = max(1, -(-total // PER_PAGE))
    page = state_page(args.get("page"), pages)
    if view == "ends" and total > 2 * EACH_END:
        shown = rows[:EACH_END] + [None] + rows[-EACH_END:]
    elif view == "ends":
        shown = rows
    else:
        shown = rows[(page - 1) * PER_PAGE: page * PER_PAGE]
    bars = interval_bars([r for r in shown if r is not None])
    geometry = iter(bars["bars"])
    bar_of = [None if r is None else next(geometry) for r in shown]
    unit, chart = None, None
    if args.get("unit"):
        i = world.unit_index(args["unit"])
        unit = world.units[i]
        chart = convergence_view(world, table, i)
        chart["caption"] = convergence_caption(world, table, unit, chart["target"])
    return {**table, **method_about(world, table), "sort": sort, "order": order, "view": view, "page": page,
            "pages": pages, "total": total,
            "shown": shown, "per_page": PER_PAGE, "each_end": EACH_END, "folded_above": FOLDED_ABOVE, "bars": bars,
            "bar_of": bar_of, "unit": unit, "convergence": chart,
            "between": total - 2 * EACH_END if view == "ends" and total > 2 * EACH_END else 0,
            "valued": sum(r["value"] is not None for r in rows)}


def method_about(world, table: dict) -> dict:
    """For a method beyond sampling (:data:`cfgraph.methods.METHODS`): ``about`` (what it estimates)
    and ``notes`` (its trace's sentences on the shown slice: subsidy, LDS); empty otherwise."""
    from cfgraph.methods import METHODS, trace_notes

    method, valuation = table.get("method"), table.get("valuation")
    if method not in METHODS or valuation is None:
        return {"about": None, "notes": []}
    from cfgraph.store import estimates

    trace = estimates.valuation_trace(world.session, int(valuation["id"]))
    points = trace.get("trace", trace) if isinstance(trace, dict) else trace
    column = table.get("column") or {}
    return {"about": METHODS[method], "notes": trace_notes(method, points, column.get("slice"))}


def state_page(text, pages: int) -> int:
    """A 1-based page number in 1..pages from a query argument (1 when absent).

    Raises
    ------
    CfgraphError
        If it is not a whole number in range.

    Examples
    --------
    >>> state_page(None, 3), state_page(" 2", 3)
    (1, 2)
    """
    if text is None or str(text).strip() == "":
        return 1
    text = str(text).strip()
    if not text.isdigit() or not 1 <= int(text) <= pages:
        raise CfgraphError(f"page={text[:20]!r} is out of range 1..{pages}")
    return int(text)


def convergence_caption(world, table: dict, unit, target: dict | None) -> str:
    """What a convergence chart draws, in one line: world, unit, method, valuation, the target
    column the trace follows (whichever column the table shows), metric and seed.

    Examples
    --------
    >>> from types import SimpleNamespace as N
    >>> convergence_caption(N(name="bc"), {"method": "shapley", "valuation": {"id": 3}}, N(label="r68"),
    ...                     {"slice": "all", "metric": "accuracy", "seed": 0})
    'bc · unit r68 · shapley · valuation 3 · slice all (the target) · accuracy · seed 0'
    """
    head = f"{world.name} · unit {unit.label} · {table['method']} · valuation {table['valuation']['id']}"
    if target is None:
        return head
    seed = "mean over seeds" if target["seed"] is None else f"seed {target['seed']}"
    return f"{head} · slice {target['slice']} (the target) · {target['metric']} · {seed}"


def convergence_view(world, table: dict, unit: int) -> dict:
    """One unit's convergence: the trace of the shown valuation (``trace``, ``points``), the column it
    follows (``target``: the valuation's target column) and its chart (None below two points)."""
    valuation = table["valuation"]
    if valuation is None:
        return {"points": 0, "chart": None, "trace": None, "target": None}
    target = world.target_column(valuation["id"])
    trace = world.convergence(valuation["id"], unit)
    points = len(trace["value"])
    chart = None
    if points >= MIN_TRACE_POINTS:
        chart = band_chart(trace["evaluations"], trace["value"], trace["low"], trace["high"], Frame(width=620))
    return {"points": points, "chart": chart, "trace": trace, "target": target}


def values_json(world, view: dict) -> dict:
    """The sampled values page's data as JSON (the rows it shows, in its order)."""
    valuation = view["valuation"]
    return {
        "world": world.name, "lattice": world.lattice, "method": view["method"], "methods": view["methods"],
        "valuation": jsonable(valuation), "column": view["column"], "columns": view["columns"],
        "sort": view["sort"], "order": view["order"], "view": view["view"], "page": view["page"],
        "pages": view["pages"], "total": view["total"],
        "units": [r for r in view["shown"] if r is not None],
        "convergence": None if view["convergence"] is None else {
            "unit": view["unit"].label, "points": view["convergence"]["points"],
            "target": view["convergence"]["target"], "caption": view["convergence"]["caption"],
            **(view["convergence"]["trace"] or {})},
    }


def jsonable(record: dict | None) -> dict | None:
    if record is None:
        return None
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in record.items() if k != "trace"}


def sampled_page(world):
    """The values page of a sampled world (and the estimates page of any world)."""
    return render_template("values_sampled.html", world=world, **values_view(world))


@bp.route("/world/<world>/estimates")
def page(world: str):
    """Sampled estimates of any world (a sampled world's values page shows the same)."""
    return sampled_page(state.load_world(world))


@bp.route("/api/worlds/<world>/estimates")
def api(world: str):
    """The estimates page's data."""
    w = state.load_world(world)
    return values_json(w, values_view(w))


def _unit_view(world: str):
    """The world and its values view for a request that must name a unit (the convergence routes)."""
    w = state.load_world(world)
    if not request.args.get("unit"):
        raise CfgraphError("give unit=<label> (the unit whose convergence to show)")
    return w, values_view(w)


@bp.route("/world/<world>/values/convergence.svg")
def convergence_svg(world: str):
    """A unit's convergence chart as an SVG file (``unit``, ``method``, ``slice``...: as the page)."""
    w, view = _unit_view(world)
    chart = view["convergence"]["chart"]
    if chart is None:
        raise CfgraphError(f"the valuation's trace has {view['convergence']['points']} checkpoint(s) for unit "
                           f"{view['unit'].label!r}: a chart needs at least {MIN_TRACE_POINTS}")
    body = render_template("_convergence.svg", ch=chart, unit=view["unit"], method=view["method"], standalone=True,
                           column=view["column"], caption=view["convergence"]["caption"])
    name = f"convergence-{w.name}-{view['method']}-{view['unit'].label}.svg"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:120]
    return Response(body, mimetype="image/svg+xml",
                    headers={"Content-Disposition": f'attachment; filename="{safe}"'})


@bp.route("/api/worlds/<world>/convergence")
def convergence_api(world: str):
    """A unit's convergence trace as JSON (``unit`` required; as the page)."""
    w, view = _unit_view(world)
    return {"world": w.name, "method": view["method"], "unit": view["unit"].label,
            "valuation": jsonable(view["valuation"]), "points": view["convergence"]["points"],
            "target": view["convergence"]["target"], "caption": view["convergence"]["caption"],
            **(view["convergence"]["trace"] or {})}


def estimates_beside_exact(world, values_of) -> list[dict]:
    """Stored sampled estimates of an exhaustive world next to the exact values of the same column.

    Parameters
    ----------
    world : World
        An exhaustive world.
    values_of : callable
        ``values_of(method, params, slice, metric, seed) -> ndarray (n,)`` of exact values.

    Returns
    -------
    list of dict
        Per method with estimates: ``method``, ``valuation``, ``column`` and ``rows``
        (label, name, exact, value, stderr, ci_low, ci_high, n_samples, covered).
    """
    out = []
    for method in world.estimate_methods():
        table = world.estimate_table(method)
        column = table["column"]
        name, params = parse_method(method)
        try:
            exact = values_of(name, params, column["slice"], column["metric"], column["seed"])
        except CfgraphError:
            exact = None
        rows = []
        for r in table["rows"]:
            e = None if exact is None else float(exact[r["idx"]])
            e = None if e is None or math.isnan(e) else e
            covered = (None if e is None or r["ci_low"] is None or r["ci_high"] is None
                       else r["ci_low"] - 1e-12 <= e <= r["ci_high"] + 1e-12)
            rows.append({**r, "exact": e, "covered": covered})
        out.append({"method": method, "valuation": table["valuation"], "column": column, "rows": rows,
                    "url": url_for("estimates.page", world=world.name, method=method)})
    return out
