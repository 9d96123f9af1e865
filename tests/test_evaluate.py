"""Evaluation on real data: one fit per training set per seed, statuses, reproducibility, resume."""

import numpy as np
import pytest
from conftest import IRIS_SPEC
from counting import CountingGNB
from sqlalchemy import select

from cfgraph import values
from cfgraph.errors import CfgraphError
from cfgraph.store import open_store, queries
from cfgraph.store.models import Cell, Node
from cfgraph.worlds import build_world, make_spec


def spec(**changes):
    return make_spec(**{**IRIS_SPEC, **changes})


def dump(store, world="iris"):
    """Every cell of a world as sorted tuples (fit times excluded)."""
    with store.session() as s:
        w = queries.get_world(s, world)
        rows = s.execute(
            select(Node.label, Cell.slice_id, Cell.metric, Cell.seed, Cell.value, Cell.status)
            .join(Cell, Cell.node_id == Node.id).where(Node.world_id == w.id)
        ).all()
        names = {sl.id: sl.name for sl in w.slices}
    return sorted((r[0], names[r[1]], r[2], r[3], r[4], r[5]) for r in rows)


def test_each_training_set_is_fit_once_per_seed(store):
    CountingGNB.fits = 0
    report = build_world(store, "iris", spec(model="counting.CountingGNB", seeds=[0, 1]), progress=False)
    # 2^4 training sets x 2 seeds: one task each. The estimator itself is fitted on
    # those whose rows hold two or more classes (the empty set is a baseline and a
    # one-class set predicts its class without the estimator).
    assert report.fits == 32
    fitted = {(r[0], r[3]) for r in dump(store) if r[5] == "ok"}
    assert len(fitted) >= 16 and CountingGNB.fits == len(fitted)
    n_slices = 5
    assert report.cells == 32 * n_slices
    # Asking for every summary afterwards fits nothing more.
    with store.session() as s:
        table = queries.lattice_table(s, "iris")
    values.shapley(table.values), values.banzhaf(table.values), values.leave_one_out(table.values)
    again = build_world(store, "iris", spec(model="counting.CountingGNB", seeds=[0, 1]), progress=False)
    assert again.fits == 0 and CountingGNB.fits == len(fitted)


def test_adding_a_seed_fits_only_that_seed(store):
    build_world(store, "iris", spec(), progress=False)
    report = build_world(store, "iris", spec(seeds=[3]), progress=False)
    assert report.fits == 16
    with store.session() as s:
        assert queries.metrics_and_seeds(s, queries.get_world(s, "iris"))[1] == [0, 3]


def test_real_world_shapley_is_efficient(iris_db):
    s = open_store(iris_db)
    with s.session() as session:
        table = queries.lattice_table(session, "iris")
    phi = values.shapley(table.values)
    full = 15
    np.testing.assert_allclose(phi.sum(axis=0), table.values[full] - table.values[0], atol=1e-9)
    s.close()


def test_empty_set_is_a_baseline_and_one_class_sets_predict_their_class(store):
    build_world(store, "iris", spec(group_by="class", units=None), progress=False)
    with store.session() as s:
        table = queries.lattice_table(s, "iris")
    assert set(table.status[0]) == {"baseline"}
    # With units = classes, every singleton training set holds one class: it predicts
    # that class, so it is right exactly on its own class's slice.
    for i in range(3):
        assert set(table.status[1 << i]) == {"single_class"}
        assert table.column(table.letters[i])[1 << i] == 1.0
        other = table.letters[(i + 1) % 3]
        assert table.column(other)[1 << i] == 0.0
    assert set(table.status[0b111]) == {"ok"}


def test_failed_fits_are_stored_as_failed_never_as_numbers(store):
    report = build_world(store, "iris", spec(model="counting.FailingOnSmall"), progress=False)
    assert report.failed > 0
    with store.session() as s:
        table = queries.lattice_table(s, "iris")
        errors = s.scalars(select(Cell.error).where(Cell.status == "failed")).all()
    failed = table.status == "failed"
    assert np.isnan(table.values[failed]).all()
    assert all("too few rows" in e for e in errors)
    with pytest.raises(Exception, match="missing cell"):
        values.shapley(table.column("all"), labels=table.labels)


def test_results_do_not_depend_on_the_number_of_jobs(tmp_path):
    one = open_store(tmp_path / "one.db")
    two = open_store(tmp_path / "two.db")
    s = spec(model="forest", seeds=[0, 1])  # a randomised model: the seed must fix it
    build_world(one, "iris", s, jobs=1, progress=False)
    build_world(two, "iris", s, jobs=2, progress=False)
    assert dump(one) == dump(two)


def test_a_run_killed_halfway_resumes_to_the_same_table(tmp_path):
    whole = open_store(tmp_path / "whole.db")
    build_world(whole, "iris", spec(seeds=[0, 1]), progress=False)

    crashed = open_store(tmp_path / "crashed.db")

    def crash(done):
        if done >= 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_world(crashed, "iris", spec(seeds=[0, 1]), progress=False, on_batch=crash)
    partial = dump(crashed)
    assert 0 < len(partial) < len(dump(whole))
    report = build_world(crashed, "iris", spec(seeds=[0, 1]), progress=False)
    assert report.fits == 32 - len({(r[0], r[3]) for r in partial})
    assert dump(crashed) == dump(whole)


def test_a_different_recipe_under_the_same_name_is_refused(store):
    build_world(store, "iris", spec(), progress=False)
    before = dump(store)
    with pytest.raises(CfgraphError, match="different recipe"):
        build_world(store, "iris", spec(model="tree"), progress=False)
    assert dump(store) == before
    build_world(store, "iris", spec(model="tree"), replace=True, progress=False)
    with store.session() as s:
        assert queries.get_world(s, "iris").model_spec == "tree"


def test_powerset_slices_are_unions_of_units(store):
    build_world(store, "iris", spec(eval_slices="powerset", units=3), progress=False)
    with store.session() as s:
        world = queries.get_world(s, "iris")
        slices = {sl.name: (sl.mask, sl.size) for sl in world.slices}
    assert len(slices) == 7 and slices["all"][0] == 7
    assert slices["AB"][1] == slices["A"][1] + slices["B"][1]
