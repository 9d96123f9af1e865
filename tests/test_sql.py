"""The read-only SQL walls (shared by the CLI and the web page), beyond writes and deadlines."""

import hashlib
import json
import math

import pytest

from cfgraph.errors import CfgraphError
from cfgraph.render import render
from cfgraph.sql import MAX_VALUE_BYTES, run_query


@pytest.fixture
def db(toy_store):
    return toy_store.sqlite_path


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.mark.parametrize("query,needle", [
    ("SELECT randomblob(1000000000)", "too big"),
    (f"SELECT zeroblob({MAX_VALUE_BYTES + 1})", "too big"),
    ("SELECT zeroblob(900000) FROM node, node AS n2 LIMIT 999", "exceeds"),
    ("SELECT fts3_tokenizer('simple')", "functions outside"),
    ("SELECT load_extension('x')", "functions outside"),
    ("SELECT * FROM pragma_table_info('cell')", "only reading"),
])
def test_oversized_results_and_unlisted_functions_are_refused(db, query, needle):
    before = digest(db)
    with pytest.raises(CfgraphError, match=needle):
        run_query(db, query)
    assert digest(db) == before


def test_ordinary_functions_still_work(db):
    result = run_query(db, "SELECT round(avg(value), 4), json_extract('{\"a\": 2}', '$.a'), "
                           "upper('x'), sqrt(4.0), date('2026-01-02') FROM grid")
    assert result.rows == [(round((0.85 + 0.72 + 0.45 + 0.38 + 0.88 + 0.80 + 0.75 + 0.52 + 0.92 + 0.88 + 0.85
                                   + 0.82 + 0.78 + 0.55 + 0.82 + 0.80) / 16, 4), 2, "X", 2.0, "2026-01-02")]


def test_row_cap_and_json_without_infinity(db):
    result = run_query(db, "SELECT mask FROM node", max_rows=5)
    assert len(result.rows) == 5 and result.truncated
    inf = run_query(db, "SELECT 1e999, -1e999")
    assert math.isinf(inf.rows[0][0])
    assert json.loads(render(inf.columns, inf.rows, "json")) == [{"1e999": "Infinity", "-1e999": "-Infinity"}]


# ------------------------------------------------ one function call cannot outlive the deadline

A_RUN = "replace(hex(zeroblob({n})), '0', 'a')"

