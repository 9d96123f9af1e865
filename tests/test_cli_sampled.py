"""The command line of sampled worlds: run --sampler, values, worlds, kill -9 and resume, bad input."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from cfgraph.cli import main

#: Every training row of iris a unit (45 with 70% held out), naive Bayes.
POINTS = ["run", "--dataset", "iris", "--group-by", "point", "--model", "gnb", "--test-size", "0.7", "--world", "p",
          "--no-progress"]


def cli(db, *args):
    return CliRunner().invoke(main, ["--db", str(db), *args], catch_exceptions=False)


def stored_estimates(db, valuation: int | None = None) -> list[tuple]:
    with sqlite3.connect(db) as con:
        where = "" if valuation is None else f"WHERE valuation_id = {int(valuation)}"
        return con.execute(f"SELECT unit_id, slice_id, seed, value, stderr FROM estimate {where} "
                           "ORDER BY unit_id, slice_id").fetchall()


def test_run_with_a_sampler_prints_estimates_and_what_it_reused(tmp_path):
    db = tmp_path / "c.db"
    result = cli(db, *POINTS, "--sampler", "tmc", "--budget", "150", "--sampler-seed", "3")
    assert result.exit_code == 0, result.output
    assert "shapley on slice all" in result.output and "new fits" in result.output
    assert "stopped by max_evaluations(150)" in result.output
    again = cli(db, *POINTS, "--sampler", "tmc", "--budget", "150", "--sampler-seed", "3")
    assert " 0 new fits" in again.output
    listed = cli(db, "worlds")
    assert "sampled" in listed.output
    values = cli(db, "values", "p", "--format", "json")
    rows = json.loads(values.output)
    assert {r["method"] for r in rows} == {"shapley"} and len({r["unit"] for r in rows}) == 45
    assert all(r["ci_low"] <= r["value"] <= r["ci_high"] for r in rows if r["ci_low"] is not None)


def test_values_with_a_sampler_on_an_exhaustive_world_fits_nothing(iris_db, tmp_path):
    import shutil

    db = tmp_path / "i.db"
    shutil.copy(iris_db, db)
    result = cli(db, "values", "iris", "--sampler", "loo")
    assert result.exit_code == 0, result.output
    assert "0 new fits" in result.output and "5 reused" in result.output


@pytest.mark.parametrize("args, message", [
    (["--sampler", "tmc"], "give a stopping rule"),
    (["--sampler", "tmc", "--budget", "0"], "--budget"),
    (["--sampler", "stratified", "--budget", "10", "--semivalue", "beta:x"], "beta:ALPHA,BETA"),
    (["--sampler", "tmc", "--budget", "10", "--target-slice", "nowhere"], "nowhere"),
    (["--sampler", "magic", "--budget", "10"], "magic"),
])
def test_bad_sampler_input_exits_2_in_one_line_and_stores_nothing_new(tmp_path, args, message):
    db = tmp_path / "c.db"
    assert cli(db, *POINTS, "--sampler", "msr", "--budget", "20").exit_code == 0
    before = stored_estimates(db)
    result = cli(db, *POINTS, *args)
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) <= 3 and "Traceback" not in result.output
    assert stored_estimates(db) == before


def test_points_without_a_sampler_are_refused_with_the_way_to_sample(tmp_path):
    result = cli(tmp_path / "c.db", *POINTS)
    assert result.exit_code == 2 and "--sampler" in result.output


def test_kill_9_then_rerun_ends_with_the_values_of_an_uninterrupted_run(tmp_path):
    budget = ["--sampler", "tmc", "--budget", "400", "--sampler-seed", "7", "--model", "logreg"]
    args = [a for a in POINTS if a != "gnb" and a != "--model"] + budget
    clean_db, killed_db = tmp_path / "clean.db", tmp_path / "killed.db"
    assert cli(clean_db, *args).exit_code == 0
    reference = stored_estimates(clean_db)

    run = subprocess.Popen([sys.executable, "-m", "cfgraph.cli", "--db", str(killed_db), *args],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        cells = 0
        while time.monotonic() < deadline and run.poll() is None:
            try:
                with sqlite3.connect(killed_db, timeout=1) as con:
                    cells = con.execute("SELECT count(*) FROM cell").fetchone()[0]
            except sqlite3.Error:  # not created or migrated yet
                cells = 0
            if cells > 100:
                break
            time.sleep(0.05)
        assert run.poll() is None, "the run finished before it could be killed"
        run.kill()  # SIGKILL: no finally, no atexit
        run.wait(timeout=10)
    finally:
        run.kill()
    with sqlite3.connect(killed_db) as con:
        assert con.execute("SELECT count(*) FROM estimate").fetchone()[0] == 0
    resumed = cli(killed_db, *args)
    assert resumed.exit_code == 0, resumed.output
    assert "reused" in resumed.output
    assert stored_estimates(killed_db) == reference


def test_a_sampler_refuses_a_world_with_missing_cells(toy_store, tmp_path):
    from cfgraph.errors import CfgraphError
    from cfgraph.valuation import estimate

    with pytest.raises(CfgraphError, match="lacks the cells of 12 training sets"):
        estimate(toy_store, "toy", "msr", budget=100)
    with toy_store.session() as session:
        assert session.execute(__import__("sqlalchemy").text("SELECT count(*) FROM estimate")).scalar() == 0


@pytest.mark.parametrize("sampler, extra", [("msr", []), ("permutation", []), ("uniform", []),
                                            ("stratified", [])])
def test_a_small_budget_is_kept_within_a_small_batch(tmp_path, sampler, extra):
    db = tmp_path / "c.db"
    result = cli(db, *POINTS, "--sampler", sampler, "--budget", "100", *extra)
    assert result.exit_code == 0, result.output
    used = int(result.output.split(" training sets used")[0].rsplit(" ", 1)[-1])
    assert used <= 100 + 2 * 46  # at most one more permutation pair (2 (n + 1) sets) past the budget


@pytest.mark.parametrize("args, message", [
    (["--budget", "99999999999999999999999"], "up to 1e+12"),
    (["--max-fits", "99999999999999999999999"], "up to 1e+12"),
])
def test_huge_limits_are_one_line_errors(tmp_path, args, message):
    result = cli(tmp_path / "c.db", *POINTS, "--sampler", "tmc", *args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_run_with_an_unknown_target_slice_creates_no_world(tmp_path):
    db = tmp_path / "c.db"
    result = cli(db, *POINTS, "--sampler", "tmc", "--budget", "10", "--target-slice", "nope")
    assert result.exit_code == 2 and "nope" in result.output
    assert "p" not in [line.split()[0] for line in cli(db, "worlds").output.splitlines()[2:] if line.strip()]


def test_values_checks_slice_method_and_seed_with_a_sampler(tmp_path):
    db = tmp_path / "c.db"
    assert cli(db, *POINTS, "--sampler", "stratified", "--semivalue", "beta:4,1", "--budget", "60").exit_code == 0
    for args, message in [(["--slice", "nope"], "nope"), (["--method", "banzhaf"], "--method"),
                          (["--seed", "5"], "--seed")]:
        result = cli(db, "values", "p", "--sampler", "msr", "--budget", "10", *args)
        assert result.exit_code == 2 and message in result.output, result.output
    assert "beta(4,1)" in cli(db, "values", "p", "--method", "beta:4,1").output
    missing = cli(db, "values", "p", "--method", "loo")
    assert missing.exit_code == 2 and "no loo estimates (stored: beta(4,1))" in missing.output
