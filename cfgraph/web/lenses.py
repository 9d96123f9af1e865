"""Lenses on the lattice graph, and the graph's layout (pure functions: no Flask, no SQL).

A lens picks out nodes and edges of the Hasse diagram for one evaluation
slice and reads the score changes along them: the ablation edge, a data-strike
path, the Shapley sweep, a scaling layer, the interaction square and a
permutation path. Each lens first says which training sets it needs
(:func:`needed`, so a large world reads only those cells), then computes from
``column``, a mapping mask -> score with NaN for a missing cell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from math import comb

import numpy as np

from cfgraph import lattice
from cfgraph import values as V
from cfgraph.errors import CfgraphError

#: The lenses by key, with their titles.
LENSES = {
    "ablation": "Ablation edge",
    "strike": "Data-strike path",
    "sweep": "Shapley sweep",
    "layer": "Scaling layer k",
    "square": "Interaction square",
    "permutation": "Permutation path",
}
#: Rows of a lens's step table shown for lenses over many edges.
TABLE_LIMIT = 64


@dataclass
class LensParams:
    """The lens's inputs: current node S, focus unit i, second unit j, coalition C, layer k,
    a permutation order (unit indices)."""

    node: int
    unit: int
    other_unit: int
    coalition: int
    k: int
    order: list[int]


@dataclass
class LensView:
    """What a lens shows: highlighted nodes and edges (with labels), a summary and a step table."""

    key: str
    title: str
    formula: str
    summary: str = ""
    value: float | None = None
    nodes: set[int] = field(default_factory=set)
    edges: dict[tuple[int, int], str] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    steps: list[list] = field(default_factory=list)
    total_steps: int = 0

    def to_dict(self, labels) -> dict:
        return {
            "lens": self.key, "title": self.title, "formula": self.formula, "summary": self.summary,
            "value": None if self.value is None or math.isnan(self.value) else self.value,
            "nodes": sorted(labels[m] for m in self.nodes),
            "edges": [{"from": labels[a], "to": labels[b], "label": t} for (a, b), t in self.edges.items()],
            "columns": self.columns,
            "steps": [[None if isinstance(x, float) and math.isnan(x) else x for x in row] for row in self.steps],
            "total_steps": self.total_steps,
        }


def parse_order(text: str | None, letters) -> list[int]:
    """A permutation of all units from their letters, e.g. "CABD" (default: A, B, C, ...).

    Raises
    ------
    CfgraphError
        If it is not a permutation of the world's units.
    """
    n = len(letters)
    if not text:
        return list(range(n))
    picked = [c for c in str(text).strip() if c not in "+, "]
    index = {u: i for i, u in enumerate(letters)}
    if sorted(picked) != sorted(letters) or any(c not in index for c in picked):
        raise CfgraphError(f"order must name every unit once ({''.join(letters)} in some order), not {str(text)[:30]!r}")
    return [index[c] for c in picked]


def needed(key: str, n: int, p: LensParams) -> list[int] | None:
    """The training sets a lens reads; None when it needs the slice's whole column."""
    S, i, j = p.node, 1 << p.unit, 1 << p.other_unit
    if key == "ablation":
        return [S | i, S & ~i]
    if key == "strike":
        return lattice.removal_path([u for u in range(n) if p.coalition >> u & 1], S | p.coalition)
    if key == "square":
        base = S & ~(i | j)
        return [base, base | i, base | j, base | i | j]
    if key == "permutation":
        return lattice.permutation_path(p.order)
    return None


def _fmt(x: float) -> str:
    return "?" if x is None or math.isnan(x) else f"{x:+.4f}"


