"""Reading and writing cells: a world's lattice table, a few training sets' cells, one slice's
column, which cells are stored, and bulk writes.

Functions take a ``session`` and do not commit. Reading a lattice is one
query; on SQLite its rows come straight from the DB-API cursor. The functions
indexed by mask (a 2^n table) serve exhaustive worlds and sampled worlds of up
to 16 units (training sets not yet stored read as missing); a larger sampled
world is read by node id with :func:`cells_of_nodes`.
"""

from __future__ import annotations

from importlib import import_module

import numpy as np
from sqlalchemy import case, func, insert, select
from sqlalchemy.orm import Session

from cfgraph import lattice
from cfgraph.display import brief_list
from cfgraph.errors import CfgraphError, NotFound
from cfgraph.store import nodes
from cfgraph.store.catalog import get_world
from cfgraph.store.rows import raw_rows
from cfgraph.store.models import CELL_STATUSES, Cell, EvalSlice, Node, World
from cfgraph.tables import LatticeTable

__all__ = ["lattice_table", "cells_at", "slice_column", "stored_cells", "write_cells", "count_cells",
           "metrics_and_seeds", "choose_metric_seed", "node_ids", "slice_ids", "cells_of_nodes"]

#: Node ids per IN list of :func:`cells_of_nodes`.
CHUNK = 500


def _whole_lattice(world: World) -> None:
    """Refuse a 2^n table of a sampled world too large to hold one."""
    if world.lattice == "sampled" and world.n_units > lattice.MAX_UNITS:
        raise CfgraphError(
            f"world {world.name!r} is a sampled world of {world.n_units:,} units; its training sets are read "
            "with cfgraph.store.nodes.stored_members and cells_of_nodes, not as a table of 2^n rows")


def node_ids(session: Session, world: World) -> np.ndarray:
    """Node id of every training set of a world, indexed by mask: shape (2**n,), -1 where not stored.

    Raises
    ------
    CfgraphError
        For a sampled world of more than 16 units.
    """
    _whole_lattice(world)
    ids = np.full(1 << world.n_units, -1, dtype=np.int64)
    rows = session.execute(select(Node.mask, Node.id).where(Node.world_id == world.id)).all()
    if rows:
        masks, values = zip(*rows)
        ids[np.asarray(masks)] = values
    return ids


