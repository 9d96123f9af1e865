"""The planner page: each question ready, or the cells it still needs (``/world/<world>/plan``).

One function (:func:`plan_context`) computes the plan through :func:`cfgraph.planner.plan_world`;
the page and ``/api/worlds/<world>/plan`` are its two renderings. The page takes the grid's
focus (``cell``, ``row``, ``col``, ``layer``, ``unit``, ``pair``, ``coalition``, ``k``,
``alpha``, ``beta``, ``tol``, ``metric``, ``seed``) so links from the grid panel land here.
A world of several seeds is planned across all of them unless ``seed`` names one;
with ``cfgraph serve --allow-compute`` it offers to compute the missing cells
(:mod:`cfgraph.web.compute`).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, current_app, render_template, request, url_for

from cfgraph import planner
from cfgraph.web import state

bp = Blueprint("plan", __name__)

#: Missing cells put in one "select missing cells" link (a URL stays short enough to share).
SELECT_LIMIT = 64


def _focus_args() -> dict:
    args = request.args
    return dict(cells=args.getlist("cell"), rows=args.getlist("row"), columns=args.getlist("col"),
                layer=args.get("layer"), unit=args.get("unit"), pair=args.get("pair"),
                coalition=args.get("coalition"), k=args.get("k"), alpha=args.get("alpha"), beta=args.get("beta"),
                tolerance=state.tolerance_arg(args))


def plan_context(world_name: str) -> dict:
    """The plan of this request's world and focus, and what the page shows of it."""
    world = state.load_world(world_name)
    result = planner.plan_world(world, metric=request.args.get("metric"), seed=request.args.get("seed"),
                                **_focus_args())
    kept = [(k, v) for k, vs in request.args.to_dict(flat=False).items()
            if k not in state.SELECTION_KEYS + ("job", "page") for v in vs]
    links = {}
    for item in result.items:
        if item.missing and not world.sampled:
            # the grid shows one seed: the first that misses cells (its cells named once each)
            seed = item.missing[0][2]
            cells = list(dict.fromkeys(("cell", f"{t}:{s}") for t, s, sd in item.missing if sd == seed))
            here = [(k, v) for k, v in kept if k != "seed"]
            if len(result.world_seeds) > 1:
                here.append(("seed", str(seed)))
            links[item.key] = url_for("grid.page", world=world.name) + "?" + urlencode(here + cells[:SELECT_LIMIT])
    return {"world": world, "plan": result, "select_links": links,
            "allow_compute": bool(current_app.config["ALLOW_COMPUTE"]), "trained": world.kind == "trained"}


@bp.route("/world/<world>/plan")
def page(world: str):
    """The planner page."""
    from cfgraph.web.compute import MAX_SETS, csrf_token, job_of

    # The job's state is read before the plan: a job that finishes while the plan is being read
    # must not show as done over a plan that missed its last cells (the page then polls and reloads).
    job = job_of(request.args.get("job"))
    job = job.to_dict() if job is not None else None
    ctx = plan_context(world)
    ctx.update(csrf=csrf_token(), max_sets=MAX_SETS, job=job)
    return render_template("plan.html", **ctx)


@bp.route("/api/worlds/<world>/plan")
def api(world: str):
    """The plan as JSON (the same data the page shows)."""
    ctx = plan_context(world)
    return {**ctx["plan"].to_dict(), "select_links": ctx["select_links"], "allow_compute": ctx["allow_compute"]}
