"""Where fits run: a joblib backend named by the caller, so the engine is indifferent to the place.

The engine hands an :class:`Executor` independent, deterministic tasks and
consumes their results in whatever order they finish. Any backend joblib
knows by name (``loky``, ``threading``, ``multiprocessing``, or ``dask`` and
``ray`` once registered) runs them, as scikit-learn's own parallel helpers
leave the choice to the caller's ``joblib.parallel_config``.

Worker processes (``loky`` and ``multiprocessing``) are started with
:func:`_die_with_parent` as their initializer, so they end within a second
of their parent's death, even a ``kill -9``. Without it they wait for the next
task until loky's idle timeout (300 s), and because they hold the pipes of
loky's and multiprocessing's resource trackers, those two trackers live on as
long as they do. Once the workers are gone the trackers read end-of-file,
clean up what was registered (memmapped folders, semaphores) and exit.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from joblib import Parallel, delayed, effective_n_jobs, parallel_config

from cfgraph.errors import CfgraphError

__all__ = ["Executor"]

#: Backends whose workers are child processes of this one.
PROCESS_BACKENDS = frozenset({"loky", "multiprocessing"})

#: Seconds between two looks of a worker at its parent.
PARENT_POLL = 0.5


def _die_with_parent(parent: int) -> None:
    """Worker initializer: end this process as soon as process ``parent`` has gone.

    A daemon thread compares ``os.getppid()`` with ``parent`` every
    :data:`PARENT_POLL` seconds; an orphan is re-parented (to init or a
    subreaper), so the comparison fails and the worker leaves with
    ``os._exit``. ``prctl(PR_SET_PDEATHSIG)`` is not used: Linux sends that
    signal when the *thread* that forked the worker ends, and loky may start
    workers from a short-lived thread (a web request, joblib's callbacks),
    which would kill healthy workers of the reusable pool.

    Parameters
    ----------
    parent : int
        The pid of the process that owns the pool (``os.getpid()`` there).
    """
    if os.getppid() != parent:  # the parent died before this worker got here
        os._exit(1)

    def watch():
        while os.getppid() == parent:
            time.sleep(PARENT_POLL)
        os._exit(1)

    threading.Thread(target=watch, name="cfgraph-parent-watch", daemon=True).start()


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

    def _backend_params(self) -> dict:
        """Constructor arguments for the backend: the parent watch for process pools."""
        if self.backend in PROCESS_BACKENDS:
            return {"initializer": _die_with_parent, "initargs": (os.getpid(),)}
        return {}

    def map_unordered(self, function: Callable, items: Iterable) -> Iterator:
        """``function(item)`` for every item, yielded as each finishes (in any order).

        Backends that cannot stream results (joblib raises for them) return
        them all at the end instead.
        """
        with parallel_config(backend=self.backend, n_jobs=self.jobs, **self._backend_params()):
            try:
                parallel = Parallel(return_as="generator_unordered")
            except ValueError:  # a backend without result generators
                parallel = Parallel()
        return iter(parallel(delayed(function)(item) for item in items))