def cells_of_nodes(session: Session, world: World, node_ids, metrics: list[str],
                   seeds: list[int], *, status: bool = False) -> tuple[np.ndarray, ...]:
    """Cells of training sets given by node id, on every slice, metric and seed (chunked by node id).

    Parameters
    ----------
    world : World
    node_ids : array-like of int, shape (b,)
        Repeats allowed; -1 (not stored) gives a row of missing cells.
    metrics : list of str
    seeds : list of int

    Returns
    -------
    values : ndarray of float, shape (b, len(seeds), number of slices, len(metrics))
        NaN where a cell is missing or failed.
    present : ndarray of bool, same shape
        True where the cell is stored, whatever its status.
    codes : ndarray of int8, same shape (only with ``status=True``)
        The stored status as a position in :data:`cfgraph.store.models.CELL_STATUSES`
        (ok, baseline, constant, failed); -1 where the cell is not stored.

    Examples
    --------
    >>> from cfgraph.store.nodes import _example_world, ensure_nodes
    >>> store, world = _example_world(3)
    >>> with store.transaction() as session:
    ...     ids = ensure_nodes(session, world, np.array([[1, 0, 0], [0, 1, 0]], bool))
    ...     _ = write_cells(session, [{"node_id": int(ids[0]), "slice_id": world.slices[0].id,
    ...                                "metric": "accuracy", "seed": 0, "value": 0.75, "fit_seconds": None,
    ...                                "status": "ok", "error": None}])
    ...     values, present = cells_of_nodes(session, world, [ids[1], ids[0], -1], ["accuracy"], [0])
    >>> values[:, 0, 0, 0].tolist(), present[:, 0, 0, 0].tolist()
    ([nan, 0.75, nan], [False, True, False])
    """
    node_ids = np.asarray(node_ids, dtype=np.int64).reshape(-1)
    slices = list(world.slices)
    shape = (len(node_ids), len(seeds), len(slices), len(metrics))
    values, present = np.full(shape, np.nan), np.zeros(shape, dtype=bool)
    wanted = np.unique(node_ids[node_ids >= 0])
    codes = np.full(shape, -1, dtype=np.int8)
    if not len(wanted) or not all(shape[1:]):
        return (values, present, codes) if status else (values, present)
    position = np.zeros(max(s.id for s in slices) + 1, dtype=np.int64)
    position[[s.id for s in slices]] = np.arange(len(slices))
    seed_order = np.argsort(seeds)
    sorted_seeds = np.asarray(seeds, dtype=np.int64)[seed_order]
    metric_code = case(*((Cell.metric == m, i) for i, m in enumerate(metrics)), else_=-1)
    got_values = np.full((len(wanted),) + shape[1:], np.nan)
    got_codes = np.full(got_values.shape, -1, dtype=np.int8)
    for start in range(0, len(wanted), CHUNK):
        data = _cell_rows(session, (
            select(Cell.node_id, Cell.slice_id, metric_code, Cell.seed, Cell.value, _STATUS_CODE)
            .where(Cell.node_id.in_(wanted[start:start + CHUNK].tolist()), Cell.metric.in_(list(metrics)),
                   Cell.seed.in_([int(x) for x in seeds]))
        ))
        if len(data):
            at = (np.searchsorted(wanted, data[:, 0].astype(np.int64)),
                  seed_order[np.searchsorted(sorted_seeds, data[:, 3].astype(np.int64))],
                  position[data[:, 1].astype(np.int64)], data[:, 2].astype(np.int64))
            got_values[at] = data[:, 4]
            got_codes[at] = data[:, 5]
    stored = node_ids >= 0
    rows = np.searchsorted(wanted, node_ids[stored])
    values[stored], codes[stored] = got_values[rows], got_codes[rows]
    present = codes >= 0
    return (values, present, codes) if status else (values, present)


def slice_ids(session: Session, world: World) -> dict[str, int]:
    return dict(session.execute(
        select(EvalSlice.name, EvalSlice.id).where(EvalSlice.world_id == world.id)
    ).all())


def write_cells(session: Session, rows: list[dict], keep_existing: bool = False) -> int:
    """Insert cells in one executemany. Each row: node_id, slice_id, metric, seed, value,
    fit_seconds, status, error.

    A second write of the same cell violates the unique key, unless ``keep_existing``:
    then a cell already stored is kept and the new row dropped. Runs use it, so two runs
    of one world at once cooperate (a cell's value is determined by its training set,
    slice, metric and seed, so whichever run stores it first stores the same number).
    """
    if not rows:
        return 0
    statement = insert(Cell.__table__)  # Core: the ORM's bulk path costs 2.4x more per cell
    if keep_existing:
        dialect = session.get_bind().dialect.name
        if dialect in ("sqlite", "postgresql"):
            module = import_module(f"sqlalchemy.dialects.{dialect}")
            statement = module.insert(Cell.__table__).on_conflict_do_nothing(
                index_elements=["node_id", "slice_id", "metric", "seed"])
    session.execute(statement, rows)
    return len(rows)


def stored_cells(session: Session, world: World, metrics: list[str], seeds: list[int]) -> np.ndarray:
    """Which cells of a world are stored, as a boolean array (one indexed query per metric and seed).

    Returns
    -------
    ndarray of bool, shape (len(seeds), 2**n, number of slices, len(metrics))
        True where the cell (training set, slice, metric, seed) is stored, whatever its status.
    """
    _whole_lattice(world)
    present = np.zeros((len(seeds), 1 << world.n_units, len(world.slices), len(metrics)), dtype=bool)
    position = {s.id: p for p, s in enumerate(world.slices)}
    lookup = np.zeros(max(position, default=0) + 1, dtype=np.int64)
    lookup[list(position)] = list(position.values())
    for si, seed in enumerate(seeds):
        for mi, metric in enumerate(metrics):
            data = _cell_rows(session, (
                select(Node.mask, Cell.slice_id).join(Cell, Cell.node_id == Node.id)
                .where(Node.world_id == world.id, Cell.metric == metric, Cell.seed == seed)
            ))
            if len(data):
                present[si, data[:, 0].astype(np.int64), lookup[data[:, 1].astype(np.int64)], mi] = True
    return present


