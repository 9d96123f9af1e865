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


def seed_cells(session: Session, world: World, metric: str, seeds: Sequence[int] | None = None, *,
               masks: Sequence[int] | None = None,
               slice_ids: Sequence[int] | None = None) -> tuple[list[int], np.ndarray, np.ndarray]:
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
    masks : sequence of int, optional
        Read only these training sets (repeats allowed); the mask axis then has
        length t = len(masks), in this order. Default: all 2**n, in mask order.
    slice_ids : sequence of int, optional
        Read only these slices (ids); the slice axis then has length m = len(slice_ids),
        in this order. Default: every slice of the world, in position order.

    Returns
    -------
    seeds : list of int
        Length s.
    values : ndarray, shape (s, 2**n, m), or (s, t, m) with ``masks``
        Cell values; NaN where a cell is missing or failed.
    status : ndarray of int8, same shape
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
    wanted = None
    if masks is not None:
        wanted, back = np.unique(np.asarray([int(m) for m in masks], dtype=np.int64), return_inverse=True)
        query = query.where(Node.mask.in_(wanted.tolist()))
    if slice_ids is None:
        slice_ids = [s.id for s in world.slices]
    else:
        slice_ids = [int(i) for i in slice_ids]
        query = query.where(Cell.slice_id.in_(slice_ids))
    data = _cell_rows(session, query)
    seed_col = data[:, 0].astype(np.int64)
    if seeds is None:
        seeds = np.unique(seed_col).tolist()
    position = np.zeros(max(slice_ids, default=0) + 1, dtype=np.int64)
    position[slice_ids] = np.arange(len(slice_ids))
    shape = (len(seeds), 1 << world.n_units if wanted is None else len(wanted), len(slice_ids))
    values = np.full(shape, np.nan)
    status = np.full(shape, MISSING, dtype=np.int8)
    if len(data):
        order = np.argsort(seeds)
        layer = order[np.searchsorted(np.asarray(seeds)[order], seed_col)]
        row = data[:, 1].astype(np.int64)
        index = (layer, row if wanted is None else np.searchsorted(wanted, row), position[data[:, 2].astype(np.int64)])
        values[index] = data[:, 3]
        status[index] = data[:, 4].astype(np.int8)
    if wanted is not None:
        values, status = values[:, back], status[:, back]
    return seeds, values, status
