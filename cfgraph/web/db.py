"""The store behind the app, and one database session per request (closed at teardown)."""

from __future__ import annotations

from flask import Flask, current_app, g

from cfgraph.store import Store, open_store

EXTENSION = "cfgraph.store"


def init_app(app: Flask) -> None:
    """Open the store named by ``DATABASE_URL`` (it must exist) and close sessions at teardown."""
    app.extensions[EXTENSION] = open_store(app.config["DATABASE_URL"], create=False)
    app.teardown_appcontext(close_session)


def get_store() -> Store:
    return current_app.extensions[EXTENSION]


def get_session():
    """This request's session (opened on first use)."""
    if "db_session" not in g:
        g.db_session = get_store().session()
    return g.db_session


def close_session(_exc=None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def sql_target() -> str:
    """What the read-only SQL page queries: the store's SQLite file, or its PostgreSQL URL
    (:func:`cfgraph.sql.run_query` opens its own read-only connection to either)."""
    store = get_store()
    return store.sqlite_path or store.url


def is_postgres() -> bool:
    """Whether the store is PostgreSQL (the schema listing differs)."""
    return get_store().engine.dialect.name == "postgresql"
