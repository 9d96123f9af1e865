"""Read-only SQL over the store, safe to expose in a web page (as Datasette does it).

Four walls on SQLite: only a single SELECT / WITH / EXPLAIN statement is accepted; the
query runs on a separate connection opened read-only (``mode=ro``); an
authorizer denies every write, ATTACH, PRAGMA and other non-read action; and a
progress handler interrupts it at a deadline. At most ``max_rows`` rows come
back, with a ``truncated`` flag. On PostgreSQL the same statement check, row and
size caps apply, with a read-only transaction and ``statement_timeout`` as the
other walls (:mod:`cfgraph.sql_postgres`).
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from cfgraph.errors import CfgraphError
from cfgraph.sql_functions import install as install_bounded_functions

DEFAULT_TIMEOUT_MS = 1000
DEFAULT_MAX_ROWS = 1000
#: Largest string or blob one query may build (SQLITE_LIMIT_LENGTH), and the largest
#: result it may return in all: a SELECT of randomblob(10**9) must not exhaust memory.
MAX_VALUE_BYTES = 1_000_000
MAX_RESULT_BYTES = 20_000_000

#: The functions a query may call: SQLite's core, aggregate, window, date, math and JSON
#: functions, and cfgraph's ``get_bit`` (PostgreSQL's, for ``node.members``). Anything else
#: (fts3_tokenizer, load_extension, ...) is denied by the authorizer.
ALLOWED_FUNCTIONS = frozenset("""
abs avg ceil ceiling char coalesce concat concat_ws cos cosh count cume_dist date datetime degrees
dense_rank exp first_value floor format glob group_concat hex ifnull iif instr julianday lag
last_value lead length like likelihood likely ln log log10 log2 lower ltrim max min mod
nth_value ntile nullif octet_length percent_rank pi pow power printf quote radians random
randomblob rank replace round row_number rtrim sign sin sinh sqlite_version sqrt strftime
string_agg substr substring sum tan tanh time timediff total trim trunc typeof unhex unicode
unixepoch unlikely upper zeroblob acos acosh asin asinh atan atan2 atanh median get_bit
""".split())

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


def cell_text(x):
    """A result cell as the SQL page shows it in HTML, CSV and JSON alike: a BLOB as its hex
    digits (as SQLite's ``hex()`` writes them, lower case), anything else unchanged.

    Examples
    --------
    >>> cell_text(b"\\x00\\x0a\\x1b"), cell_text(0.5), cell_text(None)
    ('000a1b', 0.5, None)
    """
    return x.hex() if isinstance(x, (bytes, bytearray, memoryview)) else x


def _authorizer(action, arg1, arg2, *_rest):
    if action == sqlite3.SQLITE_FUNCTION:
        name = (arg2 or "").lower()
        allowed = name in ALLOWED_FUNCTIONS or name.startswith(("json", "jsonb"))
        return sqlite3.SQLITE_OK if allowed else sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK if action in _ALLOWED_ACTIONS else sqlite3.SQLITE_DENY


def _one_line(exc) -> str:
    """SQLite's message with line breaks escaped: it may quote a token of the query (``'a\\nb'``)."""
    return str(exc).replace("\r", "\\r").replace("\n", "\\n")


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


def run_query(target: str | Path, query: str, params: dict | None = None, *,
              max_rows: int = DEFAULT_MAX_ROWS, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> QueryResult:
    """Run one read-only query on a store.

    Parameters
    ----------
    target : path or str
        The SQLite database file (a path or a ``sqlite:///`` URL), or a PostgreSQL
        URL (``postgresql+psycopg://...``) as :attr:`cfgraph.store.Store.url` holds it.
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
    target = str(target)
    if target.startswith("sqlite:///"):
        target = target[len("sqlite:///"):]
    elif target.startswith(("postgresql", "postgres:")):
        from cfgraph.sql_postgres import run_pg_query

        started = time.perf_counter()
        columns, rows, truncated = run_pg_query(target, query, params, max_rows=max_rows, timeout_ms=timeout_ms,
                                                max_result_bytes=MAX_RESULT_BYTES, max_value_bytes=MAX_VALUE_BYTES)
        return QueryResult(columns=columns, rows=rows, truncated=truncated,
                           elapsed_ms=(time.perf_counter() - started) * 1000)
    path = Path(target)
    if not path.exists():
        raise CfgraphError(f"no database at {path}")
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=5, check_same_thread=False)
    bounded = {"refused": None, "error": None, "native": None}
    started = time.perf_counter()
    deadline = started + timeout_ms / 1000.0
    try:
        conn.execute("PRAGMA query_only=1")
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        # The deadline cannot stop one long function call: bound the calls that could be long.
        bounded = install_bounded_functions(conn, MAX_VALUE_BYTES)
        conn.set_authorizer(_authorizer)
        conn.set_progress_handler(lambda: 1 if time.perf_counter() > deadline else 0, 1000)
        cursor = conn.execute(query, params or {})
        columns = [d[0] for d in cursor.description or []]
        rows, size = [], 0
        for row in cursor:
            rows.append(row)
            size += sum(len(v) if isinstance(v, (str, bytes)) else 8 for v in row)
            if size > MAX_RESULT_BYTES:
                raise CfgraphError(f"query refused: its result exceeds {MAX_RESULT_BYTES // 1_000_000} MB")
            if len(rows) > max_rows or time.perf_counter() > deadline:
                break
        if time.perf_counter() > deadline:
            raise CfgraphError(f"query interrupted: it ran past the {timeout_ms} ms deadline")
    except sqlite3.OperationalError as exc:
        if bounded["refused"]:
            raise CfgraphError(f"query refused: {bounded['refused']}") from None
        if bounded["error"]:
            raise CfgraphError(f"SQL error: {bounded['error']}") from None
        if "interrupted" in str(exc):
            raise CfgraphError(f"query interrupted: it ran past the {timeout_ms} ms deadline") from None
        if "not authorized" in str(exc) or "prohibited" in str(exc):
            raise CfgraphError("query refused: only reading is allowed (no writes, ATTACH, PRAGMA "
                               "or functions outside SQLite's core, math, date and JSON sets)") from None
        raise CfgraphError(f"SQL error: {_one_line(exc)}") from None
    except sqlite3.ProgrammingError as exc:
        raise CfgraphError(f"query refused: {_one_line(exc)}") from None
    except sqlite3.DataError as exc:  # string or blob too big
        raise CfgraphError(f"query refused: {_one_line(exc)} (values are capped at {MAX_VALUE_BYTES:,} bytes)") from None
    except sqlite3.Error as exc:
        raise CfgraphError(f"SQL error: {_one_line(exc)}") from None
    finally:
        conn.close()
        if bounded["native"] is not None:
            bounded["native"].close()
    return QueryResult(columns=columns, rows=rows[:max_rows], truncated=len(rows) > max_rows,
                       elapsed_ms=(time.perf_counter() - started) * 1000)
