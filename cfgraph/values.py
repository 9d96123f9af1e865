"""Summaries over a lattice of cells: leave-one-out, semivalues, interactions, scaling.

Every function takes ``v``, the utility of every training set, as a numpy array
indexed by bitmask: shape ``(2**n,)`` for one evaluation slice or
``(2**n, m)`` for m slices at once. A missing cell is ``NaN``. Each summary
either computes from the cells it needs or raises
:class:`~cfgraph.errors.MissingCells` naming them. Nothing here knows of SQL.

All semivalues (Shapley, Banzhaf, Beta Shapley) are weighted sums of the same
marginal contributions ``v(S + i) - v(S)``, computed in O(n 2^n) numpy
operations with no Python loop over subsets.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import betaln, gammaln

from cfgraph.errors import CfgraphError, MissingCells
from cfgraph.lattice import sizes

__all__ = [
    "n_units_of",
    "marginal_contributions",
    "semivalue_weights",
    "semivalue",
    "shapley",
    "banzhaf",
    "beta_shapley",
    "leave_one_out",
    "group_leave_one_out",
    "pair_interaction",
    "scaling_curve",
    "best_of_size",
    "datamodel",
]


def n_units_of(v: np.ndarray) -> int:
    """Number of units n of a lattice array of length 2^n.

    Raises
    ------
    CfgraphError
        If the first dimension is not a power of two.
    """
    size = np.shape(v)[0]
    n = size.bit_length() - 1
    if size < 1 or 1 << n != size:
        raise CfgraphError(f"a lattice has 2^n cells per slice, not {size}")
    return n


def _require(v: np.ndarray, masks: np.ndarray, what: str, labels=None) -> None:
    """Raise MissingCells if any of ``v[masks]`` is NaN (in any slice)."""
    cells = v[masks]
    bad = np.isnan(cells) if cells.ndim == 1 else np.isnan(cells).any(axis=1)
    if bad.any():
        missing = np.asarray(masks)[bad]
        raise MissingCells(
            missing.tolist(),
            [labels[m] for m in missing] if labels is not None else None,
            what,
        )


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

    Examples
    --------
    >>> semivalue_weights(3).tolist()
    [0.3333333333333333, 0.16666666666666666, 0.3333333333333333]
    """
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
    """
    v = np.asarray(v, dtype=float)
    n = n_units_of(v)
    if np.isnan(v).any():
        _require(v, np.arange(1 << n), "a semivalue", labels)
    weights = np.asarray(weights, dtype=float)
    size = sizes(n)
    # phi_i = sum_{T containing i} w[|T|-1] v(T) - sum_{S without i} w[|S|] v(S): weight every
    # cell once for each role, then each unit needs two plain sums over half the lattice.
    with_i = weights[np.maximum(size - 1, 0)].reshape((-1,) + (1,) * (v.ndim - 1)) * v
    without_i = weights[np.minimum(size, n - 1)].reshape((-1,) + (1,) * (v.ndim - 1)) * v
    tail = v.shape[1:]
    out = np.empty((n,) + tail)
    for i in range(n):  # n passes of O(2^n) summation each
        shape = (1 << (n - 1 - i), 2, 1 << i) + tail
        out[i] = with_i.reshape(shape)[:, 1].sum(axis=(0, 1)) - without_i.reshape(shape)[:, 0].sum(axis=(0, 1))
    return out


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

    Examples
    --------
    >>> shapley(np.array([0.0, 1.0, 1.0, 3.0])).tolist()
    [1.5, 1.5]
    """
    v = np.asarray(v, dtype=float)
    return semivalue(v, semivalue_weights(n_units_of(v), "shapley"), labels)


def banzhaf(v: np.ndarray, labels=None) -> np.ndarray:
    """Banzhaf value: the plain mean of the 2^(n-1) marginal contributions.

    References: Banzhaf (1965); Data Banzhaf, Wang & Jia (AISTATS 2023).

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

    Raises
    ------
    CfgraphError
        If alpha or beta is not positive.
    MissingCells
        If any cell is missing.
    """
    v = np.asarray(v, dtype=float)
    return semivalue(v, semivalue_weights(n_units_of(v), "beta", alpha, beta), labels)


