"""The lattice graph: the Hasse diagram for one evaluation slice, walked one unit at a time.

Up to ``WHOLE_LATTICE_MAX_UNITS`` units the whole diagram is drawn in layers
by size. Beyond, a window of it, also in layers by size
(:mod:`cfgraph.web.lattice_layout`): the current node with its add-one and
remove-one neighbours (read from the edge table with indexed queries, never the
whole lattice), the path walked so far and the whole path of the lens (a data
strike or a permutation path: n + 1 training sets; an interaction square; an
ablation edge), each node drawn with its value; a lens over a whole layer or a
whole sweep is windowed and the page says so. The page says how many training
sets exist, are stored and are shown.

The colours follow one scale per world, metric and seed, spanning every
slice's cells as the grid's does, so they keep their meaning while you walk or
change slice. The state (slice, node, path, lens, unit, pair, coalition, k,
order, metric, seed) is in the URL; a bad parameter is shown inline beside the
controls (status 400) and its default used (:mod:`cfgraph.web.graph_params`).

With two or more seeds stored and none named, node scores are the per-cell
mean over seeds (as on the grid page) and each node's title carries its 95%
interval; the seed stack is read only for the training sets the page shows.
"""

from __future__ import annotations

import math

import numpy as np
from flask import Blueprint, current_app, render_template, request

from cfgraph import lattice
from cfgraph.display import fixed
from cfgraph.store.cell_range import cell_range
from cfgraph.web import lenses, state, stored_graph
from cfgraph.web.charts import Scale
from cfgraph.web.graph_params import PATH_LIMIT, Problems, hidden_args, read_graph_args, refused_free_url
from cfgraph.web.grid import interval_text
from cfgraph.web.lattice_layout import LAYER_WINDOW, layered_layout, place_edge_labels
from cfgraph.world_sampled import possible_text

bp = Blueprint("graph", __name__)

#: Lenses whose training sets are a few named ones (drawn whole at any n), in path order.
PATH_LENSES = ("ablation", "strike", "square", "permutation")
#: Lenses along a path from one end to the other: their nodes are numbered by step.
STEPPED_LENSES = ("strike", "permutation")


class Labels:
    """Training-set labels by mask, computed on demand (a 2^16 lattice needs only a few)."""

    def __init__(self, letters):
        self.letters = letters

    def __getitem__(self, mask) -> str:
        return lattice.mask_label(int(mask), self.letters)


class SparseColumn:
    """Scores of a few training sets on one slice; NaN for any other."""

    def __init__(self, masks, values):
        self.cells = {int(m): float(v) for m, v in zip(masks, values)}

    def __getitem__(self, mask) -> float:
        return self.cells.get(int(mask), math.nan)


class SeedSpread:
    """Each read training set's 95% interval over seeds on one slice, by mask.

    ``summary`` is :meth:`cfgraph.world.World.cells_across_seeds` for ``masks``
    (None: every training set, indexed by mask).
    """

    def __init__(self, masks, summary: dict):
        self.summary = summary
        self.row = None if masks is None else {int(m): t for t, m in enumerate(masks)}

    @property
    def seeds(self) -> list[int]:
        return self.summary["seeds"]

    def interval(self, mask) -> dict | None:
        """``{"mean", "half_width", "std", "n"}`` of one training set (None when missing or not read)."""
        t = int(mask) if self.row is None else self.row.get(int(mask))
        if t is None or math.isnan(self.summary["mean"][t]):
            return None
        half, std = float(self.summary["half_width"][t]), float(self.summary["std"][t])
        return {"mean": float(self.summary["mean"][t]), "half_width": None if math.isnan(half) else half,
                "std": None if math.isnan(std) else std, "n": int(self.summary["n"][t])}

    def text(self, mask) -> str:
        """"0.912 ± 0.013 (n=5)", or "" when the cell is missing."""
        return interval_text(self.interval(mask))


