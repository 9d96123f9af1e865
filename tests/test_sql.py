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
