"""Fast reads of many rows: plain tuples from the DB-API cursor where the dialect allows it."""

from __future__ import annotations

from sqlalchemy.orm import Session

__all__ = ["raw_rows"]


def raw_rows(session: Session, query) -> list[tuple]:
    """Run a query and return its rows as plain tuples.

    On SQLite the rows come from the DB-API cursor of the session's own connection
    (same transaction), skipping SQLAlchemy's row objects: about three times faster
    for the 65,536 cells of an n = 16 lattice, and numpy reads plain tuples ten times
    faster than rows.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        compiled = query.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
        params = [compiled.params[name] for name in compiled.positiontup]
        return connection.connection.driver_connection.execute(str(compiled), params).fetchall()
    return [tuple(row) for row in connection.execute(query)]
