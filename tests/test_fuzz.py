"""Fuzzing of every door data comes in by (issue 9, Tests): each generated input succeeds or is refused.

A refusal is a :class:`CfgraphError` with a one-line message (on the command line: exit code 2 and
exactly one output line starting with ``error: ``, no traceback), and it leaves the database's
content (its SQL dump) as it was. Inputs mix valid and hostile content: unicode, empty fields,
quotes, fields past the csv module's 128 KiB limit, huge, tiny and non-finite numbers, repeated
headers, wrong field counts, deep JSON, non-string JSON types, SQL comments, several statements,
PRAGMA, ATTACH and functions. Semble records have their own property test (test_semble_network.py).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import shutil
import sqlite3

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator

from cfgraph.cli import main
from cfgraph.data import load_csv
from cfgraph.errors import CfgraphError
from cfgraph.estimators import make_estimator
from cfgraph.grids import import_grid
from cfgraph.resources import seed_file
from cfgraph.sql import run_query
from cfgraph.store import open_store

#: Multiplies every test's number of examples: ``CFGRAPH_FUZZ_SCALE=20 pytest tests/test_fuzz.py`` fuzzes deeper.
SCALE = float(os.environ.get("CFGRAPH_FUZZ_SCALE", "1"))


def fuzz(examples: int) -> settings:
    """Settings of a fuzz test: ``examples`` inputs (times SCALE), no deadline (the machine may be loaded)."""
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


_names = itertools.count()


def dump(path) -> list[str]:
    """The database's content as SQL statements."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def assert_one_line(exc: CfgraphError) -> None:
    event("refused")
    message = str(exc)
    assert message.strip(), repr(exc)
    assert "\n" not in message and "\r" not in message, message[:500]


def invoke(*args):
    """Run the CLI; return (exit code, output lines). Anything but exit 0 or a clean refusal fails."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    lines = result.output.strip("\n").split("\n") if result.output.strip() else []
    if result.exit_code == 0:
        event("succeeded")
        return 0, lines
    event("refused")
    assert result.exit_code == 2, (result.exit_code, result.output[-2000:], result.exc_info)
    assert isinstance(result.exception, SystemExit), result.exc_info
    assert len(lines) == 1 and lines[0].startswith("error: "), lines[:5]
    assert "Traceback" not in result.output
    return 2, lines


@pytest.fixture(scope="module")
def toy_db(tmp_path_factory):
    """A store holding the seed's toy world; tests copy it or only read it."""
    path = tmp_path_factory.mktemp("fuzz") / "toy.db"
    store = open_store(path)
    import_grid(store, seed_file("toy_grid.csv"), "toy")
    store.close()
    return path


@pytest.fixture
def scratch(toy_db, tmp_path_factory):
    """Make a fresh writable copy of the toy store; returns (copy path, its dump)."""
    folder = tmp_path_factory.mktemp("scratch")
    base = dump(toy_db)

    def fresh():
        target = folder / f"db{next(_names)}.db"
        shutil.copy(toy_db, target)
        return target, base

    return fresh


# ---------------------------------------------------------------------------------------------
# Strategies

#: Text as a hostile user types it: unicode, quotes, separators, line breaks.
hostile_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
long_field = st.sampled_from([1_000, 131_073, 200_000]).map(lambda n: "x" * n)
numbers_as_text = st.one_of(
    st.integers(-10, 10).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e308", "-1e308", "1.7976931348623157e308", "1e-320", "5e-324", "1e400", "inf", "-Infinity",
                     "NaN", "9" * 5000, "0x10", "1_000", "٣", " 2 ", "+3", "-0", "1e", ".", "1,5"]),
)
missing = st.sampled_from(["", "NA", "n/a", "NaN", "?", " ", "(missing)"])
field = st.one_of(numbers_as_text, numbers_as_text, missing, hostile_text,
                  st.sampled_from(['"', '""', 'a"b', ",", "\n", "\r\n", "\x00", "\ufeff", "é"]),
                  long_field)
header_name = st.one_of(st.sampled_from(["x", "y", "z", "g", "target", "", " x", "x "]), hostile_text)


