"""Training sets of a sampled world: stored as they are visited, found by digest.

A sampled world has too many training sets to create up front, so a training set
becomes a node the first time it is needed (:func:`ensure_nodes`), keyed by its
packed bitset (``node.members``) and its Zobrist digest (``node.digest``, unique
per world; see :mod:`cfgraph.bitsets`). Its edges to the stored training sets that
differ by one unit are derived in the same transaction: the digests of all n
neighbours of b new nodes are one XOR away, and are looked up with
``np.searchsorted`` in the world's sorted digests (read in one query), so the
``marginal`` view works on sampled worlds unchanged.

Functions take a ``session`` and do not commit.
"""

from __future__ import annotations

from importlib import import_module

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from cfgraph import bitsets, lattice
from cfgraph.errors import CfgraphError
from cfgraph.store.models import Edge, Node, Unit, World

__all__ = ["ensure_nodes", "find_nodes", "stored_members", "count_nodes", "masks_to_members"]

#: Parameters per IN list (SQLite allows 32,766; smaller lists keep statements cheap to plan).
CHUNK = 500
#: Neighbour digests examined at once: bounds memory at (new nodes x units) of int64.
NEIGHBOUR_BLOCK = 4_000_000


def _members(world: World, members) -> np.ndarray:
    members = np.asarray(members, dtype=bool)
    if members.ndim == 1 and members.size == 0:
        members = members.reshape(0, world.n_units)
    if members.ndim != 2 or members.shape[1] != world.n_units:
        raise CfgraphError(f"world {world.name!r} has {world.n_units} units; training sets must be "
                           f"rows of {world.n_units} booleans, not shape {members.shape}")
    return members


def _lookup(session: Session, world: World, digests: np.ndarray) -> dict[int, tuple[int, bytes]]:
    """Stored nodes with these digests: ``{digest: (node id, members)}`` (chunked IN queries)."""
    found = {}
    unique = np.unique(digests).tolist()
    for start in range(0, len(unique), CHUNK):
        rows = session.execute(
            select(Node.digest, Node.id, Node.members)
            .where(Node.world_id == world.id, Node.digest.in_(unique[start:start + CHUNK]))
        ).all()
        found.update((int(d), (int(i), bytes(m))) for d, i, m in rows)
    return found


def find_nodes(session: Session, world: World, members) -> np.ndarray:
    """Node ids of training sets, or -1 for those not stored.

    Parameters
    ----------
    world : World
    members : ndarray of bool, shape (b, n)

    Returns
    -------
    ndarray of int64, shape (b,)

    Raises
    ------
    CfgraphError
        If the rows are not of the world's n units.

    Examples
    --------
    >>> store, world = _example_world(5)
    >>> with store.transaction() as session:
    ...     ids = ensure_nodes(session, world, np.eye(5, dtype=bool)[:2])
    ...     find_nodes(session, world, np.eye(5, dtype=bool)[[1, 2]]).tolist() == [ids[1], -1]
    True
    """
    members = _members(world, members)
    out = np.full(len(members), -1, dtype=np.int64)
    if not len(members):
        return out
    digests, packed = bitsets.digest(members), bitsets.pack(members)
    found = _lookup(session, world, digests)
    for k, (d, bits) in enumerate(zip(digests.tolist(), packed)):
        hit = found.get(d)
        if hit is not None and hit[1] == bits:  # a different set of equal digest is not this one
            out[k] = hit[0]
    return out


