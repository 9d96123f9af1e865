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
    """Truncated Monte Carlo Shapley, in lockstep over a batch of permutations.

    The first proposal is ``[N, ∅]``. Then each proposal is the next prefix of
    every running permutation of the batch; once ``|u(N) - u(prefix)| < tol *
    |u(N)|`` on column 0 a permutation stops and its remaining units score 0 in
    every column. ``tol=0`` never truncates (unbiased). A permutation's
    contributions become samples once it and every earlier one of its batch
    are done, so sums never depend on the batch size.

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
        self._perms = self._permutations(self.batch)
        self._position = np.argsort(self._perms, axis=1)
        self._step = 1
        self._done = np.zeros(self.batch, bool)
        self._active = np.arange(self.batch)
        self._emitted = 0
        self._prev = np.tile(self._ends[1], (self.batch, 1))
        self._contrib = np.zeros((self.batch, self.n, self.columns))

    def _next(self):
        if self._ends is None:
            return np.stack([np.ones(self.n, bool), np.zeros(self.n, bool)])
        if self.n == 1:  # one order only, known from the ends (see _take): nothing to learn
            return None
        if self._perms is None:
            self._start()
        return self._position[self._active] < self._step

    def _at_sample_boundary(self) -> bool:
        return self._perms is None  # finish the batch in flight: its remaining prefixes are known

    def _record(self, rows, step, u):
        units = self._perms[rows, step - 1]
        self._contrib[rows, units] = u - self._prev[rows]
        self._prev[rows] = u

    def _close(self, rows):
        # The last unit's prefix is N itself, known from the first proposal.
        self._record(rows, self.n, np.broadcast_to(self._ends[0], (len(rows), self.columns)))
        self._done[rows] = True
        self._emit()
        self._perms = None

    def _emit(self):
        start = self._emitted
        while self._emitted < self.batch and self._done[self._emitted]:
            self._emitted += 1
        if self._emitted > start:
            self._blocks.append(self._contrib[start:self._emitted].copy())

    def _take(self, members, u):
        if self._ends is None:
            self._ends = u.copy()
            if self.n == 1:
                self._start()
                self._close(self._active)
            return
        rows = self._active
        self._record(rows, self._step, u)
        full0 = self._ends[0, 0]
        with np.errstate(invalid="ignore"):
            self._done[rows] = np.abs(full0 - u[:, 0]) < self.tol * abs(full0)
        self._step += 1
        self._active = np.flatnonzero(~self._done)
        if self._step >= self.n or not len(self._active):
            self._close(self._active)
        else:
            self._emit()
