"""The range of a world's cells for one metric: the bounds of a colour scale that stays put.

One aggregate query over every slice, so a page that draws a few training sets
can colour them on the world's scale without reading the lattice. The mean over
seeds is taken per cell (a cell counts only when every seed holds it, as the
grid's mean table), still in one statement whatever the number of seeds.
"""

from __future__ import annotations

import math

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cfgraph.store.models import Cell, Node, World

__all__ = ["cell_range"]


def cell_range(session: Session, world: World, metric: str, seed: int | None = None,
               seeds: int = 1) -> tuple[float, float, int]:
    """The smallest and largest stored value of a world's cells for one metric, over every slice.

    Parameters
    ----------
    session : Session
    world : World
        The world's record (:class:`cfgraph.store.models.World`).
    metric : str
    seed : int, optional
        One seed's cells; None: the per-cell mean over seeds, counting a cell only when
        ``seeds`` seeds hold it.
    seeds : int
        How many seeds are stored (used when ``seed`` is None).

    Returns
    -------
    lo, hi : float
        NaN when no cell has a value.
    count : int
        How many cells (training set x slice) the range spans.

    Examples
    --------
    >>> from cfgraph.store import open_store
    >>> from cfgraph.resources import seed_file
    >>> from cfgraph.grids import import_grid
    >>> from cfgraph.store.catalog import get_world
    >>> store = open_store("sqlite://")
    >>> _ = import_grid(store, seed_file("toy_grid.csv"), "toy")
    >>> with store.session() as session:
    ...     cell_range(session, get_world(session, "toy"), "score", 0)
    (0.38, 0.92, 16)
    """
    where = (Node.world_id == world.id, Cell.metric == metric, Cell.value.is_not(None))
    if seed is not None:
        query = (select(func.min(Cell.value), func.max(Cell.value), func.count(Cell.value))
                 .join(Node, Node.id == Cell.node_id).where(*where, Cell.seed == seed))
    else:
        means = (select(func.avg(Cell.value).label("mean")).join(Node, Node.id == Cell.node_id).where(*where)
                 .group_by(Cell.node_id, Cell.slice_id).having(func.count(Cell.value) >= seeds).subquery())
        query = select(func.min(means.c.mean), func.max(means.c.mean), func.count(means.c.mean))
    lo, hi, count = session.execute(query).one()
    return (math.nan if lo is None else float(lo)), (math.nan if hi is None else float(hi)), int(count or 0)
