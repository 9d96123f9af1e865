"""Several drivers on one PostgreSQL world (tests/pg.py's real server): the second is refused in one
line while the first holds the world's advisory lock, and the final table equals a single run's,
also after the lock holder is killed with ``kill -9``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from cfgraph.cli import main
from cfgraph.errors import CfgraphError
from cfgraph.oob import data_oob_run
from cfgraph.store.locks import LOCK_CLASS, lock_holders, world_lock
from cfgraph.valuation import estimate
from cfgraph.worlds import build_world, make_spec

#: Iris in five KMeans units, a forest of 100 trees: 32 fits of about 50 ms, in batches of 4.
FOREST = ["run", "--dataset", "iris", "--group-by", "kmeans", "--units", "5", "--model", "forest",
          "--test-size", "0.4", "--world", "w", "--jobs", "1"]
#: Iris in four units, naive Bayes: 16 quick fits.
SMALL = ["run", "--dataset", "iris", "--units", "4", "--model", "gnb", "--test-size", "0.4", "--no-progress"]
BUSY = "is being filled by another run (PostgreSQL advisory lock); wait for it to finish, or run another world"


def cli(url, *args):
    return CliRunner().invoke(main, ["--db", url, *args])


def table(url, world: str = "w") -> list[tuple]:
    """A world's cells keyed by training set, slice, metric and seed (not by row ids)."""
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        return conn.execute(
            "SELECT n.mask, s.name, c.metric, c.seed, c.value, c.status FROM cell c "
            "JOIN node n ON n.id = c.node_id JOIN eval_slice s ON s.id = c.slice_id "
            "JOIN world w ON w.id = n.world_id WHERE w.name = %s ORDER BY 1, 2, 3, 4", (world,)).fetchall()


def snapshot(url) -> tuple:
    """Everything a run could change: worlds (id, spec, finished time), nodes, cells, valuations."""
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        worlds = conn.execute("SELECT id, name, spec::text, finished_at FROM world ORDER BY id").fetchall()
        counts = conn.execute("SELECT (SELECT count(*) FROM node), (SELECT count(*) FROM cell), "
                              "(SELECT count(*) FROM valuation)").fetchone()
    return worlds, counts


class Holder:
    """The world's lock held by another PostgreSQL session (as another driver would hold it)."""

    def __init__(self, url, world_id: int):
        self.conn = psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True)
        self.key = (LOCK_CLASS, world_id)

    def __enter__(self):
        assert self.conn.execute("SELECT pg_try_advisory_lock(%s, %s)", self.key).fetchone()[0]
        return self

    def __exit__(self, *exc):
        self.conn.close()


def world_id(store, name: str) -> int:
    with store.engine.connect() as conn:
        return conn.execute(text("SELECT id FROM world WHERE name = :n"), {"n": name}).scalar_one()


