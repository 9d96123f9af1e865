"""The store behind the app, and one database session per request (closed at teardown)."""

from __future__ import annotations

from flask import Flask, current_app, g

from cfgraph.errors import CfgraphError
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


def sqlite_path() -> str:
    """The store's SQLite file (the SQL page needs one).

    Raises
    ------
    CfgraphError
        When the store is not a SQLite file.
    """
    path = get_store().sqlite_path
    if path is None:
        raise CfgraphError("read-only SQL is supported on SQLite stores only")
    return path