def graph_model(world, args=None, strict: bool = True) -> dict:
    """Everything the graph page (and /api/.../graph) shows, from the query string.

    Parameters
    ----------
    world : World
    args : mapping, optional
        The query parameters (default: the request's).
    strict : bool
        Raise on the first bad parameter (the JSON API); otherwise use its default and
        list it in ``problems`` (the page shows them inline).

    Raises
    ------
    CfgraphError, NotFound
        With ``strict``, on a bad parameter (unknown slice, node, unit or lens; k out of range).
    """
    args = request.args if args is None else args
    world.require_exhaustive("the whole lattice's lenses and paths")
    problems = Problems(strict)
    got = read_graph_args(world, args, problems)
    metric, seed, the_slice = got["metric"], got["seed"], got["slice"]
    node, path, lens_key, params = got["node"], got["path"], got["lens_key"], got["params"]
    n, letters = world.n, world.letters
    whole = n <= int(current_app.config["WHOLE_LATTICE_MAX_UNITS"])
    if whole:
        labels = lattice.all_labels(letters)
        up, down = ([m for _, m in side] for side in lattice.neighbours(node, n))
    else:
        labels = Labels(letters)
        hood = world.neighbourhood(node)
        up, down = ([m for _, m, _ in hood[side]] for side in ("up", "down"))
    lens_masks = problems.take("lens", lambda: lenses.needed(lens_key, n, params), []) if lens_key else []
    # the slice's whole column, or only the nodes the page shows (a large world)
    masks = None if whole or lens_masks is None else sorted(set([node] + up + down + path + lens_masks))
    spread = None
    if world.across_seeds(got["seed_arg"]):
        seed = None
        spread = SeedSpread(masks, world.cells_across_seeds(masks, the_slice.name, metric))
        column = spread.summary["mean"] if masks is None else SparseColumn(masks, spread.summary["mean"])
    elif masks is None:
        column = world.column(the_slice.name, metric, seed)
    else:
        column = SparseColumn(masks, world.cells_at(masks, metric, seed, [the_slice.name])[:, 0])
    lens = None
    if lens_key:
        lens = problems.take("lens", lambda: lenses.compute(lens_key, n, column, labels, letters, params), None)
    model = {
        "world": world, "metric": metric, "seed": seed, "seeds": world.seeds, "spread": spread,
        "slice": the_slice, "n": n, "letters": letters, "labels": labels, "node": node, "path": path,
        "up": up, "down": down, "whole": whole, "column": column, "lens": lens,
        "lens_key": lens_key if lens is not None else "", "params": params, "full": (1 << n) - 1,
        "problems": problems.messages, "refused": problems.params, "scale": world_scale(world, metric, seed),
        "steps_of": {}, "layers": None, "window_note": "", "sweep_pairs": set(),
    }
    if lens is not None and lens_key in STEPPED_LENSES:
        model["steps_of"] = {m: t for t, m in enumerate(lens_masks)}
    if whole:
        model["placed"], model["width"], model["height"] = lenses.whole_layout(n, labels)
    else:
        model.update(window_of(model, lens_masks))
    model["size"] = {"exist": possible_text(n), "stored": world.stored_count(), "shown": len(model["placed"])}
    return model


def world_scale(world, metric: str, seed: int | None) -> Scale:
    """The colour scale of a world's cells for one metric and seed (None: the mean over seeds).

    It spans every slice's cells, as the grid's scale does, so a training set has the same
    colour on the grid and on the lattice, and the colours keep their meaning while you walk
    from node to node or change slice. One aggregate query, whatever the lattice's size.
    """
    lo, hi, _ = cell_range(world.session, world.record, metric, seed, max(len(world.seeds), 1))
    return Scale.of([lo, hi])


