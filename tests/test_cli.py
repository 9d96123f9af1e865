"""The command line: happy paths on real data, and bad input answered in one line with exit code 2.

A test that takes ``db`` or ``new_db`` runs on SQLite and on PostgreSQL (conftest.py's ``any_iris_db`` and
``any_db``). SQLite-only: ``test_readme_python_example_runs`` (the README's example writes ./cfgraph.db).
"""

import csv
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from pg import every_row

from cfgraph.cli import main
from cfgraph.resources import seed_file

ROOT = Path(__file__).resolve().parent.parent


def invoke(db, *args):
    return CliRunner().invoke(main, ["--db", str(db), *args])


def snapshot(db):
    """Every row of every table, to check that refused input changed nothing."""
    return every_row(db)


def assert_refused(result, needle):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert needle in lines[0]
    assert "Traceback" not in result.output


@pytest.fixture
def db(any_iris_db):
    """A private copy of the toy + iris store, on SQLite and on PostgreSQL in turn."""
    return any_iris_db


@pytest.fixture
def new_db(any_db):
    """Where a new store goes (no file, or an empty PostgreSQL database), on each backend in turn."""
    return any_db


def write_csv(path, text):
    path.write_text(text)
    return str(path)


def test_init_worlds_grid_and_values(new_db):
    db = new_db
    assert invoke(db, "init").exit_code == 0
    result = invoke(db, "import-grid", str(seed_file("toy_grid.csv")), "--world", "toy")
    assert result.exit_code == 0 and "16 cells" in result.output
    listed = json.loads(invoke(db, "worlds", "--format", "json").output)
    assert listed[0]["name"] == "toy" and listed[0]["complete"] == 0.25
    grid = invoke(db, "grid", "toy", "--format", "csv").stdout.splitlines()
    assert grid[0] == "train_set,A,B,C,D"
    assert grid[1] == "∅,,,," and "ACD,0.78,0.55,0.82,0.8" in grid
    out = json.loads(invoke(db, "values", "toy", "--method", "loo", "--slice", "B", "--format", "json").output)
    loo = {v["unit"]: v["value"] for v in out["values"]}
    assert loo["B"] == pytest.approx(0.33)
    assert {p["unit"] for p in out["missing"]} == {"A", "C"}  # their LOO needs BCD / ABD


