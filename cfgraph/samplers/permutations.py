"""Samplers of permutations: antithetic pairs (Mitchell et al. 2022) and truncated Monte Carlo (Ghorbani & Zou 2019)."""

from __future__ import annotations

import numpy as np

from cfgraph.errors import CfgraphError
from cfgraph.samplers.base import Sampler, _Blocks, _positive_int
from cfgraph.values.sampled import Estimate, RunningMoments, antithetic_contributions

__all__ = ["PermutationSampler", "TMCSampler"]


class _DenseSampler(Sampler):
    """Samplers whose sample holds one number per unit (a permutation or a pair of them)."""

    method = "shapley"

    def __init__(self, n, *, seed=0, columns=1, batch=None):
        super().__init__(n, seed=seed, columns=columns)
        self.batch = _positive_int(batch, "batch") if batch is not None else self._default_batch()
        self.params = {"batch": self.batch}
        self.moments = RunningMoments(self.n, self.columns)
        self._blocks = _Blocks(max(1, 2 ** 16 // self.n), self.moments.add_dense)

    def _default_batch(self) -> int:
        return max(1, 1024 // (self.n + 1))

    def _permutations(self, b: int) -> np.ndarray:
        # argsort of n uniforms: a uniform permutation from exactly n draws, however they are batched.
        return np.argsort(self.rng.random((b, self.n)), axis=1)

    def estimate(self) -> Estimate:
        pending = self._blocks.pending()
        if pending is None:
            return self.moments.estimate()
        moments = self.moments.copy()
        moments.add_dense(pending[0])
        return moments.estimate()


class PermutationSampler(_DenseSampler):
    """Shapley by permutations in antithetic pairs: a permutation and its reverse.

    Each proposal holds ``batch`` pairs, all n + 1 prefixes of both orders
    (2 (n + 1) training sets per pair). A unit's sample is the mean of its
    two marginal contributions in the pair; each sample's sum over units is
    ``u(N) - u(∅)``, so efficiency holds (up to rounding) without failed cells.

    References
    ----------
    Mitchell, Cooper, Frank & Holmes (2022), "Sampling permutations for Shapley value
    estimation", JMLR; Castro, Gómez & Tejada (2009), "Polynomial calculation of the Shapley
    value based on sampling".

    Examples
    --------
    >>> from cfgraph.samplers import make_sampler
    >>> s = make_sampler("permutation", 3, batch=1)
    >>> s.propose().shape
    (8, 3)
    """

    def _next(self):
        self._perms = self._permutations(self.batch)
        position = np.argsort(self._perms, axis=1)[:, None, :]
        length = np.arange(self.n + 1)[None, :, None]
        forward, reverse = position < length, position >= self.n - length
        return np.stack([forward, reverse], axis=1).reshape(-1, self.n)

    def _take(self, members, u):
        u = u.reshape(self.batch, 2, self.n + 1, self.columns)
        self._blocks.append(antithetic_contributions(self._perms, u[:, 0], u[:, 1]))


class TMCSampler(_DenseSampler):
    """Truncated Monte Carlo Shapley: ``batch`` permutations advance side by side, one prefix each.

    The first proposal is ``[N, ∅]``. Then each proposal is the next prefix of
    every running permutation; once ``|u(N) - u(prefix)| < tol * |u(N)|`` on
    column 0 a permutation stops and its remaining units score 0 in every
    column, and a new permutation takes its place at once, so every proposal
    holds ``batch`` training sets. ``tol=0`` never truncates (unbiased).
    Permutation k is the k-th draw of the sampler's generator, and its
    contributions become samples once permutations 0 .. k are all done, so the
    estimate after K permutations does not depend on ``batch``.

    References
    ----------
    Ghorbani & Zou (2019), "Data Shapley: equitable valuation of data for machine learning", ICML.

    Examples
    --------
    >>> from cfgraph.samplers import make_sampler
    >>> s = make_sampler("tmc", 3, batch=2)
    >>> s.propose().sum(axis=1).tolist()  # u(N) and u(∅) first
    [3, 0]
    """

    def __init__(self, n, *, seed=0, columns=1, batch=None, tol=0.01):
        super().__init__(n, seed=seed, columns=columns, batch=batch)
        try:
            self.tol = float(tol)
        except (TypeError, ValueError):
            raise CfgraphError(f"the truncation tolerance must be a number >= 0, not {tol!r}") from None
        if not (np.isfinite(self.tol) and self.tol >= 0):
            raise CfgraphError(f"the truncation tolerance must be a number >= 0, not {tol!r}")
        self.params = {"batch": self.batch, "tol": self.tol}
        self._ends = None  # u(N), u(∅) once known
        self._perms = None

    def _default_batch(self) -> int:
        return 16

    def _start(self):
        b = self.batch
        self._perms = np.zeros((b, self.n), dtype=np.int64)
        self._position = np.zeros((b, self.n), dtype=np.int64)
        self._step = np.ones(b, dtype=np.int64)
        self._prev = np.tile(self._ends[1], (b, 1))
        self._contrib = np.zeros((b, self.n, self.columns))
        self._number = np.zeros(b, dtype=np.int64)  # which permutation (k) each slot runs
        self._live = np.ones(b, dtype=bool)
        self._drawn = 0
        self._finished = {}  # k -> contributions (n, C), until every earlier permutation is done
        self._emitted = 0
        self._refill(np.arange(b))

    def _refill(self, slots):
        perms = self._permutations(len(slots))  # drawn in slot order: permutation k is the k-th draw
        self._perms[slots] = perms
        self._position[slots] = np.argsort(perms, axis=1)
        self._step[slots] = 1
        self._prev[slots] = self._ends[1]
        self._contrib[slots] = 0.0
        self._number[slots] = self._drawn + np.arange(len(slots))
        self._drawn += len(slots)

    def _next(self):
        if self._ends is None:
            return np.stack([np.ones(self.n, bool), np.zeros(self.n, bool)])
        if self.n == 1:  # one order only, known from the ends (see _take): nothing to learn
            return None
        if self._perms is None:
            self._start()
        self._rows = np.flatnonzero(self._live)
        return self._position[self._rows] < self._step[self._rows, None]

    def _at_sample_boundary(self) -> bool:
        # Once every training set is known, the running permutations finish (free) and none start.
        return self._perms is None or not self._live.any()

    def _finish(self, slots):
        for slot in slots.tolist():
            self._finished[int(self._number[slot])] = self._contrib[slot].copy()
        ready = []
        while self._emitted in self._finished:
            ready.append(self._finished.pop(self._emitted))
            self._emitted += 1
        if ready:
            self._blocks.append(np.stack(ready))

    def _take(self, members, u):
        if self._ends is None:
            self._ends = u.copy()
            if self.n == 1:
                self._start()
                self._contrib[0, 0] = self._ends[0] - self._ends[1]
                self._finish(np.array([0]))
            return
        rows = self._rows
        units = self._perms[rows, self._step[rows] - 1]
        self._contrib[rows, units] = u - self._prev[rows]
        self._prev[rows] = u
        full0 = self._ends[0, 0]
        with np.errstate(invalid="ignore"):
            truncated = np.abs(full0 - u[:, 0]) < self.tol * abs(full0)
        self._step[rows] += 1
        last = (self._step[rows] >= self.n) & ~truncated
        # The last unit's prefix is N itself, known from the first proposal.
        ending = rows[last]
        self._contrib[ending, self._perms[ending, self.n - 1]] = self._ends[0] - self._prev[ending]
        done = rows[truncated | last]
        if len(done):
            self._finish(done)
            if self.saturated:
                self._live[done] = False
            else:
                self._refill(done)
