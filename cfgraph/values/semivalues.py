"""Semivalues of every unit: Shapley, Banzhaf, Beta Shapley and any weights by coalition size.

All semivalues weight a coalition only by its size, so they are small dot
products over :func:`~cfgraph.lattice.layer_sums`, one O(2^n) pass of matrix
products over the table. Every semivalue needs all 2^n cells.
"""

from __future__ import annotations

import math

import numpy as np

from cfgraph.errors import CfgraphError
from cfgraph.lattice import layer_sums
from cfgraph.values._common import _require, n_units_of


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

