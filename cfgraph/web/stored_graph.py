"""The lattice page of a sampled world: one stored training set and its stored neighbours.

A sampled world stores the training sets its samplers fitted, a vanishing part
of 2^n; the page draws the focus node (``node``, default the largest stored
training set) with its stored add-one neighbours above and remove-one
neighbours below, at most :data:`SHOWN_EACH_WAY` each way, coloured on the
world's one colour scale (every stored cell of the metric, so it stays put while
you walk), and says how much of the lattice that is. Each drawn neighbour is a
link: walking the stored lattice is following them, and the walked path
(``path``, labels separated by commas, as on an exhaustive world's page) is listed
with each step's change. Lenses need every training set and are not offered here.
A bad parameter (an unknown training set in ``node`` or ``path``, a lens, an
unknown slice, metric or seed) is named inline (status 400) and its default used.
The empty training set is shown as ∅ whatever its stored label, and ``∅`` names it
in ``node`` and ``path``.
"""

from __future__ import annotations

import numpy as np
from flask import render_template, request

from cfgraph import lattice
from cfgraph.display import fixed
from cfgraph.errors import CfgraphError, NotFound
from cfgraph.store.cell_range import cell_range
from cfgraph.web import lenses, state
from cfgraph.web.charts import Scale
from cfgraph.web.graph_params import PATH_LIMIT, Problems, hidden_args, refused_free_url
from cfgraph.web.lenses import local_layout

#: Neighbours drawn above and below the focus node (the rest are counted and listed on its page).
SHOWN_EACH_WAY = 12


def shown_label(label: str, size: int) -> str:
    """A stored training set's label as pages show it: ∅ for the empty training set.

    Examples
    --------
    >>> shown_label("t0000000000000000", 0), shown_label("t00a1", 2)
    ('∅', 't00a1')
    """
    return lattice.EMPTY_LABEL if int(size) == 0 else str(label)


def find_stored(world, label: str) -> dict:
    """A stored training set by its stored label, or ``∅`` for the empty training set.

    Raises
    ------
    NotFound
        If the world stores no training set of that label (nor, for ``∅``, the empty one).
    """
    label = str(label).strip()
    try:
        return world.stored_node(label)
    except NotFound:
        if label not in (lattice.EMPTY_LABEL, "{}"):
            raise
        rows = world.stored_training_sets(max_size=0, per_page=1)["rows"]
        if not rows:
            raise
        return world.stored_node(rows[0]["label"])


def _refuse_lens(world, key: str):
    """A lens on a sampled world: refused, saying why (an unknown lens is named as such).

    Raises
    ------
    CfgraphError
        Always.
    """
    if key not in lenses.LENSES:
        raise CfgraphError(f"unknown lens {key[:30]!r} (lenses: {', '.join(lenses.LENSES)}; "
                           "drawn on exhaustive worlds only)")
    raise CfgraphError(f"the lens {key!r} needs every training set: {world.name!r} is a sampled world, "
                       "so lenses are drawn on exhaustive worlds only")


def _path(world, text: str, node: dict) -> list[dict]:
    """The walked path's stored training sets, ending at the node (the oldest steps drop off).

    Raises
    ------
    NotFound
        On a label the world does not store.
    """
    path = [find_stored(world, part) for part in text.split(",") if part.strip()] if text else []
    if not path or path[-1]["id"] != node["id"]:
        path.append(node)
    return path[-PATH_LIMIT:]


