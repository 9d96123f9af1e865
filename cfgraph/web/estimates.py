"""Values of a sampled world: each unit's estimate with its 95% interval, and a convergence chart.

A sampled world has no exact Shapley values, only the estimates stored by
sampled valuations (:mod:`cfgraph.valuation`) and the results of the methods
beyond sampling (:mod:`cfgraph.methods`); :mod:`cfgraph.web.method_account`
says which each is. The page shows the latest valuation of
one method on one (slice, metric, seed) column, sorted server-side by query
arguments (``sort=value|rank|unit|stderr|n_samples``, ``order=asc|desc``) so it
works without script. With more than :data:`FOLDED_ABOVE` units it opens on
the top and bottom :data:`EACH_END` units; ``view=all`` pages through all of
them, :data:`PER_PAGE` a page (a ``page`` alone opens that view; with
``view=ends`` it is refused). ``unit=<label>`` draws that unit's estimate and 95% band (value ± 1.96 stderr) against the training sets used, from the
valuation's trace (its target column), also served as an SVG file.

On an exhaustive world the same estimates (samplers run on its stored cells)
are listed under the exact values by :func:`cfgraph.web.beside_exact.estimates_beside_exact`, and the
page itself is ``/world/<w>/estimates`` (on any world).
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from cfgraph.errors import CfgraphError
from cfgraph.web import state
from cfgraph.web.charts import Frame, band_chart, interval_bars
from cfgraph.web.graph_params import Problems, refused_free_url
from cfgraph.web.method_account import method_account, params_text
from cfgraph.world_estimates import ESTIMATE_SORTS
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


def values_view(world, args=None, problems: Problems | None = None) -> dict:
    """Everything the sampled values page (and its JSON twin) shows, from the query string.

    Returns
    -------
    dict
        The :meth:`cfgraph.world.World.estimate_table` fields plus ``sort``, ``order``,
        ``order_words``, ``view`` ("ends", "all" or "one"), ``page``, ``pages``, ``shown`` (rows,
        with a None between the two ends), ``total``, ``bars`` (interval geometry on one axis for
        the whole column), ``bar_of`` (per shown row), ``unit`` (the charted unit or None),
        ``convergence``, ``account`` (:func:`cfgraph.web.method_account.method_account`) and
        ``fallback`` (a sentence when the asked column was not valued by this method), ``problems``
        and ``refused`` (the bad parameters noted by a lenient ``problems``).

    Raises
    ------
    CfgraphError
        When strict (the default: the JSON API and the files), on an unknown method, column, sort,
        order, view, unit or a page out of range; the page passes a lenient
        :class:`cfgraph.web.graph_params.Problems`, which notes each and uses its default.
    """
    args = request.args if args is None else args
    problems = problems or Problems(strict=True)
    take = problems.take
    table, fallback = pick_table(world, args) if problems.strict else lenient_table(world, args, problems)
    sort = take("sort", lambda: _checked_sort((args.get("sort") or "value").strip(), "desc")[0], "value")
    default_order = "asc" if sort in ("unit", "rank") else "desc"
    order = take("order", lambda: _checked_sort(sort, (args.get("order") or default_order).strip())[1], default_order)
    rows = sort_rows(table["rows"], sort, order)
    total = len(rows)
    paged = str(args.get("page") or "").strip() != ""
    # A page number asks for the paged list: it opens the full view rather than being ignored.
    view = take("view", lambda: _checked_view((args.get("view") or "").strip() or ("ends" if total > FOLDED_ABOVE
                                                                                    and not paged else "all")),
                "ends" if total > FOLDED_ABOVE else "all")
    if view == "ends" and paged:
        take("page", lambda: _raise("page applies to the full list (view=all); the top-and-bottom view has no pages"),
             None)
    pages = max(1, -(-total // PER_PAGE))
    page = 1 if view == "ends" else take("page", lambda: state_page(args.get("page"), pages), 1)
    if view == "ends" and total > 2 * EACH_END:
        shown = rows[:EACH_END] + [None] + rows[-EACH_END:]
    elif view == "ends":
        shown = rows
    else:
        shown = rows[(page - 1) * PER_PAGE: page * PER_PAGE]
    # One axis for the whole column, so a bar keeps its place whatever the sort or page.
    bars = interval_bars(rows)
    bar_by_idx = {r["idx"]: b for r, b in zip(rows, bars["bars"])}
    bar_of = [None if r is None else bar_by_idx[r["idx"]] for r in shown]
    about = method_about(world, table)
    unit, chart = None, None
    i = take("unit", lambda: world.unit_index(args["unit"]), None) if args.get("unit") else None
    if i is not None:
        unit = world.units[i]
        if about["account"] is not None and not about["account"]["has_trace"]:
            chart = {"points": 0, "chart": None, "trace": None, "target": None,
                     "untraced": untraced_reason(table["method"])}
        else:
            chart = convergence_view(world, table, i)
        chart["caption"] = convergence_caption(world, table, unit, chart["target"])
    return {**table, **about, "sort": sort, "order": order, "order_words": order_words(sort, order),
            "view": view, "page": page, "pages": pages, "total": total, "fallback": fallback,
            "shown": shown, "per_page": PER_PAGE, "each_end": EACH_END, "folded_above": FOLDED_ABOVE, "bars": bars,
            "bar_of": bar_of, "unit": unit, "convergence": chart,
            "between": total - 2 * EACH_END if view == "ends" and total > 2 * EACH_END else 0,
            "valued": sum(r["value"] is not None for r in rows),
            "problems": problems.messages, "refused": problems.params}


def _raise(message: str):
    raise CfgraphError(message)


def _checked_sort(sort: str, order: str) -> tuple[str, str]:
    sort_rows([], sort, order)  # raises on an unknown key or order
    return sort, order


def _checked_view(view: str) -> str:
    if view not in ("ends", "all"):
        raise CfgraphError(f"view must be ends or all, not {quoted(view, 20)}")
    return view


def lenient_table(world, args, problems: Problems) -> tuple[dict, str | None]:
    """:func:`pick_table` for the page: each of method, slice, metric and seed is tried in turn on
    top of the ones already accepted; one the world has no estimates for is noted and dropped."""
    keep: dict = {}
    for key in ("method", "slice", "metric", "seed"):
        value = args.get(key)
        if value is None or not str(value).strip():
            continue
        trial = {**keep, key: value}
        if problems.take(key, lambda trial=trial: pick_table(world, trial) and True, False):
            keep = trial
    return pick_table(world, keep)


def pick_table(world, args) -> tuple[dict, str | None]:
    """The asked column of the asked method, or the method's own target column with a sentence why.

    The method form keeps the slice, metric and seed of the column on show; a method that
    did not value that column (Data-OOB values slice ``all`` only, KNN-Shapley scores on its own
    metric) falls back to its target column. Only names the world knows fall back: a slice,
    metric or seed the world has never had is still an error.

    Raises
    ------
    CfgraphError
        On an unknown method, or a slice, metric or seed unknown to the world.
    """
    asked = {"slice": args.get("slice"), "metric": args.get("metric"), "seed": args.get("seed")}
    try:
        return world.estimate_table(args.get("method"), asked["slice"], asked["metric"], asked["seed"]), None
    except CfgraphError:
        table = world.estimate_table(args.get("method"))  # raises on an unknown method
        known = {"slice": {s.name for s in world.slices}, "metric": set(world.metrics),
                 "seed": {str(x) for x in world.seeds} | {"mean"}}
        stored = {key: {str(c[key]) for c in table["columns"]} | ({"mean"} if key == "seed" else set())
                  for key in known}
        missing = [key for key, text in asked.items() if text and str(text).strip() and str(text).strip() not in
                   stored[key]]
        if not missing or any(str(asked[key]).strip() not in known[key] for key in missing):
            raise
        keep = {key: (None if key in missing else asked[key]) for key in asked}
        table = world.estimate_table(table["method"], keep["slice"], keep["metric"], keep["seed"])
        what = ", ".join(f"{key} {quoted(str(asked[key]).strip(), 40)}" for key in missing)
        column = table["column"]
        return table, (f"{table['method']} has no estimates on {what}: showing its own column, slice "
                       f"{column['slice']} · {column['metric']}.")


def order_words(sort: str, order: str) -> str:
    """The table's order in words.

    Examples
    --------
    >>> order_words("value", "desc"), order_words("stderr", "asc"), order_words("unit", "asc")
    ('by value, highest first', 'by standard error, smallest first', 'by unit label, A to Z')
    """
    if sort == "unit":
        return f"by unit label, {'A to Z' if order == 'asc' else 'Z to A'}"
    if sort == "rank":
        return f"by rank, {'1 first' if order == 'asc' else 'last first'}"
    name = {"value": "value", "stderr": "standard error", "n_samples": "samples"}.get(sort, sort)
    if sort == "value":
        return f"by value, {'lowest' if order == 'asc' else 'highest'} first"
    return f"by {name}, {'smallest' if order == 'asc' else 'largest'} first"


def untraced_reason(method: str) -> str:
    """Why a method has no convergence chart (one sentence)."""
    if method == "data-oob":
        return f"{method} has no convergence trace (it is not sampled step by step: its bags are drawn at once)."
    return f"{method} has no convergence trace (it is not sampled)."


def method_about(world, table: dict) -> dict:
    """What the shown valuation's numbers are (:func:`cfgraph.web.method_account.method_account`):
    ``account``, and its ``about`` (what the method estimates) and ``notes`` (the trace's
    sentences on the shown slice: subsidy, LDS); None and empty without a valuation."""
    valuation = table.get("valuation")
    if valuation is None:
        return {"account": None, "about": None, "notes": []}
    from cfgraph.store import estimates

    trace = estimates.valuation_trace(world.session, int(valuation["id"]))
    points = trace.get("trace", trace) if isinstance(trace, dict) else trace
    account = method_account(table.get("method"), valuation, points, table.get("column"), table.get("rows"),
                             model=world.model_spec)
    return {"account": account, "about": account["about"], "notes": account["notes"]}


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
    if not text.isdigit():
        raise CfgraphError(f"page must be a whole number, not {quoted(text, 20)}")
    if not 1 <= int(text) <= pages:
        raise CfgraphError(f"page={quoted(text, 20)} is out of range 1..{pages}")
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
    valuation, account = view["valuation"], view["account"]
    return {
        "world": world.name, "lattice": world.lattice, "method": view["method"], "methods": view["methods"],
        "valuation": jsonable(valuation), "column": view["column"], "columns": view["columns"],
        "sort": view["sort"], "order": view["order"], "view": view["view"], "page": view["page"],
        "pages": view["pages"], "total": view["total"],
        "units": [r for r in view["shown"] if r is not None],
        "exact": None if account is None else account["exact"], "about": view["about"],
        "how": None if account is None else account["how"],
        "samples_count": None if account is None else account["samples"],
        "facts": None if account is None else account["facts"], "notes": view["notes"],
        "caveats": [] if account is None else account["caveats"], "fallback": view["fallback"],
        "convergence": None if view["convergence"] is None else {
            "unit": view["unit"].label, "points": view["convergence"]["points"],
            "untraced": view["convergence"].get("untraced"),
            "target": view["convergence"]["target"], "caption": view["convergence"]["caption"],
            **(view["convergence"]["trace"] or {})},
    }


def jsonable(record: dict | None) -> dict | None:
    if record is None:
        return None
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in record.items() if k != "trace"}


def sampled_page(world):
    """The values page of a sampled world (and the estimates page of any world)."""
    from cfgraph.web.value_data import sampled_charts

    view = values_view(world, problems=Problems(strict=False))
    charts = sampled_charts(world, view) if world.sampled else {}
    refused = view["refused"]
    body = render_template("values_sampled.html", world=world, params_text=params_text, charts=charts, **view,
                           query_url=lambda **changes: refused_free_url(refused, **changes),
                           file_args={k: v for k, v in request.args.items() if k not in refused})
    return body, (400 if view["problems"] else 200)


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
    if view["convergence"].get("untraced"):
        raise CfgraphError(view["convergence"]["untraced"].rstrip("."))
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
            "untraced": view["convergence"].get("untraced"),
            "target": view["convergence"]["target"], "caption": view["convergence"]["caption"],
            **(view["convergence"]["trace"] or {})}