def count_cells(session: Session, world: World) -> int:
    """Number of cells stored for a world."""
    return session.scalar(select(func.count()).select_from(Cell).join(Node, Node.id == Cell.node_id)
                          .where(Node.world_id == world.id))


def metrics_and_seeds(session: Session, world: World) -> tuple[list[str], list[int]]:
    """The metrics and seeds of a world (its default metric first).

    Read from the world's recipe (``spec``) when it lists them, so no cell is
    scanned; otherwise from the distinct (metric, seed) pairs of its cells.
    """
    spec = world.spec or {}
    if spec.get("metrics") and spec.get("seeds") is not None:
        metrics = list(dict.fromkeys([world.metric] + list(spec["metrics"])))
        return metrics, sorted({int(s) for s in spec["seeds"]}) or [world.seed or 0]
    rows = session.execute(
        select(Cell.metric, Cell.seed).distinct()
        .join(Node, Node.id == Cell.node_id).where(Node.world_id == world.id)
    ).all()
    metrics = sorted({m for m, _ in rows}, key=lambda m: (m != world.metric, m))
    seeds = sorted({s for _, s in rows})
    return metrics or [world.metric], seeds or [world.seed or 0]


def choose_metric_seed(session: Session, world: World, metric: str | None = None,
                       seed: int | str | None = None) -> tuple[str, int]:
    """Check a requested metric and seed; default to the world's metric and its lowest seed.

    Raises
    ------
    NotFound
        On a metric or seed the world has no cells for, or a seed that is not an integer.
    """
    metrics, seeds = metrics_and_seeds(session, world)
    metric = metric or metrics[0]
    if metric not in metrics:
        raise NotFound(f"world {world.name!r} has no cells for metric {metric!r} (metrics: {', '.join(metrics)})")
    if seed is None or str(seed).strip() == "":
        return metric, seeds[0]
    try:
        seed = int(seed)
    except ValueError:
        raise CfgraphError(f"seed must be an integer, not {str(seed)[:20]!r}") from None
    if seed not in seeds:
        raise NotFound(f"world {world.name!r} has no cells for seed {seed} (seeds: {brief_list(seeds)})")
    return metric, seed


_STATUS = np.array(CELL_STATUSES, dtype=object)
_STATUS_CODE = case(
    (Cell.status == "ok", 0), (Cell.status == "baseline", 1), (Cell.status == "constant", 2), else_=3
)


def _cell_rows(session: Session, query) -> np.ndarray:
    """Run a query of numeric columns and return its rows as a float array (None -> NaN)."""
    rows = raw_rows(session, query)
    return np.array(rows, dtype=float).reshape(len(rows), len(query.selected_columns))