def stored_graph_model(world, args=None, strict: bool = True) -> dict:
    """The focus node, its drawn stored neighbours and their cells on one slice.

    ``strict``: raise on the first bad parameter (the JSON API); otherwise use its default
    and list it in ``problems`` (the page shows them inline).

    Returns
    -------
    dict
        ``node`` (label, size, value), ``up`` / ``down`` (drawn neighbours: unit, unit_name,
        label, shown label, size, value), ``up_count`` / ``down_count`` (all stored), ``count`` (drawn),
        ``shown`` (the node's label as shown: ∅ for the empty set), ``path`` (label, shown, value, change),
        ``forget_path`` (URL), ``slice``,
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
    node = problems.take("node", lambda: find_stored(world, args["node"]), None) if args.get("node") else None
    if node is None:
        node = world.stored_node(world.default_node())
    path = problems.take("path", lambda: _path(world, args.get("path"), node), [node])
    if args.get("lens"):
        problems.take("lens", lambda: _refuse_lens(world, str(args.get("lens"))), None)
    metric_arg = problems.take("metric", lambda: world.choose(args.get("metric") or None)[0], None)
    seed_arg = args.get("seed") or None
    if seed_arg is not None:
        seed_arg = problems.take("seed", lambda: world.choose(metric_arg, seed_arg)[1], None)
    hood = world.stored_neighbours(node["id"])
    up, down = hood["up"][:SHOWN_EACH_WAY], hood["down"][:SHOWN_EACH_WAY]
    ids = [node["id"]] + [nb["id"] for nb in up + down]
    path_ids = [p["id"] for p in path]
    read = list(dict.fromkeys(ids + path_ids))
    values, _, metric, seed = world.stored_column(read, the_slice.name, metric_arg, seed_arg)
    value = dict(zip(read, values.tolist()))
    units = world.units

    def described(nb, sign):
        u = units[nb["unit"]]
        return {"unit": u.label, "unit_name": u.name, "label": nb["label"], "size": nb["size"],
                "shown": shown_label(nb["label"], nb["size"]), "value": value[nb["id"]], "id": nb["id"],
                "step": f"{sign} {u.label}"}

    def walk_to(label: str) -> str:
        """The page's URL at another stored training set, the walked path one step longer."""
        steps = [p["label"] for p in path] + [label]
        return refused_free_url(problems.params, node=label, path=",".join(steps[-PATH_LIMIT:]))

    up_rows = [described(nb, "+") for nb in up]
    down_rows = [described(nb, "−") for nb in down]
    here = shown_label(node["label"], node["size"])
    longest = max([len(r["step"]) for r in up_rows + down_rows] + [min(len(here), 12)])
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
        stored, shown = (node["label"], here) if row is None else (row["label"], row["shown"])
        if row is None:  # the focus node: its label, cut short (the page's heading has it whole)
            text = shown if len(shown) <= 12 else shown[:11] + "…"
        else:
            text = row["step"]
        nodes.append({"x": p.x, "y": p.y, "r": 16, "ty": p.y + 27, "cls": scale.css(float(v)),
                      "state": "current" if row is None else "", "text": text, "label": stored,
                      "title": f"{shown}: {fixed(v) if not np.isnan(v) else 'missing'}",
                      "href": walk_to(stored)})
        if row is not None:
            edges.append({"x1": centre.x, "y1": centre.y, "x2": p.x, "y2": p.y})
    return {"world": world, "slice": the_slice, "metric": metric, "seed": seed,
            "node": {"label": node["label"], "size": node["size"], "value": value[node["id"]]}, "shown": here,
            "path": [{"label": p["label"], "shown": shown_label(p["label"], p["size"]), "value": value[p["id"]],
                      "change": value[p["id"]] - value[q["id"]] if t else float("nan")}
                     for t, (q, p) in enumerate(zip([path[0]] + path[:-1], path))],
            "forget_path": refused_free_url(problems.params, path=None),
            "up": up_rows, "down": down_rows, "up_count": len(hood["up"]), "down_count": len(hood["down"]),
            "count": 1 + len(up_rows) + len(down_rows), "stored": world.stored_count(), "possible": world.possible,
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
        return [{k: (None if k == "value" and np.isnan(v) else v) for k, v in r.items() if k not in ("id", "shown")}
                for r in rows]

    here = dict(m["node"])
    here["value"] = None if np.isnan(here["value"]) else here["value"]
    return {"world": world.name, "lattice": world.lattice, "slice": m["slice"].name, "metric": m["metric"],
            "seed": m["seed"], "node": here, "up": clean(m["up"]), "down": clean(m["down"]),
            "up_count": m["up_count"], "down_count": m["down_count"], "shown": m["count"], "stored": m["stored"],
            "possible": m["possible"], "whole": False,
            "scale": {"lo": m["svg"]["scale"].lo, "hi": m["svg"]["scale"].hi}}
