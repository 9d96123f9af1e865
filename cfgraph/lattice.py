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

    Examples
    --------
    >>> unit_letters(3)
    ['A', 'B', 'C']
    """
    if not 1 <= n <= len(LETTERS):
        raise CfgraphError(f"a world needs between 1 and {len(LETTERS)} units, not {n}")
    return list(LETTERS[:n])


def unit_labels(n: int) -> list[str]:
    """Return the labels of ``n`` units of any world: letters up to 26 units, else ``U1`` ... ``Un``.

    A sampled world may have thousands of units, more than the alphabet; its
    labels are then numbered from 1 in bit order (a point world names its
    units by row id instead, see :func:`cfgraph.grouping.group_rows`).
    Exhaustive worlds keep :func:`unit_letters`.

    Parameters
    ----------
    n : int
        Number of units, at least 1.

    Returns
    -------
    list of str, length n

    Raises
    ------
    CfgraphError
        If ``n`` is less than 1.

    Examples
    --------
    >>> unit_labels(3)
    ['A', 'B', 'C']
    >>> unit_labels(28)[:2], unit_labels(28)[-1]
    (['U1', 'U2'], 'U28')
    """
    if n < 1:
        raise CfgraphError(f"a world needs at least 1 unit, not {n}")
    if n <= len(LETTERS):
        return list(LETTERS[:n])
    return [f"U{k}" for k in range(1, n + 1)]


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

    Examples
    --------
    >>> all_labels("AB")
    ['∅', 'A', 'B', 'AB']
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
    """Size |S| of every training set, indexed by mask: shape (2^n,), dtype int64 (read-only, cached).

    Examples
    --------
    >>> sizes(2).tolist()
    [0, 1, 1, 2]
    """
    return _sizes(n)


def layer(n: int, k: int) -> np.ndarray:
    """Masks of all training sets of size ``k`` (the k-th layer), ascending.

    Raises
    ------
    CfgraphError
        If ``k`` is outside 0..n.

    Examples
    --------
    >>> layer(3, 2).tolist()
    [3, 5, 6]
    """
    if not 0 <= k <= n:
        raise CfgraphError(f"layer k={k} is out of range 0..{n}")
    return np.flatnonzero(sizes(n) == k)


def membership(masks, n: int) -> np.ndarray:
    """Membership rows of training sets given by bitmask: bool, shape (len(masks), n).

    ``membership(np.arange(2**n), n)`` is the whole lattice, row = mask (bit i = unit i).

    Examples
    --------
    >>> membership(np.arange(4), 2).astype(int).tolist()
    [[0, 0], [1, 0], [0, 1], [1, 1]]
    """
    masks = np.asarray(masks, dtype=np.int64)
    return ((masks[:, None] >> np.arange(n)) & 1).astype(bool)


def members(mask: int, n: int) -> list[int]:
    """Indices of the units in a training set, ascending.

    Examples
    --------
    >>> members(0b1101, 4)
    [0, 2, 3]
    """
    return [i for i in range(n) if mask >> i & 1]


def neighbours(mask: int, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Add-one and remove-one neighbours of a node, as ``(unit, mask)`` pairs.

    Returns
    -------
    up : list of (int, int)
        ``(i, mask | 1 << i)`` for every unit i not in the set.
    down : list of (int, int)
        ``(i, mask & ~(1 << i))`` for every unit i in the set.

    Examples
    --------
    >>> neighbours(0b01, 2)
    ([(1, 3)], [(0, 0)])
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

    Examples
    --------
    >>> removal_path([1, 3], 0b1111)
    [15, 13, 5]
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

    Examples
    --------
    >>> g = hasse_diagram([0, 1], ["∅", "A"], [(0, 1, "A")], {0: 0.25, 1: 0.75})
    >>> g.edges[0, 1]
    {'unit': 'A', 'delta': 0.5}
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


# ------------------------------------------------------------------ layer sums

#: Units summed by one dense matrix product; larger lattices are split into
#: (high bits, low bits) and the high part recursed on (see :func:`layer_sums`).
_LOW_BITS = 6
#: Cells (times slices) per chunk of the first matrix product: bounds working memory.
_CHUNK_CELLS = 1 << 14


@functools.lru_cache(maxsize=32)
def _layer_pattern(b: int) -> tuple[np.ndarray, np.ndarray]:
    """For the 2^b masks of b units: ``[onehot | member x onehot]`` (2^b, (b+1)^2) and ``onehot`` (2^b, b+1).

    ``onehot[t, s]`` is 1 when |t| = s; ``(member x onehot)[t, i*(b+1) + s]`` is 1 when unit
    i is in t and |t| = s. A lattice column times this matrix gives its layer sums.
    """
    t = np.arange(1 << b)
    member = ((t[:, None] >> np.arange(b)) & 1).astype(float)
    onehot = (member.sum(axis=1)[:, None] == np.arange(b + 1)).astype(float)
    both = np.concatenate([onehot, (member[:, :, None] * onehot[:, None, :]).reshape(1 << b, -1)], axis=1)
    both.flags.writeable = False
    onehot.flags.writeable = False
    return both, onehot


def _convolve_sizes(x: np.ndarray, nh: int, b: int) -> np.ndarray:
    """``out[..., s, :] = sum over ph + ls = s of x[..., ph, ls, :]``: sizes of the two halves add."""
    out = np.zeros(x.shape[:-3] + (nh + b + 1,) + x.shape[-1:])
    for ls in range(b + 1):  # a loop over the b + 1 sizes of the low half
        out[..., ls:ls + nh + 1, :] += x[..., :, ls, :]
    return out


def _layer_sums(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`layer_sums` on a 2-d array ``v`` (2^n, m), NaN-free."""
    cells, m = v.shape
    n = cells.bit_length() - 1
    if n <= _LOW_BITS:
        both, _ = _layer_pattern(n)
        a = both.T @ v
        return a[n + 1:].reshape(n, n + 1, m), a[:n + 1]
    # A mask is (h, t): t its b low bits, h its nh high bits; |mask| = |h| + |t|.
    b, nh = _LOW_BITS, n - _LOW_BITS
    high, low = 1 << nh, 1 << b
    both, _ = _layer_pattern(b)
    width = both.shape[1]
    by_high = v.reshape(high, low, m).transpose(0, 2, 1)  # a view: (h, slice, t)
    low_total = np.empty((high, b + 1, m))  # sum over t with |t| = ls of v(h, t)
    low_with = np.zeros((nh + 1, b * (b + 1), m))  # for low unit i, summed over h by |h|
    rows = min(high, 1 << max(0, (_CHUNK_CELLS // (low * max(m, 1))).bit_length() - 1))
    _, row_sizes = _layer_pattern(rows.bit_length() - 1)  # |h| within an aligned chunk, less its top bits
    high_size = sizes(nh)
    for start in range(0, high, rows):  # 2^n / _CHUNK_CELLS chunks, each one matrix product
        a = np.matmul(by_high[start:start + rows], both)  # (rows, m, width)
        low_total[start:start + rows] = a[:, :, :b + 1].transpose(0, 2, 1)
        grouped = row_sizes.T @ a[:, :, b + 1:].reshape(rows, -1)  # by |h| - |start|
        top = int(high_size[start])
        low_with[top:top + len(grouped)] += grouped.reshape(len(grouped), m, width - b - 1).transpose(0, 2, 1)
    # The high units see each h with the b + 1 low-size totals as b + 1 extra slices.
    high_with, high_layer = _layer_sums(low_total.reshape(high, (b + 1) * m))
    with_unit = np.empty((n, n + 1, m))
    with_unit[:b] = _convolve_sizes(low_with.reshape(nh + 1, b, b + 1, m).transpose(1, 0, 2, 3), nh, b)
    with_unit[b:] = _convolve_sizes(high_with.reshape(nh, nh + 1, b + 1, m), nh, b)
    return with_unit, _convolve_sizes(high_layer.reshape(nh + 1, b + 1, m), nh, b)


def layer_sums(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum of the cells of each layer, in total and over the training sets that hold each unit.

    Every semivalue weights a training set only by its size, so these two small
    tables hold everything a semivalue needs from the 2^n cells (see
    :func:`cfgraph.values.semivalue_from_layer_sums`).

    Parameters
    ----------
    v : ndarray, shape (2**n,) or (2**n, m)
        Utility of every training set, indexed by bitmask; must be finite.

    Returns
    -------
    with_unit : ndarray, shape (n, n+1) or (n, n+1, m)
        ``with_unit[i, s]`` is the sum of v(T) over the training sets T of size s
        that contain unit i.
    layer_total : ndarray, shape (n+1,) or (n+1, m)
        ``layer_total[s]`` is the sum of v(T) over all training sets of size s.

    Raises
    ------
    CfgraphError
        If the length is not a power of two.

    Notes
    -----
    One pass of matrix products: the masks are split into 6 low bits and the
    rest; each chunk of the lattice (2^14 cells) is multiplied by a fixed
    (64, 49) pattern matrix, and the high bits are summed the same way on a
    table 9 times smaller. Time is O(2^n) and working memory a few MB at n = 22
    (``bench/bench_values.py`` prints both). NaN or infinite cells make the
    sums they enter NaN or infinite; :func:`cfgraph.values.semivalue` checks first.

    Examples
    --------
    >>> with_unit, total = layer_sums(np.array([0.0, 1.0, 2.0, 4.0]))
    >>> with_unit.tolist(), total.tolist()
    ([[0.0, 1.0, 4.0], [0.0, 2.0, 4.0]], [0.0, 3.0, 4.0])
    """
    v = np.asarray(v, dtype=float)
    cells = v.shape[0] if v.ndim else 0
    n = cells.bit_length() - 1
    if v.ndim not in (1, 2) or cells < 1 or 1 << n != cells:
        raise CfgraphError(f"a lattice has 2^n cells per slice, not {cells}")
    with np.errstate(invalid="ignore", over="ignore"):  # an infinite cell times 0 is NaN, as documented
        with_unit, total = _layer_sums(v.reshape(cells, -1))
    if v.ndim == 1:
        return with_unit[:, :, 0], total[:, 0]
    return with_unit, total