def spawn(url, *args, progress: bool = False) -> subprocess.Popen:
    flag = "--progress" if progress else "--no-progress"
    return subprocess.Popen([sys.executable, "-m", "cfgraph.cli", "--db", url, *args, flag],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def reference(pg_server, pg_schema_template) -> list[tuple]:
    """The forest world's table after one uninterrupted run."""
    name = pg_server.create_database(template=pg_schema_template)
    try:
        result = cli(pg_server.url(name), *FOREST, "--no-progress")
        assert result.exit_code == 0, result.output
        cells = table(pg_server.url(name))
    finally:
        pg_server.drop_database(name)
    assert len(cells) == 32 * 6  # every training set scored on 5 units and "all"
    return cells


def test_a_held_world_refuses_a_run_in_one_line_and_stays_unchanged(pg_store):
    url = pg_store.url
    assert cli(url, *SMALL, "--world", "w", "--seeds", "0").exit_code == 0
    before, cells = snapshot(url), len(table(url, "w"))
    with Holder(url, world_id(pg_store, "w")):
        for extra in (["--seeds", "0,1"], ["--seeds", "0", "--replace"]):
            refused = cli(url, *SMALL, "--world", "w", *extra)
            assert refused.exit_code == 2
            assert refused.output.strip().splitlines() == [f"error: world 'w' {BUSY}"]
            assert snapshot(url) == before
        other = cli(url, *SMALL, "--world", "v")  # another world runs meanwhile
        assert other.exit_code == 0, other.output
        assert len(table(url, "v")) == cells
    resumed = cli(url, *SMALL, "--world", "w", "--seeds", "0,1")  # released: the run goes ahead
    assert resumed.exit_code == 0, resumed.output
    assert len(table(url, "w")) == 2 * cells


def test_samplers_and_data_oob_refuse_a_held_world_before_writing(pg_store):
    spec = make_spec(dataset="iris", group_by="point", units=None, model="gnb", test_size=0.7)
    build_world(pg_store, "p", spec, progress=False)
    before = snapshot(pg_store.url)
    with Holder(pg_store.url, world_id(pg_store, "p")):
        with pytest.raises(CfgraphError, match=re.escape(f"world 'p' {BUSY}")):
            estimate(pg_store, "p", "tmc", budget=20, seed=1)
        with pytest.raises(CfgraphError, match=re.escape(f"world 'p' {BUSY}")):
            data_oob_run(pg_store, "p", bags=4, seed=1)
        refused = cli(pg_store.url, "run", "--dataset", "iris", "--group-by", "point", "--model", "gnb",
                      "--test-size", "0.7", "--world", "p", "--no-progress", "--sampler", "tmc", "--budget", "20")
        assert refused.exit_code == 2 and refused.output.count("\n") == 1, refused.output
        assert snapshot(pg_store.url) == before
    assert estimate(pg_store, "p", "tmc", budget=20, seed=1).fits > 0  # released by every refusal
    assert lock_holders(pg_store, "p") == []


def test_the_lock_is_reentrant_in_one_process_and_shown_in_pg_locks(pg_store):
    build_world(pg_store, "w", make_spec(dataset="iris", units=3, model="gnb"), progress=False)
    with world_lock(pg_store, "w"):
        (holder,) = lock_holders(pg_store, "w")
        with world_lock(pg_store, "w"):  # the same driver asking again: a sampler after build_world
            assert lock_holders(pg_store, "w") == [holder]
        assert lock_holders(pg_store, "w") == [holder]
        with pg_store.engine.connect() as conn:  # another session of this process, not through world_lock
            assert conn.execute(text("SELECT pg_try_advisory_lock(:c, :w)"),
                                {"c": LOCK_CLASS, "w": world_id(pg_store, "w")}).scalar() is False
    assert lock_holders(pg_store, "w") == []


def test_two_runs_started_together_end_with_one_runs_table(pg_store, reference):
    runs = [spawn(pg_store.url, *FOREST) for _ in range(2)]
    outcomes = [(run.wait(timeout=120), run.stderr.read().decode()) for run in runs]
    for run in runs:
        run.stdout.close()
        run.stderr.close()
    assert sorted(code for code, _ in outcomes) in ([0, 0], [0, 2]), outcomes
    for code, err in outcomes:
        if code == 2:  # refused while the other filled the world
            assert err.strip().splitlines() == [f"error: world 'w' {BUSY}"]
    assert table(pg_store.url) == reference
    assert lock_holders(pg_store, "w") == []


def test_a_rerun_after_kill_9_takes_the_lock_and_completes_the_table(pg_store, reference):
    run = spawn(pg_store.url, *FOREST, progress=True)
    try:
        seen = b""
        while not re.search(rb"\| *([1-9]\d*)/32 ", seen):  # a batch stored: the run holds the lock
            chunk = os.read(run.stderr.fileno(), 4096)
            assert chunk, f"the run ended before it could be killed: {seen[-300:]!r}"
            seen += chunk
        assert len(lock_holders(pg_store, "w")) == 1
        run.send_signal(signal.SIGKILL)  # no finally, no atexit: the lock is never released by the run
        assert run.wait(timeout=30) == -signal.SIGKILL
    finally:
        run.kill()
        run.stdout.close()
        run.stderr.close()
    assert 0 < len(table(pg_store.url)) < len(reference)
    # PostgreSQL ends the dead client's session and frees its locks; this waits for that (a blocking
    # lock with a deadline, no sleep) and lets go at once.
    with psycopg.connect(pg_store.url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute("SET statement_timeout = '30s'")
        conn.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_CLASS, world_id(pg_store, "w")))
        conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, world_id(pg_store, "w")))
    rerun = cli(pg_store.url, *FOREST, "--no-progress")
    assert rerun.exit_code == 0, rerun.output
    assert table(pg_store.url) == reference
