"""Samplers of coalitions: MSR Banzhaf, size-stratified and uniform pairs (S, S + i), exact leave-one-out."""

from __future__ import annotations

import numpy as np

from cfgraph.errors import CfgraphError
from cfgraph.samplers.base import Sampler, _Blocks, _positive_int, _semivalue_method
from cfgraph.values.sampled import (Estimate, RunningMoments, importance_weights, msr_estimate, size_distribution,
                                    stratified_sizes)

__all__ = ["MSRSampler", "StratifiedSampler", "UniformSampler", "LOOSampler"]


class MSRSampler(Sampler):
    """Maximum Sample Reuse Banzhaf: uniform training sets, each informing every unit.

    Each proposal is ``batch`` training sets with each unit in with probability
    1/2; unit i's value is the mean utility of those containing i minus the mean
    of those without it.

    References
    ----------
    Wang & Jia (2023), "Data Banzhaf: a robust data valuation framework for machine learning", AISTATS.

    Examples
    --------
    >>> from cfgraph.samplers import make_sampler
    >>> s = make_sampler("msr", 4, batch=5)
    >>> s.propose().shape, s.method
    ((5, 4), 'banzhaf')
    """

    method = "banzhaf"

    def __init__(self, n, *, seed=0, columns=1, batch=64):
        super().__init__(n, seed=seed, columns=columns)
        self.batch = _positive_int(batch, "batch")
        self.params = {"batch": self.batch}
        self.inside, self.outside = RunningMoments(self.n, self.columns), RunningMoments(self.n, self.columns)
        self._blocks = _Blocks(64, self._add)  # small blocks: estimate() re-adds at most 63 pending sets

    def _add(self, members, u, inside=None, outside=None):
        (inside or self.inside).add_sets(members, u)
        (outside or self.outside).add_sets(~members, u)

    def _next(self):
        return self.rng.random((self.batch, self.n)) < 0.5

    def _take(self, members, u):
        self._blocks.append(members, u)

    def estimate(self) -> Estimate:
        pending = self._blocks.pending()
        if pending is None:
            return msr_estimate(self.inside, self.outside)
        inside, outside = self.inside.copy(), self.outside.copy()
        self._add(*pending, inside=inside, outside=outside)
        return msr_estimate(inside, outside)


class _PairSampler(Sampler):
    """Samplers of pairs (S, S + i): one weighted marginal contribution of one unit per sample."""

    def __init__(self, n, *, seed=0, columns=1, semivalue="shapley", alpha=16.0, beta=1.0):
        super().__init__(n, seed=seed, columns=columns)
        try:
            alpha, beta = float(alpha), float(beta)
        except (TypeError, ValueError):
            raise CfgraphError(f"alpha and beta must be numbers, not {alpha!r} and {beta!r}") from None
        self.pmf = size_distribution(self.n, semivalue, alpha, beta)
        self.method, self.params = _semivalue_method(semivalue, alpha, beta)
        self.moments = RunningMoments(self.n, self.columns)
        self._k = 0  # samples drawn so far

    def _pairs(self, coalitions, units):
        with_unit = coalitions.copy()
        with_unit[np.arange(len(units)), units] = True
        return np.stack([coalitions, with_unit], axis=1).reshape(-1, self.n)

    def _take(self, members, u):
        u = u.reshape(-1, 2, self.columns)
        delta = (u[:, 1] - u[:, 0]) * self._weights[:, None]
        self._blocks.append(self._units, delta)

    def estimate(self) -> Estimate:
        pending = self._blocks.pending()
        if pending is None or not self.include_pending:
            return self.moments.estimate()
        moments = self.moments.copy()
        moments.add_indexed(*pending)
        return moments.estimate()


