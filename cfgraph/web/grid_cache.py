"""The loaded grid of a world, kept between requests while the store has not changed.

Reading the n = 8 all-unions grid (65,280 cells) costs about 60 ms, most of a
panel request; clicking through the grid asks for the same grid again and again.
Cells are only ever inserted (:func:`cfgraph.store.cells.write_cells` skips
conflicts, never updates), so the largest cell id and node id in the store are
a cheap version (two primary-key look-ups): a new cell anywhere changes them and
the next request reads the grid afresh. The world's id and creation time are
part of the key, so a world deleted and built again under its name is not
mistaken for the old one. Cached grids are shared between requests and
threads, so their arrays are made read-only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from flask import current_app
from sqlalchemy import func, select

from cfgraph.store.models import Cell, Node
from cfgraph.world import Grid, World

#: Grids kept per app (world x metric x seed): a few MB at n = 8.
CACHE_SIZE = 8
_LOCK = threading.Lock()


def store_version(world: World) -> tuple:
    """``(max cell id, max node id)`` of the whole store: changes whenever a cell or training set is added."""
    row = world.session.execute(select(select(func.max(Cell.id)).scalar_subquery(),
                                       select(func.max(Node.id)).scalar_subquery())).one()
    return tuple(row)


def _freeze(grid: Grid) -> Grid:
    arrays = [grid.table.values, grid.table.status] + list((grid.summary or {}).values())
    for array in arrays:
        if hasattr(array, "flags"):
            array.flags.writeable = False
    return grid


def cached_grid(world: World, metric: str | None = None, seed: str | int | None = None) -> Grid:
    """``world.grid(metric, seed)``, from this app's cache when the store is unchanged.

    Raises
    ------
    NotFound
        On a metric or seed without cells (as :meth:`cfgraph.world.World.grid`).
    """
    across = world.across_seeds(seed)
    chosen_metric, chosen_seed = world.choose(metric, None if across else seed)
    key = (world.record.id, str(world.record.created_at), chosen_metric, None if across else chosen_seed)
    version = store_version(world)
    cache = current_app.extensions.setdefault("cfgraph.grid_cache", OrderedDict())
    with _LOCK:
        hit = cache.get(key)
        if hit is not None and hit[0] == version:
            cache.move_to_end(key)
            return hit[1]
    grid = _freeze(world.grid(metric, seed))
    with _LOCK:
        cache[key] = (version, grid)
        cache.move_to_end(key)
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
    return grid
