"""What every command group of the CLI shares: the store named by the global ``--db``."""

from __future__ import annotations

import click

from cfgraph.store import Store, open_store, queries
from cfgraph.store.queries import LatticeTable


def store_of(ctx: click.Context, create: bool = True) -> Store:
    """The store of the global ``--db`` option (else ``$CFGRAPH_DATABASE_URL``, else ./cfgraph.db).

    With ``create=False`` a missing or older database is refused rather than made.
    """
    return open_store((ctx.find_object(dict) or {}).get("db"), create=create)


def lattice_of(ctx: click.Context, world: str, metric: str | None = None, seed: int | None = None) -> LatticeTable:
    """A world's cells for one metric and seed, from the store of ``--db``."""
    with store_of(ctx, create=False).session() as session:
        return queries.lattice_table(session, world, metric, seed)
