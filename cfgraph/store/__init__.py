"""The lattice store: a SQLAlchemy database of worlds, units, nodes, edges, slices and cells."""

from cfgraph.store import related_models  # noqa: F401  (puts the related-work tables on Base.metadata)
from cfgraph.store.db import Store, open_store, resolve_url

__all__ = ["Store", "open_store", "resolve_url"]