@st.composite
def csv_tables(draw):
    """(file bytes, header) of a small CSV: a well-formed table, often broken in one place."""
    n_features = draw(st.integers(1, 2))
    header = [f"f{j}" for j in range(n_features)] + ["y"]
    n_rows = draw(st.integers(4, 8))
    cell = st.one_of(st.integers(-5, 5).map(str), st.floats(-1e3, 1e3).map(repr), st.sampled_from(["", "NA", "?"]))
    rows = [[draw(cell) for _ in range(n_features)] + ["ab"[r % 2]] for r in range(n_rows)]
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):  # one or two hostile changes
        change = draw(st.sampled_from(["cell", "cell", "target", "header", "width", "rows", "duplicate"]))
        if not rows:
            break
        r = draw(st.integers(0, len(rows) - 1))
        if change == "cell":
            rows[r][draw(st.integers(0, n_features - 1))] = draw(field)
        elif change == "target":
            rows[r][-1] = draw(field)
        elif change == "header":
            header[draw(st.integers(0, len(header) - 1))] = draw(header_name)
        elif change == "width":
            rows[r] = rows[r][:-1] if draw(st.booleans()) else rows[r] + [draw(field)]
        elif change == "rows":
            del rows[draw(st.integers(0, 4)):]
        else:
            header[0] = header[-1]
    buffer = io.StringIO()
    if draw(st.integers(0, 3)):
        csv.writer(buffer, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))).writerows([header] + rows)
    else:  # written by hand: quotes and commas inside fields break the structure
        buffer.write("\n".join(",".join(row) for row in [header] + rows))
    prefix = draw(st.sampled_from([b"", b"", b"", b"\xef\xbb\xbf", b"\xff\xfe"]))
    return prefix + buffer.getvalue().encode("utf-8"), header


#: Target columns to ask for; FIRST stands for the table's first column.
FIRST = "<first column>"
targets = st.sampled_from(["y"] * 6 + [FIRST, "missing", ""])


def _column(name, header):
    return header[0] if name == FIRST else name


@fuzz(100)
@given(table=csv_tables(), target=targets, group=st.sampled_from([None, None, FIRST, "y"]),
       task=st.sampled_from([None, None, "classification", "regression"]))
def test_load_csv_succeeds_or_refuses_in_one_line(tmp_path_factory, table, target, group, task):
    body, header = table
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    path.write_bytes(body)
    try:
        dataset = load_csv(path, _column(target, header), group and _column(group, header), task=task)
    except CfgraphError as exc:
        assert_one_line(exc)
        return
    event("succeeded")
    assert dataset.X.shape[0] == dataset.y.shape[0] >= 1
    assert dataset.task in ("classification", "regression")


@fuzz(50)
@example(table=(b"f0,y\n0,a\n0,b\n3.697585969735142e-294,a\n0,b", ["f0", "y"]), target="y", options=[])
@given(table=csv_tables(), target=targets,
       options=st.sampled_from([[], [], [], ["--group-by", "random"], ["--group-by", FIRST], ["--task", "regression"],
                                ["--group-by", "class"], ["--seed", "3"]]))
def test_run_csv_succeeds_or_refuses_and_leaves_the_store(scratch, table, target, options):
    body, header = table
    db, before = scratch()
    path = db.with_suffix(".csv")
    path.write_bytes(body)
    code, _ = invoke("--db", db, "run", "--csv", path, "--target", _column(target, header), "--units", "2",
                     "--model", "gnb", "--no-progress", *(_column(o, header) for o in options))
    if code == 2:
        assert dump(db) == before


# ---------------------------------------------------------------------------------------------
# import-grid

train_sets = st.one_of(
    st.sampled_from(["A", "B", "AB", "BA", "C+M", "∅", "", "{}", "empty", "-", "0", "code", "code+math", "7",
                     "a+", "+", "A++B", "CM", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "x" * 300]),
    hostile_text,
)
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    numbers_as_text,
    st.sampled_from([True, None, [], {}, "abc", [0.5], {"v": 1}]),
)
seeds = st.sampled_from([0, 1, 2**32 - 1, 2**32, 2**64, -1, "3", " 4 ", 1.5, 2.0, "x", None, True, [1], "9" * 5000,
                         10**40])


@st.composite
def grid_records(draw):
    """A valid grid of units A, B (some cells missing), often broken in one or two places."""
    labels = draw(st.lists(st.sampled_from(["∅", "A", "B", "AB"]), min_size=1, max_size=4, unique=True))
    records = [{"train_set": label, "eval_slice": "all", "value": draw(st.floats(0, 1))} for label in labels]
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        rec = records[draw(st.integers(0, len(records) - 1))]
        change = draw(st.sampled_from(["train_set", "eval_slice", "value", "value", "seed", "metric", "drop",
                                       "duplicate", "empty"]))
        if change == "train_set":
            rec["train_set"] = draw(train_sets)
        elif change == "eval_slice":
            rec["eval_slice"] = draw(st.one_of(st.sampled_from(["all", "A", "B", "", "code", 7, None, ["all"]]),
                                               hostile_text, long_field.map(lambda s: s[:300])))
        elif change == "value":
            rec["value"] = draw(values)
        elif change == "seed":
            rec["seed"] = draw(seeds)
        elif change == "metric":
            rec["metric"] = draw(st.one_of(st.sampled_from(["score", "accuracy", ""]), hostile_text,
                                           st.integers(), st.lists(st.integers(), max_size=2)))
        elif change == "drop":
            del rec[draw(st.sampled_from(sorted(rec)))]
        elif change == "duplicate":
            records.append(dict(rec))
        else:
            records.clear()
            break
    return records


