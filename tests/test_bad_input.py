"""Every bad input is one line and exit 2, and leaves files as they were (issue 9, fourth class).

A test that takes ``db`` runs on SQLite and on PostgreSQL (conftest.py's ``any_db``); the tests of
files that must not be created or touched, and of URLs that open nothing, stay SQLite-only.
"""

from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner
from pg import every_row

from cfgraph.cli import main


def run(*args):
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output.strip().splitlines()


def one_line_error(code, lines, needle):
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines
    assert len(lines[0]) < 400


@pytest.fixture
def db(any_db):
    """Where a new store goes: a SQLite path with no file yet, or an empty PostgreSQL database."""
    return str(any_db)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def test_a_csv_field_over_the_csv_limit(db, tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("a,b,y\n1," + "x" * 140_000 + ",0\n2,3,1\n")
    one_line_error(*run("--db", db, "run", "--csv", str(path), "--target", "y"), "line 2")


@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000, '{"cells": ' + "[" * 50_000 + "]" * 50_000 + "}"])
def test_deeply_nested_grid_json(db, tmp_path, body):
    path = tmp_path / "deep.json"
    path.write_text(body)
    one_line_error(*run("--db", db, "import-grid", str(path), "--world", "d"), "nested too deeply")


@pytest.mark.parametrize("where", ["grid", "csv"])
def test_a_five_thousand_digit_number_is_named_briefly(db, tmp_path, where):
    big = "9" * 5000
    if where == "grid":
        path = tmp_path / "g.csv"
        path.write_text(f"train_set,eval_slice,value\nA,all,{big}\n")
        args = ("import-grid", str(path), "--world", "g")
    else:
        path = tmp_path / "d.csv"
        path.write_text("x,y\n" + "".join(f"{big if i == 3 else i},{i % 2}\n" for i in range(30)))
        args = ("run", "--csv", str(path), "--target", "y", "--units", "2")
    one_line_error(*run("--db", db, *args), "line")


@pytest.mark.parametrize("name", ["", "   "])
def test_an_empty_world_name_is_refused(db, name):
    one_line_error(*run("--db", db, "run", "--dataset", "iris", "--units", "2", "--model", "gnb",
                        "--world", name), "name")


@pytest.mark.parametrize("content", [None, b"", b"garbage, not a database"])
@pytest.mark.parametrize("command", [["worlds"], ["related", "list"], ["sql", "SELECT 1"], ["grid", "toy"]])
def test_read_commands_never_create_or_modify_a_file(tmp_path, content, command):
    path = tmp_path / "x.db"
    if content is not None:
        path.write_bytes(content)
    code, lines = run("--db", str(path), *command)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ")
    assert (digest(path) if content is not None else path.exists()) == (
        hashlib.sha256(content).hexdigest() if content is not None else False)
    assert not (tmp_path / "x.db-wal").exists()


def test_a_database_from_a_newer_cfgraph_is_refused_by_every_command(db):
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from cfgraph.store.db import resolve_url

    assert run("--db", db, "init")[0] == 0
    engine = create_engine(resolve_url(db), poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    before = every_row(db)
    for command in (["init"], ["worlds"], ["run", "--dataset", "iris", "--units", "2", "--model", "gnb"]):
        one_line_error(*run("--db", db, *command), "newer cfgraph")
    assert every_row(db) == before  # the content (a WAL checkpoint may rewrite the file's bytes)


@pytest.mark.parametrize("url", ["postgresql+nope://x", "::::", "sqlite:////nonexistent/dir/x.db", "notascheme://"])
def test_an_unusable_database_url(url):
    code, lines = run("--db", url, "worlds")
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ")


def test_more_jobs_than_cpus_are_capped_with_a_note(db, monkeypatch):
    import os

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    result = CliRunner().invoke(main, ["--db", db, "run", "--dataset", "iris", "--units", "2",
                                       "--model", "gnb", "--jobs", "64", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "note: --jobs 64 is more than this machine's 2 CPU(s); using 2" in result.output
    refused = CliRunner().invoke(main, ["--db", db, "run", "--dataset", "iris", "--units", "2",
                                        "--model", "gnb", "--jobs", "0", "--world", "z"])
    assert refused.exit_code == 2 and "positive" in refused.output


@pytest.mark.parametrize("bad", ["inf", "-inf", "Infinity", "1e400", "nan"])
def test_a_non_finite_target_is_refused_whatever_the_task(db, tmp_path, bad):
    path = tmp_path / "t.csv"
    path.write_text("x,y\n" + "".join(f"{i},{bad if i == 7 else i * 0.5 + 0.25}\n" for i in range(60)))
    one_line_error(*run("--db", db, "run", "--csv", str(path), "--target", "y",
                        "--group-by", "random", "--units", "2"), "finite")


@pytest.mark.parametrize("cell", ["1_000", "٣", "１２"])
def test_numbers_only_in_ascii_digits(cell):
    from cfgraph.data import parse_number

    with pytest.raises(ValueError):
        parse_number(cell)


@pytest.mark.parametrize("seeds", ["0,,1", "٣", "1-٣", ","])
def test_seed_lists_take_ascii_digits_and_no_empty_items(db, seeds):
    code, lines = run("--db", db, "run", "--dataset", "iris", "--seeds", seeds)
    assert code == 2 and len(lines) == 1 and "seeds" in lines[0]


def test_seeds_that_agree_summarise_to_their_value_and_no_spread():
    import numpy as np

    from cfgraph.values import seed_interval

    mean, std, half, n = seed_interval(np.array([[0.7, 0.1], [0.7, 0.2], [0.7, np.nan]]))
    assert mean[0] == 0.7 and std[0] == 0.0 and half[0] == 0.0 and n.tolist() == [3, 2]
    assert std[1] > 0
