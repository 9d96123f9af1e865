"""The training-set page: one node's score on every slice, and each neighbour's score change.

Reads only the node and its n neighbours (indexed queries), so it costs the
same on a 2^16 lattice as on a 2^4 one. With several seeds stored and none
named, scores are means over seeds with their 95% interval.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from cfgraph.web import state

bp = Blueprint("training_set", __name__)


def node_model(world, label: str) -> dict:
    """A node's scores on every slice and its add-one / remove-one neighbours with the changes
    (see :meth:`cfgraph.world.World.training_set`), for this request's metric and seed.

    Raises
    ------
    NotFound
        On an unknown label, metric or seed.
    """
    model = world.training_set(label, request.args.get("metric"), request.args.get("seed"))
    return {"world": world, **model}


@bp.route("/world/<world>/node/<label>")
def page(world: str, label: str):
    """One training set's page."""
    model = node_model(state.load_world(world), label)
    return render_template("node.html", **model)
