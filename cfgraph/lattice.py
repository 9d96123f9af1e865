"""The Boolean lattice of training sets, as bitmasks.

A training set over n units is an integer ``mask`` with bit i set when unit i
(labelled with the i-th letter, A, B, C, ...) is in it. Training sets ordered
by inclusion form a Boolean lattice; its Hasse diagram has one edge for every
add-one step S -> S + {i} (read backwards, the remove-one step). A path from
the empty set to the full set is a permutation of the units.

This module knows nothing of SQL or Flask: it takes integers and numpy arrays.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

import networkx as nx
import numpy as np

from cfgraph.errors import CfgraphError

EMPTY_LABEL = "∅"
#: Spellings of the empty training set accepted on input.
EMPTY_SPELLINGS = frozenset({"∅", "", "{}", "empty", "-", "0"})
MAX_UNITS = 16
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def unit_letters(n: int) -> list[str]:
    """Return the labels of ``n`` units: ``["A", "B", ...]``.

    Raises
    ------
    CfgraphError
        If ``n`` is not between 1 and 26.
    """
    if not 1 <= n <= len(LETTERS):
        raise CfgraphError(f"a world needs between 1 and {len(LETTERS)} units, not {n}")
    return list(LETTERS[:n])


def mask_label(mask: int, letters: Sequence[str]) -> str:
    """Label a training set by its units' letters in order ("ACD"); the empty set is "∅".

    Examples
    --------
    >>> mask_label(0b1101, "ABCD")
    'ACD'
    >>> mask_label(0, "ABCD")
    '∅'
    """
    if mask == 0:
        return EMPTY_LABEL
    return "".join(letters[i] for i in range(len(letters)) if mask >> i & 1)


def all_labels(letters: Sequence[str]) -> list[str]:
    """Labels of all 2^n training sets, indexed by mask.

    Built by doubling (labels of masks with bit i set are those without it plus
    the i-th letter), so the work is 2^n string joins, not n * 2^n bit tests.
    """
    labels = [""]
    for letter in letters:
        labels = labels + [lab + letter for lab in labels]
    labels[0] = EMPTY_LABEL
    return labels


def parse_label(label: str, letters: Sequence[str]) -> int:
    """Parse a training-set label ("ACD", "A+C+D", "∅") into its bitmask.

    Parameters
    ----------
    label : str
        Unit letters in any order, optionally separated by ``+`` or ``,``; or a
        spelling of the empty set (``∅``, ``{}``, ``empty``, ``-``).
    letters : sequence of str
        The world's unit labels, in bit order.

    Returns
    -------
    int
        The bitmask (bit i set when unit i is in the set).

    Raises
    ------
    CfgraphError
        On an unknown unit letter or a unit named twice.

    Examples
    --------
    >>> parse_label("DCA", "ABCD")
    13
    """
    text = str(label).strip()
    if text in EMPTY_SPELLINGS:
        return 0
    index = {name: i for i, name in enumerate(letters)}
    if any(sep in text for sep in "+,"):
        parts = [p.strip() for p in text.replace(",", "+").split("+")]
    elif all(len(name) == 1 for name in letters):
        parts = list(text)
    else:
        parts = [text]
    mask = 0
    for part in parts:
        if part not in index:
            raise CfgraphError(
                f"unknown unit {part[:20]!r} in training set {text[:40]!r} (units: {', '.join(letters)})"
            )
        bit = 1 << index[part]
        if mask & bit:
            raise CfgraphError(f"unit {part[:20]!r} appears twice in training set {text[:40]!r}")
        mask |= bit
    return mask


@functools.lru_cache(maxsize=8)
def _sizes(n: int) -> np.ndarray:
    out = np.bitwise_count(np.arange(1 << n, dtype=np.uint64)).astype(np.int64)
    out.flags.writeable = False
    return out


def sizes(n: int) -> np.ndarray:
    """Size |S| of every training set, indexed by mask: shape (2^n,), dtype int64 (read-only, cached)."""
    return _sizes(n)


def layer(n: int, k: int) -> np.ndarray:
    """Masks of all training sets of size ``k`` (the k-th layer), ascending.

    Raises
    ------
    CfgraphError
        If ``k`` is outside 0..n.
    """
    if not 0 <= k <= n:
        raise CfgraphError(f"layer k={k} is out of range 0..{n}")
    return np.flatnonzero(sizes(n) == k)


def members(mask: int, n: int) -> list[int]:
    """Indices of the units in a training set, ascending."""
    return [i for i in range(n) if mask >> i & 1]


def neighbours(mask: int, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Add-one and remove-one neighbours of a node, as ``(unit, mask)`` pairs.

    Returns
    -------
    up : list of (int, int)
        ``(i, mask | 1 << i)`` for every unit i not in the set.
    down : list of (int, int)
        ``(i, mask & ~(1 << i))`` for every unit i in the set.
    """
    up = [(i, mask | 1 << i) for i in range(n) if not mask >> i & 1]
    down = [(i, mask & ~(1 << i)) for i in range(n) if mask >> i & 1]
    return up, down


