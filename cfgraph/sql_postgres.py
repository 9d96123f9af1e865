"""Read-only SQL over a PostgreSQL store: the walls of :mod:`cfgraph.sql` in PostgreSQL's terms.

Each query gets a dedicated connection and these walls:

1. one SELECT / WITH / EXPLAIN / VALUES statement (:func:`cfgraph.sql.check_statement`), sent
   with the extended query protocol, which refuses a second statement;
2. a ``READ ONLY`` transaction, rolled back at the end: no write, DDL, ``nextval`` or large
   object can change the database;
3. ``SET LOCAL statement_timeout`` for the deadline (and ``lock_timeout``, so a query never
   waits on a writer's lock for longer);
4. names refused before the query reaches the server: functions that reach the server's files
   (``pg_read_file``, ``pg_ls_dir``, ``lo_import``), other databases (``dblink``), other
   sessions or settings (``set_config``, ``pg_terminate_backend``) or that run SQL held in a
   string (``query_to_xml``, ``ts_stat``), and Unicode-escaped identifiers (``U&"..."``) that
   could spell them;
5. when the URL names a superuser, ``SET LOCAL ROLE pg_read_all_data`` (PostgreSQL 14+): the
   query runs with read privileges only. Any other role keeps its own privileges (give the web
   page a role with SELECT on cfgraph's tables and views only); the catalogs that hold secrets
   (``pg_authid``, ``pg_shadow``, user mappings, auth rules) are refused by name whatever the role.

Rows stream one at a time and stop at ``max_rows + 1`` or the result-size cap. PostgreSQL's
``numeric`` comes back as float, as SQLite's numbers do; ``json``, ``jsonb``, dates, times
and the like (:data:`AS_TEXT`) as their text, as SQLite stores them, so CSV and JSON show
JSON rather than a Python ``repr`` and the size cap counts their length.
"""

from __future__ import annotations

import re

from cfgraph.errors import CfgraphError, StoreUnavailable

#: Functions that reach past the store's tables: the server's files, large objects, other
#: databases, other sessions, settings and roles, or SQL held in a string. Matched as whole
#: words anywhere in the query, so a string handed to another function cannot spell them either.
REFUSED_NAMES = re.compile(
    r"\b(pg_read_file|pg_read_binary_file|pg_ls_\w+|pg_stat_file|pg_file_\w+|pg_logdir_ls|lo_\w+|"
    r"loread|lowrite|dblink\w*|set_config|pg_terminate_backend|pg_cancel_backend|pg_reload_conf|"
    r"pg_rotate_logfile|pg_promote|pg_switch_wal|pg_create_\w+|pg_drop_\w+|pg_replication_\w+|"
    r"pg_logical_\w+|pg_advisory_\w+|pg_try_advisory_\w+|pg_notify|pg_sleep\w*|"
    r"\w+_to_xml\w*|query_to_xmlschema|ts_stat|ts_rewrite|txid_current\w*|pg_current_xact_id\w*|"
    # Catalogs holding secrets or other sessions' queries (password hashes, user mappings, auth rules):
    # readable by pg_read_all_data, so refused by name whatever the role.
    r"pg_authid|pg_shadow|pg_user_mappings?|pg_hba_file_rules|pg_ident_file_mappings|pg_stat_activity|"
    r"pg_largeobject\w*|pg_statistic\w*)\b",
    re.IGNORECASE)
#: PostgreSQL types loaded as their text output (psycopg would build dicts, datetimes, UUIDs).
AS_TEXT = ("json", "jsonb", "timestamp", "timestamptz", "date", "time", "timetz", "interval", "uuid")
_UNICODE_ESCAPE = re.compile(r"\bU&['\"]", re.IGNORECASE)


def check_names(query: str) -> None:
    """Refuse a query that names a function outside the read-only set (fourth wall).

    Raises
    ------
    CfgraphError
        Naming the first refused function.

    Examples
    --------
    >>> check_names("SELECT count(*) FROM node")
    >>> check_names("SELECT pg_read_file('/etc/passwd')")
    Traceback (most recent call last):
    cfgraph.errors.CfgraphError: query refused: pg_read_file is not allowed (only reading the store's tables is)
    """
    if _UNICODE_ESCAPE.search(query):
        raise CfgraphError("query refused: Unicode-escaped names (U&) are not allowed")
    found = REFUSED_NAMES.search(query)
    if found:
        raise CfgraphError(f"query refused: {found.group(1).lower()} is not allowed "
                           "(only reading the store's tables is)")