class NodeIndex:
    """A world's stored nodes as a sorted array of (digest, id, size), kept by a writer between batches.

    Each :meth:`refresh` reads only the nodes stored since the last one (ids grow), so a
    sampler's thousands of small batches do not each read every node of the world. A
    writer whose transaction failed must drop its index (it may hold rolled-back nodes).

    Examples
    --------
    >>> index = NodeIndex()
    >>> index.stored.shape, index.last_id
    ((0, 3), 0)
    """

    def __init__(self):
        self.stored = np.zeros((0, 3), dtype=np.int64)
        self.last_id = 0
        self.labels = None  # the world's unit labels and unit ids, read once
        self.unit_ids = None
        self.read = False  # refreshed at least once: it then knows every node stored up to last_id

    def units(self, session: Session, world: World) -> tuple[list[str], np.ndarray]:
        """The world's unit labels and unit ids in bit order (read on first use)."""
        if self.labels is None:
            rows = session.execute(select(Unit.label, Unit.id).where(Unit.world_id == world.id)
                                   .order_by(Unit.idx)).all()
            self.labels = [r[0] for r in rows]
            self.unit_ids = np.array([r[1] for r in rows], dtype=np.int64)
        return self.labels, self.unit_ids

    def refresh(self, session: Session, world: World) -> np.ndarray:
        """The index with every node stored so far: int64 (m, 3) sorted by digest."""
        # session.execute, not raw_rows: a writer refreshes once per batch, and the statement cache
        # saves compiling the query each time (most refreshes read only the batch's own nodes).
        rows = session.execute(select(Node.digest, Node.id, Node.size)
                               .where(Node.world_id == world.id, Node.id > self.last_id)).all()
        rows = np.array(rows, dtype=np.int64).reshape(len(rows), 3)
        self.read = True
        if len(rows):
            merged = np.concatenate([self.stored, rows])
            self.stored = merged[np.argsort(merged[:, 0], kind="stable")]
            self.last_id = int(rows[:, 1].max())
        return self.stored


