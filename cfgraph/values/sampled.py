"""Sampled values: estimates with standard errors, running moments and the estimators' maths.

The samplers of :mod:`cfgraph.samplers` turn utilities of proposed training
sets into *samples*, one number per (unit, value column): the antithetic mean
of two marginal contributions, a weighted marginal contribution, or a
training set's utility seen from inside or outside a unit (MSR). This module
holds what does not depend on how training sets are chosen: the running mean
and variance of those samples (NaN samples, from failed cells, are skipped),
the coalition-size distribution of a semivalue, and :class:`Estimate`, the
values with their standard errors and Student-t intervals. Nothing here
knows of the store; :func:`table_utility` turns an exhaustive table into a
utility so that samplers can be checked against exact values.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from cfgraph.errors import CfgraphError

__all__ = ["Estimate", "RunningMoments", "msr_estimate", "size_distribution", "stratified_sizes",
           "importance_weights", "antithetic_contributions", "table_utility"]


@dataclass(eq=False)  # arrays: compare with numpy, not ==
class Estimate:
    """Values of every unit on every value column, with their standard errors.

    Attributes
    ----------
    values : ndarray, shape (n, C)
        The estimate (NaN where a unit has no sample yet).
    stderr : ndarray, shape (n, C)
        Standard error of the estimate (0 when exact, NaN with fewer than 2 samples).
    n_samples : ndarray of int, shape (n, C)
        Samples behind each entry (NaN samples are not counted).
    exact : bool
        The values are exact (leave-one-out): intervals are degenerate.
    dof : ndarray, shape (n, C), optional
        Degrees of freedom of the t interval; ``n_samples - 1`` when None
        (MSR passes Welch-Satterthwaite's).
    proportion : bool
        Each value is a share of 0/1 samples (Data-OOB's out-of-bag accuracy of
        a point): the interval is Wilson's score interval, which stays inside
        [0, 1] and does not collapse when every sample agrees.

    References
    ----------
    Student (1908), "The probable error of a mean", Biometrika; Welch (1947), "The
    generalization of Student's problem when several different population variances are involved".

    Examples
    --------
    >>> e = Estimate(np.array([[1.0], [2.0]]), np.array([[0.5], [0.0]]), np.array([[10], [10]]))
    >>> low, high = e.interval(0.95)
    >>> round(float(low[0, 0]), 3), float(high[1, 0])
    (-0.131, 2.0)
    """

    values: np.ndarray
    stderr: np.ndarray
    n_samples: np.ndarray
    exact: bool = False
    dof: np.ndarray | None = None
    proportion: bool = False

    @classmethod
    def empty(cls, n: int, columns: int = 1) -> "Estimate":
        """No sample yet: NaN values and errors, zero samples.

        Examples
        --------
        >>> Estimate.empty(2).n_samples.tolist()
        [[0], [0]]
        """
        nan = np.full((n, columns), np.nan)
        return cls(nan, nan.copy(), np.zeros((n, columns), dtype=np.int64))

    def interval(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Student-t interval of each entry: ``value ± t(level, dof) * stderr``.

        Degenerate (low = high = value) when exact or when the standard error is 0;
        NaN with fewer than 2 samples unless exact.

        Parameters
        ----------
        level : float
            Coverage, strictly between 0 and 1.

        Returns
        -------
        low, high : ndarray, shape (n, C)

        Raises
        ------
        CfgraphError
            If the level is not strictly between 0 and 1.

        Examples
        --------
        >>> e = Estimate(np.array([[3.0]]), np.array([[0.0]]), np.array([[1]]), exact=True)
        >>> [a.tolist() for a in e.interval()]
        [[[3.0]], [[3.0]]]
        """
        from scipy.stats import t as student_t

        level = float(level)
        if not 0 < level < 1:
            raise CfgraphError(f"an interval's level must lie strictly between 0 and 1, not {level:g}")
        values = np.asarray(self.values, dtype=float)
        if self.exact:
            return values.copy(), values.copy()
        if self.proportion:
            return wilson_interval(values, self.n_samples, level)
        count = np.asarray(self.n_samples)
        dof = count - 1.0 if self.dof is None else np.asarray(self.dof, dtype=float)
        ok = (count >= 2) & (dof > 0)
        quantile = student_t.ppf(0.5 + level / 2, np.where(ok, dof, 1.0))
        half = np.where(self.stderr == 0, 0.0, quantile * self.stderr)
        half = np.where(ok, half, np.nan)
        return values - half, values + half


def wilson_interval(share, count, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson's score interval of a proportion: ``share`` of ``count`` 0/1 samples were 1.

    Parameters
    ----------
    share : ndarray of float
        Observed proportions in [0, 1].
    count : ndarray of int, same shape
        Samples behind each; NaN bounds where 0.
    level : float

    Returns
    -------
    low, high : ndarray, same shape

    References
    ----------
    Wilson (1927), "Probable inference, the law of succession, and statistical inference", JASA.

    Examples
    --------
    >>> low, high = wilson_interval(np.array([1.0, 0.5]), np.array([12, 4]))
    >>> low.round(4).tolist(), high.round(4).tolist()
    ([0.7575, 0.15], [1.0, 0.85])
    """
    from scipy.stats import norm

    share, count = np.asarray(share, dtype=float), np.asarray(count, dtype=float)
    z = norm.ppf(0.5 + float(level) / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = 1 + z**2 / count
        centre = (share + z**2 / (2 * count)) / scale
        half = z / scale * np.sqrt(share * (1 - share) / count + z**2 / (4 * count**2))
    ok = count > 0
    return np.where(ok, centre - half, np.nan), np.where(ok, np.minimum(centre + half, 1.0), np.nan)


class RunningMoments:
    """Count, mean and sum of squared deviations of samples per (unit, value column).

    Each ``add_*`` call computes the batch's moments in a few vectorised passes
    and merges them into the running ones with Chan, Golub & LeVeque's
    pairwise update, so no Python loop runs over samples. NaN samples are
    skipped entry by entry.

    Parameters
    ----------
    n : int
        Units.
    columns : int
        Value columns C.

    References
    ----------
    Welford (1962), "Note on a method for calculating corrected sums of squares and products";
    Chan, Golub & LeVeque (1979), "Updating formulae and a pairwise algorithm for computing
    sample variances".

    Examples
    --------
    >>> m = RunningMoments(2)
    >>> m.add_indexed(np.array([0, 0, 1, 0]), np.array([[1.0], [3.0], [np.nan], [5.0]]))
    >>> e = m.estimate()
    >>> float(e.values[0, 0]), round(float(e.stderr[0, 0]), 4), e.n_samples[:, 0].tolist()
    (3.0, 1.1547, [3, 0])
    """

    def __init__(self, n: int, columns: int = 1):
        self.count = np.zeros((n, columns), dtype=np.int64)
        self.mean = np.zeros((n, columns))  # 0, not NaN, where empty: the merge stays finite
        self.m2 = np.zeros((n, columns))

    def copy(self) -> "RunningMoments":
        """An independent copy (to add provisional samples to).

        Examples
        --------
        >>> RunningMoments(3).copy().count.shape
        (3, 1)
        """
        return copy.deepcopy(self)

    def _merge(self, count: np.ndarray, total: np.ndarray, squares: np.ndarray) -> None:
        # Batch moments are about the batch mean; Chan et al.'s update joins them to the running ones.
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_b = np.where(count > 0, total / np.maximum(count, 1), 0.0)
            joined = self.count + count
            delta = mean_b - self.mean
            share = np.where(joined > 0, count / np.maximum(joined, 1), 0.0)
            self.mean = self.mean + delta * share
            self.m2 = self.m2 + np.maximum(squares, 0.0) + delta ** 2 * self.count * share
        self.count = joined

    def add_dense(self, samples: np.ndarray) -> None:
        """Add k samples of every unit: ``samples`` float (k, n, C).

        Examples
        --------
        >>> m = RunningMoments(2)
        >>> m.add_dense(np.array([[[1.0], [0.0]], [[3.0], [0.0]]]))
        >>> m.estimate().values[:, 0].tolist()
        [2.0, 0.0]
        """
        x = np.asarray(samples, dtype=float)
        present = ~np.isnan(x)
        count = present.sum(axis=0)
        filled = np.where(present, x, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = filled.sum(axis=0) / np.maximum(count, 1)
        squares = np.where(present, (x - mean) ** 2, 0.0).sum(axis=0)
        self._merge(count, filled.sum(axis=0), squares)

    def add_indexed(self, units: np.ndarray, samples: np.ndarray) -> None:
        """Add one sample of unit ``units[j]`` per row: ``units`` int (k,), ``samples`` float (k, C).

        Examples
        --------
        >>> m = RunningMoments(2)
        >>> m.add_indexed(np.array([1, 1]), np.array([[2.0], [4.0]]))
        >>> m.estimate().values[:, 0].tolist()
        [nan, 3.0]
        """
        units = np.asarray(units, dtype=np.intp)
        x = np.asarray(samples, dtype=float).reshape(len(units), -1)
        present = ~np.isnan(x)
        filled = np.where(present, x, 0.0)
        count = np.zeros(self.count.shape, dtype=np.int64)
        total = np.zeros(self.mean.shape)
        np.add.at(count, units, present)
        np.add.at(total, units, filled)
        mean = total / np.maximum(count, 1)
        squares = np.zeros(self.mean.shape)
        np.add.at(squares, units, np.where(present, (x - mean[units]) ** 2, 0.0))
        self._merge(count, total, squares)

    def add_sets(self, members: np.ndarray, samples: np.ndarray) -> None:
        """Add row j's sample to every unit in training set j: ``members`` bool (k, n), ``samples`` (k, C).

        A matrix product (``members.T @ samples``), as MSR needs: one training
        set informs every unit.

        Examples
        --------
        >>> m = RunningMoments(2)
        >>> m.add_sets(np.array([[True, False], [True, True]]), np.array([[1.0], [3.0]]))
        >>> m.estimate().values[:, 0].tolist(), m.count[:, 0].tolist()
        ([2.0, 3.0], [2, 1])
        """
        x = np.asarray(samples, dtype=float)
        present = ~np.isnan(x)
        k = present.sum(axis=0)
        # Centre on the batch mean first: sum of squares minus squared sum then loses little precision.
        centre = np.where(k > 0, np.where(present, x, 0.0).sum(axis=0) / np.maximum(k, 1), 0.0)
        y = np.where(present, x - centre, 0.0)
        # Counts, sums and sums of squares of every unit in one product. einsum, not BLAS:
        # its summation order does not depend on the thread count, so estimates replay bit for bit,
        # and small products do not pay for threads.
        sums = np.concatenate([present, y, y * y], axis=1)
        stacked = np.einsum("kn,kc->nc", np.asarray(members, dtype=float), sums)
        count, total, square_sum = np.split(stacked, 3, axis=1)
        count = np.rint(count).astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            squares = square_sum - np.where(count > 0, total ** 2 / np.maximum(count, 1), 0.0)
        self._merge(count, total + count * centre, squares)

    def variance_of_mean(self) -> np.ndarray:
        """``s^2 / count`` per entry (NaN with fewer than 2 samples).

        Examples
        --------
        >>> m = RunningMoments(1)
        >>> m.add_indexed(np.array([0, 0]), np.array([[1.0], [3.0]]))
        >>> m.variance_of_mean().tolist()
        [[1.0]]
        """
        c = self.count
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(c >= 2, self.m2 / np.maximum(c - 1, 1) / np.maximum(c, 1), np.nan)

    def estimate(self, scale: float = 1.0) -> Estimate:
        """The sample means as values (times ``scale``), with their standard errors.

        Examples
        --------
        >>> RunningMoments(1).estimate().n_samples.tolist()
        [[0]]
        """
        values = np.where(self.count > 0, self.mean * scale, np.nan)
        return Estimate(values, np.sqrt(self.variance_of_mean()) * abs(scale), self.count.copy())


def msr_estimate(inside: RunningMoments, outside: RunningMoments) -> Estimate:
    """Maximum Sample Reuse Banzhaf: mean utility of sets with unit i minus of sets without it.

    ``stderr = sqrt(var_in / m_in + var_out / m_out)``, with Welch-Satterthwaite
    degrees of freedom; ``n_samples = m_in + m_out``.

    Parameters
    ----------
    inside, outside : RunningMoments
        Utilities of the sampled training sets containing, and not containing, each unit.

    Returns
    -------
    Estimate

    References
    ----------
    Wang & Jia (2023), "Data Banzhaf: a robust data valuation framework for machine learning",
    AISTATS; Welch (1947).

    Examples
    --------
    >>> sets = np.array([[True, False], [False, True], [True, True], [False, False]])
    >>> u = np.array([[1.0], [2.0], [4.0], [0.0]])
    >>> inside, outside = RunningMoments(2), RunningMoments(2)
    >>> inside.add_sets(sets, u); outside.add_sets(~sets, u)
    >>> msr_estimate(inside, outside).values[:, 0].tolist()
    [1.5, 2.5]
    """
    va, vb = inside.variance_of_mean(), outside.variance_of_mean()
    both = (inside.count > 0) & (outside.count > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = va + vb
        dof = var ** 2 / (va ** 2 / np.maximum(inside.count - 1, 1) + vb ** 2 / np.maximum(outside.count - 1, 1))
    dof = np.where(var > 0, dof, np.minimum(inside.count, outside.count) - 1.0)
    values = np.where(both, inside.mean - outside.mean, np.nan)
    count = np.where(both, inside.count + outside.count, 0)
    return Estimate(values, np.sqrt(var), count, dof=np.where(count >= 2, dof, np.nan))


def size_distribution(n: int, semivalue: str = "shapley", alpha: float = 16.0, beta: float = 1.0) -> np.ndarray:
    """A semivalue's weight on each coalition size k = |S| of S in N \\ {i}: ``p[k] = w[k] C(n-1, k)``.

    For Shapley, Banzhaf and Beta Shapley these sum to 1, so a semivalue is
    the mean marginal contribution over a size drawn from ``p`` and a coalition
    drawn uniformly among those of that size. Computed in log space, so it holds
    for thousands of units where :func:`~cfgraph.values.semivalue_weights` underflows.

    Parameters
    ----------
    n : int
        Units.
    semivalue : {"shapley", "banzhaf", "beta"}
        Shapley: uniform on 0..n-1; Banzhaf: Binomial(n-1, 1/2); Beta(alpha, beta):
        Beta-binomial(n-1, beta, alpha).
    alpha, beta : float
        Beta Shapley's parameters, both > 0.

    Returns
    -------
    ndarray, shape (n,)

    Raises
    ------
    CfgraphError
        On an unknown semivalue or non-positive alpha / beta.

    References
    ----------
    Kwon & Zou (2022), "Beta Shapley: a unified and noise-reduced data valuation framework
    for machine learning", AISTATS.

    Examples
    --------
    >>> size_distribution(3).round(4).tolist(), size_distribution(3, "banzhaf").round(4).tolist()
    ([0.3333, 0.3333, 0.3333], [0.25, 0.5, 0.25])
    """
    from scipy import stats

    k = np.arange(n)
    if semivalue == "shapley":
        return np.full(n, 1.0 / n)
    if semivalue == "banzhaf":
        return stats.binom.pmf(k, n - 1, 0.5)
    if semivalue == "beta":
        if not (np.isfinite(alpha) and np.isfinite(beta) and alpha > 0 and beta > 0):
            raise CfgraphError(f"Beta Shapley needs alpha > 0 and beta > 0, not ({alpha}, {beta})")
        return stats.betabinom.pmf(k, n - 1, beta, alpha)
    raise CfgraphError(f"unknown semivalue {str(semivalue)[:40]!r} (use shapley, banzhaf or beta)")


def stratified_sizes(pmf: np.ndarray, stratum: np.ndarray, strata: int, u: np.ndarray) -> np.ndarray:
    """Coalition sizes by stratified inverse-CDF sampling: size of ``(stratum + u) / strata``.

    Parameters
    ----------
    pmf : ndarray, shape (n,)
        Size distribution (:func:`size_distribution`).
    stratum : ndarray of int, shape (k,)
        Each draw's stratum j in 0..strata-1.
    strata : int
        Number of strata m.
    u : ndarray, shape (k,)
        Uniform numbers in [0, 1).

    Returns
    -------
    ndarray of int, shape (k,)
        The smallest size whose CDF reaches the draw's quantile.

    References
    ----------
    Kwon & Zou (2022), "Beta Shapley", AISTATS; Cochran (1977), "Sampling techniques".

    Examples
    --------
    >>> stratified_sizes(np.full(4, 0.25), np.arange(4), 4, np.full(4, 0.5)).tolist()
    [0, 1, 2, 3]
    """
    cdf = np.cumsum(pmf)
    cdf[-1] = np.inf  # rounding must not push a quantile below 1 past the last size
    q = (np.asarray(stratum) + np.asarray(u)) / strata
    return np.searchsorted(cdf, q, side="left").astype(np.int64)


def importance_weights(pmf: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Weight of a coalition drawn uniformly from the subsets of N \\ {i}, for the semivalue ``pmf``.

    A uniform subset has size Binomial(n-1, 1/2); the weight is ``pmf[k] /
    binom(k; n-1, 1/2)``, so that the weighted mean marginal contribution is
    unbiased for the semivalue (1 for Banzhaf).

    Parameters
    ----------
    pmf : ndarray, shape (n,)
    sizes : ndarray of int, shape (k,)

    Returns
    -------
    ndarray, shape (k,)

    References
    ----------
    Wang & Jia (2023), "Data Banzhaf", AISTATS (the uniform sampler); Kahn & Marshall (1953),
    "Methods of reducing sample size in Monte Carlo computations" (importance sampling).

    Examples
    --------
    >>> importance_weights(size_distribution(3), np.array([0, 1])).tolist()
    [1.3333333333333333, 0.6666666666666666]
    """
    from scipy import stats

    n = len(pmf)
    with np.errstate(divide="ignore"):
        log_ratio = np.log(pmf) - stats.binom.logpmf(np.arange(n), n - 1, 0.5)
    return np.exp(log_ratio)[np.asarray(sizes)]


def antithetic_contributions(perms: np.ndarray, forward: np.ndarray, reverse: np.ndarray) -> np.ndarray:
    """Per-unit mean of the marginal contributions in a permutation and in its reverse.

    Parameters
    ----------
    perms : ndarray of int, shape (b, n)
        ``perms[r, k]`` is the unit at position k of permutation r.
    forward, reverse : ndarray, shape (b, n+1, C)
        Utilities of the prefixes of length 0..n of each permutation and of its reverse.

    Returns
    -------
    ndarray, shape (b, n, C)
        Entry [r, i] is ``(Δ_i(π_r) + Δ_i(reverse π_r)) / 2``; over the units it sums to
        ``u(N) - u(∅)`` for each pair.

    References
    ----------
    Mitchell, Cooper, Frank & Holmes (2022), "Sampling permutations for Shapley value
    estimation", JMLR.

    Examples
    --------
    >>> u = {(): 0.0, (0,): 1.0, (1,): 2.0, (0, 1): 4.0}
    >>> fwd = np.array([[[0.0], [1.0], [4.0]]])  # order 0, 1
    >>> rev = np.array([[[0.0], [2.0], [4.0]]])  # order 1, 0
    >>> antithetic_contributions(np.array([[0, 1]]), fwd, rev)[0, :, 0].tolist()
    [1.5, 2.5]
    """
    perms = np.asarray(perms)
    n = perms.shape[1]
    position = np.argsort(perms, axis=1)
    along_f = np.diff(np.asarray(forward, dtype=float), axis=1)
    along_r = np.diff(np.asarray(reverse, dtype=float), axis=1)
    mine_f = np.take_along_axis(along_f, position[:, :, None], axis=1)
    mine_r = np.take_along_axis(along_r, (n - 1 - position)[:, :, None], axis=1)
    return (mine_f + mine_r) / 2


def table_utility(table: np.ndarray):
    """A utility over an exhaustive table: members bool (b, n) -> float (b, C).

    Parameters
    ----------
    table : ndarray, shape (2**n,) or (2**n, C)
        Utility of every training set by bitmask (bit i = unit i); n <= 62.

    Returns
    -------
    callable
        ``utility(members)`` reads row ``members @ (1 << arange(n))``.

    Raises
    ------
    CfgraphError
        If the table's length is not a power of two.

    Examples
    --------
    >>> u = table_utility(np.array([0.0, 1.0, 2.0, 4.0]))
    >>> u(np.array([[True, True], [False, True]])).tolist()
    [[4.0], [2.0]]
    """
    table = np.asarray(table, dtype=float)
    table = table.reshape(len(table), -1)
    n = len(table).bit_length() - 1
    if len(table) != 1 << n or n > 62:
        raise CfgraphError(f"an exhaustive table has 2**n rows (n <= 62), not {len(table)}")
    bits = np.left_shift(np.int64(1), np.arange(n, dtype=np.int64))

    def utility(members: np.ndarray) -> np.ndarray:
        members = np.asarray(members, dtype=bool).reshape(-1, n)
        return table[members.astype(np.int64) @ bits]

    return utility
