"""A world in the store as the fitting engine's sink: which cells are stored, and where new ones go.

:func:`cfgraph.evaluate.run` needs no store: it hands finished cells to a sink.
:class:`StoreSink` is the sink of an exhaustive world (all 2^n training sets
exist as nodes): it maps each cell's training set (``mask``) to its node id
and its slice position to the slice's id, and writes each batch in one
transaction with a bulk insert. :class:`SampledSink` is the sink of a sampled
world: a cell's training set (``mask``, a Python int of any size) becomes a node
when its first cells are written, in the same transaction as the cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cfgraph.errors import CfgraphError
from cfgraph.store import catalog, cells, nodes

__all__ = ["StoreSink", "SampledSink"]


@dataclass
class StoreSink:
    """Cells of a world: what is stored (``present``), and :meth:`write` for new ones.

    Attributes
    ----------
    store : cfgraph.store.Store
    world : str
        The world's name.
    n : int
        Units; the world has 2**n training sets.
    slices : list of str
        Slice names in slice order (a cell row's ``slice`` is a position in it).
    present : ndarray of bool, shape (len(seeds), 2**n, len(slices), len(metrics))
        True where the cell is stored, whatever its status (:func:`cfgraph.evaluate.plan` reads it).
    stored : int
        Cells of the world stored when the sink was opened.
    node_ids : ndarray of int, shape (2**n,)
        Node id per training set.
    slice_ids : list of int
        Slice id per slice position.
    """

    store: object
    world: str
    n: int
    slices: list[str]
    present: np.ndarray
    stored: int
    node_ids: np.ndarray
    slice_ids: list[int]

    @classmethod
    def open(cls, store, world_name: str, metrics: list[str], seeds: list[int]) -> StoreSink:
        """Read a world's nodes, slices and stored cells (for ``metrics`` x ``seeds``).

        Raises
        ------
        cfgraph.errors.NotFound
            If there is no such world.
        cfgraph.errors.CfgraphError
            If it is a sampled world (its training sets are not all nodes: see :class:`SampledSink`).
        """
        with store.session() as session:
            world = catalog.get_world(session, world_name)
            if world.lattice == "sampled":
                raise CfgraphError(f"world {world_name!r} is a sampled world: its cells are written through "
                                   "SampledSink, which stores each training set as it is fitted")
            ids = cells.slice_ids(session, world)
            names = [s.name for s in world.slices]
            return cls(store=store, world=world_name, n=world.n_units, slices=names,
                       present=cells.stored_cells(session, world, metrics, seeds),
                       stored=cells.count_cells(session, world), node_ids=cells.node_ids(session, world),
                       slice_ids=[ids[name] for name in names])

    def write(self, rows: list[dict]) -> None:
        """Store :func:`cfgraph.evaluate.fit_node` rows as cells, in one transaction."""
        node = self.node_ids[np.fromiter((r["mask"] for r in rows), dtype=np.int64, count=len(rows))].tolist()
        with self.store.transaction() as session:
            cells.write_cells(session, keep_existing=True, rows=[{
                "node_id": node_id, "slice_id": self.slice_ids[r["slice"]], "metric": r["metric"],
                "seed": r["seed"], "value": r["value"], "fit_seconds": r["fit_seconds"], "status": r["status"],
                "error": r["error"],
            } for node_id, r in zip(node, rows)])

    def finish(self) -> None:
        """Mark the world finished (its ``finished_at`` time)."""
        with self.store.transaction() as session:
            catalog.mark_finished(session, catalog.get_world(session, self.world))


@dataclass
class SampledSink:
    """Cells of a sampled world: :meth:`write` stores new training sets and their cells together.

    Attributes
    ----------
    store : cfgraph.store.Store
    world : str
        The world's name.
    n : int
        Units.
    slices : list of str
        Slice names in slice order (a cell row's ``slice`` is a position in it).
    metrics, seeds : list
        The cells a caller wants of each training set (:meth:`present_for` reads them).
    stored : int
        Cells of the world stored when the sink was opened.
    slice_ids : list of int
        Slice id per slice position.

    Examples
    --------
    >>> from cfgraph.store.nodes import _example_world
    >>> store, world = _example_world(70)
    >>> sink = SampledSink.open(store, "example", ["accuracy"], [0])
    >>> sink.write([{"mask": 1 << 69, "slice": 0, "metric": "accuracy", "seed": 0, "value": 0.5,
    ...              "fit_seconds": 0.1, "status": "ok", "error": None}])
    >>> sink.present_for(np.eye(70, dtype=bool)[[69, 0]])[:, 0, 0, 0].tolist()
    [True, False]
    """

    store: object
    world: str
    n: int
    slices: list[str]
    metrics: list[str]
    seeds: list[int]
    stored: int
    slice_ids: list[int]
    # The world's row as read by open(), used (detached) by every write: a batch of a sampler is a
    # few dozen fits, and loading the world through the ORM again cost a tenth of their time.
    _world: object = field(default=None, repr=False, compare=False)

    @classmethod
    def open(cls, store, world_name: str, metrics: list[str], seeds: list[int]) -> SampledSink:
        """Read a world's slices and how many cells it holds.

        Raises
        ------
        cfgraph.errors.NotFound
            If there is no such world.
        """
        with store.session() as session:
            world = catalog.get_world(session, world_name)
            ids = cells.slice_ids(session, world)
            names = [s.name for s in world.slices]
            return cls(store=store, world=world_name, n=world.n_units, slices=names, metrics=list(metrics),
                       seeds=[int(s) for s in seeds], stored=cells.count_cells(session, world),
                       slice_ids=[ids[name] for name in names], _world=world)

    def present_for(self, members) -> np.ndarray:
        """Which cells of these training sets are stored, whatever their status.

        Parameters
        ----------
        members : ndarray of bool, shape (b, n)

        Returns
        -------
        ndarray of bool, shape (b, len(seeds), len(slices), len(metrics))
        """
        with self.store.session() as session:
            world = catalog.get_world(session, self.world)
            ids = nodes.find_nodes(session, world, members)
            return cells.cells_of_nodes(session, world, ids, self.metrics, self.seeds)[1]

    def write(self, rows: list[dict]) -> None:
        """Store :func:`cfgraph.evaluate.fit_node` rows: their training sets as nodes (with edges to
        stored neighbours) and their cells, in one transaction (all or nothing)."""
        if not rows:
            return
        masks = list(dict.fromkeys(int(r["mask"]) for r in rows))
        try:
            self._write(rows, masks)
        except BaseException:
            self._index = None  # it may hold nodes of the rolled-back transaction
            raise

    def _write(self, rows: list[dict], masks: list[int]) -> None:
        if getattr(self, "_index", None) is None:
            self._index = nodes.NodeIndex()
        with self.store.transaction() as session:
            world = self._world if self._world is not None else catalog.get_world(session, self.world)
            ids = nodes.ensure_nodes(session, world, nodes.masks_to_members(masks, self.n), self._index)
            node_of = dict(zip(masks, ids.tolist()))
            cells.write_cells(session, keep_existing=True, rows=[{
                "node_id": node_of[int(r["mask"])], "slice_id": self.slice_ids[r["slice"]], "metric": r["metric"],
                "seed": r["seed"], "value": r["value"], "fit_seconds": r["fit_seconds"], "status": r["status"],
                "error": r["error"],
            } for r in rows])

    def finish(self) -> None:
        """Mark the world finished (its ``finished_at`` time)."""
        with self.store.transaction() as session:
            catalog.mark_finished(session, catalog.get_world(session, self.world))