def test_toy_sql_query_returns_0_55(db):
    result = invoke(db, "sql", "SELECT value FROM grid WHERE world='toy' AND train_set='ACD' AND eval_slice='B'",
                    "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output) == [{"value": 0.55}]


def test_values_of_a_real_world_in_every_format(db):
    table = invoke(db, "values", "iris", "--method", "all")
    assert table.exit_code == 0 and "beta(16,1)" in table.output
    rows = json.loads(invoke(db, "values", "iris", "--method", "shapley", "--format", "json").output)["values"]
    by_slice = {}
    for r in rows:
        by_slice.setdefault(r["slice"], 0.0)
        by_slice[r["slice"]] += r["value"]
    grid = {r["train_set"]: r for r in json.loads(invoke(db, "grid", "iris", "--format", "json").output)["rows"]}
    for name, total in by_slice.items():  # efficiency, through the CLI
        assert total == pytest.approx(grid["ABCD"][name] - grid["∅"][name], abs=1e-9)
    csv_out = invoke(db, "values", "iris", "--method", "beta:4,2", "--slice", "A", "--format", "csv").output
    header = next(csv.reader(csv_out.splitlines()))
    assert header == ["slice", "unit", "beta(4,2)"]


def test_run_on_a_csv_with_a_group_column(new_db, tmp_path):
    lines = ["f1,f2,label,site"]
    for i in range(80):
        lines.append(f"{i % 7},{(i * 3) % 11},{'yes' if (i % 7) > 3 else 'no'},{'north' if i % 2 else 'south'}")
    path = write_csv(tmp_path / "mine.csv", "\n".join(lines) + "\n")
    db = new_db
    result = invoke(db, "run", "--csv", path, "--target", "label", "--group-by", "site", "--model", "tree",
                    "--world", "mine")
    assert result.exit_code == 0, result.output
    grid = invoke(db, "grid", "mine", "--format", "csv").stdout.splitlines()  # the unit legend goes to stderr
    assert grid[0] == "train_set,A,B,all" and len(grid) == 1 + 4


@pytest.mark.parametrize("args,needle", [
    (["run", "--dataset", "mnist"], "unknown dataset 'mnist'"),
    (["run", "--dataset", "iris", "--model", "svm9"], "unknown model 'svm9'"),
    (["run", "--dataset", "iris", "--model", "sklearn.preprocessing.StandardScaler"], "not a scikit-learn classifier"),
    (["run", "--dataset", "iris", "--metric", "accuracy_typo"], "unknown metric"),
    (["run", "--dataset", "iris", "--units", "17"], "the limit is 16"),
    (["run", "--dataset", "iris", "--units", "16", "--test-size", "0.05", "--world", "x"], "has no test rows"),
    (["run", "--dataset", "iris", "--group-by", "colour"], "unknown grouping 'colour'"),
    (["run", "--dataset", "iris", "--model", "gnb", "--world", "iris"], "different recipe"),
    (["run", "--dataset", "iris", "--model", "knn(n_neighbors=0)", "--world", "k"], "cannot be fitted"),
    (["run", "--dataset", "iris", "--model", "sklearn.svm.SVC(C=-1)", "--world", "k"], "cannot be fitted"),
    (["run", "--dataset", "iris", "--metric", "r2", "--world", "k"], "r2 is a regression metric"),
    (["run", "--dataset", "iris", "--metric", "f1", "--world", "k"], "use f1_macro"),
    (["run", "--dataset", "iris", "--metric", "roc_auc", "--world", "k"], "use roc_auc_ovr"),
    (["run", "--dataset", "iris", "--seeds", "", "--world", "k"], "at least one seed"),
    (["run", "--dataset", "iris", "--seeds", "-1", "--world", "k"], "0 or more"),
    (["run", "--dataset", "iris", "--target", "label", "--world", "k"], "a target column belongs to a CSV file"),
    (["run", "--dataset", "iris", "--model", "knn(n_neighbors=__import__('os'))"], "literal values"),
    (["sql", "SELECT 1", "--max-rows", "0"], "'--max-rows': 0 is not in the range"),
    (["--db", "mysql://u:p@127.0.0.1:1/x", "worlds"], "no database driver for mysql"),
    (["--db", "postgresql://u:p@127.0.0.1:1/x", "worlds"], "connection failed"),
    (["values", "nowhere"], "no world named 'nowhere'"),
    (["values", "iris", "--slice", "Z"], "no evaluation slice 'Z'"),
    (["values", "iris", "--method", "beta:0,1"], "alpha > 0"),
    (["values", "iris", "--method", "owen"], "unknown method 'owen'"),
    (["sql", "DELETE FROM cell"], "only read-only queries"),
    (["sql", "SELECT 1; DROP TABLE cell"], "query refused"),
    (["sql", "SELECT * FROM nothing_here"], "nothing_here"),  # "no such table" / "relation ... does not exist"
])
def test_bad_input_exits_2_in_one_line_and_changes_nothing(db, args, needle):
    before = snapshot(db)
    assert_refused(invoke(db, *args), needle)
    assert snapshot(db) == before


@pytest.mark.parametrize("body,needle", [
    # an empty or NaN feature value is a missing value now (imputed per training set): see test_data.py
    ("f1,f2,label\n1,2,a\n3,inf,b\n", "line 3, column 'f2': inf is not a finite number"),
    ("f1,f2,label\n1,2,a\n3,4,NA\n", "line 3: missing target value in column 'label'"),
    ("f1,f2,label\n1,x,a\n3,4,b\n", "non-numeric value 'x'"),
    ("f1,f2,label\n1,2,a\n3,4,a\n", "single class"),
    ("f1,f2,klass\n1,2,a\n3,4,b\n", "no column 'label'"),
])
def test_bad_csv_is_refused_with_its_line(db, tmp_path, body, needle):
    before = snapshot(db)
    path = write_csv(tmp_path / "bad.csv", body)
    assert_refused(invoke(db, "run", "--csv", path, "--target", "label", "--group-by", "random", "--units", "2"),
                   needle)
    assert snapshot(db) == before


@pytest.mark.parametrize("body,needle", [
    ("train_set,eval_slice,value\nAB,A,0.5\nABE,A,0.7\n", "line 3: unknown unit 'E'"),
    ("train_set,eval_slice,value\nAB,A,0.5\nBA,A,0.7\n", "line 3: duplicate cell"),
    ("train_set,eval_slice,value\nAB,A,0.5\nB,A,high\n", "line 3: value 'high' is not a number"),
    ("train_set,slice,value\nAB,A,0.5\n", "missing column(s) eval_slice"),
    ("train_set,eval_slice,value\n", "no cells"),
    ("train_set,eval_slice,value\n1,A,0.5\n", "line 2: unknown unit '1'"),
])
def test_malformed_grid_files_are_refused_whole(db, tmp_path, body, needle):
    before = snapshot(db)
    path = write_csv(tmp_path / "grid.csv", body)
    assert_refused(invoke(db, "import-grid", path, "--world", "ext", "--units", "A,B,C,D"), needle)
    assert snapshot(db) == before


@pytest.mark.parametrize("name", ["a/b", "x\\y", "tab\there", ""])
def test_world_names_must_fit_a_url_segment(db, name):
    before = snapshot(db)
    assert_refused(invoke(db, "import-grid", str(seed_file("toy_grid.csv")), "--world", name), "name")
    assert snapshot(db) == before


def test_json_grid_import_with_named_units(new_db, tmp_path):
    cells = [{"train_set": "fiction+science", "eval_slice": "qa", "value": 0.61},
             {"train_set": "fiction+science+social", "eval_slice": "qa", "value": 0.64, "seed": 1},
             {"train_set": "science", "eval_slice": "qa", "value": 0.52, "metric": "exact_match"}]
    path = tmp_path / "runs.json"
    path.write_text(json.dumps({"cells": cells}))
    db = new_db
    result = invoke(db, "import-grid", str(path), "--world", "mixtures", "--units", "fiction,science,social")
    assert result.exit_code == 0, result.output
    rows = json.loads(invoke(db, "sql", "SELECT train_set, metric, seed, value FROM grid ORDER BY value",
                             "--format", "json").output)
    assert rows == [{"train_set": "B", "metric": "exact_match", "seed": 0, "value": 0.52},
                    {"train_set": "AB", "metric": "score", "seed": 0, "value": 0.61},
                    {"train_set": "ABC", "metric": "score", "seed": 1, "value": 0.64}]
    bad = tmp_path / "bad.json"
    bad.write_text('[{"train_set": "A", "eval_slice": "x", "value": 1}, {"train_set": "A"')
    assert_refused(invoke(db, "import-grid", str(bad), "--world", "b"), "invalid JSON")


def test_readme_python_example_runs(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"## Python API\s+```python\n(.*?)```", readme, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "cfgraph.db").exists()


def test_readme_opens_with_the_two_commands():
    head = (ROOT / "README.md").read_text().split("\n## ")[0]
    assert "make demo" in head and "make test" in head


def test_demo_builds_both_worlds(new_db):
    db = new_db
    result = invoke(db, "demo", "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert "largest gap" in result.output and " serve " in result.output
    names = {w["name"] for w in json.loads(invoke(db, "worlds", "--format", "json").output)}
    assert {"toy", "digits"} <= names
    again = invoke(db, "demo", "--jobs", "1")
    assert "digits world: 0 fits now" in again.output


def test_import_keeps_unit_letters_where_the_file_puts_them(new_db, tmp_path):
    path = write_csv(tmp_path / "abd.csv", "train_set,eval_slice,value\nABD,A,0.9\nAB,A,0.5\nAD,A,0.3\nD,A,0.2\n")
    db = new_db
    assert invoke(db, "import-grid", path, "--world", "abd").exit_code == 0
    rows = json.loads(invoke(db, "sql", "SELECT train_set, value FROM grid ORDER BY value", "--format", "json").output)
    assert [r["train_set"] for r in rows] == ["D", "AD", "AB", "ABD"]  # D stays D, though C never appears
    assert "over 4 units" in invoke(db, "import-grid", path, "--world", "x", "--units", "B,A,C,D").output  # any order
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"train_set,eval_slice,value\n\xe9A,A,0.5\n")
    assert_refused(invoke(db, "import-grid", str(latin), "--world", "l"), "not UTF-8")


def test_probability_metrics_score_every_slice_against_all_classes(new_db):
    """neg_log_loss on a slice holding one class, from a model that saw two of three classes."""
    db = new_db
    result = invoke(db, "run", "--dataset", "iris", "--model", "gnb", "--metric", "neg_log_loss,accuracy",
                    "--world", "ll")
    assert result.exit_code == 0, result.output
    rows = json.loads(invoke(db, "sql", "SELECT status, count(*) AS n FROM grid WHERE metric='neg_log_loss' "
                                        "GROUP BY status", "--format", "json").output)
    assert "failed" not in {r["status"] for r in rows}


def test_binary_scorers_take_the_second_class_as_positive(new_db):
    db = new_db
    assert invoke(db, "run", "--dataset", "breast_cancer", "--metric", "f1", "--model", "gnb",
                  "--world", "bc").exit_code == 0
    value = json.loads(invoke(db, "sql", "SELECT value FROM grid WHERE train_set='ABCD' AND eval_slice='all'",
                              "--format", "json").output)[0]["value"]
    assert 0.8 < value <= 1.0


def test_resuming_on_an_edited_csv_is_refused(new_db, tmp_path):
    lines = ["f1,label"] + [f"{i},{'a' if i % 3 else 'b'}" for i in range(60)]
    path = write_csv(tmp_path / "m.csv", "\n".join(lines) + "\n")
    db = new_db
    args = ["run", "--csv", path, "--target", "label", "--group-by", "random", "--units", "2", "--world", "m"]
    assert invoke(db, *args).exit_code == 0
    write_csv(tmp_path / "m.csv", "\n".join(lines[:-1] + ["59,b"]) + "\n")
    before = snapshot(db)
    assert_refused(invoke(db, *args, "--seeds", "0,1"), "before the file changed")
    assert_refused(invoke(db, *args), "replace the world")
    assert_refused(invoke(db, *args, "--model", "tree"), "different recipe")  # not only the file differs
    assert snapshot(db) == before


def test_slice_all_is_the_slice_and_star_is_every_slice(db):
    one = json.loads(invoke(db, "values", "iris", "--method", "banzhaf", "--slice", "all", "--format", "json").output)
    assert {r["slice"] for r in one["values"]} == {"all"}
    every = json.loads(invoke(db, "values", "iris", "--method", "banzhaf", "--format", "json").output)
    assert {r["slice"] for r in every["values"]} == {"A", "B", "C", "D", "all"}
    toy = json.loads(invoke(db, "values", "toy", "--method", "loo", "--slice", "all", "--format", "json").output)
    assert {p["slice"] for p in toy["missing"]} == {"A", "B", "C", "D"}  # toy has no slice named all


# --- seeds outside numpy's random_state range, and where a refusal leaves the store --------------

@pytest.mark.parametrize("option,value", [
    ("--seeds", "99999999999999999999"), ("--seeds", "4294967296"), ("--seeds", "0,4294967296"),
    ("--seeds", "4294967290-4294967299"), ("--seeds", "-1"), ("--seed", "99999999999999999999"),
    ("--seed", "4294967296"), ("--seed", "-3"),
])
def test_a_seed_outside_random_states_range_is_refused_before_any_write(db, option, value):
    before = snapshot(db)
    for world in ("fresh", "iris"):  # a new world is not created; an existing one keeps its spec
        result = invoke(db, "run", "--dataset", "iris", "--model", "gnb", "--group-by", "kmeans", "--units", "4",
                        "--test-size", "0.4", f"{option}={value}", "--world", world)
        assert_refused(result, "0 or more and up to 4294967295" if option == "--seeds" else "0<=x<=4294967295")
    assert snapshot(db) == before


def test_the_largest_seed_is_accepted(new_db):
    db = new_db
    result = invoke(db, "run", "--dataset", "iris", "--model", "gnb", "--units", "2",
                    "--seeds", "4294967295", "--seed", "4294967295", "--world", "w")
    assert result.exit_code == 0, result.output
    assert json.loads(invoke(db, "grid", "w", "--format", "json").output)["seeds"] == [4294967295]


# --- machine-readable CSV across seeds -----------------------------------------------------------

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def three_seed_db(request, tmp_path_factory):
    """A wine world over three seeds, built once per backend (the tests only read it)."""
    if request.param == "postgresql":
        server = request.getfixturevalue("pg_server")
        name = server.create_database()
        db = server.url(name)
    else:
        db = tmp_path_factory.mktemp("seeds") / "s.db"
    result = invoke(db, "run", "--dataset", "wine", "--model", "tree", "--units", "3", "--seeds", "0-2",
                    "--world", "w")
    assert result.exit_code == 0, result.output
    yield db
    if request.param == "postgresql":
        server.drop_database(name)


def test_grid_csv_across_seeds_has_full_precision_numbers_in_columns(three_seed_db):
    out = invoke(three_seed_db, "grid", "w", "--format", "csv").stdout
    rows = list(csv.DictReader(out.splitlines()))
    data = json.loads(invoke(three_seed_db, "grid", "w", "--format", "json").output)
    slices = [c for c in data["rows"][0] if c != "train_set"]
    assert list(rows[0]) == ["train_set"] + [f"{s}{x}" for s in slices
                                             for x in ("", "_half_width", "_std", "_n")]
    assert "±" not in out
    spread = 0
    for row, expected in zip(rows, data["rows"], strict=True):
        assert row["train_set"] == expected["train_set"]
        for s in slices:
            cell = expected[s]
            if cell is None:  # the empty training set's slice may be missing: all four blank
                assert [row[s + x] for x in ("", "_half_width", "_std", "_n")] == ["", "", "", ""]
                continue
            assert float(row[s]) == cell["mean"]  # exact: no rounding to 4 places
            assert int(row[s + "_n"]) == cell["n"] == 3
            assert float(row[s + "_std"]) == cell["std"]
            assert float(row[s + "_half_width"]) == cell["half_width"]
            spread += cell["std"] > 0
    assert spread > 0  # the seeds do disagree somewhere, so the interval columns carry information


def test_values_csv_across_seeds_has_full_precision_numbers_in_columns(three_seed_db):
    out = invoke(three_seed_db, "values", "w", "--method", "loo+shapley", "--format", "csv").stdout
    rows = list(csv.DictReader(out.splitlines()))
    assert list(rows[0]) == ["slice", "unit"] + [f"{m}{x}" for m in ("loo", "shapley")
                                                 for x in ("", "_half_width", "_std", "_n")]
    data = json.loads(invoke(three_seed_db, "values", "w", "--method", "loo+shapley", "--format", "json").output)
    expected = {(r["slice"], r["unit"], r["method"]): r for r in data["values"]}
    assert len(expected) == 2 * len(rows)
    for row in rows:
        for m in ("loo", "shapley"):
            e = expected[(row["slice"], row["unit"], m)]
            assert float(row[m]) == e["value"]
            assert float(row[m + "_half_width"]) == e["half_width"]
            assert float(row[m + "_std"]) == e["std"]
            assert int(row[m + "_n"]) == e["n"] == 3
    table = invoke(three_seed_db, "values", "w", "--method", "loo").stdout
    assert "±" in table  # the table keeps the readable text


def test_csv_with_one_seed_keeps_one_column_per_slice(db):
    rows = list(csv.reader(invoke(db, "grid", "iris", "--format", "csv").stdout.splitlines()))
    assert rows[0] == ["train_set", "A", "B", "C", "D", "all"]
    data = json.loads(invoke(db, "grid", "iris", "--format", "json").output)
    assert float(rows[-1][5]) == data["rows"][-1]["all"]  # a bare full-precision number


# --- warnings never leak around a refusal ------------------------------------------------------

def _warning_group():
    import warnings

    import click

    from cfgraph.cli import CfgraphGroup
    from cfgraph.errors import CfgraphError

    @click.group(cls=CfgraphGroup)
    def group():
        pass

    @group.command()
    @click.option("--fail", is_flag=True)
    def warn(fail):
        warnings.warn("overflow encountered in square", RuntimeWarning)
        if fail:
            raise CfgraphError("bad input")
        click.echo("done")

    return group


def test_a_warning_before_a_refusal_is_not_printed():
    import warnings

    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")  # as outside the test suite: warnings are shown, not raised
        refused = CliRunner().invoke(_warning_group(), ["warn", "--fail"])
        after_refusal = len(shown)
        done = CliRunner().invoke(_warning_group(), ["warn"])
    assert_refused(refused, "bad input")
    assert after_refusal == 0
    assert done.exit_code == 0 and [str(w.message) for w in shown] == ["overflow encountered in square"]


@pytest.mark.parametrize("body,needle", [
    ("x,y\n" + "".join(f"{i % 7},{1e300 * i}\n" for i in range(1, 60)), "line 2, column 'y'"),
    ("x,y\n" + "".join(f"{1e308 if i == 5 else i},{i * 1.5}\n" for i in range(1, 60)), "line 6, column 'x'"),
    ("x,y\n" + "".join(f"{-2e101 if i == 9 else i},{i * 1.5}\n" for i in range(1, 60)), "line 10, column 'x'"),
    ("x,y\n" + "".join(f"{i},{i * 1.5 if i != 30 else 1.5e100}\n" for i in range(1, 60)), "line 31, column 'y'"),
])
def test_numbers_too_large_for_float_arithmetic_are_refused_in_one_line(db, tmp_path, body, needle):
    import warnings

    path = write_csv(tmp_path / "big.csv", body)
    before = snapshot(db)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        result = invoke(db, "run", "--csv", path, "--target", "y", "--group-by", "random", "--units", "2",
                        "--world", "big")
    assert_refused(result, needle)
    assert "too large in magnitude" in result.output
    assert snapshot(db) == before


@pytest.mark.parametrize("stray,line", [("abc", 301), ("twelve", 2), ("12.5.1", 150)])
def test_a_numeric_target_with_stray_text_is_refused_naming_it(db, tmp_path, stray, line):
    prices = [f"{100 + 3 * i}" for i in range(300)]
    prices[line - 2] = stray
    path = write_csv(tmp_path / "prices.csv", "x,price\n" + "".join(f"{i % 7},{p}\n" for i, p in enumerate(prices)))
    before = snapshot(db)
    result = invoke(db, "run", "--csv", path, "--target", "price", "--group-by", "random", "--units", "2",
                    "--world", "prices")
    assert_refused(result, f"line {line}, column 'price': text value {stray!r}")
    assert "classification" in result.output
    assert snapshot(db) == before
    # Said explicitly, hundreds of distinct numbers (and the stray text) are classes.
    result = invoke(db, "run", "--csv", path, "--target", "price", "--task", "classification", "--model", "tree",
                    "--group-by", "random", "--units", "2", "--world", "prices")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("column,units,distinct", [
    (lambda i: 1, "4", 1), (lambda i: i % 2, "4", 2), (lambda i: i % 3, "5", 3),
])
def test_kmeans_with_fewer_distinct_rows_than_units_is_refused_without_a_warning(db, tmp_path, column, units, distinct):
    # The suite turns warnings into errors, so a ConvergenceWarning from KMeans would fail this test.
    body = "x,y\n" + "".join(f"{column(i)},{i * 1.5}\n" for i in range(40))
    path = write_csv(tmp_path / "few.csv", body)
    before = snapshot(db)
    result = invoke(db, "run", "--csv", path, "--target", "y", "--units", units, "--world", "few")
    assert_refused(result, f"kmeans cannot make {units} units: the training rows have only {distinct} distinct")
    assert snapshot(db) == before
