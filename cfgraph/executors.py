"""Where fits run: a joblib backend named by the caller, so the engine is indifferent to the place.

The engine hands an :class:`Executor` independent, deterministic tasks and
consumes their results in whatever order they finish. Any backend joblib
knows by name (``loky``, ``threading``, ``multiprocessing``, or ``dask`` and
``ray`` once registered) runs them, as scikit-learn's own parallel helpers
leave the choice to the caller's ``joblib.parallel_config``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from joblib import Parallel, delayed, effective_n_jobs, parallel_config

from cfgraph.errors import CfgraphError

__all__ = ["Executor"]


@dataclass(frozen=True)
class Executor:
    """A joblib backend and a number of workers.

    Parameters
    ----------
    backend : str
        A joblib backend name (``"loky"`` processes by default).
    jobs : int
        Workers; -1 means one per core. 0 is refused.

    Raises
    ------
    CfgraphError
        If ``jobs`` is 0.

    Examples
    --------
    >>> sorted(Executor(jobs=1).map_unordered(abs, [-2, 1, -3]))
    [1, 2, 3]
    >>> Executor("threading", 3).workers
    3
    """

    backend: str = "loky"
    jobs: int = 1

    def __post_init__(self):
        if self.jobs == 0:
            raise CfgraphError("the number of parallel workers must be positive, or -1 for all cores")

    @property
    def workers(self) -> int:
        """How many workers ``jobs`` means on this backend (-1: every core)."""
        try:
            with parallel_config(backend=self.backend):
                return max(1, effective_n_jobs(self.jobs))
        except Exception:  # a backend that cannot tell before it runs (a remote cluster)
            return max(1, abs(self.jobs))

    def map_unordered(self, function: Callable, items: Iterable) -> Iterator:
        """``function(item)`` for every item, yielded as each finishes (in any order).

        Backends that cannot stream results (joblib raises for them) return
        them all at the end instead.
        """
        with parallel_config(backend=self.backend, n_jobs=self.jobs):
            try:
                parallel = Parallel(return_as="generator_unordered")
            except ValueError:  # a backend without result generators
                parallel = Parallel()
        return iter(parallel(delayed(function)(item) for item in items))