def leave_one_out(v: np.ndarray, base: int | None = None, units=None, labels=None) -> np.ndarray:
    """Leave-one-out value of units from a training set: ``v(S) - v(S \\ {i})``.

    Parameters
    ----------
    v : ndarray, shape (2**n,) or (2**n, m)
    base : int, optional
        The training set S as a mask; the full set by default.
    units : sequence of int, optional
        The units to leave out (default: every unit in S). Units outside S,
        or not asked for, get NaN.

    Returns
    -------
    ndarray, shape (n,) or (n, m)

    Raises
    ------
    CfgraphError
        If an asked-for unit is not in S.
    MissingCells
        If ``v(S)`` or a needed ``v(S \\ {i})`` is missing.

    References
    ----------
    Cook (1977), "Detection of influential observation in linear regression".

    Examples
    --------
    >>> leave_one_out(np.array([0.0, 1.0, 1.0, 3.0])).tolist()
    [2.0, 2.0]
    """
    v = np.asarray(v, dtype=float)
    n = n_units_of(v)
    full = (1 << n) - 1
    base = full if base is None else int(base)
    if not 0 <= base <= full:
        raise CfgraphError(f"training set mask {base} is out of range for n={n}")
    if units is None:
        inside = np.array([i for i in range(n) if base >> i & 1], dtype=int)
    else:
        inside = np.asarray(list(units), dtype=int)
        if any(not base >> int(i) & 1 for i in inside):
            raise CfgraphError("leave-one-out needs each unit to be in the training set")
    needed = np.concatenate([[base], base & ~(1 << inside)]).astype(int)
    _require(v, needed, "leave-one-out", labels)
    out = np.full((n,) + v.shape[1:], np.nan)
    out[inside] = v[base] - v[base & ~(1 << inside)]
    return out


def group_leave_one_out(v: np.ndarray, coalition: int, base: int | None = None, labels=None):
    """Group leave-one-out (a data strike): ``v(S) - v(S \\ C)`` for a coalition C.

    Parameters
    ----------
    coalition : int
        Mask of the units that withdraw together.
    base : int, optional
        The training set they withdraw from; the full set by default.

    Returns
    -------
    float or ndarray, shape () or (m,)

    Raises
    ------
    CfgraphError
        If the coalition is empty or not inside the base set.
    MissingCells
        If either cell is missing.

    References
    ----------
    Vincent, Li, Tilly, Chancellor & Hecht (2021), "Data leverage"; Koh & Liang (2019)
    on group influence.
    """
    v = np.asarray(v, dtype=float)
    n = n_units_of(v)
    base = (1 << n) - 1 if base is None else int(base)
    if coalition == 0 or coalition & ~base:
        raise CfgraphError("the coalition must be a non-empty part of the training set")
    _require(v, np.array([base, base & ~coalition]), "group leave-one-out", labels)
    return v[base] - v[base & ~coalition]


def pair_interaction(v: np.ndarray, i: int, j: int, base: int = 0, labels=None):
    """Pair interaction of units i and j at coalition S: ``v(S+i+j) - v(S+i) - v(S+j) + v(S)``.

    Positive when i and j are complements at S, negative when they substitute
    for each other (Grabisch & Roubens 1999 define the averaged index).

    Raises
    ------
    CfgraphError
        If i == j or either unit is in S.
    MissingCells
        If any of the four cells is missing.
    """
    v = np.asarray(v, dtype=float)
    n = n_units_of(v)
    if i == j or not (0 <= i < n and 0 <= j < n):
        raise CfgraphError("a pair interaction needs two different units")
    bi, bj = 1 << i, 1 << j
    if base & (bi | bj):
        raise CfgraphError("the base coalition must not contain the pair")
    masks = np.array([base | bi | bj, base | bi, base | bj, base])
    _require(v, masks, "pair interaction", labels)
    return v[masks[0]] - v[masks[1]] - v[masks[2]] + v[masks[3]]


def scaling_curve(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean score of the training sets of each size k (a data scaling curve).

    Missing cells are left out of the mean and counted.

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
    """
    v = np.asarray(v, dtype=float)
    n = n_units_of(v)
    size = sizes(n)
    present = ~np.isnan(v)
    filled = np.where(present, v, 0.0)
    shape = (n + 1,) + v.shape[1:]
    total = np.zeros(shape)
    count = np.zeros(shape, dtype=int)
    np.add.at(total, size, filled)
    np.add.at(count, size, present.astype(int))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
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
        If k is out of range or no cell of layer k is present.
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

    ``v(S) ~ b + sum_i theta_i [i in S]`` over the cells present (Ilyas et al.,
    "Datamodels", ICML 2022), with scikit-learn's LinearRegression.

    Returns
    -------
    theta : ndarray, shape (n,)
    intercept : float

    Raises
    ------
    MissingCells
        If fewer than n + 1 cells are present.
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
