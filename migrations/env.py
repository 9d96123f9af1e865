"""Alembic environment for cfgraph: runs on a connection handed over by cfgraph.store.db."""

from alembic import context
from sqlalchemy import create_engine

import cfgraph.store.related_models  # noqa: F401  (related-work tables)
from cfgraph.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # plain `alembic upgrade head` with sqlalchemy.url set
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as conn:
            _run(conn)
        return
    _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things in place
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("cfgraph migrations run online only (cfgraph init)")
run_migrations_online()
