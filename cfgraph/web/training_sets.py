"""The stored training sets of a world: a paginated, filterable list (and its JSON twin).

An exhaustive world stores all 2^n training sets; a sampled one those its
samplers fitted. Filters are query arguments: ``contains`` (a unit's label or
name), ``min_size`` and ``max_size``; ``page`` pages by :data:`PER_PAGE`. Each
row shows the training set's cell on one slice (``slice``, default ``all``)
and links to its page. A bad filter is a one-line 400, never a traceback.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from cfgraph.web import state

bp = Blueprint("training_sets", __name__)

#: Training sets per page.
PER_PAGE = 50


def listing(world, args=None) -> dict:
    """One page of the world's stored training sets for this request's filters
    (see :meth:`cfgraph.world.World.stored_training_sets`).

    Raises
    ------
    CfgraphError
        On an unknown unit, a bad size or page, or an unknown slice, metric or seed.
    """
    args = request.args if args is None else args
    return world.stored_training_sets(contains=args.get("contains"), min_size=args.get("min_size"),
                                      max_size=args.get("max_size"), page=args.get("page"), per_page=PER_PAGE,
                                      slice_name=args.get("slice") or None, metric=args.get("metric") or None,
                                      seed=args.get("seed"))


@bp.route("/world/<world>/training-sets")
def page(world: str):
    """The stored training sets page."""
    w = state.load_world(world)
    return render_template("training_sets.html", world=w, **listing(w))


@bp.route("/api/worlds/<world>/training-sets")
def api(world: str):
    """The stored training sets page's data: the same page of rows and counts."""
    w = state.load_world(world)
    return {"world": w.name, "lattice": w.lattice, **listing(w)}
