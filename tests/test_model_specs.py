"""No code runs from data: a model spec names a class only within allowed packages, is checked
before anything is imported, and is parsed, never evaluated (issue 9, first class)."""

from __future__ import annotations

import sqlite3
import sys

import pytest
from click.testing import CliRunner

from cfgraph.cli import main
from cfgraph.errors import CfgraphError
from cfgraph.estimators import ALLOW_MODULES_ENV, allow_modules, make_estimator


@pytest.fixture
def trap(tmp_path, monkeypatch):
    """A package on sys.path whose import leaves a mark, and the path of that mark."""
    mark = tmp_path / "imported.txt"
    package = tmp_path / "trappkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        f"import pathlib\npathlib.Path({str(mark)!r}).write_text('ran')\n"
        "from sklearn.naive_bayes import GaussianNB as Model\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(ALLOW_MODULES_ENV, "")  # restored (unset) after the test, whatever allow_modules sets
    yield mark
    sys.modules.pop("trappkg", None)


@pytest.mark.parametrize("spec", ["trappkg.Model", "trappkg.sub.Model(C=1)", "os.system", "sklearnx.svm.SVC",
                                  "subprocess.Popen", "builtins.eval"])
def test_a_path_outside_the_allowed_packages_is_refused_before_import(trap, spec):
    with pytest.raises(CfgraphError, match="not in an allowed package") as caught:
        make_estimator(spec)
    assert "\n" not in str(caught.value)
    assert not trap.exists()


def test_an_allowed_package_is_imported_and_used(trap, monkeypatch):
    monkeypatch.setenv(ALLOW_MODULES_ENV, "otherpkg")
    allow_modules(["trappkg"])
    assert type(make_estimator("trappkg.Model", seed=0)).__name__ == "GaussianNB"
    assert trap.exists()


@pytest.mark.parametrize("spec,needle", [
    ("sklearn.svm.SVC(**{'C': 2})", "plain keyword arguments"),
    ("sklearn.svm.SVC(2)", "plain keyword arguments"),
    ("sklearn.svm.SVC(C=2, C=3)", "given twice"),
    ("sklearn.svm.SVC(C=__import__('os'))", "literal values"),
    ("sklearn.svm.SVC(C=(lambda: 1)())", "literal values"),
    (".svm.SVC", "cannot parse"),
    ("sklearn..SVC", "cannot parse"),
    ("", "cannot parse"),
    ("x[0](C=1)", "cannot parse"),
    ("sklearn.svm.SVC()(C=1)", "cannot parse"),
    ("(lambda: 1)()", "cannot parse"),
    ("knn(" + "[" * 5000 + "]" * 5000 + ")", "cannot parse"),
])
def test_keyword_syntax_that_is_not_plain_literal_keywords_is_one_line(spec, needle):
    with pytest.raises(CfgraphError, match=needle) as caught:
        make_estimator(spec)
    assert "\n" not in str(caught.value)


def test_allowing_a_module_name_that_is_not_a_package_is_refused(monkeypatch):
    monkeypatch.setenv(ALLOW_MODULES_ENV, "")
    for bad in (".rel", "a-b", "x y"):
        with pytest.raises(CfgraphError, match="package name"):
            allow_modules([bad])


def test_the_cli_refuses_then_allows_a_package(trap, tmp_path, monkeypatch):
    db = tmp_path / "c.db"
    runner = CliRunner()
    base = ["run", "--dataset", "iris", "--units", "2", "--world", "w", "--model", "trappkg.Model"]
    refused = runner.invoke(main, ["--db", str(db)] + base)
    assert refused.exit_code == 2 and "not in an allowed package" in refused.output
    assert not trap.exists()
    allowed = runner.invoke(main, ["--db", str(db), "--allow-module", "trappkg"] + base + ["--no-progress"])
    assert allowed.exit_code == 0, allowed.output
    assert trap.exists()


def test_a_variant_refuses_a_parent_whose_stored_spec_names_a_module_not_allowed(iris_store, trap, iris_db):
    path = iris_store.sqlite_path
    con = sqlite3.connect(path)
    con.execute("UPDATE world SET spec = json_set(spec, '$.model', 'trappkg.Model') WHERE name = 'iris'")
    con.commit()
    before = con.execute("SELECT count(*) FROM world").fetchone()[0], con.execute("SELECT count(*) FROM cell").fetchone()[0]
    con.close()
    result = CliRunner().invoke(main, ["--db", str(path), "variant", "corrupt", "iris", "--unit", "B", "--labels", "0.3"])
    assert result.exit_code == 2 and "not in an allowed package" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not trap.exists()
    con = sqlite3.connect(path)
    after = con.execute("SELECT count(*) FROM world").fetchone()[0], con.execute("SELECT count(*) FROM cell").fetchone()[0]
    assert after == before


@pytest.mark.parametrize("edit,needle", [
    ("json_set(spec, '$.metrics', json('[\"evil\"]'))", "unknown metric"),
    ("json_set(spec, '$.seeds', json('[-1]'))", "stored seed"),
    ("json_set(spec, '$.seeds', json('[99999999999]'))", "stored seed"),
    ("json_set(spec, '$.units', 24)", "1 to 16"),
    ("json_set(spec, '$.model', 'os.system')", "not in an allowed package"),
    ("'not json'", "does not parse"),
])
@pytest.mark.parametrize("command", [["variant", "corrupt", "iris", "--unit", "B", "--labels", "0.3"],
                                     ["grid", "iris"], ["worlds"]])
def test_a_tampered_stored_spec_is_refused_before_any_write(iris_store, edit, needle, command):
    path = iris_store.sqlite_path
    con = sqlite3.connect(path)
    con.execute(f"UPDATE world SET spec = {edit} WHERE name = 'iris'")
    con.commit()
    before = list(con.iterdump())
    con.close()
    result = CliRunner().invoke(main, ["--db", str(path), *command])
    if command[0] == "variant" or edit == "'not json'":
        assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
        assert needle in result.output
    con = sqlite3.connect(path)
    assert list(con.iterdump()) == before
    con.close()
