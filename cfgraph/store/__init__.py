"""The lattice store: a SQLAlchemy database of worlds, units, nodes, edges, slices and cells."""

from cfgraph.store.db import Store, open_store, resolve_url

__all__ = ["Store", "open_store", "resolve_url"]
