"""Sampled valuations through the store: samplers that ask the store first, resume, reuse, estimates in SQL."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import text

from cfgraph import values
from cfgraph.errors import CfgraphError
from cfgraph.store import open_store
from cfgraph.valuation import estimate
from cfgraph.world import World
from cfgraph.worlds import build_world, make_spec

#: A small sampled world: iris with every training row a unit (45 rows), naive Bayes.
POINTS = dict(dataset="iris", group_by="point", units=None, model="gnb", metrics=["accuracy"], seeds=[0], seed=0,
              test_size=0.7, lattice="sampled")


@pytest.fixture
def points(store):
    build_world(store, "points", make_spec(**POINTS), progress=False)
    return store


def test_loo_on_an_exhaustive_world_equals_the_exact_values_and_fits_nothing(iris_store):
    v = estimate(iris_store, "iris", "loo")
    with World.open(iris_store, "iris") as w:
        table = w.table()
    exact = values.leave_one_out(table.column("all"))
    assert v.fits == 0 and v.evaluations == table.n + 1
    np.testing.assert_allclose(v.estimate.values[:, 0], exact, atol=1e-12)
    assert (v.estimate.stderr[:, 0] == 0).all()


def test_permutations_on_an_exhaustive_world_approach_shapley(iris_store):
    with World.open(iris_store, "iris") as w:
        exact = values.shapley(w.table().column("all"))
    v = estimate(iris_store, "iris", "permutation", budget=400, seed=3)
    assert v.fits == 0
    err = np.abs(v.estimate.values[:, 0] - exact)
    assert (err <= 4 * v.estimate.stderr[:, 0] + 1e-9).all()
    # Untruncated permutations are efficient sample by sample: the values sum to v(N) - v(empty).
    with World.open(iris_store, "iris") as w:
        column = w.table().column("all")
    assert v.estimate.values[:, 0].sum() == pytest.approx(column[-1] - column[0], abs=1e-9)


def test_a_sampled_world_fits_only_what_it_visits_and_a_rerun_reuses_everything(points):
    first = estimate(points, "points", "tmc", budget=120, seed=1)
    assert 0 < first.fits <= first.evaluations
    again = estimate(points, "points", "tmc", budget=120, seed=1)
    assert again.fits == 0 and again.reused == again.evaluations == first.evaluations
    np.testing.assert_array_equal(again.estimate.values, first.estimate.values)
    with World.open(points, "points") as w:
        assert w.lattice == "sampled" and w.n == 45


def test_msr_after_tmc_reuses_stored_training_sets(points):
    estimate(points, "points", "tmc", budget=150, seed=0)
    beta = estimate(points, "points", "stratified", budget=150, seed=0, semivalue="beta", alpha=4, beta=1)
    msr = estimate(points, "points", "msr", budget=150, seed=0)
    assert msr.fits <= msr.evaluations and beta.fits <= beta.evaluations
    assert beta.reused + msr.reused > 0  # the empty and full sets at least come from TMC's cells


def test_a_crashed_run_resumes_to_the_same_values(points, tmp_path, monkeypatch):
    clean = open_store(tmp_path / "clean.db")
    build_world(clean, "points", make_spec(**POINTS), progress=False)
    reference = estimate(clean, "points", "tmc", budget=100, seed=5)

    from cfgraph import stored_utility
    from cfgraph.store import sink as sink_module

    monkeypatch.setattr(stored_utility, "FLUSH_FITS", 1)  # a transaction per round: the crash lands mid-run
    calls = {"n": 0}
    original = sink_module.SampledSink.write

    def crash_after_three(self, rows):
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt("simulated crash")
        return original(self, rows)

    monkeypatch.setattr(sink_module.SampledSink, "write", crash_after_three)
    with pytest.raises(KeyboardInterrupt):
        estimate(points, "points", "tmc", budget=100, seed=5)
    monkeypatch.setattr(sink_module.SampledSink, "write", original)
    resumed = estimate(points, "points", "tmc", budget=100, seed=5)
    assert resumed.reused > 0
    np.testing.assert_array_equal(resumed.estimate.values, reference.estimate.values)


def _stored_cells(store) -> list[tuple]:
    with store.session() as session:
        return session.execute(text(
            "SELECT n.digest, n.members, c.slice_id, c.metric, c.seed, c.value, c.status FROM cell c "
            "JOIN node n ON n.id = c.node_id ORDER BY n.digest, c.slice_id, c.metric, c.seed")).all()


def test_fits_held_between_flushes_store_the_cells_of_a_transaction_per_round(points, tmp_path, monkeypatch):
    from cfgraph import stored_utility

    every_round = open_store(tmp_path / "every.db")
    build_world(every_round, "points", make_spec(**POINTS), progress=False)
    monkeypatch.setattr(stored_utility, "FLUSH_FITS", 1)
    reference = estimate(every_round, "points", "tmc", budget=100, seed=4)
    monkeypatch.undo()
    held = estimate(points, "points", "tmc", budget=100, seed=4)
    assert held.fits == reference.fits > 0
    np.testing.assert_array_equal(held.estimate.values, reference.estimate.values)
    assert _stored_cells(points) == _stored_cells(every_round)


def test_fits_held_when_a_run_is_interrupted_are_stored_and_reused(points, tmp_path, monkeypatch):
    from cfgraph import evaluate

    clean = open_store(tmp_path / "clean.db")
    build_world(clean, "points", make_spec(**POINTS), progress=False)
    reference = estimate(clean, "points", "tmc", budget=100, seed=6)

    calls = {"n": 0}
    original = evaluate.fit_node

    def interrupted_after_30(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 30:
            raise KeyboardInterrupt("simulated Ctrl-C")
        return original(*args, **kwargs)

    monkeypatch.setattr(evaluate, "fit_node", interrupted_after_30)
    with pytest.raises(KeyboardInterrupt):
        estimate(points, "points", "tmc", budget=100, seed=6)
    monkeypatch.undo()
    with points.session() as session:  # the 30 fits held before the interruption were stored on the way out
        assert 0 < session.execute(text("SELECT count(*) FROM node")).scalar() <= 30
    resumed = estimate(points, "points", "tmc", budget=100, seed=6)
    assert resumed.reused > 0
    np.testing.assert_array_equal(resumed.estimate.values, reference.estimate.values)


def test_estimates_are_stored_and_queryable_in_sql(points):
    v = estimate(points, "points", "msr", budget=60, seed=2)
    with points.session() as session:
        rows = session.execute(text(
            "SELECT method, count(*), max(fits) FROM estimate WHERE valuation_id = :v GROUP BY method"),
            {"v": v.valuation_id}).all()
        contains = session.execute(text(
            "SELECT count(*) FROM node JOIN world ON world.id = node.world_id "
            "WHERE world.name = 'points' AND get_bit(node.members, 0) = 1")).scalar()
    assert rows == [(v.method, len(v.rows()), v.fits)]
    assert 0 < contains < v.evaluations + 2
    with World.open(points, "points") as w:
        latest = w.estimates("banzhaf")
    assert len(latest) == len(v.rows())


def test_no_stopping_rule_is_refused_before_anything_runs(points):
    with pytest.raises(CfgraphError, match="stopping rule"):
        estimate(points, "points", "tmc")
    with pytest.raises(CfgraphError, match="unknown sampler"):
        estimate(points, "points", "magic", budget=10)
    with pytest.raises(CfgraphError, match="slice"):
        estimate(points, "points", "tmc", budget=10, slice="nowhere")


@pytest.fixture(scope="module")
def wine_table(tmp_path_factory):
    """A real exhaustive world of 10 groups (wine, KMeans, naive Bayes): 1,024 fits, every slice's column."""
    store = open_store(tmp_path_factory.mktemp("wine") / "w.db")
    build_world(store, "wine", make_spec(dataset="wine", group_by="random", units=10, model="gnb", test_size=0.5,
                                         seeds=[0]), progress=False)
    with World.open(store, "wine") as w:
        table = w.table()
    store.close()
    return np.stack([table.column("all"), table.column("A")], axis=1)


