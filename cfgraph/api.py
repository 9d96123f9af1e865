"""The Python API in a few names: open a store, build or import a world, read its lattice."""

from __future__ import annotations

from cfgraph.store import Store, open_store, queries
from cfgraph.store.queries import LatticeTable
from cfgraph.worlds import build_world, import_grid, make_spec

__all__ = ["open_store", "build_world", "import_grid", "make_spec", "load_lattice", "list_worlds"]


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
    with store.session() as session:
        return queries.lattice_table(session, world, metric, seed)


def list_worlds(store: Store) -> list[dict]:
    """Every stored world with its size, model, metric and completeness."""
    with store.session() as session:
        return queries.list_worlds(session)
