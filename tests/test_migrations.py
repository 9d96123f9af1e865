"""Migration 0005: existing databases upgrade with their data intact (task column, the
``single_class`` -> ``constant`` rename, the ``grid_summary`` view), and downgrade back."""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import pytest

from cfgraph.store.db import head_revision, make_engine, migrate


def _database_at_0004(path) -> None:
    """A database at revision 0004 holding one world of two units with cells over three seeds."""
    migrate(make_engine(f"sqlite:///{path}"), "0004")
    con = sqlite3.connect(path)
    con.execute("INSERT INTO world (id, name, kind, metric, eval_slices, n_units, created_at) "
                "VALUES (1, 'old', 'trained', 'accuracy', 'units', 2, '2026-11-30 00:00:00')")
    con.executemany("INSERT INTO unit (world_id, idx, label, name) VALUES (1, ?, ?, ?)",
                    [(0, "A", "first"), (1, "B", "second")])
    con.executemany("INSERT INTO node (id, world_id, mask, label, size) VALUES (?, 1, ?, ?, ?)",
                    [(1, 0, "∅", 0), (2, 1, "A", 1), (3, 2, "B", 1), (4, 3, "AB", 2)])
    con.executemany("INSERT INTO edge (world_id, src_node_id, dst_node_id, unit_id) VALUES (1, ?, ?, ?)",
                    [(1, 2, 1), (1, 3, 2), (2, 4, 2), (3, 4, 1)])
    con.execute("INSERT INTO eval_slice (id, world_id, name, position) VALUES (1, 1, 'all', 0)")
    rows = []
    for seed, values in enumerate([(0.3, 0.6, 0.5, 0.9), (0.3, 0.7, 0.5, 0.8), (0.3, 0.5, 0.5, 1.0)]):
        for node, value in zip((1, 2, 3, 4), values):
            status = "baseline" if node == 1 else "single_class" if node == 3 else "ok"
            rows.append((node, seed, value, status))
    con.executemany("INSERT INTO cell (node_id, slice_id, metric, seed, value, status) "
                    "VALUES (?, 1, 'accuracy', ?, ?, ?)", rows)
    con.commit()
    con.close()


@pytest.fixture
def upgraded(tmp_path):
    path = tmp_path / "old.db"
    _database_at_0004(path)
    migrate(make_engine(f"sqlite:///{path}"))
    return path


def test_upgrade_keeps_every_cell_and_renames_single_class(upgraded):
    con = sqlite3.connect(upgraded)
    assert con.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head_revision()
    statuses = dict(con.execute("SELECT status, count(*) FROM cell GROUP BY status").fetchall())
    assert statuses == {"baseline": 3, "constant": 3, "ok": 6}
    assert con.execute("SELECT task FROM world WHERE name = 'old'").fetchone() == ("classification",)
    # The older views survive the table rebuild and still read the cells.
    assert con.execute("SELECT count(*) FROM grid WHERE world = 'old'").fetchone() == (12,)
    assert con.execute("SELECT count(*) FROM marginal WHERE world = 'old'").fetchone() == (12,)


def test_upgraded_constraint_refuses_the_old_status_name(upgraded):
    con = sqlite3.connect(upgraded)
    with pytest.raises(sqlite3.IntegrityError):
        con.execute("UPDATE cell SET status = 'single_class' WHERE status = 'constant'")


def test_grid_summary_gives_mean_std_and_count_over_seeds(upgraded):
    con = sqlite3.connect(upgraded)
    got = {row[0]: row[1:] for row in con.execute(
        "SELECT train_set, mean, std, n FROM grid_summary WHERE world = 'old' AND eval_slice = 'all'")}
    expected = {"∅": [0.3] * 3, "A": [0.6, 0.7, 0.5], "B": [0.5] * 3, "AB": [0.9, 0.8, 1.0]}
    assert set(got) == set(expected)
    for label, values in expected.items():
        mean, std, n = got[label]
        assert n == 3
        assert math.isclose(mean, np.mean(values), abs_tol=1e-12)
        assert math.isclose(std, np.std(values, ddof=1), abs_tol=1e-7)


def test_downgrade_restores_the_old_schema_and_names(upgraded):
    from alembic import command

    from cfgraph.store.db import alembic_config

    engine = make_engine(f"sqlite:///{upgraded}")
    config = alembic_config()
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        config.attributes["connection"] = conn
        command.downgrade(config, "0004")
        conn.commit()
    con = sqlite3.connect(upgraded)
    statuses = dict(con.execute("SELECT status, count(*) FROM cell GROUP BY status").fetchall())
    assert statuses == {"baseline": 3, "single_class": 3, "ok": 6}
    columns = [r[1] for r in con.execute("PRAGMA table_info(world)")]
    assert "task" not in columns
    views = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'view'")}
    assert "grid_summary" not in views and {"grid", "marginal", "variant_delta"} <= views


def test_grid_summary_std_is_exact_for_agreeing_seeds_and_large_scores(tmp_path):
    """Seeds that agree give std 0, and scores in the thousands keep their digits (a one-pass
    sum-of-squares formula gave 256 for three equal MSEs of about 3,000)."""
    path = tmp_path / "old.db"
    _database_at_0004(path)
    migrate(make_engine(f"sqlite:///{path}"))
    con = sqlite3.connect(path)
    scores = {1: [3071.123456789] * 3, 2: [3071.1, 3071.3, 3070.9], 3: [1e6 + 0.1, 1e6 + 0.2, 1e6 + 0.3]}
    for node, values in scores.items():
        for seed, value in enumerate(values):
            con.execute("UPDATE cell SET value = ? WHERE node_id = ? AND seed = ?", (value, node, seed))
    con.commit()
    got = dict(con.execute("SELECT n.id, g.std FROM grid_summary g JOIN node n ON n.label = g.train_set "
                           "WHERE g.world = 'old'").fetchall())
    assert got[1] == 0.0
    means = dict(con.execute("SELECT n.id, g.mean FROM grid_summary g JOIN node n ON n.label = g.train_set "
                             "WHERE g.world = 'old'").fetchall())
    assert means[1] == 3071.123456789  # agreeing seeds: the value itself, not a sum's rounding
    for node in (2, 3):
        assert math.isclose(got[node], np.std(scores[node], ddof=1), rel_tol=1e-9)