def compute(key: str, n: int, column, labels, letters, p: LensParams) -> LensView:
    """Apply a lens.

    Parameters
    ----------
    column : ndarray (2^n,) or mapping
        Scores on the slice; ``column[mask]`` is NaN for a missing cell.

    Raises
    ------
    CfgraphError
        On an unknown lens or a coalition that is empty.
    """
    def f(mask):
        return float(column[int(mask)])

    S, i, j = p.node, p.unit, p.other_unit
    if key == "ablation":
        top, bottom = S | 1 << i, S & ~(1 << i)
        d = f(top) - f(bottom)
        view = LensView(key, "Ablation edge", "Δ = f(S ∪ {i}) − f(S \\ {i})", value=d,
                        summary=f"removing {letters[i]} from {labels[top]} gives {labels[bottom]}: Δ = {_fmt(d)}")
        view.nodes = {top, bottom}
        view.edges[(bottom, top)] = _fmt(d)
        return view
    if key == "strike":
        if p.coalition == 0:
            raise CfgraphError("a data strike needs a non-empty coalition")
        path = needed("strike", n, p)
        view = LensView(key, "Data-strike path", "drop_t = f(path[t−1]) − f(path[t]); total = f(S) − f(S \\ C)")
        view.columns = ["step", "leaves", "training set", "score", "drop"]
        for t in range(1, len(path)):
            a, b = path[t - 1], path[t]
            unit = (a & ~b).bit_length() - 1
            d = f(a) - f(b)
            view.edges[(b, a)] = _fmt(-d)
            view.steps.append([t, letters[unit], labels[b], f(b), d])
        view.nodes = set(path)
        view.value = f(path[0]) - f(path[-1])
        view.total_steps = len(view.steps)
        view.summary = (f"coalition {labels[p.coalition]} withdraws from {labels[path[0]]} one unit at a time: "
                        f"total drop {_fmt(view.value)}")
        return view
    if key == "sweep":
        coalitions, delta = V.marginal_contributions(np.asarray(column, dtype=float), i)
        size = np.bitwise_count(coalitions.astype(np.uint64)).astype(np.int64)
        weights = V.semivalue_weights(n, "shapley")[size]
        present = ~np.isnan(delta)
        view = LensView(key, "Shapley sweep", "φ_i = Σ_{S ∌ i} |S|!(n−|S|−1)!/n! · [f(S ∪ {i}) − f(S)]")
        view.total_steps = len(coalitions)
        if present.all():
            view.value = float(weights @ delta)
            view.summary = (f"{len(coalitions)} edges add {letters[i]}; Shapley value {view.value:.4f}, "
                            f"Banzhaf {float(delta.mean()):.4f}")
        else:
            view.summary = (f"{len(coalitions)} edges add {letters[i]}; {int((~present).sum())} lack a cell, "
                            "so the Shapley value is not defined yet")
        view.columns = ["from", "to", "marginal contribution", "weight"]
        for S0, d, w in zip(coalitions[:TABLE_LIMIT].tolist(), delta[:TABLE_LIMIT].tolist(),
                            weights[:TABLE_LIMIT].tolist()):
            view.steps.append([labels[S0], labels[S0 | 1 << i], d, w])
        view.edges = {(int(a), int(a) | 1 << i): _fmt(float(d)) for a, d in zip(coalitions, delta)} if n <= 8 else {}
        return view
    if key == "layer":
        masks = lattice.layer(n, p.k)
        cells = np.array([f(m) for m in masks])
        present = ~np.isnan(cells)
        view = LensView(key, f"Scaling layer k={p.k}", "m(k) = mean over |S| = k of f(S)")
        view.nodes = set(masks.tolist()) if n <= 8 else set()
        view.total_steps = len(masks)
        if present.any():
            view.value = float(cells[present].mean())
            best = masks[present][np.argmax(cells[present])]
            view.summary = (f"{int(present.sum())} of {comb(n, p.k)} training sets of size {p.k}: mean "
                            f"{view.value:.4f}, best {labels[best]} ({f(best):.4f})")
        else:
            view.summary = f"no training set of size {p.k} has a score on this slice"
        view.columns = ["training set", "score"]
        order = np.argsort(-np.where(present, cells, -np.inf), kind="stable")[:TABLE_LIMIT]
        view.steps = [[labels[masks[t]], float(cells[t])] for t in order]
        return view
    if key == "square":
        if i == j:
            raise CfgraphError("the interaction square needs two different units")
        base = S & ~((1 << i) | (1 << j))
        a, b, c, d = base, base | 1 << i, base | 1 << j, base | 1 << i | 1 << j
        value = f(d) - f(b) - f(c) + f(a)
        view = LensView(key, "Interaction square", "I = f(B+i+j) − f(B+i) − f(B+j) + f(B)", value=value)
        view.nodes = {a, b, c, d}
        for x, y in ((a, b), (a, c), (b, d), (c, d)):
            view.edges[(x, y)] = _fmt(f(y) - f(x))
        view.summary = (f"units {letters[i]} and {letters[j]} over {labels[a]}: interaction {_fmt(value)} "
                        + ("(complements)" if value > 0 else "(substitutes)" if value < 0 else ""))
        return view
    if key == "permutation":
        path = lattice.permutation_path(p.order)
        view = LensView(key, "Permutation path", "Δ_t = f(path[t]) − f(path[t−1]);  Σ Δ = f(N) − f(∅)")
        view.columns = ["step", "adds", "training set", "score", "marginal contribution"]
        for t in range(1, len(path)):
            d = f(path[t]) - f(path[t - 1])
            view.edges[(path[t - 1], path[t])] = _fmt(d)
            view.steps.append([t, letters[p.order[t - 1]], labels[path[t]], f(path[t]), d])
        view.nodes = set(path)
        view.value = f(path[-1]) - f(path[0])
        view.total_steps = len(view.steps)
        view.summary = (f"order {''.join(letters[u] for u in p.order)}: the marginal contributions sum to "
                        f"f(N) − f(∅) = {_fmt(view.value)}")
        return view
    raise CfgraphError(f"unknown lens {key[:30]!r} (lenses: {', '.join(LENSES)})")


# --------------------------------------------------------------------- layout


@dataclass
class Placed:
    mask: int
    x: float
    y: float


def whole_layout(n: int, labels, width_per_node: int = 64, layer_gap: int = 84) -> tuple[list[Placed], int, int]:
    """Every node of the Hasse diagram in layers by size (∅ at the bottom), sorted by label.

    Returns
    -------
    placed : list of Placed
    width, height : int
    """
    size = lattice.sizes(n)
    widest = max(comb(n, k) for k in range(n + 1))
    width = max(widest * width_per_node + 80, 360)
    height = (n + 1) * layer_gap + 40
    placed = []
    for k in range(n + 1):
        masks = sorted(np.flatnonzero(size == k).tolist(), key=lambda m: labels[m])
        step = (width - 80) / len(masks)
        for t, m in enumerate(masks):
            placed.append(Placed(m, 60 + step * (t + 0.5), height - 40 - k * layer_gap))
    return placed, width, height


def local_layout(node: int, up: list[int], down: list[int], label_chars: int = 8) -> tuple[list[Placed], int, int]:
    """The current node with its add-one neighbours above and remove-one neighbours below.

    Nodes are spaced by their longest label (``label_chars`` characters), which is drawn beside them.
    """
    width_per_node = max(72, 8 * label_chars + 16)
    widest = max(len(up), len(down), 1)
    width = max(widest * width_per_node + 80, 360)
    height = 330
    placed = [Placed(node, width / 2, height / 2)]
    for row, y in ((up, 50), (down, height - 50)):
        step = (width - 80) / max(len(row), 1)
        placed += [Placed(m, 40 + step * (t + 0.5), y) for t, m in enumerate(row)]
    return placed, width, height
