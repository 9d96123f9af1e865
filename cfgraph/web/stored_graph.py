"""The lattice page of a sampled world: one stored training set and its stored neighbours.

A sampled world stores the training sets its samplers fitted, a vanishing part
of 2^n; the page draws the focus node (``node``, default the largest stored
training set) with its stored add-one neighbours above and remove-one
neighbours below, at most :data:`SHOWN_EACH_WAY` each way, coloured on the
world's one colour scale (every stored cell of the metric, so it stays put while
you walk), and says how much of the lattice that is. Each drawn neighbour is a
link: walking the stored lattice is following them. Lenses need every training
set and are not offered here. A bad parameter (an unknown training set, slice,
metric or seed) is named inline (status 400) and its default used.
"""

from __future__ import annotations

import numpy as np
from flask import render_template, request

from cfgraph.display import fixed
from cfgraph.store.cell_range import cell_range
from cfgraph.web import state
from cfgraph.web.charts import Scale
from cfgraph.web.graph_params import Problems, hidden_args, refused_free_url
from cfgraph.web.lenses import local_layout

#: Neighbours drawn above and below the focus node (the rest are counted and listed on its page).
SHOWN_EACH_WAY = 12


def stored_graph_model(world, args=None, strict: bool = True) -> dict:
    """The focus node, its drawn stored neighbours and their cells on one slice.

    ``strict``: raise on the first bad parameter (the JSON API); otherwise use its default
    and list it in ``problems`` (the page shows them inline).

    Returns
    -------
    dict
        ``node`` (label, size, value), ``up`` / ``down`` (drawn neighbours: unit, unit_name,
        label, size, value), ``up_count`` / ``down_count`` (all stored), ``shown``, ``slice``,
        ``metric``, ``seed``, ``svg`` (nodes and edges with coordinates), ``width``, ``height``.

    Raises
    ------
    NotFound
        When the world stores no training set; with ``strict``, on a training set the world
        does not store, an unknown slice, metric or seed.
    """
    args = request.args if args is None else args
    problems = Problems(strict)
    names = [s.name for s in world.slices]
    default_slice = "all" if "all" in names else None
    the_slice = problems.take("slice", lambda: world.find_slice(args.get("slice") or default_slice),
                              world.find_slice(default_slice))
    node = problems.take("node", lambda: world.stored_node(args["node"]), None) if args.get("node") else None
    if node is None:
        node = world.stored_node(world.default_node())
    metric_arg = problems.take("metric", lambda: world.choose(args.get("metric") or None)[0], None)
    seed_arg = args.get("seed") or None
    if seed_arg is not None:
        seed_arg = problems.take("seed", lambda: world.choose(metric_arg, seed_arg)[1], None)
    hood = world.stored_neighbours(node["id"])
    up, down = hood["up"][:SHOWN_EACH_WAY], hood["down"][:SHOWN_EACH_WAY]
    ids = [node["id"]] + [nb["id"] for nb in up + down]
    values, _, metric, seed = world.stored_column(ids, the_slice.name, metric_arg, seed_arg)
    value = dict(zip(ids, values.tolist()))
    units = world.units

    def described(nb, sign):
        u = units[nb["unit"]]
        return {"unit": u.label, "unit_name": u.name, "label": nb["label"], "size": nb["size"],
                "value": value[nb["id"]], "id": nb["id"], "step": f"{sign} {u.label}"}

    up_rows = [described(nb, "+") for nb in up]
    down_rows = [described(nb, "−") for nb in down]
    longest = max([len(r["step"]) for r in up_rows + down_rows] + [min(len(node["label"]), 12)])
    placed, width, height = local_layout(node["id"], [r["id"] for r in up_rows], [r["id"] for r in down_rows],
                                         longest)
    lo, hi, _ = cell_range(world.session, world.record, metric, seed, max(len(world.seeds), 1))
    scale = Scale.of([lo, hi])
    by_id = {r["id"]: r for r in up_rows + down_rows}
    centre = placed[0]
    nodes, edges = [], []
    for p in placed:
        row = by_id.get(p.mask)
        v = value[p.mask]
        shown_label = node["label"] if row is None else row["label"]
        if row is None:  # the focus node: its label, cut short (the page's heading has it whole)
            text = node["label"] if len(node["label"]) <= 12 else node["label"][:11] + "…"
        else:
            text = row["step"]
        nodes.append({"x": p.x, "y": p.y, "r": 16, "ty": p.y + 27, "cls": scale.css(float(v)),
                      "state": "current" if row is None else "", "text": text, "label": shown_label,
                      "title": f"{shown_label}: {fixed(v) if not np.isnan(v) else 'missing'}",
                      "href": refused_free_url(problems.params, node=shown_label)})
        if row is not None:
            edges.append({"x1": centre.x, "y1": centre.y, "x2": p.x, "y2": p.y})
    return {"world": world, "slice": the_slice, "metric": metric, "seed": seed,
            "node": {"label": node["label"], "size": node["size"], "value": value[node["id"]]},
            "up": up_rows, "down": down_rows, "up_count": len(hood["up"]), "down_count": len(hood["down"]),
            "shown": 1 + len(up_rows) + len(down_rows), "stored": world.stored_count(), "possible": world.possible,
            "svg": {"nodes": nodes, "edges": edges, "scale": scale}, "width": width, "height": height,
            "each_way": SHOWN_EACH_WAY, "problems": problems.messages, "refused": problems.params}


def page(world):
    """The lattice page of a sampled world."""
    model = stored_graph_model(world, strict=False)
    body = render_template("graph_sampled.html", **model, palette=state.palette(),
                           slice_hidden=hidden_args(model["refused"], ("slice",)))
    return body, (400 if model["problems"] else 200)


def api(world) -> dict:
    """The sampled lattice page's data."""
    m = stored_graph_model(world)

    def clean(rows):
        return [{k: (None if k == "value" and np.isnan(v) else v) for k, v in r.items() if k != "id"} for r in rows]

    here = dict(m["node"])
    here["value"] = None if np.isnan(here["value"]) else here["value"]
    return {"world": world.name, "lattice": world.lattice, "slice": m["slice"].name, "metric": m["metric"],
            "seed": m["seed"], "node": here, "up": clean(m["up"]), "down": clean(m["down"]),
            "up_count": m["up_count"], "down_count": m["down_count"], "shown": m["shown"], "stored": m["stored"],
            "possible": m["possible"], "whole": False,
            "scale": {"lo": m["svg"]["scale"].lo, "hi": m["svg"]["scale"].hi}}
