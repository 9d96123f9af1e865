"""Every seed's cells of one metric, in one query: the data behind summaries across seeds.

Functions take a ``session`` and do not commit. The array layout (seed,
training-set mask, slice position) is what :class:`cfgraph.seeds.SeedStack`
summarises; the SQL view ``grid_summary`` gives the same per-cell mean, std and
n to SQL users.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import case, select
from sqlalchemy.orm import Session

from cfgraph.store.cells import _cell_rows
from cfgraph.store.models import CELL_STATUSES, Cell, Node, World

__all__ = ["MISSING", "seed_cells"]

#: Status code of a cell that is not stored; other codes index ``CELL_STATUSES``.
MISSING = -1
_STATUS_CODE = case(*((Cell.status == name, code) for code, name in enumerate(CELL_STATUSES)), else_=MISSING)


def seed_cells(session: Session, world: World, metric: str,
               seeds: Sequence[int] | None = None) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Cells of one metric for several seeds, as arrays indexed by (seed, mask, slice), in one query.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    world : World
        The world's record (its ``slices`` give the column order).
    metric : str
    seeds : sequence of int, optional
        The seeds to read, in this order. Default: every seed with at least
        one cell of ``metric``, ascending.

    Returns
    -------
    seeds : list of int
        Length s.
    values : ndarray, shape (s, 2**n, m)
        Cell values; NaN where a cell is missing or failed.
    status : ndarray of int8, shape (s, 2**n, m)
        Index into :data:`cfgraph.store.models.CELL_STATUSES`, or ``MISSING`` (-1).
    """
    query = (
        select(Cell.seed, Node.mask, Cell.slice_id, Cell.value, _STATUS_CODE)
        .join(Cell, Cell.node_id == Node.id)
        .where(Node.world_id == world.id, Cell.metric == metric)
    )
    if seeds is not None:
        seeds = [int(s) for s in seeds]
        query = query.where(Cell.seed.in_(seeds))
    data = _cell_rows(session, query)
    seed_col = data[:, 0].astype(np.int64)
    if seeds is None:
        seeds = np.unique(seed_col).tolist()
    slices = list(world.slices)
    position = np.zeros(max([s.id for s in slices], default=0) + 1, dtype=np.int64)
    position[[s.id for s in slices]] = np.arange(len(slices))
    shape = (len(seeds), 1 << world.n_units, len(slices))
    values = np.full(shape, np.nan)
    status = np.full(shape, MISSING, dtype=np.int8)
    if len(data):
        order = np.argsort(seeds)
        layer = order[np.searchsorted(np.asarray(seeds)[order], seed_col)]
        index = (layer, data[:, 1].astype(np.int64), position[data[:, 2].astype(np.int64)])
        values[index] = data[:, 3]
        status[index] = data[:, 4].astype(np.int8)
    return seeds, values, status
