"""Error bars over seeds: the mean of a value over seeds with a Student-t confidence interval."""

from __future__ import annotations

import numpy as np

from cfgraph.errors import CfgraphError


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
    >>> [float(a[0]) for a in seed_interval([[0.7], [0.7], [0.7]])]  # seeds that agree: exact
    [0.7, 0.0, 0.0, 3.0]
    """
    from scipy.stats import t as student_t

    confidence = float(confidence)
    if not 0 < confidence < 1:
        raise CfgraphError(f"the confidence must lie strictly between 0 and 1, not {confidence:g}")
    x = np.moveaxis(np.asarray(samples, dtype=float), axis, 0)
    present = ~np.isnan(x)
    k = present.sum(axis=0)
    filled = np.where(present, x, 0.0)
    # Seeds that agree give their value and a spread of exactly 0, not a sum's rounding
    # (0.7 three times sums to 2.0999999999999996).
    agree = (np.where(present, x, np.inf).min(axis=0) == np.where(present, x, -np.inf).max(axis=0)) & (k > 0)
    first = np.take_along_axis(filled, np.argmax(present, axis=0)[None], axis=0)[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(agree, first, np.where(k > 0, filled.sum(axis=0) / np.maximum(k, 1), np.nan))
        squares = np.where(present, (x - mean) ** 2, 0.0).sum(axis=0)
        std = np.where(k > 1, np.sqrt(squares / np.maximum(k - 1, 1)), np.nan)
        quantile = student_t.ppf(0.5 + confidence / 2, np.maximum(k - 1, 1))
        half_width = np.where(k > 1, quantile * std / np.sqrt(np.maximum(k, 1)), np.nan)
    return mean, std, half_width, k.astype(np.int64)

