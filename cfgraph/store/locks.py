"""One driver per world on PostgreSQL: an advisory lock held while a run fills a world.

Two ``cfgraph run`` processes on one PostgreSQL world (two machines sharing a store) would
otherwise fit the same training sets twice. The run that fills a world holds a session-level
advisory lock ``pg_try_advisory_lock(LOCK_CLASS, <world id>)`` on a connection of its own,
taken before its first write and released at the end; a second driver that cannot take it
is refused in one line and writes nothing. PostgreSQL frees a session's advisory locks when
the session ends, so a driver killed with ``kill -9`` leaves no lock behind: the next run
takes it and resumes (the cells already stored are kept).

On SQLite nothing is locked: the database is one file on one machine, and two runs there
cooperate as before (each stores what it fitted; a cell the other stored first is kept).

Within one process the lock is re-entrant: a driver that holds it (``build_world``) and
asks again for the same world (a sampler it runs next) is the same driver.

References
----------
PostgreSQL documentation, "Advisory Locks" (section 13.3.5) and "Advisory Lock Functions" (9.27.10).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from cfgraph.errors import CfgraphError

__all__ = ["LOCK_CLASS", "world_lock", "lock_holders"]

#: The first key of every cfgraph advisory lock ("cfgr" in ASCII, a 32-bit integer); the second
#: key is the world's id. Other applications sharing the database pick other first keys.
LOCK_CLASS = 0x63666772

_TAKE = text("SELECT pg_try_advisory_lock(CAST(:cls AS integer), CAST(:world AS integer))")
_GIVE = text("SELECT pg_advisory_unlock(CAST(:cls AS integer), CAST(:world AS integer))")

# (store URL, world id) -> how many nested world_lock() of this process hold it.
_depth: dict[tuple[str, int], int] = {}
_depth_guard = threading.Lock()


def _identify(store, world) -> tuple[str, int]:
    """The world's name and id, from its row or its name."""
    if isinstance(world, str):
        from cfgraph.store import catalog

        with store.session() as session:
            row = catalog.get_world(session, world)
            return row.name, row.id
    return world.name, world.id


@contextmanager
def world_lock(store, world):
    """Hold the right to fill ``world`` for the duration of the ``with`` block.

    Parameters
    ----------
    store : cfgraph.store.Store
    world : str or cfgraph.store.models.World
        The world (its name, or its row).

    Yields
    ------
    None

    Raises
    ------
    CfgraphError
        On PostgreSQL, if another session (another run, on any machine) holds the world's lock.
    cfgraph.errors.NotFound
        If ``world`` is a name and there is no such world.

    Notes
    -----
    The lock lives on a connection of its own, in autocommit mode (a run of hours does not keep a
    transaction open), checked out of the store's pool for the whole block. If that connection
    cannot release it cleanly, it is thrown away, which ends its session and so frees the lock.

    Examples
    --------
    >>> from cfgraph.store import open_store
    >>> from cfgraph.worlds import build_world, make_spec
    >>> store = open_store("sqlite://")
    >>> _ = build_world(store, "iris", make_spec(dataset="iris", units=3, model="gnb"), progress=False)
    >>> with world_lock(store, "iris"):  # SQLite: runs cooperate, nothing is locked
    ...     pass
    """
    name, world_id = _identify(store, world)
    if store.engine.dialect.name != "postgresql":
        yield
        return
    key = (store.url, int(world_id))
    with _depth_guard:
        held = _depth.get(key, 0)
        if held:
            _depth[key] = held + 1
    if held:
        try:
            yield
        finally:
            with _depth_guard:
                _depth[key] -= 1
        return
    params = {"cls": LOCK_CLASS, "world": int(world_id)}
    conn = store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        taken = conn.execute(_TAKE, params).scalar()
    except BaseException:
        conn.close()
        raise
    if not taken:
        conn.close()
        raise CfgraphError(f"world {name[:80]!r} is being filled by another run (PostgreSQL advisory lock); "
                           "wait for it to finish, or run another world")
    with _depth_guard:
        _depth[key] = 1
    try:
        yield
    finally:
        with _depth_guard:
            del _depth[key]
        try:
            conn.execute(_GIVE, params)
            conn.close()
        except SQLAlchemyError:
            conn.invalidate()  # ends the session, which frees its advisory locks


def lock_holders(store, world) -> list[int]:
    """Process ids of the PostgreSQL sessions holding ``world``'s lock (empty on SQLite or when free).

    Parameters
    ----------
    store : cfgraph.store.Store
    world : str or cfgraph.store.models.World

    Returns
    -------
    list of int
        Server process ids (``pg_locks.pid``) of the holders; at most one.

    Examples
    --------
    >>> from cfgraph.store import open_store
    >>> from cfgraph.worlds import build_world, make_spec
    >>> store = open_store("sqlite://")
    >>> _ = build_world(store, "iris", make_spec(dataset="iris", units=3, model="gnb"), progress=False)
    >>> lock_holders(store, "iris")
    []
    """
    _, world_id = _identify(store, world)
    if store.engine.dialect.name != "postgresql":
        return []
    # An advisory lock on two int4 keys shows classid = first key, objid = second, objsubid = 2.
    query = text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
                 "AND classid = CAST(:cls AS oid) AND objid = CAST(:world AS oid)")
    with store.engine.connect() as conn:
        return [int(pid) for pid in conn.execute(query, {"cls": LOCK_CLASS, "world": int(world_id)}).scalars()]
