"""Read-only SQL over the store, safe to expose in a web page (as Datasette does it).

Four walls: only a single SELECT / WITH / EXPLAIN statement is accepted; the
query runs on a separate connection opened read-only (``mode=ro``); an
authorizer denies every write, ATTACH, PRAGMA and other non-read action; and a
progress handler interrupts it at a deadline. At most ``max_rows`` rows come
back, with a ``truncated`` flag.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from cfgraph.errors import CfgraphError

DEFAULT_TIMEOUT_MS = 1000
DEFAULT_MAX_ROWS = 1000

_ALLOWED_ACTIONS = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    getattr(sqlite3, "SQLITE_RECURSIVE", 33),
}
_COMMENTS = re.compile(r"(--[^\n]*\n?)|(/\*.*?\*/)", re.S)
_FIRST_WORD = re.compile(r"^\s*([A-Za-z]+)")


@dataclass
class QueryResult:
    """Columns, rows (tuples), whether rows were cut at the cap, and wall milliseconds."""

    columns: list[str]
    rows: list[tuple]
    truncated: bool
    elapsed_ms: float


def _authorizer(action, *_args):
    return sqlite3.SQLITE_OK if action in _ALLOWED_ACTIONS else sqlite3.SQLITE_DENY


def check_statement(query: str) -> str:
    """Refuse anything but one SELECT / WITH / EXPLAIN statement (first wall).

    Raises
    ------
    CfgraphError
        On an empty query or another kind of statement.
    """
    stripped = _COMMENTS.sub(" ", query or "").strip().rstrip(";").strip()
    if not stripped:
        raise CfgraphError("empty query")
    match = _FIRST_WORD.match(stripped)
    word = match.group(1).upper() if match else ""
    if word not in ("SELECT", "WITH", "EXPLAIN", "VALUES"):
        raise CfgraphError(f"only read-only queries (SELECT, WITH, EXPLAIN) are allowed, not {word or 'that'}")
    return query


def run_query(sqlite_path: str | Path, query: str, params: dict | None = None, *,
              max_rows: int = DEFAULT_MAX_ROWS, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> QueryResult:
    """Run one read-only query on a SQLite store.

    Parameters
    ----------
    sqlite_path : path
        The database file.
    query : str
        One SELECT / WITH / EXPLAIN statement; user values go in ``params``
        as named parameters (``:name``).
    max_rows : int
        Row cap; the result says ``truncated`` when more rows existed.
    timeout_ms : int
        Deadline in milliseconds; a longer query is interrupted.

    Raises
    ------
    CfgraphError
        If the statement is refused, runs past the deadline, or fails.
    """
    check_statement(query)
    path = Path(sqlite_path)
    if not path.exists():
        raise CfgraphError(f"no database at {path}")
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=5, check_same_thread=False)
    started = time.perf_counter()
    deadline = started + timeout_ms / 1000.0
    try:
        conn.execute("PRAGMA query_only=1")
        conn.set_authorizer(_authorizer)
        conn.set_progress_handler(lambda: 1 if time.perf_counter() > deadline else 0, 1000)
        cursor = conn.execute(query, params or {})
        rows = cursor.fetchmany(max_rows + 1)
        columns = [d[0] for d in cursor.description or []]
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            raise CfgraphError(f"query interrupted: it ran past the {timeout_ms} ms deadline") from None
        if "not authorized" in str(exc):
            raise CfgraphError("query refused: only reading is allowed (no writes, ATTACH or PRAGMA)") from None
        raise CfgraphError(f"SQL error: {exc}") from None
    except sqlite3.ProgrammingError as exc:
        raise CfgraphError(f"query refused: {exc}") from None
    except sqlite3.Error as exc:
        raise CfgraphError(f"SQL error: {exc}") from None
    finally:
        conn.close()
    return QueryResult(columns=columns, rows=rows[:max_rows], truncated=len(rows) > max_rows,
                       elapsed_ms=(time.perf_counter() - started) * 1000)