@st.composite
def grid_files(draw):
    """(suffix, bytes) of a grid file: CSV or JSON, well formed or not."""
    records = draw(grid_records())
    kind = draw(st.sampled_from(["csv", "csv", "json", "json", "json-cells", "json-raw"]))
    if kind == "csv":
        fields = draw(st.sampled_from([["train_set", "eval_slice", "value", "seed", "metric"],
                                       ["train_set", "eval_slice", "value"], ["train_set", "eval_slice", "value"],
                                       ["train_set", "eval_slice", "value", "value"],
                                       ["train_set", "value"]]))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(fields)
        for rec in records:
            row = ["" if rec.get(f) is None else (json.dumps(rec[f]) if isinstance(rec[f], (list, dict)) else rec[f])
                   for f in fields]
            writer.writerow(row + draw(st.sampled_from([[], [], [], ["extra"]])))
        return ".csv", buffer.getvalue().encode("utf-8")
    if kind == "json-raw":  # hostile shapes json.dumps cannot make
        depth = draw(st.sampled_from([5, 1000, 100_000]))
        raw = draw(st.sampled_from([
            "[" * depth + "]" * depth,
            '{"cells": ' + "[" * depth + "]" * depth + "}",
            '[{"train_set": "A", "eval_slice": "all", "value": ' + "9" * 5000 + "}]",
            '[{"train_set": "A", "eval_slice": "all", "value": 0.5, "seed": ' + "9" * 5000 + "}]",
            '[{"train_set": "A", "eval_slice": "all", "value": 1e999}]',
            '[{"train_set": "A", "eval_slice": "all", "value": NaN}]',
            '[{"train_set": "A", "eval_slice": "all", "value": 0.5}, ]',
            '"cells"', "null", "42", "{}", '{"cells": {}}', "", "[]", '[{"train_set": "\\ud800", "eval_slice": "all", '
            '"value": 0.5}]',
        ]))
        return ".json", raw.encode("utf-8")
    payload = {"cells": records} if kind == "json-cells" else records
    return ".json", json.dumps(payload).encode("utf-8")


@fuzz(100)
@example(grid=(".json", b'[{"train_set": "A", "eval_slice": "all", "value": %s}]' % (b"9" * 5000)), units=None)
@given(grid=grid_files(), units=st.one_of(
    st.none(), st.none(), st.lists(st.sampled_from(["A", "B", "C", "code", "", "A+B", "∅"]), max_size=3)))
def test_import_grid_succeeds_or_refuses_and_leaves_the_store(scratch, grid, units):
    suffix, body = grid
    db, before = scratch()
    path = db.with_suffix(suffix)
    path.write_bytes(body)
    store = open_store(db)
    try:
        summary = import_grid(store, path, "new", units=units)
    except CfgraphError as exc:
        assert_one_line(exc)
        assert dump(db) == before
        return
    finally:
        store.close()
    event("succeeded")
    assert summary["cells"] >= 1 and summary["units"] >= 1


@fuzz(50)
@given(grid=grid_files(), units=st.sampled_from([[], [], [], [], ["--units", "A,B"], ["--units", "code,math"],
                                                  ["--units", ""], ["--units", "A,A"]]),
       world=st.sampled_from(["new", "new", "new", "toy", "", "x" * 300]))
def test_import_grid_cli_succeeds_or_refuses_and_leaves_the_store(scratch, grid, units, world):
    suffix, body = grid
    db, before = scratch()
    path = db.with_suffix(suffix)
    path.write_bytes(body)
    code, _ = invoke("--db", db, "import-grid", path, "--world", world, *units)
    if code == 2:
        assert dump(db) == before


# ---------------------------------------------------------------------------------------------
# Model specs