def lattice_table(session: Session, world: World | str, metric: str | None = None,
                  seed: int | str | None = None) -> LatticeTable:
    """All cells of a world for one metric and seed, in one query, as a :class:`LatticeTable`.

    Parameters
    ----------
    metric : str, optional
        Defaults to the world's metric.
    seed : int, optional
        Defaults to the lowest seed with cells.

    Raises
    ------
    NotFound
        If the world, or cells for that metric / seed, do not exist.
    CfgraphError
        For a sampled world of more than 16 units.
    """
    if isinstance(world, str):
        world = get_world(session, world)
    _whole_lattice(world)
    metric, seed = choose_metric_seed(session, world, metric, seed)
    n = world.n_units
    letters = [u.label for u in world.units]
    slices = list(world.slices)
    position = np.zeros(max([s.id for s in slices], default=0) + 1, dtype=np.int64)
    position[[s.id for s in slices]] = np.arange(len(slices))
    values = np.full((1 << n, len(slices)), np.nan)
    status = np.full(values.shape, "", dtype=object)
    data = _cell_rows(session, (
        select(Node.mask, Cell.slice_id, Cell.value, _STATUS_CODE)
        .join(Cell, Cell.node_id == Node.id)
        .where(Node.world_id == world.id, Cell.metric == metric, Cell.seed == seed)
    ))
    if len(data):
        masks, cols = data[:, 0].astype(np.int64), position[data[:, 1].astype(np.int64)]
        values[masks, cols] = data[:, 2]
        status[masks, cols] = _STATUS[data[:, 3].astype(np.int64)]
    return LatticeTable(
        world=world.name, letters=letters, labels=lattice.all_labels(letters),
        slices=[s.name for s in slices], slice_masks=[s.mask for s in slices],
        metric=metric, seed=seed, values=values, status=status,
    )


def cells_at(session: Session, world: World, masks, metric: str, seed: int,
             slice_ids: list[int] | None = None) -> np.ndarray:
    """Cells of a few training sets on every slice (or on ``slice_ids``), in one indexed query.

    Parameters
    ----------
    masks : sequence of int
        The training sets (repeats allowed).
    slice_ids : list of int, optional
        Restrict to these slices (ids); columns follow this order. Default: all, in position order.

    Returns
    -------
    ndarray, shape (len(masks), m)
        NaN where a cell is missing (or its training set not stored) or failed.

    Raises
    ------
    CfgraphError
        On a mask outside 0 .. 2^n - 1 of a sampled world.
    """
    if slice_ids is None:
        slice_ids = [s.id for s in world.slices]
    if world.lattice == "sampled":  # masks of any size: find the nodes by digest
        return _sampled_cells_at(session, world, [int(m) for m in masks], metric, seed, list(slice_ids))
    masks = np.asarray([int(m) for m in masks], dtype=np.int64)
    out = np.full((len(masks), len(slice_ids)), np.nan)
    if not len(masks) or not slice_ids:
        return out
    query = (
        select(Node.mask, Cell.slice_id, Cell.value)
        .join(Cell, Cell.node_id == Node.id)
        .where(Node.world_id == world.id, Node.mask.in_(np.unique(masks).tolist()),
               Cell.slice_id.in_(list(slice_ids)), Cell.metric == metric, Cell.seed == seed)
    )
    data = _cell_rows(session, query)
    if len(data):
        column = {int(sid): j for j, sid in enumerate(slice_ids)}
        row_of = {int(m): np.flatnonzero(masks == m) for m in np.unique(masks)}
        for mask, slice_id, value in data:  # at most (few masks) x m rows
            out[row_of[int(mask)], column[int(slice_id)]] = value
    return out


def _sampled_cells_at(session: Session, world: World, masks: list[int], metric: str, seed: int,
                      slice_ids: list[int]) -> np.ndarray:
    members = nodes.masks_to_members(masks, world.n_units)
    values, _ = cells_of_nodes(session, world, nodes.find_nodes(session, world, members), [metric], [seed])
    position = {s.id: p for p, s in enumerate(world.slices)}
    return values[:, 0, [position[int(i)] for i in slice_ids], 0].reshape(len(masks), len(slice_ids))


def slice_column(session: Session, world: World, slice_id: int, metric: str, seed: int) -> np.ndarray:
    """Every training set's cell on one slice, shape (2^n,), NaN where missing (one indexed query).

    Raises
    ------
    CfgraphError
        For a sampled world of more than 16 units.
    """
    _whole_lattice(world)
    out = np.full(1 << world.n_units, np.nan)
    data = _cell_rows(session, (
        select(Node.mask, Cell.value).join(Cell, Cell.node_id == Node.id)
        .where(Cell.slice_id == slice_id, Cell.metric == metric, Cell.seed == seed)
    ))
    if len(data):
        out[data[:, 0].astype(np.int64)] = data[:, 1]
    return out