SLOW_CALLS = [
    # SQLite repeats the character two billion times into a buffer that refuses it (~3 s).
    ("SELECT length(printf('%.*c', 2147483647, 'x'))", r"printf\(\) widths and precisions"),
    ("SELECT length(format('%.*c', 2147483647, 'x'))", r"format\(\) widths and precisions"),
    ("SELECT length(printf('%.2147483647c', 'x'))", r"printf\(\) widths and precisions"),
    # Many conversions each under the cap, together far over it (a probe ran > 60 s natively).
    ("WITH s(x) AS (SELECT replace(hex(zeroblob(100000)), '00', '%.999999c')) SELECT length(printf(x, 'a')) FROM s",
     r"printf\(\) widths and precisions"),
    ("SELECT length(format(replace(hex(zeroblob(3)), '00', '%.400000c'), 'a'))", r"format\(\) widths and precisions"),
    # A needle compared at every position of a 800 kB haystack (~2 s natively).
    (f"SELECT instr({A_RUN.format(n=400000)}, {A_RUN.format(n=100000)} || 'b')", None),
    (f"SELECT length(replace({A_RUN.format(n=400000)}, {A_RUN.format(n=40000)} || 'b', ''))", None),
    # trim scans its set for every character: 95 s natively for 800 kB by 80 kB.
    (f"SELECT length(ltrim({A_RUN.format(n=400000)}, replace(hex(zeroblob(40000)), '0', 'b') || 'a'))", None),
    (f"SELECT length(rtrim({A_RUN.format(n=400000)}, replace(hex(zeroblob(40000)), '0', 'b') || 'a'))", None),
    (f"SELECT length(trim({A_RUN.format(n=400000)}, replace(hex(zeroblob(40000)), '0', 'b') || 'a'))", None),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("query,refusal", SLOW_CALLS)
def test_known_slow_functions_end_within_the_deadline(db, query, refusal):
    import time

    before = digest(db)
    started = time.perf_counter()
    if refusal:
        with pytest.raises(CfgraphError, match=refusal):
            run_query(db, query, timeout_ms=1000)
    else:
        result = run_query(db, query, timeout_ms=1000)
        assert result.rows[0][0] in (0, 800000)
    # The native calls took 2 to 95 s; a bound several times the deadline still tells them apart.
    assert time.perf_counter() - started < 5
    assert digest(db) == before


ORDINARY = [
    "instr('banana', 'nan')", "instr('banana', '')", "instr('', 'a')", "instr(NULL, 'a')", "instr('a', NULL)",
    "instr(12345, 34)", "instr(1.5, '.')", "instr(x'00616263', x'6263')", "instr('héllo', 'llo')",
    "replace('banana', 'an', 'AN')", "replace('abc', '', 'x')", "replace('abc', 'b', '')", "replace(NULL, 'a', 'b')",
    "replace('a', NULL, 'b')", "replace('a', 'a', NULL)", "replace(1.25, '.', ',')", "replace(100, 0, 9)",
    "trim('  hi  ')", "ltrim('  hi  ')", "rtrim('  hi  ')", "trim('xyhixy', 'xy')", "ltrim('xyhixy', 'yx')",
    "rtrim('xyhixy', 'y')", "trim('aaa', 'a')", "trim('abc', '')", "trim(NULL)", "trim('a', NULL)",
    "ltrim(12300, 1)", "rtrim(12300, 0)", "trim('-]x]-', ']-')", "trim('ééxéé', 'é')",
    "printf('%5.2f|%s|%d', 3.14159, 'ok', 42)", "printf('%-6s|', 'ab')", "printf('%.*f', 3, 2.0)",
    "printf('%q', 'it''s')", "printf('%%')", "printf(NULL)", "printf('%.3c', 'x')", "format('%05d', 7)",
    "printf('%s and %s', 'a')", "printf('%,d', 1234567)", "printf('%!.3g', 1.0)",
]


@pytest.mark.parametrize("expression", ORDINARY)
def test_bounded_functions_agree_with_sqlite(db, expression):
    import sqlite3

    native = sqlite3.connect(":memory:").execute(f"SELECT {expression}").fetchone()[0]
    assert run_query(db, f"SELECT {expression}").rows[0][0] == native


# ------------------------------------------------ the same walls on SQLite and PostgreSQL (issue 12)

@pytest.fixture
def toy(any_store):
    """The toy world on each backend: the ``run_query`` target and a fingerprint of the data."""
    return toy_target(any_store)


@pytest.fixture
def pg_toy(pg_store):
    """The toy world on PostgreSQL only."""
    return toy_target(pg_store)


def toy_target(any_store):
    from cfgraph.grids import import_grid
    from cfgraph.resources import seed_file

    import_grid(any_store, seed_file("toy_grid.csv"), "toy")
    target = any_store.sqlite_path or any_store.url

    def fingerprint():
        from sqlalchemy import inspect, text

        with any_store.engine.connect() as conn:
            names = sorted(inspect(conn).get_table_names())
            counts = [conn.execute(text(f"SELECT count(*) FROM {name}")).scalar() for name in names]
            total = conn.execute(text("SELECT sum(value) FROM cell")).scalar()
        return names, counts, float(total), inspect(any_store.engine).get_view_names()

    return target, fingerprint


def backend(target):
    return "postgresql" if str(target).startswith("postgresql") else "sqlite"


REFUSED_ON_BOTH = [
    ("DELETE FROM cell", "only read-only queries"),
    ("UPDATE cell SET value = 0", "only read-only queries"),
    ("DROP TABLE world", "only read-only queries"),
    ("CREATE TABLE x (a int)", "only read-only queries"),
    ("SET statement_timeout = 0", "only read-only queries"),
    ("COPY cell TO STDOUT", "only read-only queries"),
    ("PRAGMA writable_schema = 1", "only read-only queries"),
    ("/* a comment */ DELETE FROM cell", "only read-only queries"),
    ("SELECT 1; DELETE FROM cell", "refused|SQL error"),
    ("SELECT 1; SELECT 2", "refused|SQL error"),
    # Past the first wall (a WITH, an EXPLAIN): the read-only connection or transaction refuses.
    ("WITH d AS (DELETE FROM cell RETURNING 1) SELECT count(*) FROM d", "refused|SQL error"),
    ("EXPLAIN ANALYZE DELETE FROM cell", "refused|SQL error"),
    ("", "empty query"),
]


@pytest.mark.parametrize("query,needle", REFUSED_ON_BOTH)
def test_writes_ddl_and_other_statements_are_refused_on_both_backends(toy, query, needle):
    target, fingerprint = toy
    before = fingerprint()
    with pytest.raises(CfgraphError, match=needle):
        run_query(target, query)
    assert fingerprint() == before


def test_reads_row_cap_and_numbers_agree_on_both_backends(toy):
    target, _ = toy
    capped = run_query(target, "SELECT mask FROM node ORDER BY mask", max_rows=5)
    assert capped.rows == [(m,) for m in range(5)] and capped.truncated
    # (PostgreSQL has no round(double precision, int): the mean is compared here instead.)
    whole = run_query(target, "SELECT count(*), avg(value) FROM grid WHERE world = 'toy'")
    assert whole.rows == [(16, pytest.approx(sum([0.85, 0.72, 0.45, 0.38, 0.88, 0.80, 0.75, 0.52, 0.92, 0.88,
                                                  0.85, 0.82, 0.78, 0.55, 0.82, 0.80]) / 16))]
    assert not whole.truncated and whole.columns[0] in ("count", "count(*)")
    # get_bit reads node.members in the order of cfgraph.bitsets on both.
    acd = run_query(target, "SELECT get_bit(members, 0), get_bit(members, 1), get_bit(members, 2), "
                            "get_bit(members, 3) FROM node WHERE label = 'ACD'")
    assert acd.rows == [(1, 0, 1, 1)]
    assert run_query(target, "SELECT :a + 1 AS x", {"a": 41}).rows == [(42,)]


PG_REFUSED = [
    "SELECT pg_read_file('/etc/hostname')",
    'SELECT "pg_read_file"(\'/etc/hostname\')',
    "SELECT pg_catalog . pg_read_binary_file('/etc/hostname')",
    'SELECT U&"pg\\005fread_file"(\'/etc/hostname\')',
    "SELECT pg_ls_dir('.')",
    "SELECT lo_import('/etc/hostname')",
    "SELECT lo_export(1, '/tmp/x')",
    "SELECT dblink('dbname=postgres', 'DELETE FROM cell')",
    "SELECT set_config('role', 'postgres', true)",
    "SELECT query_to_xml('SELECT pg_read_file(''/etc/hostname'')', true, true, '')",
    "SELECT ts_stat('SELECT 1')",
    "SELECT pg_terminate_backend(pg_backend_pid())",
    "SELECT pg_sleep(5)",
    "SELECT rolname, rolpassword FROM pg_authid",
    "SELECT * FROM pg_catalog.pg_shadow",
    'SELECT * FROM "pg_authid"',
    "SELECT * FROM pg_user_mappings",
    "SELECT query FROM pg_stat_activity",
    "SELECT txid_current()",
]


@pytest.mark.parametrize("query", PG_REFUSED)
def test_postgresql_functions_outside_the_tables_are_refused(pg_toy, query):
    target, fingerprint = pg_toy
    before = fingerprint()
    with pytest.raises(CfgraphError, match="refused"):
        run_query(target, query)
    assert fingerprint() == before


@pytest.mark.parametrize("query,needle", [
    # The names wall switched off: the role and the read-only transaction still refuse.
    ("SELECT pg_read_file('/etc/hostname')", "only reading"),
    ("SELECT lo_import('/etc/hostname')", "only reading"),
    ("SELECT nextval(pg_get_serial_sequence('cell', 'id'))", "only reading"),
    ("SELECT set_config('statement_timeout', '0', false), count(*) FROM generate_series(1, 3)", None),
])
def test_postgresql_walls_behind_the_names_check(pg_toy, monkeypatch, query, needle):
    import cfgraph.sql_postgres as pg

    target, fingerprint = pg_toy
    monkeypatch.setattr(pg, "check_names", lambda query: None)
    before = fingerprint()
    if needle:
        with pytest.raises(CfgraphError, match=needle):
            run_query(target, query)
    else:  # a setting changed inside the read-only transaction dies with it
        run_query(target, query)
        assert run_query(target, "SELECT current_setting('statement_timeout')").rows == [("1s",)]
    assert fingerprint() == before


def test_a_reader_role_keeps_its_own_privileges_and_one_value_is_capped(pg_toy, pg_url):
    """A role that may read only cfgraph's tables is not lifted to pg_read_all_data, and a value
    over 1 MB is refused as on SQLite."""
    import uuid

    import sqlalchemy as sa

    target, _ = pg_toy
    role = f"reader_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(target, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        conn.exec_driver_sql(f"GRANT SELECT ON grid TO {role}")
    admin.dispose()
    reader = sa.engine.make_url(target).set(username=role, password=None)
    as_reader = reader.render_as_string(hide_password=False)
    assert run_query(as_reader, "SELECT count(*) FROM grid").rows[0][0] > 0
    with pytest.raises(CfgraphError, match="only reading|permission"):
        run_query(as_reader, "SELECT count(*) FROM cell")  # not granted: not read, whatever pg_read_all_data allows
    assert run_query(as_reader, "SELECT current_user").rows == [(role,)]
    with pytest.raises(CfgraphError, match="values are capped"):
        run_query(target, "SELECT repeat('x', 1500000)")


@pytest.mark.timeout(60)
def test_a_runaway_query_stops_at_the_deadline_on_both_backends(toy):
    target, fingerprint = toy
    with pytest.raises(CfgraphError, match="deadline"):
        run_query(target, "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r",
                  timeout_ms=300)
    assert run_query(target, "SELECT 1").rows == [(1,)]  # the store still answers


@pytest.mark.timeout(60)
@pytest.mark.parametrize("query", [
    "SELECT count(*) FROM generate_series(1, 1e12)",
    "SELECT count(*) FROM (SELECT generate_series(1, 1e12)) AS s",
])
def test_postgresql_set_returning_runaways_stop_at_the_deadline(pg_toy, query):
    target, _ = pg_toy
    with pytest.raises(CfgraphError, match="deadline"):
        run_query(target, query, timeout_ms=300)
    assert run_query(target, "SELECT 1").rows == [(1,)]


def test_postgresql_result_size_is_capped(pg_toy):
    target, _ = pg_toy
    with pytest.raises(CfgraphError, match="exceeds"):
        run_query(target, "SELECT repeat('x', 900000) FROM generate_series(1, 30)")


def test_sql_csv_download_neutralises_formulas(tmp_path):
    """Text a spreadsheet would run as a formula gets a leading apostrophe; numbers stay numbers."""
    from cfgraph.store import open_store
    from cfgraph.web import create_app

    open_store(tmp_path / "c.db").close()
    app = create_app({"DATABASE_URL": str(tmp_path / "c.db"), "TESTING": True})
    body = app.test_client().get("/sql.csv", query_string={"q": "SELECT '=cmd|x' AS a, -0.5 AS b, '-1' AS c"}).text
    assert body.splitlines() == ["a,b,c", "'=cmd|x,-0.5,-1"]
    app.extensions["cfgraph.store"].close()
