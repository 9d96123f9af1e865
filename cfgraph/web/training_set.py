"""The training-set page: one node's score on every slice, and each neighbour's score change.

Reads only the node and its n neighbours (indexed queries), so it costs the
same on a 2^16 lattice as on a 2^4 one.
"""

from __future__ import annotations

import numpy as np
from flask import Blueprint, render_template

from cfgraph.store import queries
from cfgraph.web import reads, state
from cfgraph.web.db import get_session

bp = Blueprint("training_set", __name__)


def node_model(world, label: str) -> dict:
    """A node's scores on every slice and its add-one / remove-one neighbours with the changes.

    Returns
    -------
    dict
        ``label``, ``mask``, ``size``, ``slices`` (names), ``scores`` (list, None when missing),
        ``neighbours`` (list of dict: direction, unit, label, mask, scores, deltas).

    Raises
    ------
    NotFound
        On an unknown label.
    """
    session = get_session()
    metric, seed = state.metric_seed(world)
    mask = reads.parse_node(world, label)
    hood = queries.node_neighbourhood(session, world, mask)
    others = [("add", u, m, lab) for u, m, lab in hood["up"]] + [("remove", u, m, lab) for u, m, lab in hood["down"]]
    cells = queries.cells_at(session, world, [mask] + [m for _, _, m, _ in others], metric, seed)
    mine = cells[0]
    neighbours = []
    for (direction, unit, m, lab), row in zip(others, cells[1:]):
        neighbours.append({"direction": direction, "unit": unit, "label": lab, "mask": int(m),
                           "scores": _list(row), "deltas": _list(row - mine)})
    return {"world": world, "metric": metric, "seed": seed, "label": hood["node"][2], "mask": mask,
            "size": mask.bit_count(), "slices": [s.name for s in world.slices], "scores": _list(mine),
            "neighbours": neighbours}


def _list(row: np.ndarray) -> list:
    return [None if np.isnan(x) else float(x) for x in row.tolist()]


@bp.route("/world/<world>/node/<label>")
def page(world: str, label: str):
    """One training set's page."""
    model = node_model(state.load_world(world), label)
    return render_template("node.html", **model)
