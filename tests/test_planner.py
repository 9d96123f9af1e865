"""The planner: each question's needed cells, stored or missing, checked by brute force."""

from __future__ import annotations

import numpy as np
import pytest

from cfgraph import lattice
from cfgraph import questions as Q
from cfgraph.errors import CfgraphError
from cfgraph.fill import compute_cells
from cfgraph.planner import plan_world
from cfgraph.store import cells
from cfgraph.store.models import Cell, Node
from cfgraph.world import World
from cfgraph.worlds import build_world, make_spec

FOCUS = dict(cells=["ABCD:all", "BCD:all"], pair="AB", coalition="AB", k="2")


def _drop(store, labels, slice_name=None, seed=None, world=None):
    """Delete the cells of some training sets (on one slice or every slice, one seed or every seed, of one
    world or every world), as a gap in the store."""
    from sqlalchemy import delete, select

    from cfgraph.store.models import EvalSlice, World as WorldRow

    with store.transaction() as session:
        nodes = select(Node.id).where(Node.label.in_(labels))
        if world:
            nodes = nodes.where(Node.world_id == select(WorldRow.id).where(WorldRow.name == world).scalar_subquery())
        query = delete(Cell).where(Cell.node_id.in_(nodes))
        if slice_name:
            query = query.where(Cell.slice_id.in_(select(EvalSlice.id).where(EvalSlice.name == slice_name)))
        if seed is not None:
            query = query.where(Cell.seed == seed)
        session.execute(query)


def _brute(table, focus, key):
    """The cells a question reads, found by blanking one cell at a time and asking again."""
    base = Q.ask(table, focus, key)
    if base.status == "not applicable":
        return set()
    needed = set()
    n, m = len(table.letters), len(table.slices)
    for mask in range(1 << n):
        for j in range(m):
            saved = table.values[mask, j]
            table.values[mask, j] = np.nan
            if Q.ask(table, focus, key).n_missing > base.n_missing:
                needed.add((mask, j))
            table.values[mask, j] = saved
    return needed


def test_complete_world_everything_ready(iris_db):
    from cfgraph.store import open_store

    store = open_store(iris_db)
    with World.open(store, "iris") as world:
        plan = plan_world(world, **FOCUS)
    store.close()
    status = {i.key: i.status for i in plan.items}
    assert plan.possible == "16" and plan.stored_sets == 16
    assert set(status.values()) <= {"ready", "not applicable"}, status
    assert status["loo"] == status["shapley"] == status["dp_sensitivity"] == "ready"
    assert all(i.n_missing == 0 and i.n_needed == i.n_stored for i in plan.items if i.status == "ready")
    assert {i.key: i.n_needed for i in plan.items}["shapley"] == 16


def test_missing_cells_equal_brute_force(iris_store, iris_db):
    from cfgraph.store import open_store

    original = open_store(iris_db)
    with World.open(original, "iris") as world:
        complete = world.table()
    original.close()
    _drop(iris_store, ["BCD", "AB", "∅"])
    _drop(iris_store, ["ABC"], "all")
    with World.open(iris_store, "iris") as world:
        plan = plan_world(world, **FOCUS)
        absent = cells.lattice_table(world.session, world.record).status == ""
    focus = Q.resolve(complete, Q.parse_selection(complete, FOCUS["cells"]), pair="AB", coalition="AB", k="2")
    for item in plan.items:
        if item.key == "dp_sensitivity":
            needed = {(focus.train ^ (1 << i), focus.column) for i in range(4)} | {(focus.train, focus.column)}
        else:
            needed = _brute(complete, focus, item.key)
        assert {seed for _, _, seed in item.missing} <= {0}
        missing = {(lattice.parse_label(t, complete.letters), complete.slices.index(s)) for t, s, _ in item.missing}
        assert item.n_needed == len(needed), item.key
        assert missing == {c for c in needed if absent[c]}, item.key
        assert item.n_missing == len(missing)
        assert item.status == ("needs" if missing else "not applicable" if not needed else "ready"), item.key
    by = {i.key: i for i in plan.items}
    assert by["loo"].missing == [("BCD", "all", 0)] and by["loo"].summary == "needs 1 more cell"
    assert by["shapley"].n_missing == 4 and by["shapley"].n_needed == 16  # ∅, AB, BCD, ABC on "all"


def test_compute_fills_what_the_plan_names(iris_store, iris_db):
    from cfgraph.store import open_store

    _drop(iris_store, ["BCD", "AB"])
    with World.open(iris_store, "iris") as world:
        sets = plan_world(world, **FOCUS).missing_sets()
    report = compute_cells(iris_store, "iris", sets, seed=0)
    assert report.fits == 2
    with World.open(iris_store, "iris") as world:
        assert {i.status for i in plan_world(world, **FOCUS).items} <= {"ready", "not applicable"}
        filled = world.table().values
    original = open_store(iris_db)
    with World.open(original, "iris") as world:
        np.testing.assert_array_equal(filled, world.table().values)  # what `cfgraph run` stored
    original.close()
    assert compute_cells(iris_store, "iris", sets).fits == 0  # resumable: nothing left