model_names = st.one_of(
    st.sampled_from(["gnb", "tree", "knn", "logreg", "forest", "gbc", "ridge", "linear", "gbr", "svm", "GNB", "",
                     "sklearn.svm.SVC", "sklearn.svm.SVR", "sklearn.naive_bayes.GaussianNB",
                     "sklearn.linear_model.LogisticRegression", "sklearn.pipeline.Pipeline",
                     "sklearn.preprocessing.StandardScaler", "sklearn.base.BaseEstimator", "sklearn.svm.nothing",
                     "sklearn.nothing.Thing", "sklearn.svm", "sklearn", "os.system", "builtins.eval",
                     "subprocess.Popen", ".svm.SVC", "..x", "sklearn..svm.SVC", "sklearn.svm.", "cfgraph.cli.main",
                     "cfgraph.errors.CfgraphError", "diffprivlib.models.GaussianNB", "__import__", "eval",
                     "sklearn.svm.SVC.fit", "sklearn.__class__", "sklearn.utils.Bunch", "1abc", "a b"]),
    st.from_regex(r"[a-z_]{1,8}(\.[a-z_]{1,8}){0,3}", fullmatch=True),
    hostile_text,
)
literals = st.one_of(
    st.sampled_from(["1", "-1", "0", "2.5", "1e308", "1e999", "-1e999", "float('nan')", "'rbf'", '"linear"',
                     "None", "True", "False", "[1, 2]", "(1,)", "{'a': 1}", "{1, 2}", "b'x'", "1j", "9" * 5000,
                     "[" * 200 + "]" * 200, "(" * 1000 + "1" + ")" * 1000, "__import__('os')", "lambda: 1", "x",
                     "open('/etc/passwd')", "1 if True else 2", "-'a'", "+None", "...", "'x' * 10", "1 + 2j"]),
    st.integers().map(str),
    st.floats().map(repr),
    hostile_text.map(repr),
)
keywords = st.one_of(st.sampled_from(["C", "n_neighbors", "max_depth", "var_smoothing", "random_state", "kernel",
                                      "alpha", "priors", "steps", "nothing", "__class__"]),
                     st.from_regex(r"[a-z_]{1,6}", fullmatch=True))


@st.composite
def model_specs(draw):
    if draw(st.booleans()):  # a spec that should build
        name, params = draw(st.sampled_from([
            ("gnb", ["var_smoothing=1e-9", "var_smoothing=0.5", "priors=None"]),
            ("tree", ["max_depth=3", "max_depth=None", "min_samples_leaf=2", "criterion='entropy'"]),
            ("knn", ["n_neighbors=3", "weights='distance'", "p=1"]),
            ("sklearn.svm.SVC", ["C=2", "C=0.5", "kernel='linear'", "gamma='auto'", "probability=True"]),
            ("sklearn.svm.SVR", ["C=2", "epsilon=0.2"]),
            ("sklearn.linear_model.Ridge", ["alpha=1e3", "fit_intercept=False"]),
        ]))
        chosen = draw(st.lists(st.sampled_from(params), max_size=2, unique=True))
        return f"{name}({', '.join(chosen)})" if chosen or draw(st.booleans()) else name
    name = draw(model_names)
    shape = draw(st.sampled_from(["bare", "call", "call", "hostile"]))
    if shape == "bare":
        return name
    if shape == "hostile":
        return draw(st.sampled_from([
            f"{name}(**{{'C': 1}})", f"{name}(1)", f"{name}(C=2, C=3)", f"{name}(*[1])", f"{name}(",
            f"{name}())", f"{name}(C=2)(kernel='rbf')", f"{name}[0]", f"{name}(C=2); import os", f"({name})()",
            f"{name}(C=__import__('os').system('true'))", f"{name}.__init__()", f"{name}(C=2,)", f"  {name}  ",
            f"{name}(C=\n2)", f"{name}(C=2 # comment\n)", f"{name}\x00", f"{name}(C=2)" * 2, f"{name}(C={'9' * 5000})",
            f"{name}({'a=1, ' * 500})", "(" * 500 + name + ")" * 500, f"{name}(x=" + "[" * 5000 + "]" * 5000 + ")",
        ]))
    pairs = draw(st.lists(st.tuples(keywords, literals), max_size=3))
    return f"{name}({', '.join(f'{k}={v}' for k, v in pairs)})"


@fuzz(100)
@given(spec=model_specs(), seed=st.one_of(st.none(), st.integers(0, 2**32 - 1)),
       task=st.sampled_from(["classification", "regression", "clustering"]))
def test_make_estimator_builds_or_refuses_in_one_line(spec, seed, task):
    try:
        estimator = make_estimator(spec, seed=seed, task=task)
    except CfgraphError as exc:
        assert_one_line(exc)
        return
    event("succeeded")
    assert isinstance(estimator, BaseEstimator)