def window_of(model: dict, lens_masks) -> dict:
    """The layered drawing of a lattice too large to draw whole: the current node, its neighbours,
    the walked path and the lens's training sets (a wide layer or sweep windowed, saying so)."""
    labels, key, i = model["labels"], model["lens_key"], model["params"].unit
    kept = [model["node"]] + model["up"] + model["down"] + model["path"]
    if key in PATH_LENSES:
        kept += list(lens_masks)
    optional, note = [], ""
    if key == "layer":
        masks = lattice.layer(model["n"], model["params"].k)
        scores = np.array([model["column"][m] for m in masks], dtype=float)
        optional = [(int(m),) for m in masks[np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")]]
    elif key == "sweep":
        near = set(kept)
        coalitions = sorted((m for m in range(1 << model["n"]) if not m >> i & 1),
                            key=lambda m: (not ({m, m | 1 << i} & near), m.bit_count(), labels[m]))
        optional = [(m, m | 1 << i) for m in coalitions]
    longest = max([len(labels[m]) for m in set(kept)] + [6])
    key_of = (lambda m: (labels[m & ~(1 << i)], m)) if key == "sweep" else None
    win = layered_layout(kept, optional, labels, label_chars=longest, key=key_of)
    if win.groups_left and key == "layer":
        note = (f"The layer k={model['params'].k} holds {len(optional)} training sets, too many to draw side by "
                f"side: the drawing shows the {win.groups_drawn} best scored (at most {LAYER_WINDOW} per layer); "
                f"the table lists the {min(len(optional), lenses.TABLE_LIMIT)} best by score.")
    elif win.groups_left and key == "sweep":
        note = (f"The sweep of {model['letters'][i]} has {len(optional)} edges, too many to draw side by side: "
                f"the drawing shows {win.groups_drawn} of them (at most {LAYER_WINDOW} training sets per layer, "
                "the edges at the current node and the walked path first); the table lists "
                f"{min(len(optional), lenses.TABLE_LIMIT)} of them.")
    return {"placed": win.placed, "width": win.width, "height": win.height, "layers": win.layers,
            "window_note": note, "sweep_pairs": {p for p in optional if len(p) == 2}}


def link(model: dict, **changes) -> str:
    """The page's URL with some parameters changed (None removes one), without the refused ones."""
    return refused_free_url(model["refused"], **changes)


def move_url(model: dict, target: int) -> str:
    """The graph URL after walking to ``target`` (the path grows by one step)."""
    labels = model["labels"]
    path = (model["path"] + [target])[-PATH_LIMIT:]
    return link(model, node=labels[target], path=",".join(labels[m] for m in path))


def edge_url(model: dict, low: int, high: int) -> str:
    """The ablation lens on one edge: at its upper end, removing the unit the edge adds."""
    unit = model["letters"][(high & ~low).bit_length() - 1]
    return link(model, node=model["labels"][high], lens="ablation", unit=unit,
                path=",".join(model["labels"][m] for m in (model["path"] + [high])[-PATH_LIMIT:]))


def svg_model(model: dict) -> dict:
    """Nodes and edges with coordinates, colour classes, highlight classes and links."""
    labels, column, lens, scale = model["labels"], model["column"], model["lens"], model["scale"]
    placed = model["placed"]
    where = {p.mask: p for p in placed}
    shown = np.array([column[p.mask] for p in placed], dtype=float)
    walk = set(zip(model["path"], model["path"][1:])) | set(zip(model["path"][1:], model["path"]))
    lens_nodes = (lens.nodes | {m for pair in model["sweep_pairs"] for m in pair if m in where}) if lens else set()
    lens_edges = dict(lens.edges) if lens else {}
    for a, b in model["sweep_pairs"]:  # a large world's sweep: the drawn edges' changes
        if a in where and b in where and (a, b) not in lens_edges:
            lens_edges[(a, b)] = lenses._fmt(float(column[b]) - float(column[a]))
    edges = []
    masks = sorted(where)
    for a in masks:
        for b in masks:
            if a < b and (a ^ b).bit_count() == 1 and a & b == a:
                cls = "hi" if (a, b) in lens_edges else ("walk" if (a, b) in walk else "")
                pa, pb = where[a], where[b]
                edges.append({"x1": pa.x, "y1": pa.y, "x2": pb.x, "y2": pb.y, "cls": cls,
                              "label": lens_edges.get((a, b), ""),
                              "href": edge_url(model, a, b) if cls == "hi" else "",
                              "name": f"edge {labels[a]} to {labels[b]}: {lens_edges.get((a, b), '')}"})
    walked = set(model["path"])
    nodes = []
    # Whole diagrams (short labels) write the label inside the node; windows, the label and value below it.
    radius, inside = (20, True) if model["whole"] else (16, False)
    for p, value in zip(placed, shown):
        css = scale.css(float(value))
        nodes.append({
            "mask": p.mask, "x": p.x, "y": p.y, "label": labels[p.mask], "value": float(value), "cls": css,
            "title": f"{labels[p.mask]}: {score_text(model, p.mask) or 'missing'}",
            "r": radius, "ty": p.y if inside else p.y + radius + 11, "vy": p.y + radius + 25,
            "vtext": "" if inside else (fixed(value) if not math.isnan(value) else "missing"),
            "tcls": ("m" if css == "m" else "t" + css[1:]) if inside else "outside",
            "state": "current" if p.mask == model["node"] else ("hi" if p.mask in lens_nodes else
                                                                 ("walked" if p.mask in walked else "")),
            "step": model["steps_of"].get(p.mask, ""), "href": move_url(model, p.mask),
        })
    # each edge's change beside its midpoint, clear of the nodes, their labels and the other changes
    labelled = [e for e in edges if e["label"]]
    spots = place_edge_labels([(e["x1"], e["y1"], e["x2"], e["y2"], e["label"]) for e in labelled],
                              [box for v in nodes for box in node_boxes(v)])
    for e, (x, y) in zip(labelled, spots):
        e["lx"], e["ly"] = x, y
    if model["whole"]:
        ys = sorted({p.y for p in placed}, reverse=True)
        layers = [(y, k) for k, y in enumerate(ys)]
    else:
        layers = model["layers"]
    return {"nodes": nodes, "edges": sorted(edges, key=lambda e: e["cls"] != ""), "scale": scale, "layers": layers}


def node_boxes(v: dict) -> list[tuple[float, float, float, float]]:
    """The boxes a drawn node covers: its circle (with the label inside it, in a whole diagram),
    and in a window its label and value written under it (11 px and 10 px text)."""
    half = max(v["r"], 3.3 * len(v["label"])) if v["tcls"] != "outside" else v["r"]
    out = [(v["x"] - half, v["y"] - v["r"], v["x"] + half, v["y"] + v["r"])]
    for text, y, char in ((v["label"] if v["tcls"] == "outside" else "", v["ty"], 6.6), (v["vtext"], v["vy"], 6.0)):
        if text:
            out.append((v["x"] - char * len(text) / 2, y - 7, v["x"] + char * len(text) / 2, y + 7))
    return out


def moves(model: dict) -> list[dict]:
    """One add or remove button per unit, and the quick moves."""
    node, n, letters = model["node"], model["n"], model["letters"]
    out = []
    for u in range(n):
        target = node ^ (1 << u)
        adding = not node >> u & 1
        out.append({"id": f"move-{letters[u]}", "text": ("+ " if adding else "− ") + letters[u],
                    "cls": "add" if adding else "remove", "href": move_url(model, target)})
    return out


def quick_moves(model: dict) -> list[tuple[str, str]]:
    out = [("empty set", move_url(model, 0)), ("full set", move_url(model, model["full"]))]
    mask = model["slice"].mask
    if mask:
        out.append((f"eval-as-train ({model['labels'][mask]})", move_url(model, int(mask))))
    i = model["params"].unit
    if model["node"] >> i & 1:
        out.append((f"ablation node (− {model['letters'][i]})", move_url(model, model["node"] & ~(1 << i))))
    return out


def score_text(model: dict, mask: int) -> str:
    """A training set's score for a title: "0.912 ± 0.013 (n=5)" across seeds, else "0.9124"."""
    if model["spread"] is not None:
        return model["spread"].text(mask)
    return fixed(model["column"][mask])


def path_steps(model: dict) -> list[list]:
    """Rows (step, training set, score, change, score's title) of the walked path."""
    column, labels, path = model["column"], model["labels"], model["path"]
    steps = []
    for t, mask in enumerate(path):
        before = column[path[t - 1]] if t else math.nan
        steps.append([t, labels[mask], float(column[mask]), float(column[mask] - before) if t else math.nan,
                      score_text(model, mask) if model["spread"] is not None else ""])
    return steps


def lens_titles(model: dict) -> list[list[str]]:
    """Per lens step row, per cell: the title of a training set's score across seeds ("" elsewhere)."""
    lens = model["lens"]
    if lens is None or model["spread"] is None or not {"score", "training set"} <= set(lens.columns):
        return [[""] * len(row) for row in (lens.steps if lens else [])]
    at, label_at = lens.columns.index("score"), lens.columns.index("training set")
    return [[score_text(model, model["world"].mask_of(row[label_at])) if j == at else "" for j in range(len(row))]
            for row in lens.steps]


@bp.route("/world/<world>/graph")
def page(world: str):
    """The lattice graph page (a sampled world's: its stored neighbourhoods, see
    :mod:`cfgraph.web.stored_graph`). A bad parameter is named inline (status 400)."""
    w = state.load_world(world)
    if w.sampled:
        return stored_graph.page(w)
    model = graph_model(w, strict=False)
    body = render_template(
        "graph.html", **model, svg=svg_model(model), moves=moves(model), quick=quick_moves(model),
        steps=path_steps(model), lens_titles=lens_titles(model), lens_names=lenses.LENSES,
        palette=state.palette(), here=lambda **changes: link(model, **changes),
        hidden=hidden_args(model["refused"], ("unit", "pair", "coalition", "k", "order", "lens")),
        slice_hidden=hidden_args(model["refused"], ("slice",)),
        current_value=float(model["column"][model["node"]]), window_max=LAYER_WINDOW,
    )
    return body, (400 if model["problems"] else 200)
