"""The sampler protocol (propose, update, estimate) and what every sampler shares."""

from __future__ import annotations

import numpy as np

from cfgraph.bitsets import MAX_SAMPLED_UNITS, digest
from cfgraph.errors import CfgraphError
from cfgraph.values.sampled import Estimate

__all__ = ["Sampler"]


class _Blocks:
    """Samples queued in order and handed on in blocks of exactly ``size``: grouping never changes sums."""

    def __init__(self, size: int, flush):
        self.size, self.flush, self.parts, self.held = size, flush, [], 0

    def append(self, *arrays) -> None:
        self.parts.append(arrays)
        self.held += len(arrays[0])
        if self.held < self.size:
            return
        joined = self.pending()
        full = self.held // self.size * self.size
        for start in range(0, full, self.size):
            self.flush(*(a[start:start + self.size] for a in joined))
        self.parts = [tuple(a[full:] for a in joined)] if self.held > full else []
        self.held -= full

    def pending(self):
        return [np.concatenate(parts) for parts in zip(*self.parts)] if self.parts else None


class Sampler:
    """The protocol every sampler follows: ``propose``, ``update``, ``estimate``.

    Parameters
    ----------
    n : int
        Units, 1 .. :data:`~cfgraph.bitsets.MAX_SAMPLED_UNITS`.
    seed : int
        Seed of ``np.random.default_rng``.
    columns : int
        Value columns C of the utilities (column 0 is the target).

    Attributes
    ----------
    method : str
        The value estimated: "shapley", "banzhaf", "beta(a,b)" or "loo".
    params : dict
        The sampler's parameters, JSON-able.
    evaluations : int
        Distinct training sets proposed so far.

    Examples
    --------
    >>> from cfgraph.samplers import make_sampler
    >>> s = make_sampler("loo", 2)
    >>> s.propose().tolist()
    [[True, True], [False, True], [True, False]]
    """

    method = ""
    block = 256

    def __init__(self, n: int, *, seed: int = 0, columns: int = 1):
        if not 1 <= int(n) <= MAX_SAMPLED_UNITS:
            raise CfgraphError(f"a sampler needs 1 to {MAX_SAMPLED_UNITS} units, not {n}")
        if int(columns) < 1:
            raise CfgraphError(f"a sampler needs at least one value column, not {columns}")
        self.n, self.columns, self.seed = int(n), int(columns), int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.params: dict = {}
        self._seen: set[int] = set()
        self._proposed: np.ndarray | None = None

    @property
    def evaluations(self) -> int:
        """Distinct training sets proposed so far (a repeat costs nothing: its cell is known).

        Examples
        --------
        >>> from cfgraph.samplers import make_sampler
        >>> s = make_sampler("permutation", 3, batch=1)
        >>> len(s.propose()), s.evaluations  # 2 orders x 4 prefixes; ∅ and N are shared
        (8, 6)
        """
        return len(self._seen)

    @property
    def saturated(self) -> bool:
        """Every one of the 2^n training sets has been proposed: nothing new is left to ask.

        The budget counts distinct training sets, so it could never be reached;
        ``propose`` then returns None (once the samples in flight are complete),
        and exact values can be read from the lattice instead.

        Examples
        --------
        >>> from cfgraph.samplers import make_sampler
        >>> s = make_sampler("msr", 2, batch=64)
        >>> s.update(np.zeros((64, 1)) + s.propose().sum(axis=1, keepdims=True))
        >>> s.saturated, s.propose()
        (True, None)
        """
        return self.n <= 62 and len(self._seen) == 1 << self.n

    def _at_sample_boundary(self) -> bool:
        return True

    def propose(self) -> np.ndarray | None:
        """The next training sets to evaluate: bool (b, n), or None when there is nothing left.

        Nothing is left once the sampler is exhausted (exact leave-one-out is done) or
        :attr:`saturated` (it has proposed every training set of the lattice).

        Raises
        ------
        CfgraphError
            If the previous proposal has not been updated.

        Examples
        --------
        >>> from cfgraph.samplers import make_sampler
        >>> make_sampler("msr", 5, batch=3).propose().shape
        (3, 5)
        """
        if self._proposed is not None:
            raise CfgraphError("update the sampler with the last proposal's utilities before proposing again")
        if self.saturated and self._at_sample_boundary():
            return None
        members = self._next()
        if members is not None:
            self._seen.update(digest(members).tolist())
            self._proposed = members
        return members

    def update(self, utilities) -> None:
        """Take the utilities of the last proposal: float (b, C), same row order; NaN = failed.

        Raises
        ------
        CfgraphError
            If nothing was proposed or the shape does not match.

        Examples
        --------
        >>> from cfgraph.samplers import make_sampler
        >>> s = make_sampler("loo", 2)
        >>> _ = s.propose()
        >>> s.update([[3.0], [np.nan], [1.0]])  # the second training set failed
        >>> s.estimate().values[:, 0].tolist(), s.estimate().n_samples[:, 0].tolist()
        ([nan, 2.0], [0, 1])
        """
        if self._proposed is None:
            raise CfgraphError("nothing was proposed to update")
        u = np.asarray(utilities, dtype=float)
        if u.ndim == 1 and self.columns == 1:
            u = u[:, None]
        if u.shape != (len(self._proposed), self.columns):
            raise CfgraphError(f"utilities of this proposal are ({len(self._proposed)}, {self.columns}), "
                               f"not {u.shape}")
        members, self._proposed = self._proposed, None
        self._take(members, u)

    def estimate(self) -> Estimate:
        """The current estimate: values, stderr, n_samples, shape (n, C); calling it changes nothing.

        Examples
        --------
        >>> from cfgraph.samplers import make_sampler
        >>> make_sampler("uniform", 3).estimate().values.shape
        (3, 1)
        """
        raise NotImplementedError

    def _next(self) -> np.ndarray | None:
        raise NotImplementedError

    def _take(self, members: np.ndarray, u: np.ndarray) -> None:
        raise NotImplementedError


def _positive_int(value, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise CfgraphError(f"{what} must be a positive integer, not {value!r}") from None
    if number < 1 or number != float(value):
        raise CfgraphError(f"{what} must be a positive integer, not {value!r}")
    return number


def _semivalue_method(semivalue: str, alpha: float, beta: float) -> tuple[str, dict]:
    if semivalue == "beta":
        return f"beta({alpha:g},{beta:g})", {"semivalue": "beta", "alpha": alpha, "beta": beta}
    return semivalue, {"semivalue": semivalue}
