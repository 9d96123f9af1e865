"""Lenses on the lattice graph, and the graph's layout (pure functions: no Flask, no SQL).

A lens picks out nodes and edges of the Hasse diagram for one evaluation
slice and reads the score changes along them: the ablation edge, a data-strike
path, the Shapley sweep, a scaling layer, the interaction square and a
permutation path. Each lens first says which training sets it needs
(:func:`needed`, so a large world reads only those cells), then computes from
``column``, a mapping mask -> score with NaN for a missing cell. Every number a
lens shows comes from :mod:`cfgraph.values` (leave-one-out along an edge, group
leave-one-out, pair interaction, Shapley, layer means, best of size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from math import comb

import numpy as np

from cfgraph import lattice
from cfgraph import values as V
from cfgraph.display import fixed
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
    a permutation order (unit indices).

    Examples
    --------
    >>> LensParams(node=3, unit=0, other_unit=1, coalition=3, k=2, order=[0, 1]).coalition
    3
    """

    node: int
    unit: int
    other_unit: int
    coalition: int
    k: int
    order: list[int]


@dataclass
class LensView:
    """What a lens shows: highlighted nodes and edges (with labels), a summary and a step table.

    Examples
    --------
    >>> LensView("ablation", "Ablation edge", "Δ", value=float("nan")).to_dict(["∅", "A"])["value"] is None
    True
    """

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

    Examples
    --------
    >>> parse_order("CAB", "ABC"), parse_order(None, "ABC")
    ([2, 0, 1], [0, 1, 2])
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
    """The training sets a lens reads; None when it needs the slice's whole column.

    Examples
    --------
    >>> p = LensParams(node=0b01, unit=1, other_unit=0, coalition=0b10, k=1, order=[0, 1])
    >>> needed("ablation", 2, p), needed("strike", 2, p), needed("sweep", 2, p)
    ([3, 1], [3, 1], None)
    """
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
    return fixed(x, 4, signed=True, missing="?")


def _dense(column, n: int, masks: list[int] | None) -> np.ndarray:
    """The slice as a lattice array (2^n,), NaN where missing: :mod:`cfgraph.values` reads it.

    A mapping (the graph page reads only the cells a lens needs) is spread over an
    array of NaN at ``masks``; an array is used as it is.
    """
    if isinstance(column, np.ndarray) or masks is None:
        return np.asarray(column, dtype=float)
    v = np.full(1 << n, np.nan)
    masks = sorted(set(int(m) for m in masks))
    v[masks] = [float(column[m]) for m in masks]  # the few cells the lens needs
    return v


def _drop(v: np.ndarray, mask: int, unit: int) -> float:
    """The score change along the edge mask \\ {unit} -> mask: leave-one-out, NaN when a cell is missing."""
    return float(V.leave_one_out(v, base=mask, units=[unit], missing="nan")[unit])