def conninfo(url: str) -> str:
    """A libpq connection URI for a SQLAlchemy PostgreSQL URL (the driver name dropped).

    Examples
    --------
    >>> conninfo("postgresql+psycopg://me:pw@127.0.0.1:5433/cf")
    'postgresql://me:pw@127.0.0.1:5433/cf'
    """
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _bind(query: str, params: dict | None):
    """The query with ``:name`` parameters in psycopg's style, and its parameters."""
    if not params:
        return query, None
    from sqlalchemy import text
    from sqlalchemy.dialects.postgresql import psycopg as dialect

    compiled = text(query).compile(dialect=dialect.dialect())
    return str(compiled), dict(params)


def _one_line(exc) -> str:
    first = str(exc).strip().splitlines()
    return first[0] if first else type(exc).__name__


def _empty_result_columns(cursor, sql: str, values) -> list[str]:
    """The column names of a query that returned no rows, as SQLite gives them: the query again
    under ``LIMIT 0`` (not run to its end). EXPLAIN always returns rows, so it never comes here."""
    cursor.execute(f"SELECT * FROM ({sql.rstrip().rstrip(';')}\n) AS result LIMIT 0", values)
    return [d.name for d in cursor.description or []]


def run_pg_query(url: str, query: str, params: dict | None, *, max_rows: int, timeout_ms: int,
                 max_result_bytes: int, max_value_bytes: int = 1_000_000):
    """Run one read-only query on a PostgreSQL store (see the module's walls).

    Parameters
    ----------
    url : str
        A SQLAlchemy PostgreSQL URL (``postgresql+psycopg://...``).
    query : str
        One statement, already accepted by :func:`cfgraph.sql.check_statement`.
    params : dict or None
        Named parameters (``:name`` in the query).
    max_rows, timeout_ms, max_result_bytes, max_value_bytes : int
        Row cap, deadline, result-size cap and one value's size cap.

    Returns
    -------
    tuple
        ``(columns, rows, truncated)``.

    Raises
    ------
    CfgraphError
        If a wall refuses the query, it runs past the deadline, or it fails.
    """
    check_names(query)
    try:
        import psycopg
        from psycopg.types.numeric import FloatLoader
        from psycopg.types.string import TextLoader
    except ImportError:
        raise CfgraphError("no database driver for postgresql (psycopg); "
                           "install it with `pip install 'cfgraph[postgres]'`") from None
    sql, values = _bind(query, params)
    try:
        conn = psycopg.connect(conninfo(url), connect_timeout=10)
    except psycopg.Error as exc:
        raise StoreUnavailable(f"cannot connect to the store: {_one_line(exc)}") from None
    try:
        conn.read_only = True  # the implicit BEGIN is BEGIN READ ONLY
        conn.adapters.register_loader("numeric", FloatLoader)
        for name in AS_TEXT:
            conn.adapters.register_loader(name, TextLoader)
        with conn.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, true), "
                           "set_config('lock_timeout', %s, true)", (f"{int(timeout_ms)}ms",) * 2)
            # A superuser drops to read-only privileges; any other role keeps its own (which may be
            # narrower than pg_read_all_data's every table of every schema).
            superuser = cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
            if superuser and superuser[0]:
                cursor.execute("SET LOCAL ROLE pg_read_all_data")
            rows, size, columns = [], 0, None
            # stream() sends the query with the extended protocol: one statement only.
            for row in cursor.stream(sql, values):
                if columns is None:
                    columns = [d.name for d in cursor.description or []]
                rows.append(row)
                lengths = [len(v) if isinstance(v, (str, bytes)) else 8 for v in row]
                if lengths and max(lengths) > max_value_bytes:
                    raise CfgraphError(f"query refused: values are capped at {max_value_bytes:,} bytes")
                size += sum(lengths)
                if size > max_result_bytes:
                    raise CfgraphError(f"query refused: its result exceeds {max_result_bytes // 1_000_000} MB")
                if len(rows) > max_rows:
                    break
            if columns is None:  # no rows: stream() keeps no description of an empty result
                columns = _empty_result_columns(cursor, sql, values)
    except psycopg.errors.QueryCanceled:
        raise CfgraphError(f"query interrupted: it ran past the {timeout_ms} ms deadline") from None
    except (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege) as exc:
        raise CfgraphError(f"query refused: only reading is allowed ({_one_line(exc)})") from None
    except psycopg.errors.SyntaxError as exc:
        if "multiple commands" in str(exc):
            raise CfgraphError("query refused: one statement at a time") from None
        raise CfgraphError(f"SQL error: {_one_line(exc)}") from None
    except psycopg.Error as exc:
        if "multiple commands" in str(exc):
            raise CfgraphError("query refused: one statement at a time") from None
        raise CfgraphError(f"SQL error: {_one_line(exc)}") from None
    finally:
        conn.close()  # never committed: the transaction is rolled back
    return columns, rows[:max_rows], len(rows) > max_rows