class StratifiedSampler(_PairSampler):
    """A semivalue by coalition size stratified over its size distribution (Shapley, Beta, Banzhaf).

    Units take turns. Unit i's turn is ``strata`` pairs (S, S + i): stratum j
    draws the size at quantile ``(j + U) / strata`` of the semivalue's size
    distribution, and S uniformly among the coalitions of that size in
    N \\ {i}. The value is the mean marginal contribution (the distribution's
    total weight is 1). Its standard error uses the i.i.d. formula, which
    over-states the error of a stratified mean (conservative). Only whole
    turns enter the estimate.

    References
    ----------
    Kwon & Zou (2022), "Beta Shapley: a unified and noise-reduced data valuation framework
    for machine learning", AISTATS; Maleki et al. (2013), "Bounding the estimation error of
    sampling-based Shapley value approximation".

    Examples
    --------
    >>> from cfgraph.samplers import make_sampler
    >>> s = make_sampler("stratified", 4, semivalue="beta", alpha=4, beta=1)
    >>> s.method, s.params["strata"]
    ('beta(4,1)', 4)
    """

    include_pending = False

    def __init__(self, n, *, seed=0, columns=1, semivalue="shapley", alpha=16.0, beta=1.0, strata=None,
                 batch=None):
        super().__init__(n, seed=seed, columns=columns, semivalue=semivalue, alpha=alpha, beta=beta)
        self.strata = _positive_int(strata, "strata") if strata is not None else min(self.n, 32)
        self.batch = (_positive_int(batch, "batch") if batch is not None
                      else self.strata * max(1, 128 // self.strata))
        self.params.update(strata=self.strata, batch=self.batch)
        self._blocks = _Blocks(self.strata, self.moments.add_indexed)  # one block = one unit's turn

    def _next(self):
        k = np.arange(self._k, self._k + self.batch)
        self._k += self.batch
        units = (k // self.strata) % self.n
        draws = self.rng.random((self.batch, self.n + 1))
        sizes = stratified_sizes(self.pmf, k % self.strata, self.strata, draws[:, 0])
        keys = draws[:, 1:]
        keys[np.arange(self.batch), units] = 2.0  # never among the first |S|: i is not in S
        coalitions = np.empty((self.batch, self.n), bool)
        np.put_along_axis(coalitions, np.argsort(keys, axis=1), np.arange(self.n) < sizes[:, None], axis=1)
        self._units, self._weights = units, np.ones(self.batch)
        return self._pairs(coalitions, units)


class UniformSampler(_PairSampler):
    """A semivalue from uniform coalitions: pairs (S, S + i), S uniform among subsets of N \\ {i}.

    Sample k belongs to unit ``k mod n``. Its marginal contribution is weighted
    by :func:`~cfgraph.values.sampled.importance_weights` (1 for Banzhaf, the default).

    References
    ----------
    Wang & Jia (2023), "Data Banzhaf: a robust data valuation framework for machine learning",
    AISTATS; Kwon & Zou (2022), "Beta Shapley", AISTATS.

    Examples
    --------
    >>> from cfgraph.samplers import make_sampler
    >>> s = make_sampler("uniform", 3, batch=3)
    >>> s.propose().shape, s.method
    ((6, 3), 'banzhaf')
    """

    include_pending = True

    def __init__(self, n, *, seed=0, columns=1, semivalue="banzhaf", alpha=16.0, beta=1.0, batch=None):
        super().__init__(n, seed=seed, columns=columns, semivalue=semivalue, alpha=alpha, beta=beta)
        self.batch = _positive_int(batch, "batch") if batch is not None else max(64, min(self.n, 1024))
        self.params.update(batch=self.batch)
        self._blocks = _Blocks(self.block, self.moments.add_indexed)

    def _next(self):
        k = np.arange(self._k, self._k + self.batch)
        self._k += self.batch
        units = k % self.n
        coalitions = self.rng.random((self.batch, self.n)) < 0.5
        coalitions[np.arange(self.batch), units] = False
        sizes = coalitions.sum(axis=1)
        self._units = units
        self._weights = (np.ones(self.batch) if self.method == "banzhaf"
                         else importance_weights(self.pmf, sizes))
        return self._pairs(coalitions, units)


class LOOSampler(Sampler):
    """Exact leave-one-out: ``u(N) - u(N \\ {i})`` from n + 1 training sets, then nothing left.

    References
    ----------
    Cook (1977), "Detection of influential observation in linear regression", Technometrics.

    Examples
    --------
    >>> from cfgraph.samplers import make_sampler
    >>> s = make_sampler("loo", 2)
    >>> s.propose().tolist()  # N, N - {0}, N - {1}
    [[True, True], [False, True], [True, False]]
    >>> s.update([[3.0], [2.0], [1.0]])
    >>> s.estimate().values[:, 0].tolist(), s.propose()
    ([1.0, 2.0], None)
    """

    method = "loo"

    def __init__(self, n, *, seed=0, columns=1):
        super().__init__(n, seed=seed, columns=columns)
        self._estimate = Estimate.empty(self.n, self.columns)
        self._asked = False

    def _next(self):
        if self._asked:
            return None
        self._asked = True
        return np.vstack([np.ones((1, self.n), bool), ~np.eye(self.n, dtype=bool)])

    def _take(self, members, u):
        values = u[0] - u[1:]
        ok = ~np.isnan(values)
        self._estimate = Estimate(values, np.where(ok, 0.0, np.nan), ok.astype(np.int64), exact=True)

    def estimate(self) -> Estimate:
        return self._estimate