def compute(key: str, n: int, column, labels, letters, p: LensParams) -> LensView:
    """Apply a lens; every number comes from :mod:`cfgraph.values`.

    Parameters
    ----------
    key : str
        One of :data:`LENSES`.
    n : int
        Number of units.
    column : ndarray (2^n,) or mapping
        Scores on the slice; ``column[mask]`` is NaN for a missing cell. A
        mapping needs to hold only the cells :func:`needed` names.
    labels, letters : sequences of str
        Training-set labels by mask; unit labels.
    p : LensParams

    Returns
    -------
    LensView

    Raises
    ------
    CfgraphError
        On an unknown lens or a coalition that is empty.

    Examples
    --------
    >>> from cfgraph.lattice import all_labels
    >>> params = LensParams(node=3, unit=0, other_unit=1, coalition=3, k=1, order=[1, 0])
    >>> view = compute("square", 2, np.array([0.0, 0.5, 0.25, 1.0]), all_labels("AB"), "AB", params)
    >>> view.value, sorted(view.nodes)
    (0.25, [0, 1, 2, 3])
    """
    if key not in LENSES:
        raise CfgraphError(f"unknown lens {key[:30]!r} (lenses: {', '.join(LENSES)})")
    if key == "strike" and p.coalition == 0:
        raise CfgraphError("a data strike needs a non-empty coalition")
    if key == "square" and p.unit == p.other_unit:
        raise CfgraphError("the interaction square needs two different units")
    v = _dense(column, n, needed(key, n, p))

    def f(mask):
        return float(v[int(mask)])

    S, i, j = p.node, p.unit, p.other_unit
    if key == "ablation":
        top, bottom = S | 1 << i, S & ~(1 << i)
        d = _drop(v, top, i)
        view = LensView(key, "Ablation edge", "Δ = f(S ∪ {i}) − f(S \\ {i})", value=d,
                        summary=f"removing {letters[i]} from {labels[top]} gives {labels[bottom]}: Δ = {_fmt(d)}")
        view.nodes = {top, bottom}
        view.edges[(bottom, top)] = _fmt(d)
        return view
    if key == "strike":
        path = needed("strike", n, p)
        view = LensView(key, "Data-strike path", "drop_t = f(path[t−1]) − f(path[t]); total = f(S) − f(S \\ C)")
        view.columns = ["step", "leaves", "training set", "score", "drop"]
        for t in range(1, len(path)):
            a, b = path[t - 1], path[t]
            unit = (a & ~b).bit_length() - 1
            d = _drop(v, a, unit)
            view.edges[(b, a)] = _fmt(-d)
            view.steps.append([t, letters[unit], labels[b], f(b), d])
        view.nodes = set(path)
        view.value = float(V.group_leave_one_out(v, p.coalition, base=path[0], missing="nan"))
        view.total_steps = len(view.steps)
        view.summary = (f"coalition {labels[p.coalition]} withdraws from {labels[path[0]]} one unit at a time: "
                        f"total drop {_fmt(view.value)}")
        return view
    if key == "sweep":
        coalitions, delta = V.marginal_contributions(v, i)
        weights = V.semivalue_weights(n, "shapley")[lattice.sizes(n)[coalitions]]
        present = ~np.isnan(delta)
        view = LensView(key, "Shapley sweep", "φ_i = Σ_{S ∌ i} |S|!(n−|S|−1)!/n! · [f(S ∪ {i}) − f(S)]")
        view.total_steps = len(coalitions)
        if present.all():
            view.value = float(V.shapley(v)[i])
            view.summary = (f"{len(coalitions)} edges add {letters[i]}; Shapley value {fixed(view.value)}, "
                            f"Banzhaf {fixed(V.banzhaf(v)[i])}")
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
        cells = v[masks]
        present = ~np.isnan(cells)
        view = LensView(key, f"Scaling layer k={p.k}", "m(k) = mean over |S| = k of f(S)")
        view.nodes = set(masks.tolist()) if n <= 8 else set()
        view.total_steps = len(masks)
        if present.any():
            mean, count, total = V.layer_means(v)
            best, score, _ = V.best_of_size(v, p.k)
            view.value = float(mean[p.k])
            view.summary = (f"{int(count[p.k])} of {int(total[p.k])} training sets of size {p.k}: mean "
                            f"{fixed(view.value)}, best {labels[best]} ({fixed(score)})")
        else:
            view.summary = f"no training set of size {p.k} has a score on this slice"
        view.columns = ["training set", "score"]
        order = np.argsort(-np.where(present, cells, -np.inf), kind="stable")[:TABLE_LIMIT]
        view.steps = [[labels[masks[t]], float(cells[t])] for t in order]
        return view
    if key == "square":
        base = S & ~((1 << i) | (1 << j))
        a, b, c, d = base, base | 1 << i, base | 1 << j, base | 1 << i | 1 << j
        value = float(V.pair_interaction(v, i, j, base=base, missing="nan"))
        view = LensView(key, "Interaction square", "I = f(B+i+j) − f(B+i) − f(B+j) + f(B)", value=value)
        view.nodes = {a, b, c, d}
        for x, y, u in ((a, b, i), (a, c, j), (b, d, j), (c, d, i)):
            view.edges[(x, y)] = _fmt(_drop(v, y, u))
        view.summary = (f"units {letters[i]} and {letters[j]} over {labels[a]}: interaction {_fmt(value)} "
                        + ("(complements)" if value > 0 else "(substitutes)" if value < 0 else ""))
        return view
    # key == "permutation"
    path = lattice.permutation_path(p.order)
    view = LensView(key, "Permutation path", "Δ_t = f(path[t]) − f(path[t−1]);  Σ Δ = f(N) − f(∅)")
    view.columns = ["step", "adds", "training set", "score", "marginal contribution"]
    for t in range(1, len(path)):
        d = _drop(v, path[t], p.order[t - 1])
        view.edges[(path[t - 1], path[t])] = _fmt(d)
        view.steps.append([t, letters[p.order[t - 1]], labels[path[t]], f(path[t]), d])
    view.nodes = set(path)
    # the marginal contributions along any path sum to this: Shapley's efficiency
    view.value = float(V.group_leave_one_out(v, path[-1], base=path[-1], missing="nan")) if path[-1] else 0.0
    view.total_steps = len(view.steps)
    view.summary = (f"order {''.join(letters[u] for u in p.order)}: the marginal contributions sum to "
                    f"f(N) − f(∅) = {_fmt(view.value)}")
    return view


# --------------------------------------------------------------------- layout


@dataclass
class Placed:
    """A node of the drawn Hasse diagram: its training set and its position in the SVG.

    Examples
    --------
    >>> Placed(mask=5, x=10.0, y=20.0).mask
    5
    """

    mask: int
    x: float
    y: float


def whole_layout(n: int, labels, width_per_node: int = 64, layer_gap: int = 84) -> tuple[list[Placed], int, int]:
    """Every node of the Hasse diagram in layers by size (∅ at the bottom), sorted by label.

    Returns
    -------
    placed : list of Placed
    width, height : int

    Examples
    --------
    >>> placed, width, height = whole_layout(2, ["∅", "A", "B", "AB"])
    >>> [(p.mask, p.y) for p in placed], height
    ([(0, 252), (1, 168), (2, 168), (3, 84)], 292)
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

    Examples
    --------
    >>> placed, width, height = local_layout(1, [3], [0])
    >>> [(p.mask, p.y) for p in placed]
    [(1, 165.0), (3, 50), (0, 280)]
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