def test_imported_world_refused(toy_store):
    with pytest.raises(CfgraphError, match="no model"):
        compute_cells(toy_store, "toy", ["A"])


def test_sampled_world_not_computable_for_whole_lattice(store):
    spec = make_spec(dataset="iris", group_by="point", units=None, model="gnb", eval_slices="classes")
    build_world(store, "pts", spec)
    with World.open(store, "pts") as world:
        plan = plan_world(world, unit=world.letters[3])
        assert world.n > 16
    by = {i.key: i for i in plan.items}
    for key in ("shapley", "banzhaf", "beta", "scaling", "subset_scan"):
        assert by[key].status == "not computable" and "not computable exactly; use a sampler" in by[key].reason
    assert by["loo"].status == "needs" and by["loo"].n_needed == 2 and by["loo"].n_missing == 2
    assert plan.stored_sets == 0 and plan.possible == f"2^{world.n}"
    compute_cells(store, "pts", [int(m) for m in [(1 << world.n) - 1, ((1 << world.n) - 1) & ~(1 << 3)]], seed=0)
    with World.open(store, "pts") as world:
        again = {i.key: i for i in plan_world(world, unit=world.letters[3]).items}
    assert again["loo"].status == "ready"


@pytest.fixture
def seed_gap(demo_db, tmp_path):
    """A copy of the demo database whose digits world lacks BCD and AB on seed 1 only."""
    import shutil

    from cfgraph.store import open_store

    path = tmp_path / "demo.db"
    shutil.copy(demo_db, path)
    store = open_store(path)
    _drop(store, ["BCD", "AB"], seed=1, world="digits")
    yield store
    store.close()


def _values(store, seed):
    with World.open(store, "digits") as world:
        return world.table(seed=seed).values


def test_plan_across_seeds_counts_missing_cells_per_seed(seed_gap):
    with World.open(seed_gap, "digits") as world:
        across = plan_world(world, **FOCUS)
        one = {s: plan_world(world, seed=s, **FOCUS) for s in (0, 1)}
    assert across.seeds == [0, 1] and across.seed is None and across.world_seeds == [0, 1]
    assert across.stored_by_seed == {0: 16, 1: 14} and across.stored_sets == 14
    assert across.missing_seeds() == [1] and set(across.missing_sets()) == {"BCD", "AB"}
    by = {i.key: i for i in across.items}
    assert by["loo"].summary == "needs 1 more cell (seed 1)" and by["loo"].missing == [("BCD", "all", 1)]
    assert by["shapley"].missing_by_seed == {1: 2} and by["shapley"].n_needed == 2 * 16
    # across seeds = the sum of the one-seed plans, question by question
    for item in across.items:
        parts = [next(i for i in one[s].items if i.key == item.key) for s in (0, 1)]
        assert item.status == ("needs" if any(p.status == "needs" for p in parts) else parts[0].status)
        assert item.n_needed == sum(p.n_needed for p in parts) and item.n_missing == sum(p.n_missing for p in parts)
        assert item.missing == [m for p in parts for m in p.missing]
    assert all(i.status != "needs" for i in one[0].items)
    assert {i.key: i.summary for i in one[1].items}["loo"] == "needs 1 more cell (seed 1)"  # narrowed, still named
    with World.open(seed_gap, "digits") as world, pytest.raises(Exception, match="no seed 7"):
        plan_world(world, seed=7)


def test_compute_fills_every_seed_that_misses_cells(seed_gap, demo_db):
    from cfgraph.store import open_store

    with World.open(seed_gap, "digits") as world:
        plan = plan_world(world, **FOCUS)
    totals = []
    report = compute_cells(seed_gap, "digits", plan.missing_sets(), seeds=None, on_plan=totals.append)
    assert report.fits == 2 and totals == [2]  # BCD and AB on seed 1; seed 0 had them
    original = open_store(demo_db, create=False)
    for seed in (0, 1):
        np.testing.assert_array_equal(_values(seed_gap, seed), _values(original, seed))
    original.close()
    with World.open(seed_gap, "digits") as world:
        assert all(i.status in ("ready", "not applicable") for i in plan_world(world, **FOCUS).items)
    assert compute_cells(seed_gap, "digits", ["BCD"], seeds=[0, 1]).fits == 0
    with pytest.raises(CfgraphError, match="not both"):
        compute_cells(seed_gap, "digits", ["BCD"], seed=0, seeds=[1])
    with pytest.raises(CfgraphError, match="no seed 3"):
        compute_cells(seed_gap, "digits", ["BCD"], seeds=[0, 3])