# ---------------------------------------------------------------------------------------------
# SQL strings

sql_fragments = st.sampled_from([
    "SELECT 1", "SELECT * FROM world", "SELECT name FROM world WHERE name = 'toy'", "SELECT count(*) FROM cell",
    "select value from cell order by value desc limit 3", "WITH t(x) AS (SELECT 1) SELECT x FROM t", "VALUES (1), (2)",
    "EXPLAIN SELECT 1", "EXPLAIN QUERY PLAN SELECT * FROM cell",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    "SELECT * FROM sqlite_master", "SELECT json_extract('{\"a\": 1}', '$.a')", "SELECT json('" + "[" * 3000 + "')",
    "SELECT printf('%.*c', 2147483647, 'x')", "SELECT zeroblob(2000000000)", "SELECT randomblob(100000000)",
    "SELECT replace(hex(zeroblob(1000000)), '0', 'xx')", "SELECT substr('abc', 1, 1)", "SELECT load_extension('x')",
    "SELECT fts3_tokenizer('simple')", "SELECT sqlite_source_id()", "SELECT readfile('/etc/passwd')",
    "SELECT edit('x')", "SELECT abs(-9223372036854775808)", "SELECT 1/0", "SELECT :missing", "SELECT ?",
    "PRAGMA writable_schema = 1", "PRAGMA table_info(world)", "ATTACH DATABASE ':memory:' AS m",
    "ATTACH 'file:/tmp/x.db' AS x", "DETACH m", "DELETE FROM cell", "DROP TABLE world", "UPDATE cell SET value = 0",
    "INSERT INTO world(name) VALUES ('x')", "CREATE TABLE t(x)", "CREATE TEMP TABLE t(x)", "VACUUM",
    "VACUUM INTO '/tmp/copy.db'", "BEGIN", "COMMIT", "ROLLBACK", "REINDEX", "ANALYZE", "SAVEPOINT a",
    "REPLACE INTO world(name) VALUES ('y')",
    "WITH d AS (DELETE FROM cell RETURNING *) SELECT * FROM d", "SELECT 1 UNION SELECT 2",
])
sql_glue = st.sampled_from(["", " ", ";", "; ", "\n", " -- note\n", "/* c */", "/*", "*/", "--", "'", '"', "`", "[",
                            "(", ")", "\x00", "\u2028", " OR 1=1 "])


valid_sql = st.sampled_from([
    "SELECT 1", "SELECT * FROM world", "SELECT name, kind FROM world WHERE name = 'toy'", "SELECT count(*) FROM cell",
    "SELECT value FROM cell ORDER BY value DESC LIMIT 3", "WITH t(x) AS (SELECT 1) SELECT x FROM t",
    "VALUES (1), (2)", "EXPLAIN QUERY PLAN SELECT * FROM cell", "SELECT upper('é'), length('∅'), typeof(1e308)",
    "SELECT max(value), min(value), avg(value) FROM cell", "SELECT json_array(1, 'a', null)",
    "SELECT * FROM cell c JOIN world w ON w.id = c.world_id LIMIT 5", "SELECT 1e308 * 10, -1e308 * 10, 0.0 / 1",
])


@st.composite
def sql_strings(draw):
    if draw(st.booleans()):  # a read that should answer, in harmless wrapping
        return (draw(st.sampled_from(["", " ", "\n", "/* c */ ", "-- note\n"])) + draw(valid_sql)
                + draw(st.sampled_from(["", ";", " ; ", "\n", " -- end"])))
    parts = draw(st.lists(st.one_of(sql_fragments, sql_fragments, sql_glue, hostile_text), min_size=1, max_size=4))
    return "".join(parts)


@fuzz(100)
@example(query='SELECT 1"\r')
@example(query="SELECT 1 FROM cell WHERE x'zz\n' = 1")
@given(query=sql_strings())
def test_run_query_answers_or_refuses_and_never_writes(toy_db, query):
    before = dump(toy_db)
    try:
        result = run_query(toy_db, query, timeout_ms=250, max_rows=50)
    except CfgraphError as exc:
        assert_one_line(exc)
    else:
        event("succeeded")
        assert len(result.rows) <= 50
    assert dump(toy_db) == before


@fuzz(30)
@given(query=sql_strings())
def test_sql_cli_answers_or_refuses_and_never_writes(toy_db, query):
    before = dump(toy_db)
    invoke("--db", toy_db, "sql", "--timeout-ms", "250", "--max-rows", "50", query)
    assert dump(toy_db) == before
