"""The lattice graph: the Hasse diagram for one evaluation slice, walked one unit at a time.

Up to ``WHOLE_LATTICE_MAX_UNITS`` units the whole diagram is drawn in layers
by size; beyond, the current node with its add-one and remove-one neighbours
(read from the edge table with indexed queries, never the whole lattice) and
the path walked so far. The state (slice, node, path, lens, unit, pair,
coalition, k, order, metric, seed) is in the URL.

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
from cfgraph.errors import CfgraphError, NotFound
from cfgraph.questions import parse_int
from cfgraph.web import lenses, query_url, state, stored_graph
from cfgraph.web.charts import Scale
from cfgraph.web.grid import interval_text

bp = Blueprint("graph", __name__)

#: The walked path keeps at most this many steps (the oldest drop off).
PATH_LIMIT = 48


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


def parse_path(world, text: str | None, node: int) -> list[int]:
    """The walked path from ``path=∅,A,AB`` (labels separated by commas), ending at the node."""
    path = [world.mask_of(part) for part in text.split(",")] if text else []
    if not path or path[-1] != node:
        path.append(node)
    return path[-PATH_LIMIT:]


def graph_model(world, args=None) -> dict:
    """Everything the graph page (and /api/.../graph) shows, from the query string.

    Parameters
    ----------
    world : World
    args : mapping, optional
        The query parameters (default: the request's).

    Raises
    ------
    CfgraphError, NotFound
        On a bad parameter (unknown slice, node, unit or lens; k out of range).
    """
    args = request.args if args is None else args
    world.require_exhaustive("the whole lattice's lenses and paths")
    metric, seed = state.metric_seed(world, args)
    state.focus_numbers(args)  # carried to the grid in links: refused here as there
    the_slice = world.find_slice(args.get("slice"))
    n = world.n
    letters = world.letters
    full = (1 << n) - 1
    node = world.mask_of(args.get("node", lattice.EMPTY_LABEL))
    path = parse_path(world, args.get("path"), node)
    lens_key = args.get("lens") or ""
    if lens_key and lens_key not in lenses.LENSES:
        raise CfgraphError(f"unknown lens {lens_key[:30]!r} (lenses: {', '.join(lenses.LENSES)})")
    unit = _unit(letters, args.get("unit"))
    if unit is None:
        inside = lattice.members(node, n)
        unit = inside[0] if inside else 0
    other = _unit(letters, args.get("pair"))
    if other is None or other == unit:
        other = next((u for u in range(n) if u != unit), unit)
    coalition = world.mask_of(args["coalition"]) if args.get("coalition") else (node or full)
    k = parse_int(args.get("k"), "k", 0, n)
    params = lenses.LensParams(node=node, unit=unit, other_unit=other, coalition=coalition,
                               k=node.bit_count() if k is None else k,
                               order=lenses.parse_order(args.get("order"), letters))
    whole = n <= int(current_app.config["WHOLE_LATTICE_MAX_UNITS"])
    if whole:
        labels = lattice.all_labels(letters)
        up = [m for _, m in lattice.neighbours(node, n)[0]]
        down = [m for _, m in lattice.neighbours(node, n)[1]]
    else:
        labels = Labels(letters)
        hood = world.neighbourhood(node)
        up = [m for _, m, _ in hood["up"]]
        down = [m for _, m, _ in hood["down"]]
    lens_masks = lenses.needed(lens_key, n, params) if lens_key else []
    # the slice's whole column, or only the nodes the page shows (a large world)
    masks = None if whole or lens_masks is None else sorted(set([node] + up + down + path + lens_masks))
    spread = None
    if world.across_seeds(args.get("seed")):
        seed = None
        spread = SeedSpread(masks, world.cells_across_seeds(masks, the_slice.name, metric))
        column = spread.summary["mean"] if masks is None else SparseColumn(masks, spread.summary["mean"])
    elif masks is None:
        column = world.column(the_slice.name, metric, seed)
    else:
        column = SparseColumn(masks, world.cells_at(masks, metric, seed, [the_slice.name])[:, 0])
    lens = lenses.compute(lens_key, n, column, labels, letters, params) if lens_key else None
    if whole:
        placed, width, height = lenses.whole_layout(n, labels)
    else:
        longest = max(len(labels[m]) for m in [node] + up + down)
        placed, width, height = lenses.local_layout(node, up, down, longest)
    return {
        "world": world, "metric": metric, "seed": seed, "seeds": world.seeds, "spread": spread,
        "slice": the_slice, "n": n, "letters": letters,
        "labels": labels, "node": node, "path": path, "up": up, "down": down, "whole": whole,
        "column": column, "lens": lens, "lens_key": lens_key, "params": params, "placed": placed,
        "width": width, "height": height, "full": full,
    }


def _unit(letters, text) -> int | None:
    if not text:
        return None
    text = str(text).strip()
    if text not in letters:
        raise NotFound(f"unknown unit {text[:20]!r} (units: {', '.join(letters)})")
    return letters.index(text)


def move_url(model: dict, target: int) -> str:
    """The graph URL after walking to ``target`` (the path grows by one step)."""
    labels = model["labels"]
    path = (model["path"] + [target])[-PATH_LIMIT:]
    return query_url(node=labels[target], path=",".join(labels[m] for m in path))


def svg_model(model: dict) -> dict:
    """Nodes and edges with coordinates, colour classes, highlight classes and links."""
    labels, column, lens = model["labels"], model["column"], model["lens"]
    placed = model["placed"]
    where = {p.mask: p for p in placed}
    shown = np.array([column[p.mask] for p in placed])
    scale = Scale.of(column if model["whole"] else shown)
    walk = set(zip(model["path"], model["path"][1:])) | set(zip(model["path"][1:], model["path"]))
    lens_nodes = lens.nodes if lens else set()
    lens_edges = lens.edges if lens else {}
    edges = []
    masks = list(where)
    for a in masks:
        for b in masks:
            if a < b and (a ^ b).bit_count() == 1 and a & b == a:
                cls = "hi" if (a, b) in lens_edges else ("walk" if (a, b) in walk else "")
                pa, pb = where[a], where[b]
                edges.append({"x1": pa.x, "y1": pa.y, "x2": pb.x, "y2": pb.y, "cls": cls,
                              "label": lens_edges.get((a, b), ""),
                              "lx": (pa.x + pb.x) / 2, "ly": (pa.y + pb.y) / 2})
    walked = set(model["path"])
    nodes = []
    # Whole diagrams (short labels) write the label inside the node; local views, below it.
    radius, inside = (20, True) if model["whole"] else (16, False)
    for p, value in zip(placed, shown):
        css = scale.css(float(value))
        nodes.append({
            "mask": p.mask, "x": p.x, "y": p.y, "label": labels[p.mask], "value": float(value), "cls": css,
            "title": f"{labels[p.mask]}: {score_text(model, p.mask) or 'missing'}",
            "r": radius, "ty": p.y if inside else p.y + radius + 11,
            "tcls": ("m" if css == "m" else "t" + css[1:]) if inside else "outside",
            "state": "current" if p.mask == model["node"] else ("hi" if p.mask in lens_nodes else
                                                                 ("walked" if p.mask in walked else "")),
            "href": move_url(model, p.mask),
        })
    layers = []
    if model["whole"]:
        ys = sorted({p.y for p in placed}, reverse=True)
        layers = [(y, k) for k, y in enumerate(ys)]
    return {"nodes": nodes, "edges": sorted(edges, key=lambda e: e["cls"] != ""), "scale": scale, "layers": layers}


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
    :mod:`cfgraph.web.stored_graph`)."""
    w = state.load_world(world)
    if w.sampled:
        return stored_graph.page(w)
    model = graph_model(w)
    return render_template(
        "graph.html", **model, svg=svg_model(model), moves=moves(model), quick=quick_moves(model),
        steps=path_steps(model), lens_titles=lens_titles(model), lens_names=lenses.LENSES,
        palette=state.palette(),
        hidden=state.kept_args(drop=("unit", "pair", "coalition", "k", "order", "lens")),
        slice_hidden=state.kept_args(drop=("slice",)),
        current_value=float(model["column"][model["node"]]),
    )
