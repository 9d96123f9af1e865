"""Summaries over a lattice of cells: leave-one-out, semivalues, interactions, scaling, seeds.

Every function takes ``v``, the utility of every training set, as a numpy array
indexed by bitmask: shape ``(2**n,)`` for one evaluation slice or
``(2**n, m)`` for m slices at once. A missing cell is ``NaN``. Each summary
either computes from the cells it needs or raises
:class:`~cfgraph.errors.MissingCells` naming them (the local ones can instead
return NaN with ``missing="nan"``). Nothing here knows of SQL.

This module is the one implementation of these formulas: the grid's questions,
the graph's lenses, the value tables and the variant reports all call it.

All semivalues (Shapley, Banzhaf, Beta Shapley) weight a coalition only by its
size, so they are small dot products over :func:`~cfgraph.lattice.layer_sums`,
one O(2^n) pass of matrix products over the table.
"""

from __future__ import annotations

import math

import numpy as np

from cfgraph.errors import CfgraphError, MissingCells
from cfgraph.lattice import layer_sums, sizes

__all__ = [
    "n_units_of",
    "marginal_contributions",
    "semivalue_weights",
    "layer_sums",
    "semivalue_from_layer_sums",
    "semivalue_table",
    "semivalue",
    "shapley",
    "banzhaf",
    "beta_shapley",
    "leave_one_out",
    "group_leave_one_out",
    "pair_interaction",
    "layer_means",
    "scaling_curve",
    "best_of_size",
    "datamodel",
    "seed_interval",
]

MISSING_POLICIES = ("raise", "nan")


def n_units_of(v: np.ndarray) -> int:
    """Number of units n of a lattice array of length 2^n.

    Raises
    ------
    CfgraphError
        If the first dimension is not a power of two.

    Examples
    --------
    >>> n_units_of(np.zeros((8, 3)))
    3
    """
    size = np.shape(v)[0] if np.ndim(v) else 0
    n = size.bit_length() - 1
    if size < 1 or 1 << n != size:
        raise CfgraphError(f"a lattice has 2^n cells per slice, not {size}")
    return n


def _require(v: np.ndarray, masks: np.ndarray, what: str, labels=None) -> None:
    """Raise MissingCells if any of ``v[masks]`` is NaN (in any slice)."""
    masks = np.unique(np.asarray(masks, dtype=np.int64))
    cells = v[masks]
    bad = np.isnan(cells)
    if bad.ndim > 1:
        bad = bad.any(axis=tuple(range(1, bad.ndim)))
    if bad.any():
        missing = masks[bad]
        raise MissingCells(
            missing.tolist(),
            [labels[m] for m in missing] if labels is not None else None,
            what,
        )


def _check_missing(missing: str) -> None:
    if missing not in MISSING_POLICIES:
        raise CfgraphError(f"missing= takes 'raise' or 'nan', not {missing!r}")


