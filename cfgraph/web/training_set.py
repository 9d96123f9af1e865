"""The training-set page: one node's score on every slice, and each neighbour's score change.

Reads only the node and its n neighbours (indexed queries), so it costs the
same on a 2^16 lattice as on a 2^4 one. With several seeds stored and none
named, scores are means over seeds with their 95% interval.

On a sampled world a training set is known by its stored label, and its
neighbours are those stored (the ``edge`` table links stored training sets
that differ by one unit); the page also lists its members.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from cfgraph.web import state

bp = Blueprint("training_set", __name__)

#: Members listed on a sampled world's training-set page before "show all".
MEMBERS_SHOWN = 50


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


def stored_node_model(world, label: str) -> dict:
    """A sampled world's training set: members (the first :data:`MEMBERS_SHOWN`, or all with
    ``members=all``), cells on every slice and its *stored* neighbours' score changes.

    Raises
    ------
    NotFound
        On a training set the world does not store, or an unknown metric or seed.
    """
    from cfgraph.web.stored_graph import find_stored

    everyone = request.args.get("members") == "all"
    label = find_stored(world, label)["label"]  # "∅" names the empty training set, as the lattice shows it
    model = world.stored_training_set(label, request.args.get("metric"), request.args.get("seed"),
                                      members_shown=None if everyone else MEMBERS_SHOWN)
    return {"world": world, **model}


@bp.route("/world/<world>/node/<label>")
def page(world: str, label: str):
    """One training set's page."""
    w = state.load_world(world)
    if w.sampled:
        return render_template("node_sampled.html", **stored_node_model(w, label))
    return render_template("node.html", **node_model(w, label))
