"""The Python API in a few names: open a store, build or import a world, open it and read it.

>>> from cfgraph.api import World, import_grid, open_store
>>> from cfgraph.resources import seed_file
>>> store = open_store("sqlite://")  # in memory; a path or URL keeps it
>>> _ = import_grid(store, seed_file("toy_grid.csv"), "toy")
>>> with World.open(store, "toy") as toy:
...     [u.label for u in toy.units], float(round(toy.values("loo", ["B"]).mean["loo"][1, 0], 2))
(['A', 'B', 'C', 'D'], 0.33)
"""

from __future__ import annotations

from cfgraph.grids import import_grid
from cfgraph.store import Store, open_store
from cfgraph.tables import LatticeTable
from cfgraph.valuation import estimate
from cfgraph.world import World, list_worlds
from cfgraph.worlds import build_world, make_spec

__all__ = ["open_store", "build_world", "import_grid", "make_spec", "World", "load_lattice", "list_worlds",
           "estimate"]


def load_lattice(store: Store, world: str, metric: str | None = None, seed: int | None = None) -> LatticeTable:
    """All cells of a world for one metric and seed, as arrays indexed by bitmask.

    Parameters
    ----------
    store : Store
        From :func:`open_store`.
    world : str
        The world's name.
    metric, seed : optional
        Default to the world's metric and its lowest seed.

    Returns
    -------
    LatticeTable
        ``values`` has shape (2**n, number of slices); NaN marks a missing cell.
        ``column(slice_name)`` gives one slice, shape (2**n,).

    Raises
    ------
    NotFound
        On an unknown world, metric or seed.
    """
    with World.open(store, world) as w:
        return w.table(metric, seed)
