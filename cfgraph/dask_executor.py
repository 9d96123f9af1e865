"""Fits on a Dask cluster: a scheduler named by its address, or a LocalCluster on loopback.

:class:`cfgraph.executors.Executor` hands its work here when its backend is
``"dask"``. The world's data (the :class:`~cfgraph.evaluate.Problem`) is sent
to every worker once with ``client.scatter(..., broadcast=True)`` and each
task carries only a reference to it, so a task is a batch of training-set
masks, not a copy of the data. Results stream back with ``as_completed`` as
batches finish; the driver writes them, so resume and the progress bar work
as with loky. A worker that dies mid-run is replaced (the nanny restarts it)
and the scheduler re-runs its unfinished tasks elsewhere; a task that raises
is retried :data:`RETRIES` times. Every fit is seeded, so where a task runs
never changes its cells.

``dask.distributed`` is an optional dependency (``pip install cfgraph[dask]``):
it is imported only when a Dask executor first runs.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import urlsplit

from cfgraph.errors import CfgraphError

__all__ = ["DaskSession", "check_scheduler", "local_cluster"]

#: Seconds to wait for a scheduler to answer before giving up.
CONNECT_TIMEOUT = 5

#: Times a task that raised is re-run before its error reaches the driver (a worker's
#: death is handled by the scheduler: its tasks move to the other workers).
RETRIES = 2

#: Address schemes of dask.distributed's network transports.
SCHEMES = ("tcp", "tls")


def _connect_within(distributed, address: str):
    """A client of the scheduler at ``address``, or a one-line error after CONNECT_TIMEOUT seconds.

    The connection runs in a daemon thread with a hard deadline: Dask's own timeout does not
    cover a server that accepts the connection but is not a Dask scheduler (an HTTP port answers
    and never completes the handshake, another protocol sends a nonsense message length).
    """
    import threading

    outcome = {}

    def connect():
        try:
            outcome["client"] = distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except BaseException as exc:  # reported below, in one line, whatever the library raised
            outcome["error"] = exc

    thread = threading.Thread(target=connect, name="cfgraph-dask-connect", daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT + 2)
    if "client" in outcome:
        return outcome["client"]
    reason = type(outcome["error"]).__name__ if "error" in outcome else "no Dask handshake"
    raise CfgraphError(f"no Dask scheduler answered at {address} within {CONNECT_TIMEOUT} s ({reason})")


def check_scheduler(address: str) -> str:
    """Refuse a scheduler address that is not ``tcp://HOST:PORT`` (or ``tls://``), in one line.

    Parameters
    ----------
    address : str

    Returns
    -------
    str
        The address, stripped.

    Raises
    ------
    CfgraphError
        If it has no scheme, host or numeric port.

    Examples
    --------
    >>> check_scheduler(" tcp://10.0.0.5:8786 ")
    'tcp://10.0.0.5:8786'
    >>> check_scheduler("10.0.0.5")
    Traceback (most recent call last):
    ...
    cfgraph.errors.CfgraphError: a Dask scheduler address is tcp://HOST:PORT, not '10.0.0.5'
    """
    text = str(address).strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in SCHEMES or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise CfgraphError(f"a Dask scheduler address is tcp://HOST:PORT, not {text[:80]!r}")
    return text


def local_cluster(n_workers: int):
    """A ``LocalCluster`` of ``n_workers`` single-threaded worker processes on 127.0.0.1, dashboard off.

    Parameters
    ----------
    n_workers : int

    Returns
    -------
    distributed.LocalCluster
        Started; the caller closes it (it is a context manager).

    Raises
    ------
    CfgraphError
        If dask.distributed is not installed.
    """
    distributed = _import_distributed()
    # Without a dashboard the scheduler still serves /health on an HTTP port, 8787 by default,
    # and warns when another cluster holds it: a free loopback port avoids both the clash and the warning.
    return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                    dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise CfgraphError("the Dask executor needs dask.distributed: pip install 'cfgraph[dask]'") from None
    return distributed


class DaskSession:
    """A client of one Dask cluster, connected on first use and kept until :meth:`close`.

    Parameters
    ----------
    jobs : int
        Workers of the LocalCluster started when no ``scheduler`` is given
        (-1: one per core); ignored with a scheduler.
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a running ``dask scheduler``.

    Examples
    --------
    >>> session = DaskSession(jobs=1, scheduler="tcp://127.0.0.1:8786")
    >>> session.client is None  # nothing is started before the first task
    True
    >>> session.close()
    """

    def __init__(self, jobs: int = 1, scheduler: str | None = None):
        self.jobs = jobs
        self.scheduler = None if scheduler is None else check_scheduler(scheduler)
        self.client = None
        self.cluster = None
        self._shared = []  # (object, future): the scattered data, kept while the session lives
        self._finalizer = None

    def connect(self):
        """The client: connected (or its LocalCluster started) on the first call."""
        if self.client is not None:
            return self.client
        distributed = _import_distributed()
        if self.scheduler is None:
            n = (os.cpu_count() or 1) if self.jobs == -1 else max(1, self.jobs)
            self.cluster = local_cluster(n)
            self.client = distributed.Client(self.cluster, set_as_default=False)
        else:
            self.client = _connect_within(distributed, self.scheduler)
        # Closed at exit too, so a caller that forgets close() leaves no cluster behind.
        self._finalizer = weakref.finalize(self, _shutdown, self.client, self.cluster)
        return self.client

    @property
    def workers(self) -> int:
        """Workers the tasks can spread over: the LocalCluster's, or those the scheduler knows now."""
        if self.scheduler is None:
            return (os.cpu_count() or 1) if self.jobs == -1 else max(1, self.jobs)
        return max(1, len(self.connect().scheduler_info().get("workers", {})))

    def _scatter(self, value):
        """A future of ``value`` held by every worker, sent once per session and object."""
        for held, future in self._shared:
            if held is value:
                return future
        future = self.connect().scatter(value, broadcast=True, hash=False)
        self._shared.append((value, future))
        return future

    def map_unordered(self, function: Callable, items: Iterable, shared: tuple = ()) -> Iterator:
        """``function(*shared, item)`` for every item, yielded as each task finishes."""
        items = list(items)
        if not items:
            return
        client = self.connect()
        refs = [[self._scatter(value)] * len(items) for value in shared]
        futures = client.map(function, *refs, items, retries=RETRIES, pure=False)
        distributed = _import_distributed()
        try:
            for future in distributed.as_completed(futures, loop=client.loop):
                result = future.result()
                future.release()
                yield result
        finally:  # a consumer that stops early (an interrupt, a sink error) leaves no work queued
            client.cancel([f for f in futures if not f.done()])

    def close(self) -> None:
        """Release the scattered data, disconnect, and stop the LocalCluster this session started."""
        self._shared = []
        if self._finalizer is not None:
            self._finalizer()
        self.client = self.cluster = self._finalizer = None


def _shutdown(client, cluster) -> None:
    client.close()
    if cluster is not None:
        cluster.close()
