"""Where fits run: a joblib backend named by the caller, so the engine is indifferent to the place.

The engine hands an :class:`Executor` independent, deterministic tasks and
consumes their results in whatever order they finish. Any backend joblib
knows by name (``loky``, ``threading``, ``multiprocessing``, or ``dask`` and
``ray`` once registered) runs them, as scikit-learn's own parallel helpers
leave the choice to the caller's ``joblib.parallel_config``.

The backend ``"dask"`` runs them on a Dask cluster instead (a scheduler's
address, or a LocalCluster on loopback): see :mod:`cfgraph.dask_executor`.
Data every task needs is passed as ``shared`` to :meth:`Executor.map_unordered`:
joblib binds it to the function, Dask scatters it to the workers once.

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
from dataclasses import dataclass, field
from functools import partial

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
    """A joblib backend, or a Dask cluster, and a number of workers.

    Use it as a context manager (or call :meth:`close`) with ``"dask"``: its
    client connects, or its LocalCluster starts, on the first task and stays
    up for every run until closed. Closing any other executor does nothing.

    Parameters
    ----------
    backend : str
        A joblib backend name (``"loky"`` processes by default), or ``"dask"``.
    jobs : int
        Workers; -1 means one per core. 0 is refused. With ``"dask"`` and a
        ``scheduler``, the scheduler's workers are used and ``jobs`` is ignored.
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a Dask scheduler (backend ``"dask"`` only);
        without it a ``LocalCluster`` of ``jobs`` single-threaded worker
        processes runs on 127.0.0.1.

    Raises
    ------
    CfgraphError
        If ``jobs`` is 0, or a scheduler is given to another backend or is not
        ``tcp://HOST:PORT``.

    Examples
    --------
    >>> sorted(Executor(jobs=1).map_unordered(abs, [-2, 1, -3]))
    [1, 2, 3]
    >>> sorted(Executor("threading", 2).map_unordered(pow, [1, 2, 3], 2))  # pow(2, item)
    [2, 4, 8]
    >>> Executor("threading", 3).workers
    3
    >>> with Executor("dask", scheduler="tcp://127.0.0.1:8786") as dask:  # connects on the first task only
    ...     dask.backend
    'dask'
    """

    backend: str = "loky"
    jobs: int = 1
    scheduler: str | None = None
    _dask: object = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.jobs == 0:
            raise CfgraphError("the number of parallel workers must be positive, or -1 for all cores")
        if self.backend == "dask":
            from cfgraph.dask_executor import DaskSession

            object.__setattr__(self, "_dask", DaskSession(self.jobs, self.scheduler))
        elif self.scheduler is not None:
            raise CfgraphError(f"a scheduler address needs the dask executor, not {self.backend[:40]!r}")

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check(self) -> None:
        """Reach the Dask scheduler now, so an absent one is refused before any work is done.

        Nothing happens on joblib backends, nor for a LocalCluster (it starts on the first task).

        Raises
        ------
        CfgraphError
            If the scheduler does not answer within a few seconds.
        """
        if self._dask is not None and self._dask.scheduler is not None:
            self._dask.connect()

    def close(self) -> None:
        """Disconnect from Dask and stop the LocalCluster this executor started (if any)."""
        if self._dask is not None:
            self._dask.close()

    @property
    def workers(self) -> int:
        """How many workers ``jobs`` means on this backend (-1: every core)."""
        if self._dask is not None:
            return self._dask.workers
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

    def map_unordered(self, function: Callable, items: Iterable, *shared) -> Iterator:
        """``function(*shared, item)`` for every item, yielded as each finishes (in any order).

        ``shared`` is the data every call needs (the world's): Dask sends it to
        each worker once; joblib binds it to the function. Backends that cannot
        stream results (joblib raises for them) return them all at the end instead.
        """
        if self._dask is not None:
            return self._dask.map_unordered(function, items, shared)
        if shared:
            function = partial(function, *shared)
        with parallel_config(backend=self.backend, n_jobs=self.jobs, **self._backend_params()):
            try:
                parallel = Parallel(return_as="generator_unordered")
            except ValueError:  # a backend without result generators
                parallel = Parallel()
        return iter(parallel(delayed(function)(item) for item in items))
