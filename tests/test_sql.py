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