def marginal_contributions(v: np.ndarray, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Marginal contributions of unit ``i`` to every coalition that lacks it.

    Parameters
    ----------
    v : ndarray, shape (2**n,) or (2**n, m)
        Utility of every training set, indexed by bitmask.
    i : int
        The unit, 0 <= i < n.

    Returns
    -------
    coalitions : ndarray of int, shape (2**(n-1),)
        The masks S with bit i clear, ascending.
    delta : ndarray, shape (2**(n-1),) or (2**(n-1), m)
        ``v[S | 1 << i] - v[S]`` for each S (NaN where a cell is missing).

    Raises
    ------
    CfgraphError
        If ``i`` is not a unit of the lattice.

    Examples
    --------
    >>> S, d = marginal_contributions(np.array([0.0, 1.0, 2.0, 4.0]), 0)
    >>> S.tolist(), d.tolist()
    ([0, 2], [1.0, 2.0])
    """
    v = np.asarray(v, dtype=float)
    n = n_units_of(v)
    if not 0 <= i < n:
        raise CfgraphError(f"unit index {i} is out of range 0..{n - 1}")
    tail = v.shape[1:]
    # Viewing the masks as (high bits, bit i, low bits) puts S and S + i side by side.
    blocks = v.reshape((1 << (n - 1 - i), 2, 1 << i) + tail)
    delta = (blocks[:, 1] - blocks[:, 0]).reshape((1 << (n - 1),) + tail)
    coalitions = np.arange(1 << n).reshape(1 << (n - 1 - i), 2, 1 << i)[:, 0].ravel()
    return coalitions, delta


def semivalue_weights(n: int, kind: str = "shapley", alpha: float = 1.0, beta: float = 1.0) -> np.ndarray:
    """Weight of one coalition S (with i not in S) by its size, for a semivalue.

    The semivalue of unit i is ``sum over S not containing i of
    w[|S|] * (v(S + i) - v(S))``.

    Parameters
    ----------
    n : int
        Number of units.
    kind : {"shapley", "banzhaf", "beta"}
        Shapley: ``w[k] = 1 / (n * C(n-1, k))`` (Shapley 1953; Ghorbani & Zou 2019).
        Banzhaf: ``w[k] = 1 / 2**(n-1)`` (Banzhaf 1965; Wang & Jia 2023).
        Beta(alpha, beta): ``w[k] = B(k + beta, n - 1 - k + alpha) / B(alpha, beta)``,
        a beta-binomial distribution over coalition size (Kwon & Zou 2022);
        alpha > beta puts weight on small coalitions; Beta(1, 1) is Shapley.
    alpha, beta : float
        Parameters of Beta Shapley, both > 0.

    Returns
    -------
    ndarray, shape (n,)
        ``w[k]`` for k = 0 .. n-1.

    Raises
    ------
    CfgraphError
        On an unknown kind or non-positive alpha / beta.

    References
    ----------
    Shapley (1953), "A value for n-person games"; Banzhaf (1965), "Weighted voting doesn't
    work"; Kwon & Zou (2022), "Beta Shapley: a unified and noise-reduced data valuation
    framework for machine learning".

    Examples
    --------
    >>> semivalue_weights(3).tolist()
    [0.3333333333333333, 0.16666666666666666, 0.3333333333333333]
    >>> semivalue_weights(3, "banzhaf").tolist()
    [0.25, 0.25, 0.25]
    """
    from scipy.special import betaln, gammaln  # scipy only when a weight is asked for

    k = np.arange(n, dtype=float)
    if kind == "shapley":
        log_binom = gammaln(n) - gammaln(k + 1) - gammaln(n - k)
        return np.exp(-log_binom) / n
    if kind == "banzhaf":
        return np.full(n, 0.5 ** (n - 1))
    if kind == "beta":
        if not (alpha > 0 and beta > 0) or not (math.isfinite(alpha) and math.isfinite(beta)):
            raise CfgraphError(f"Beta Shapley needs alpha > 0 and beta > 0, not ({alpha}, {beta})")
        with np.errstate(invalid="ignore", over="ignore"):
            weights = np.exp(betaln(k + beta, n - 1 - k + alpha) - betaln(alpha, beta))
        if not np.isfinite(weights).all():
            raise CfgraphError(f"Beta Shapley weights overflow for alpha={alpha:g}, beta={beta:g}; "
                               "use values between 0.01 and 1000")
        return weights
    raise CfgraphError(f"unknown semivalue {kind!r} (use shapley, banzhaf or beta)")


def semivalue_from_layer_sums(with_unit: np.ndarray, layer_total: np.ndarray, weights) -> np.ndarray:
    """A semivalue of every unit from the layer-sum table, in O(n^2) per slice.

    With ``w`` the weight of a coalition by its size, the semivalue of unit i is
    ``sum_{T with i} w[|T|-1] v(T) - sum_{S without i} w[|S|] v(S)``; the first sum
    is ``w[s-1] * with_unit[i, s]`` over s, the second ``w[s] * (layer_total[s] -
    with_unit[i, s])``. Keep the table to change the weights (e.g. Beta's alpha
    and beta) without reading the cells again.

    Parameters
    ----------
    with_unit : ndarray, shape (n, n+1) or (n, n+1, m)
    layer_total : ndarray, shape (n+1,) or (n+1, m)
        From :func:`~cfgraph.lattice.layer_sums`.
    weights : array_like, shape (n,)
        Per-coalition weight by coalition size (see :func:`semivalue_weights`); any
        weights give a semivalue (Dubey, Neyman & Weber 1981).

    Returns
    -------
    ndarray, shape (n,) or (n, m)

    Raises
    ------
    CfgraphError
        If the shapes do not fit together.

    Examples
    --------
    >>> table = layer_sums(np.array([0.0, 1.0, 1.0, 3.0]))
    >>> semivalue_from_layer_sums(*table, semivalue_weights(2, "beta", 4, 1)).round(12).tolist()
    [1.2, 1.2]
    """
    with_unit = np.asarray(with_unit, dtype=float)
    layer_total = np.asarray(layer_total, dtype=float)
    weights = np.asarray(weights, dtype=float)
    n = with_unit.shape[0] if with_unit.ndim else -1
    if (with_unit.ndim not in (2, 3) or with_unit.shape[1] != n + 1 or layer_total.shape != with_unit.shape[1:]
            or weights.shape != (n,)):
        raise CfgraphError(f"a layer-sum table of n units is (n, n+1[, m]) with (n+1[, m]) totals and n weights, "
                           f"not {with_unit.shape}, {layer_total.shape} and {weights.shape}")
    joined = np.tensordot(weights, with_unit[:, 1:] + with_unit[:, :-1], axes=([0], [1]))
    return joined - np.tensordot(weights, layer_total[:-1], axes=([0], [0]))


def semivalue(v: np.ndarray, weights: np.ndarray, labels=None) -> np.ndarray:
    """Semivalue of every unit from a complete lattice.

    Parameters
    ----------
    v : ndarray, shape (2**n,) or (2**n, m)
        Utility of every training set; must hold no NaN.
    weights : ndarray, shape (n,)
        Per-coalition weight by coalition size (see :func:`semivalue_weights`).
    labels : sequence of str, optional
        Training-set labels by mask, used in the error message.

    Returns
    -------
    ndarray, shape (n,) or (n, m)
        The value of each unit (on each slice).

    Raises
    ------
    MissingCells
        If any cell is missing: every semivalue needs all 2^n cells.
    CfgraphError
        If a cell is infinite or the weights do not have length n.

    References
    ----------
    Dubey, Neyman & Weber (1981), "Value theory without efficiency" (semivalues).

    Examples
    --------
    >>> semivalue(np.array([0.0, 1.0, 1.0, 3.0]), [0.5, 0.5]).tolist()
    [1.5, 1.5]
    """
    return semivalue_from_layer_sums(*semivalue_table(v, labels), weights)


def semivalue_table(v: np.ndarray, labels=None) -> tuple[np.ndarray, np.ndarray]:
    """The layer-sum table of a complete lattice, checked: what every semivalue reads.

    Parameters
    ----------
    v : ndarray, shape (2**n,) or (2**n, m)
    labels : sequence of str, optional
        Training-set labels by mask, used in the error message.

    Returns
    -------
    with_unit : ndarray, shape (n, n+1) or (n, n+1, m)
    layer_total : ndarray, shape (n+1,) or (n+1, m)
        As :func:`~cfgraph.lattice.layer_sums`; pass them to
        :func:`semivalue_from_layer_sums` with any weights.

    Raises
    ------
    MissingCells
        If any cell is missing.
    CfgraphError
        If a cell is infinite.

    Examples
    --------
    >>> with_unit, total = semivalue_table(np.array([0.0, 1.0, 1.0, 3.0]))
    >>> semivalue_from_layer_sums(with_unit, total, semivalue_weights(2)).tolist()
    [1.5, 1.5]
    """
    v = np.asarray(v, dtype=float)
    n_units_of(v)
    with_unit, total = layer_sums(v)
    if not np.isfinite(total).all():  # a NaN or infinite cell spreads into its layer's total
        _require(v, np.flatnonzero(np.isnan(v).reshape(len(v), -1).any(axis=1)), "a semivalue", labels)
        raise CfgraphError("a semivalue needs finite cells; this lattice holds an infinite one")
    return with_unit, total


def shapley(v: np.ndarray, labels=None) -> np.ndarray:
    """Shapley value of every unit (Shapley 1953; Data Shapley, Ghorbani & Zou 2019).

    The average marginal contribution over all n! orders; equivalently the
    semivalue with ``w[k] = 1 / (n C(n-1, k))``. Efficiency holds: the values
    sum to ``v(N) - v(empty)``.

    Parameters
    ----------
    v : ndarray, shape (2**n,) or (2**n, m)

    Returns
    -------
    ndarray, shape (n,) or (n, m)

    Raises
    ------
    MissingCells
        If any cell is missing.

    References
    ----------
    Shapley (1953), "A value for n-person games"; Ghorbani & Zou (2019), "Data Shapley:
    equitable valuation of data for machine learning".

    Examples
    --------
    >>> shapley(np.array([0.0, 1.0, 1.0, 3.0])).tolist()
    [1.5, 1.5]
    """
    v = np.asarray(v, dtype=float)
    return semivalue(v, semivalue_weights(n_units_of(v), "shapley"), labels)


def banzhaf(v: np.ndarray, labels=None) -> np.ndarray:
    """Banzhaf value: the plain mean of the 2^(n-1) marginal contributions.

    Parameters
    ----------
    v : ndarray, shape (2**n,) or (2**n, m)

    Returns
    -------
    ndarray, shape (n,) or (n, m)

    Raises
    ------
    MissingCells
        If any cell is missing.

    References
    ----------
    Banzhaf (1965), "Weighted voting doesn't work"; Wang & Jia (2023), "Data Banzhaf: a
    robust data valuation framework for machine learning" (AISTATS).

    Examples
    --------
    >>> banzhaf(np.array([0.0, 1.0, 1.0, 3.0])).tolist()
    [1.5, 1.5]
    """
    v = np.asarray(v, dtype=float)
    return semivalue(v, semivalue_weights(n_units_of(v), "banzhaf"), labels)


def beta_shapley(v: np.ndarray, alpha: float = 16.0, beta: float = 1.0, labels=None) -> np.ndarray:
    """Beta Shapley value (Kwon & Zou, AISTATS 2022).

    A semivalue whose weight over coalition size follows a beta-binomial
    distribution with parameters (beta, alpha); Beta(16, 1), the paper's
    recommendation, favours small coalitions; Beta(1, 1) equals Shapley.

    Parameters
    ----------
    v : ndarray, shape (2**n,) or (2**n, m)
    alpha, beta : float
        Both > 0.

    Returns
    -------
    ndarray, shape (n,) or (n, m)

    Raises
    ------
    CfgraphError
        If alpha or beta is not positive.
    MissingCells
        If any cell is missing.

    References
    ----------
    Kwon & Zou (2022), "Beta Shapley: a unified and noise-reduced data valuation framework
    for machine learning" (AISTATS).

    Examples
    --------
    >>> beta_shapley(np.array([0.0, 1.0, 1.0, 3.0]), 1, 1).tolist()
    [1.5, 1.5]
    """
    v = np.asarray(v, dtype=float)
    return semivalue(v, semivalue_weights(n_units_of(v), "beta", alpha, beta), labels)


def leave_one_out(v: np.ndarray, base: int | None = None, units=None, labels=None, *,
                  missing: str = "raise") -> np.ndarray:
    """Leave-one-out value of units from a training set: ``v(S) - v(S \\ {i})``.

    Parameters
    ----------
    v : ndarray, shape (2**n,) or (2**n, m)
    base : int, optional
        The training set S as a mask; the full set by default.
    units : sequence of int, optional
        The units to leave out (default: every unit in S). Units outside S,
        or not asked for, get NaN.
    labels : sequence of str, optional
        Training-set labels by mask, for the error message.
    missing : {"raise", "nan"}
        What a missing cell does: raise :class:`MissingCells`, or give NaN for
        the values that need it.

    Returns
    -------
    ndarray, shape (n,) or (n, m)

    Raises
    ------
    CfgraphError
        If an asked-for unit is not in S.
    MissingCells
        If ``v(S)`` or a needed ``v(S \\ {i})`` is missing (with ``missing="raise"``).

    References
    ----------
    Cook (1977), "Detection of influential observation in linear regression".

    Examples
    --------
    >>> leave_one_out(np.array([0.0, 1.0, 1.0, 3.0])).tolist()
    [2.0, 2.0]
    >>> leave_one_out(np.array([0.0, np.nan, 1.0, 3.0]), missing="nan").tolist()
    [2.0, nan]
    """
    _check_missing(missing)
    v = np.asarray(v, dtype=float)
    n = n_units_of(v)
    full = (1 << n) - 1
    base = full if base is None else int(base)
    if not 0 <= base <= full:
        raise CfgraphError(f"training set mask {base} is out of range for n={n}")
    if units is None:
        inside = np.flatnonzero(base >> np.arange(n) & 1)
    else:
        inside = np.asarray(list(units), dtype=np.int64).reshape(-1)
        if ((inside < 0) | (inside >= n)).any() or (base >> inside & 1 == 0).any():
            raise CfgraphError("leave-one-out needs each unit to be in the training set")
    drops = base & ~(1 << inside)
    if missing == "raise":
        _require(v, np.concatenate([[base], drops]), "leave-one-out", labels)
    out = np.full((n,) + v.shape[1:], np.nan)
    out[inside] = v[base] - v[drops]
    return out


def group_leave_one_out(v: np.ndarray, coalition, base: int | None = None, labels=None, *,
                        missing: str = "raise"):
    """Group leave-one-out (a data strike): ``v(S) - v(S \\ C)`` for a coalition C.

    Parameters
    ----------
    v : ndarray, shape (2**n,) or (2**n, m)
    coalition : int or array_like of int, shape (k,)
        Mask of the units that withdraw together, or several such masks.
    base : int, optional
        The training set they withdraw from; the full set by default.
    labels : sequence of str, optional
        Training-set labels by mask, for the error message.
    missing : {"raise", "nan"}
        Raise on a missing cell, or give NaN.

    Returns
    -------
    float or ndarray, shape (), (m,), (k,) or (k, m)

    Raises
    ------
    CfgraphError
        If a coalition is empty or not inside the base set.
    MissingCells
        If a cell is missing (with ``missing="raise"``).

    References
    ----------
    Vincent, Li, Tilly, Chancellor & Hecht (2021), "Data leverage"; Koh, Ang, Teo & Liang
    (2019), "On the accuracy of influence functions for measuring group effects".

    Examples
    --------
    >>> v = np.array([0.1, 0.5, 0.6, 0.9])
    >>> round(float(group_leave_one_out(v, 0b11)), 2)
    0.8
    >>> group_leave_one_out(v, [1, 2, 3]).round(2).tolist()
    [0.3, 0.4, 0.8]
    """
    _check_missing(missing)
    v = np.asarray(v, dtype=float)
    n = n_units_of(v)
    base = (1 << n) - 1 if base is None else int(base)
    coalition = np.asarray(coalition, dtype=np.int64)
    if (coalition == 0).any() or (coalition & ~base).any():
        raise CfgraphError("the coalition must be a non-empty part of the training set")
    rest = base & ~coalition
    if missing == "raise":
        _require(v, np.concatenate([[base], rest.reshape(-1)]), "group leave-one-out", labels)
    return v[base] - v[rest]


def pair_interaction(v: np.ndarray, i: int, j: int, base: int = 0, labels=None, *, missing: str = "raise"):
    """Pair interaction of units i and j at coalition S: ``v(S+i+j) - v(S+i) - v(S+j) + v(S)``.

    Positive when i and j are complements at S, negative when they substitute
    for each other.

    Parameters
    ----------
    v : ndarray, shape (2**n,) or (2**n, m)
    i, j : int
        Two different units.
    base : int
        The coalition S, holding neither i nor j.
    labels : sequence of str, optional
    missing : {"raise", "nan"}

    Returns
    -------
    float or ndarray, shape () or (m,)

    Raises
    ------
    CfgraphError
        If i == j or either unit is in S.
    MissingCells
        If any of the four cells is missing (with ``missing="raise"``).

    References
    ----------
    Grabisch & Roubens (1999), "An axiomatic approach to the concept of interaction among
    players in cooperative games" (the averaged index).

    Examples
    --------
    >>> float(pair_interaction(np.array([0.0, 1.0, 1.0, 1.0]), 0, 1))
    -1.0
    """
    _check_missing(missing)
    v = np.asarray(v, dtype=float)
    n = n_units_of(v)
    if i == j or not (0 <= i < n and 0 <= j < n):
        raise CfgraphError("a pair interaction needs two different units")
    bi, bj = 1 << i, 1 << j
    if base & (bi | bj):
        raise CfgraphError("the base coalition must not contain the pair")
    masks = np.array([base | bi | bj, base | bi, base | bj, base])
    if missing == "raise":
        _require(v, masks, "pair interaction", labels)
    return v[masks[0]] - v[masks[1]] - v[masks[2]] + v[masks[3]]


def layer_means(v: np.ndarray, size=None, n_layers: int | None = None):
    """Mean of the cells present in each layer (all cells of one size), with counts.

    Parameters
    ----------
    v : ndarray, shape (c,) or (c, m)
        Cells; NaN for a missing one (left out of the mean and counted).
    size : array_like of int, shape (c,), optional
        The layer of each cell. By default ``v`` is a whole lattice (c = 2^n)
        and a cell's layer is its training set's size.
    n_layers : int, optional
        Number of layers (default n + 1 for a lattice, else ``max(size) + 1``).

    Returns
    -------
    mean : ndarray, shape (n_layers,) or (n_layers, m)
        NaN where no cell of the layer is present.
    present : ndarray of int, same shape
        How many cells of each layer are present.
    total : ndarray of int, shape (n_layers,)
        How many cells each layer has, present or not.

    References
    ----------
    Hestness et al. (2017), "Deep learning scaling is predictable, empirically";
    Kaplan et al. (2020), "Scaling laws for neural language models".

    Examples
    --------
    >>> mean, present, total = layer_means(np.array([0.0, 1.0, np.nan, 3.0]))
    >>> mean.tolist(), present.tolist(), total.tolist()
    ([0.0, 1.0, 3.0], [1, 1, 1], [1, 2, 1])
    """
    v = np.asarray(v, dtype=float)
    if size is None:
        n = n_units_of(v)
        size, n_layers = sizes(n), n + 1
    size = np.asarray(size, dtype=np.int64)
    if size.shape != v.shape[:1] or (size < 0).any():
        raise CfgraphError(f"layer_means needs one size >= 0 per cell: {size.shape} sizes for {v.shape[0]} cells")
    n_layers = int(size.max(initial=-1)) + 1 if n_layers is None else int(n_layers)
    columns = v.reshape(len(v), -1)
    present = ~np.isnan(columns)
    filled = np.where(present, columns, 0.0)
    # One bincount per slice: a loop over the m slices, not over cells.
    sums = np.stack([np.bincount(size, weights=filled[:, j], minlength=n_layers) for j in range(columns.shape[1])],
                    axis=-1).reshape((n_layers,) + v.shape[1:])
    count = np.stack([np.bincount(size, weights=present[:, j], minlength=n_layers) for j in range(columns.shape[1])],
                     axis=-1).astype(np.int64).reshape((n_layers,) + v.shape[1:])
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, sums / np.maximum(count, 1), np.nan)
    return mean, count, np.bincount(size, minlength=n_layers)


def scaling_curve(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean score of the training sets of each size k (a data scaling curve).

    Missing cells are left out of the mean and counted (see :func:`layer_means`).

    Returns
    -------
    mean : ndarray, shape (n+1,) or (n+1, m)
        Mean over the cells present in layer k (NaN where none is).
    count : ndarray of int, shape (n+1,) or (n+1, m)
        How many cells of layer k are present.

    References
    ----------
    Hestness et al. (2017), "Deep learning scaling is predictable, empirically";
    Kaplan et al. (2020), "Scaling laws for neural language models".

    Examples
    --------
    >>> scaling_curve(np.array([0.0, 1.0, 2.0, 4.0]))[0].tolist()
    [0.0, 1.5, 4.0]
    """
    mean, count, _ = layer_means(v)
    return mean, count


def best_of_size(v: np.ndarray, k: int) -> tuple[int, float, int]:
    """Budgeted subset scan: the best training set of size k among stored cells.

    Parameters
    ----------
    v : ndarray, shape (2**n,)
    k : int

    Returns
    -------
    mask : int
        The best training set of size k (lowest mask on ties).
    value : float
    missing : int
        How many cells of layer k are missing (the answer is exact when 0).

    Raises
    ------
    CfgraphError
        If k is out of range or ``v`` has more than one slice.
    MissingCells
        If no cell of layer k is present.

    References
    ----------
    Mirzasoleiman, Bilmes & Leskovec (2020), "Coresets for data-efficient training of
    machine learning models" (the subset-selection problem this solves exactly).

    Examples
    --------
    >>> best_of_size(np.array([0.1, 0.5, 0.6, 0.9]), 1)
    (2, 0.6, 0)
    """
    v = np.asarray(v, dtype=float)
    n = n_units_of(v)
    if v.ndim != 1:
        raise CfgraphError("best_of_size takes one slice")
    if not 0 <= k <= n:
        raise CfgraphError(f"layer k={k} is out of range 0..{n}")
    masks = np.flatnonzero(sizes(n) == k)
    cells = v[masks]
    present = ~np.isnan(cells)
    if not present.any():
        raise MissingCells(masks.tolist(), None, f"the best training set of size {k}")
    best = masks[present][np.argmax(cells[present])]
    return int(best), float(v[best]), int((~present).sum())


def datamodel(v: np.ndarray) -> tuple[np.ndarray, float]:
    """Linear datamodel: least-squares fit of a cell on the 0/1 membership vector.

    ``v(S) ~ b + sum_i theta_i [i in S]`` over the cells present, with
    scikit-learn's LinearRegression.

    Parameters
    ----------
    v : ndarray, shape (2**n,)

    Returns
    -------
    theta : ndarray, shape (n,)
    intercept : float

    Raises
    ------
    MissingCells
        If fewer than n + 1 cells are present.

    References
    ----------
    Ilyas, Park, Engstrom, Leclerc & Madry (2022), "Datamodels: predicting predictions from
    training data" (ICML).

    Examples
    --------
    >>> theta, b = datamodel(np.array([0.5, 0.7, 0.6, 0.8]))
    >>> theta.round(6).tolist(), round(b, 6)
    ([0.2, 0.1], 0.5)
    """
    from sklearn.linear_model import LinearRegression

    v = np.asarray(v, dtype=float)
    n = n_units_of(v)
    present = np.flatnonzero(~np.isnan(v))
    if len(present) < n + 1:
        missing = np.flatnonzero(np.isnan(v))
        raise MissingCells(missing.tolist(), None, "a datamodel")
    x = (present[:, None] >> np.arange(n)) & 1
    fit = LinearRegression().fit(x, v[present])
    return fit.coef_, float(fit.intercept_)


def seed_interval(samples, axis: int = 0, confidence: float = 0.95):
    """Mean over seeds with a Student-t confidence interval, ignoring NaN entry by entry.

    Parameters
    ----------
    samples : array_like
        One value per seed along ``axis`` (e.g. shape (s, 2**n, m) for s seeds'
        grids, or (s, n, m) for s seeds' unit values); NaN where a seed lacks it.
    axis : int
        The seed axis.
    confidence : float
        Coverage of the interval, strictly between 0 and 1.

    Returns
    -------
    mean : ndarray
        Mean of the non-NaN samples (NaN where there are none).
    std : ndarray
        Sample standard deviation (ddof=1; NaN where fewer than 2 samples).
    half_width : ndarray
        ``t_{(1+confidence)/2, k-1} * std / sqrt(k)``: the interval is
        ``mean ± half_width`` (NaN where fewer than 2 samples).
    n : ndarray of int
        k, the number of non-NaN samples of each entry.
        All four have the shape of ``samples`` without ``axis``.

    Raises
    ------
    CfgraphError
        If the confidence is not strictly between 0 and 1.

    References
    ----------
    Student (1908), "The probable error of a mean", Biometrika.

    Examples
    --------
    >>> mean, std, half, k = seed_interval([[1.0, 2.0], [3.0, np.nan], [5.0, 4.0]])
    >>> mean.tolist(), std.tolist(), k.tolist()
    ([3.0, 3.0], [2.0, 1.4142135623730951], [3, 2])
    >>> round(float(half[0]), 4)  # t(0.975, 2) * 2 / sqrt(3)
    4.9683
    """
    from scipy.stats import t as student_t

    confidence = float(confidence)
    if not 0 < confidence < 1:
        raise CfgraphError(f"the confidence must lie strictly between 0 and 1, not {confidence:g}")
    x = np.moveaxis(np.asarray(samples, dtype=float), axis, 0)
    present = ~np.isnan(x)
    k = present.sum(axis=0)
    filled = np.where(present, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(k > 0, filled.sum(axis=0) / np.maximum(k, 1), np.nan)
        squares = np.where(present, (x - mean) ** 2, 0.0).sum(axis=0)
        std = np.where(k > 1, np.sqrt(squares / np.maximum(k - 1, 1)), np.nan)
        quantile = student_t.ppf(0.5 + confidence / 2, np.maximum(k - 1, 1))
        half_width = np.where(k > 1, quantile * std / np.sqrt(np.maximum(k, 1)), np.nan)
    return mean, std, half_width, k.astype(np.int64)