def permutation_path(order: Iterable[int], start: int = 0) -> list[int]:
    """Masks visited when the units in ``order`` are added one at a time from ``start``.

    With ``start=0`` and every unit in ``order``, this is the path of a
    permutation from the empty set to the full set: the score changes along
    it are the units' marginal contributions in that order.

    Raises
    ------
    CfgraphError
        If a unit is repeated or already in ``start``.

    Examples
    --------
    >>> permutation_path([2, 0, 1])
    [0, 4, 5, 7]
    """
    path = [int(start)]
    mask = int(start)
    for i in order:
        bit = 1 << int(i)
        if mask & bit:
            raise CfgraphError(f"unit {i} is already in the training set on this path")
        mask |= bit
        path.append(mask)
    return path


def removal_path(order: Iterable[int], start: int) -> list[int]:
    """Masks visited when the units in ``order`` leave ``start`` one at a time.

    This is the path of a data strike (coordinated withdrawal) by the
    coalition ``order`` from the training set ``start``.

    Raises
    ------
    CfgraphError
        If a unit in ``order`` is not in ``start``, or is repeated.
    """
    path = [int(start)]
    mask = int(start)
    for i in order:
        bit = 1 << int(i)
        if not mask & bit:
            raise CfgraphError(f"unit {i} is not in the training set on this path")
        mask &= ~bit
        path.append(mask)
    return path


def hasse_diagram(
    masks: Sequence[int],
    labels: Sequence[str],
    edges: Iterable[tuple[int, int, str]],
    values: dict[int, float] | None = None,
) -> nx.DiGraph:
    """Build the Hasse diagram of stored nodes and edges as a directed graph.

    Parameters
    ----------
    masks, labels : sequences of length m
        The stored nodes (training sets) and their labels.
    edges : iterable of (src_mask, dst_mask, unit_label)
        One add-one step each, ``dst = src | bit(unit)``.
    values : dict mask -> float, optional
        A cell value per node (one evaluation slice), stored as node attribute ``value``.

    Returns
    -------
    networkx.DiGraph
        Nodes are masks with attributes ``label``, ``size`` and (if given)
        ``value``; edges point from S to S + {i} with attributes ``unit`` and,
        when both ends have values, ``delta`` (the marginal contribution).
    """
    graph = nx.DiGraph()
    values = values or {}
    for mask, label in zip(masks, labels):
        mask = int(mask)
        graph.add_node(mask, label=label, size=mask.bit_count(), value=values.get(mask))
    for src, dst, unit in edges:
        attrs = {"unit": unit}
        a, b = values.get(int(src)), values.get(int(dst))
        if a is not None and b is not None:
            attrs["delta"] = b - a
        graph.add_edge(int(src), int(dst), **attrs)
    return graph