@pytest.mark.parametrize("name, params, proposals", [
    ("permutation", dict(batch=2), 4), ("msr", dict(batch=64), 6),
    ("stratified", dict(semivalue="beta", alpha=4, beta=1, strata=10, batch=100), 3),
])
def test_samplers_on_a_real_exhaustive_world_converge_and_cover(wine_table, name, params, proposals):
    """On real cells (n = 10): error shrinks about as 1/sqrt(samples); 95% intervals cover >= 85% of 50 runs."""
    from cfgraph.samplers import make_sampler
    from cfgraph.values.sampled import table_utility

    utility = table_utility(wine_table)
    exact = {"shapley": values.shapley, "banzhaf": values.banzhaf,
             "beta(4,1)": lambda t: values.beta_shapley(t, 4, 1)}
    errors, covered = {1: [], 4: []}, []
    for rep in range(50):
        s = make_sampler(name, 10, seed=rep, columns=2, **params)
        truth = exact[s.method](wine_table)
        for k, rounds in ((1, proposals), (4, 3 * proposals)):
            for _ in range(rounds):
                members = s.propose()
                if members is None:
                    break
                s.update(utility(members))
            errors[k].append(s.estimate().values - truth)
        low, high = s.estimate().interval(0.95)
        covered.append((low - 1e-12 <= truth) & (truth <= high + 1e-12))
    rmse = {k: np.sqrt(np.mean(np.square(v))) for k, v in errors.items()}
    assert 1.5 <= rmse[1] / rmse[4] <= 2.6, rmse
    assert np.mean(covered) >= 0.85


def test_several_seeds_give_per_seed_estimates_and_their_mean(store):
    build_world(store, "two", make_spec(**{**POINTS, "seeds": [0, 1], "model": "tree"}), progress=False)
    v = estimate(store, "two", "msr", budget=80, seed=0)
    seeds = {c.seed for c in v.columns}
    assert seeds == {None, 0, 1} and v.columns[0].seed is None
    per_seed = [v.columns.index(type(v.columns[0])("all", "accuracy", s)) for s in (0, 1)]
    mean = v.estimate.values[:, 0]
    # MSR is linear in the utility, so the estimate on the seed-mean utility is the mean of the per-seed ones.
    np.testing.assert_allclose(mean, v.estimate.values[:, per_seed].mean(axis=1), atol=1e-12)