def ensure_nodes(session: Session, world: World, members, index: NodeIndex | None = None) -> np.ndarray:
    """Node ids of training sets, creating the missing nodes and their edges to stored neighbours.

    Idempotent; repeated rows are allowed. New nodes get ``members``, ``digest``,
    ``size``, ``mask`` (when n <= 62) and a label (letters when n <= 26 and units have
    one-letter labels, else "t" and the digest's 16 hex digits). Each new node is joined
    by an edge S -> S + {i} to every stored training set that differs from it by one unit i,
    including other new nodes of the batch (one edge per pair).

    Parameters
    ----------
    world : World
    members : ndarray of bool, shape (b, n)
    index : NodeIndex, optional
        The caller's index of the world's nodes, refreshed here (by default all nodes are read).

    Returns
    -------
    ndarray of int64, shape (b,)

    Raises
    ------
    CfgraphError
        If the rows are not of the world's n units, or two different training sets have one
        digest (a 63-bit hash collision: about one in 10^10 for 20,000 sets of 2,000 units).

    Examples
    --------
    >>> store, world = _example_world(3)
    >>> with store.transaction() as session:
    ...     ids = ensure_nodes(session, world, np.array([[0, 0, 0], [1, 0, 0], [1, 0, 0]], bool))
    ...     again = ensure_nodes(session, world, np.array([[1, 0, 0]], bool))
    ...     edges = session.execute(select(Edge.src_node_id, Edge.dst_node_id)).all()
    >>> bool(ids[1] == ids[2] == again[0]), [tuple(e) for e in edges] == [(ids[0], ids[1])]
    (True, True)
    """
    members = _members(world, members)
    if not len(members):
        return np.zeros(0, dtype=np.int64)
    packed_rows = np.packbits(members, axis=1, bitorder="little")
    unique_rows, inverse = np.unique(packed_rows, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    unique = bitsets.unpack([r.tobytes() for r in unique_rows], world.n_units)
    digests, packed = bitsets.digest(unique), bitsets.pack(unique)
    if len(np.unique(digests)) != len(digests):
        raise CfgraphError(f"two training sets of world {world.name!r} share a digest (a hash collision)")
    index = index or NodeIndex()
    ids = np.full(len(unique), -1, dtype=np.int64)
    # An index that has been read knows every node up to its last id: only digests it holds can be
    # stored already (a node another run stores meanwhile is caught after the insert, below).
    ask = np.isin(digests, index.stored[:, 0]) if index.read else np.ones(len(digests), dtype=bool)
    if ask.any():
        ids[ask] = _verified(session, world, digests[ask], [packed[k] for k in np.flatnonzero(ask)])
    new = np.flatnonzero(ids < 0)
    if len(new):
        labels, unit_ids = index.units(session, world)
        before = len(index.stored)
        inserted = _insert_nodes(session, world, unique[new], digests[new], [packed[k] for k in new], labels)
        stored = index.refresh(session, world)
        keys = np.ascontiguousarray(stored[:, 0])  # searchsorted on a strided column copies it per call
        at = np.minimum(np.searchsorted(keys, digests[new]), max(len(stored) - 1, 0))
        ids[new] = np.where(keys[at] == digests[new], stored[at, 1], -1) if len(stored) else -1
        if inserted != len(new) or len(stored) - before != len(new) or (ids[new] < 0).any():
            # Some digests of ours were stored already, or not every row read back is one of ours: another
            # run stored nodes since the index was read, maybe of a digest of ours (the same set, or a collision).
            ids[new] = _verified(session, world, digests[new], [packed[k] for k in new])
        _insert_edges(session, world, unique[new], digests[new], ids[new], stored, unit_ids)
    return ids[inverse]


def _verified(session: Session, world: World, digests: np.ndarray, packed: list[bytes]) -> np.ndarray:
    """Node ids of the stored training sets with these digests and members, -1 where none is stored.

    Raises
    ------
    CfgraphError
        If a stored node has one of the digests but other members (a hash collision).
    """
    found = _lookup(session, world, digests)
    ids = np.full(len(digests), -1, dtype=np.int64)
    for k, (d, bits) in enumerate(zip(digests.tolist(), packed)):
        hit = found.get(d)
        if hit is not None:
            if hit[1] != bits:
                raise CfgraphError(f"a new training set of world {world.name!r} has the digest of a stored one "
                                   f"(node {hit[0]}): a hash collision")
            ids[k] = hit[0]
    return ids


def _insert_nodes(session: Session, world: World, members: np.ndarray, digests: np.ndarray,
                  packed: list[bytes], letters: list[str]) -> int:
    """Insert nodes, skipping digests already stored; how many were inserted (-1 if the driver cannot tell)."""
    n = world.n_units
    size = members.sum(axis=1)
    masks = [None] * len(members)
    if n <= 62:  # fits a signed BIGINT
        masks = (members.astype(np.int64) << np.arange(n, dtype=np.int64)).sum(axis=1).tolist()
    if n <= len(lattice.LETTERS) and all(len(x) == 1 for x in letters):
        spelled = np.asarray(letters, dtype=object)
        labels = ["".join(spelled[row]) or lattice.EMPTY_LABEL for row in members]
    else:
        labels = [f"t{d:016x}" for d in digests.tolist()]
    result = session.execute(_insert_ignoring_duplicates(session, Node.__table__), [
        {"world_id": world.id, "mask": m, "label": label, "size": int(s), "members": bits, "digest": int(d)}
        for m, label, s, bits, d in zip(masks, labels, size, packed, digests)
    ])
    return result.rowcount if session.get_bind().dialect.supports_sane_multi_rowcount else -1


def _insert_ignoring_duplicates(session: Session, table):
    """INSERT that skips rows already stored: two runs of one world may store the same training set
    between one's lookup and its insert (the ids are read back by digest afterwards)."""
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        return import_module(f"sqlalchemy.dialects.{dialect}").insert(table).on_conflict_do_nothing()
    return insert(table)


def _insert_edges(session: Session, world: World, members: np.ndarray, digests: np.ndarray,
                  ids: np.ndarray, stored: np.ndarray, unit_of: np.ndarray) -> None:
    """Edges between new nodes and every stored node one unit away (``stored``: digest, id, size sorted)."""
    n = world.n_units
    size = members.sum(axis=1)
    keys = np.ascontiguousarray(stored[:, 0])  # searchsorted on a strided column copies it per call
    found = []
    block = max(1, NEIGHBOUR_BLOCK // n)
    for start in range(0, len(digests), block):
        stop = start + block
        neighbours = bitsets.neighbour_digests(digests[start:stop], n)  # (k, n)
        at = np.minimum(np.searchsorted(keys, neighbours), len(stored) - 1)
        hit = keys[at] == neighbours
        # A digest match of the wrong size is a collision, not a neighbour.
        hit &= stored[at, 2] == size[start:stop, None] + np.where(members[start:stop], -1, 1)
        row, unit = np.nonzero(hit)
        other = stored[at[row, unit], 1]
        mine = ids[start:stop][row]
        smaller = members[start:stop][row, unit]  # unit in the new set: the neighbour is S - {unit}
        src, dst = np.where(smaller, other, mine), np.where(smaller, mine, other)
        found.append(np.column_stack([src, dst, unit]))
    edges = np.unique(np.concatenate(found), axis=0)  # two new neighbours found each other: once
    if not len(edges):
        return
    session.execute(_insert_ignoring_duplicates(session, Edge.__table__), [
        {"world_id": world.id, "src_node_id": int(s), "dst_node_id": int(d), "unit_id": int(unit_of[u])}
        for s, d, u in edges.tolist()
    ])


def _filters(world: World, contains: int | None, min_size: int | None, max_size: int | None) -> list:
    where = [Node.world_id == world.id]
    if contains is not None:
        if not 0 <= int(contains) < world.n_units:
            raise CfgraphError(f"world {world.name!r} has units 0 to {world.n_units - 1}, not {contains}")
        where.append(func.get_bit(Node.members, int(contains)) == 1)
    if min_size is not None:
        where.append(Node.size >= int(min_size))
    if max_size is not None:
        where.append(Node.size <= int(max_size))
    return where


def stored_members(session: Session, world: World, *, contains: int | None = None, min_size: int | None = None,
                   max_size: int | None = None, limit: int | None = None,
                   offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stored training sets of a world, in node id order, filtered in SQL and paginated.

    Parameters
    ----------
    contains : int, optional
        Only training sets holding this unit (its ``idx``).
    min_size, max_size : int, optional
        Size range, inclusive.
    limit : int, optional
    offset : int

    Returns
    -------
    node_ids : ndarray of int64, shape (m,)
    members : ndarray of bool, shape (m, n)

    Raises
    ------
    CfgraphError
        If ``contains`` is not a unit of the world.

    Examples
    --------
    >>> store, world = _example_world(3)
    >>> with store.transaction() as session:
    ...     _ = ensure_nodes(session, world, np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1]], bool))
    ...     ids, members = stored_members(session, world, contains=0, min_size=2)
    >>> members.astype(int).tolist()
    [[1, 1, 0]]
    """
    query = select(Node.id, Node.members).where(*_filters(world, contains, min_size, max_size)).order_by(Node.id)
    if limit is not None:
        query = query.limit(int(limit))
    if offset:
        query = query.offset(int(offset))
    rows = session.execute(query).all()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    return ids, bitsets.unpack([bytes(r[1]) for r in rows], world.n_units).reshape(len(rows), world.n_units)


def count_nodes(session: Session, world: World, *, contains: int | None = None, min_size: int | None = None,
                max_size: int | None = None) -> int:
    """How many training sets of a world are stored (with the filters of :func:`stored_members`).

    Examples
    --------
    >>> store, world = _example_world(3)
    >>> with store.transaction() as session:
    ...     _ = ensure_nodes(session, world, np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1]], bool))
    ...     count_nodes(session, world), count_nodes(session, world, contains=2)
    (3, 1)
    """
    return int(session.scalar(
        select(func.count()).select_from(Node).where(*_filters(world, contains, min_size, max_size))))


def masks_to_members(masks, n: int) -> np.ndarray:
    """Membership rows of training sets given as Python-int masks (any size): bool (len(masks), n).

    Raises
    ------
    cfgraph.errors.CfgraphError
        On a mask outside 0 .. 2^n - 1.

    Examples
    --------
    >>> masks_to_members([5, 1 << 69], 70)[:, [0, 2, 69]].astype(int).tolist()
    [[1, 1, 0], [0, 0, 1]]
    """
    masks = [int(m) for m in masks]
    if any(m < 0 or m >> n for m in masks):
        raise CfgraphError(f"a training set of {n} units has a mask from 0 to 2^{n} - 1")
    width = (n + 7) // 8
    return bitsets.unpack([m.to_bytes(width, "little") for m in masks], n).reshape(len(masks), n)


def _example_world(n: int):
    """An in-memory store with one empty sampled world of ``n`` units (for the examples)."""
    from cfgraph.store import open_store
    from cfgraph.store.catalog import create_world
    from cfgraph.tables import SliceSpec, UnitSpec

    store = open_store("sqlite://")
    with store.transaction() as session:
        world = create_world(session, "example", kind="trained", units=[UnitSpec(f"u{i}") for i in range(n)],
                             slices=[SliceSpec("all")], metric="accuracy", eval_slices="units", lattice="sampled")
        _ = world.units, world.slices  # loaded now: the examples use the world in other sessions
    return store, world
