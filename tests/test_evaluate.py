"""Evaluation on real data: one fit per training set per seed, statuses, reproducibility, resume."""

import numpy as np
import pytest
from conftest import IRIS_SPEC
from counting import CountingGNB
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.metrics import log_loss, r2_score
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sqlalchemy import select

from cfgraph import evaluate, values
from cfgraph.errors import CfgraphError
from cfgraph.evaluate import Problem, Task, fit_node
from cfgraph.executors import Executor
from cfgraph.store import open_store
from cfgraph.store.catalog import get_world
from cfgraph.store.cells import lattice_table, metrics_and_seeds
from cfgraph.store.models import Cell, Node
from cfgraph.worlds import build_world, make_spec


@pytest.fixture(autouse=True)
def allow_the_counting_models(monkeypatch):
    """The test models live in tests/counting.py, a package the user allows explicitly."""
    monkeypatch.setenv("CFGRAPH_ALLOW_MODULES", "counting")


def spec(**changes):
    return make_spec(**{**IRIS_SPEC, **changes})


def dump(store, world="iris"):
    """Every cell of a world as sorted tuples (fit times excluded)."""
    with store.session() as s:
        w = get_world(s, world)
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
        table = lattice_table(s, "iris")
    values.shapley(table.values), values.banzhaf(table.values), values.leave_one_out(table.values)
    again = build_world(store, "iris", spec(model="counting.CountingGNB", seeds=[0, 1]), progress=False)
    assert again.fits == 0 and CountingGNB.fits == len(fitted)


def test_adding_a_seed_fits_only_that_seed(store):
    build_world(store, "iris", spec(), progress=False)
    report = build_world(store, "iris", spec(seeds=[3]), progress=False)
    assert report.fits == 16
    with store.session() as s:
        assert metrics_and_seeds(s, get_world(s, "iris"))[1] == [0, 3]


def test_real_world_shapley_is_efficient(iris_db):
    s = open_store(iris_db)
    with s.session() as session:
        table = lattice_table(session, "iris")
    phi = values.shapley(table.values)
    full = 15
    np.testing.assert_allclose(phi.sum(axis=0), table.values[full] - table.values[0], atol=1e-9)
    s.close()


def test_empty_set_is_a_baseline_and_one_class_sets_predict_their_class(store):
    build_world(store, "iris", spec(group_by="class", units=None), progress=False)
    with store.session() as s:
        table = lattice_table(s, "iris")
    assert set(table.status[0]) == {"baseline"}
    # With units = classes, every singleton training set holds one class: it predicts
    # that class, so it is right exactly on its own class's slice.
    for i in range(3):
        assert set(table.status[1 << i]) == {"constant"}
        assert table.column(table.letters[i])[1 << i] == 1.0
        other = table.letters[(i + 1) % 3]
        assert table.column(other)[1 << i] == 0.0
    assert set(table.status[0b111]) == {"ok"}


def test_failed_fits_are_stored_as_failed_never_as_numbers(store):
    report = build_world(store, "iris", spec(model="counting.FailingOnSmall"), progress=False)
    assert report.failed > 0
    with store.session() as s:
        table = lattice_table(s, "iris")
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
        assert get_world(s, "iris").model_spec == "tree"


def test_powerset_slices_are_unions_of_units(store):
    build_world(store, "iris", spec(eval_slices="powerset", units=3), progress=False)
    with store.session() as s:
        world = get_world(s, "iris")
        slices = {sl.name: (sl.mask, sl.size) for sl in world.slices}
    assert len(slices) == 7 and slices["all"][0] == 7
    assert slices["AB"][1] == slices["A"][1] + slices["B"][1]


# ---------------------------------------------------------------- the engine without a store

class ListSink:
    """A sink that keeps cells in memory: the engine needs nothing else."""

    stored = 0

    def __init__(self):
        self.batches, self.finished = [], False

    def write(self, rows):
        self.batches.append(list(rows))

    def finish(self):
        self.finished = True

    def cells(self):
        return {(r["mask"], r["slice"], r["metric"], r["seed"]): r for b in self.batches for r in b}


def regression_problem(**changes):
    """Diabetes in three units of training rows, two slices (the first half of the test rows, all)."""
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = X[:300], X[300:], y[:300], y[300:]
    return Problem(**{**dict(
        X_train=X_train, y_train=y_train, train_unit=np.arange(300) % 3, X_test=X_test, y_test=y_test,
        slice_rows=[np.arange(71), np.arange(142)], classes=None, model="ridge", metrics=["r2"],
        task="regression"), **changes})


def run_all(problem, executor=None, n=None, seeds=(0,)):
    n = n or int(problem.train_unit.max()) + 1
    slices, metrics = len(problem.slice_rows), problem.metrics
    stored = np.zeros((len(seeds), 1 << n, slices, len(metrics)), dtype=bool)
    sink = ListSink()
    report = evaluate.run(evaluate.plan(stored, np.arange(1 << n), metrics, list(seeds)), problem, sink, executor,
                          progress=False)
    assert sink.finished and report.fits == len(seeds) << n
    return sink.cells()


def test_regression_cells_equal_a_hand_fit_of_ridge():
    problem = regression_problem()
    cells = run_all(problem)
    for mask in range(1, 8):
        rows = np.isin(problem.train_unit, [i for i in range(3) if mask >> i & 1])
        model = make_pipeline(StandardScaler(), Ridge()).fit(problem.X_train[rows], problem.y_train[rows])
        for position, idx in enumerate(problem.slice_rows):
            cell = cells[(mask, position, "r2", 0)]
            assert cell["status"] == "ok"
            assert cell["value"] == pytest.approx(r2_score(problem.y_test[idx], model.predict(problem.X_test[idx])),
                                                  abs=1e-12)


def test_regression_baseline_is_the_training_mean_and_a_constant_target_predicts_it():
    y_train = load_diabetes(return_X_y=True)[1][:300].copy()
    y_train[np.arange(300) % 3 == 1] = 100.0  # unit B's targets are all 100
    problem = regression_problem(y_train=y_train, metrics=["r2", "neg_mean_absolute_error"])
    cells = run_all(problem)
    y = problem.y_test
    for position, idx in enumerate(problem.slice_rows):
        base = cells[(0, position, "r2", 0)]
        assert base["status"] == "baseline"
        assert base["value"] == pytest.approx(r2_score(y[idx], np.full(len(idx), y_train.mean())), abs=1e-12)
        const = cells[(0b010, position, "neg_mean_absolute_error", 0)]
        assert const["status"] == "constant"
        assert const["value"] == pytest.approx(-np.mean(np.abs(y[idx] - 100.0)), abs=1e-12)
    assert cells[(0b011, 0, "r2", 0)]["status"] == "ok"


def test_the_preprocessor_is_fitted_inside_each_training_set_and_weights_reach_the_estimator():
    rng = np.random.default_rng(0)
    n = 120
    colour = rng.choice(["red", "green", "blue"], n).astype(object)
    size = rng.normal(size=n)
    size[rng.random(n) < 0.2] = np.nan
    X = np.column_stack([colour, size]).astype(object)
    y = np.where((colour == "red") | (np.nan_to_num(size) > 0.5), "yes", "no")
    pre = ColumnTransformer([("colour", OneHotEncoder(handle_unknown="ignore"), [0]),
                             ("size", SimpleImputer(), [1])])
    weight = rng.uniform(0.5, 2.0, 80)
    problem = Problem(X_train=X[:80], y_train=y[:80], train_unit=np.arange(80) % 3, X_test=X[80:], y_test=y[80:],
                      slice_rows=[np.arange(40)], classes=np.array(["no", "yes"]), model="gnb",
                      metrics=["neg_log_loss"], sample_weight=weight, preprocessor=pre)
    cells = run_all(problem)
    for mask in (0b011, 0b101, 0b111):
        rows = np.isin(problem.train_unit, [i for i in range(3) if mask >> i & 1])
        hand = make_pipeline(clone(pre), GaussianNB()).fit(
            problem.X_train[rows], problem.y_train[rows], gaussiannb__sample_weight=weight[rows])
        expected = -log_loss(problem.y_test, hand.predict_proba(problem.X_test), labels=["no", "yes"])
        assert cells[(mask, 0, "neg_log_loss", 0)]["value"] == pytest.approx(expected, abs=1e-12)
    unweighted = make_pipeline(clone(pre), GaussianNB()).fit(problem.X_train, problem.y_train)
    assert cells[(0b111, 0, "neg_log_loss", 0)]["value"] != pytest.approx(
        -log_loss(problem.y_test, unweighted.predict_proba(problem.X_test)), abs=1e-9)


def test_engine_results_do_not_depend_on_backend_or_workers():
    problem = regression_problem(model="forest(n_estimators=10)")
    one = run_all(problem, Executor("loky", 1), seeds=(0, 1))
    two = run_all(problem, Executor("loky", 2), seeds=(0, 1))
    threads = run_all(problem, Executor("threading", 2), seeds=(0, 1))

    def values(cells):
        return {k: (r["value"], r["status"]) for k, r in cells.items()}

    assert values(one) == values(two) == values(threads)
    assert values(one)[(7, 1, "r2", 0)] != values(one)[(7, 1, "r2", 1)]  # the seed matters, so it was used


def test_tasks_name_training_sets_by_key_beyond_64_units():
    """A sampled lattice of 70 units: tasks carry masks past 2^64, and no 2^n array is made."""
    problem = regression_problem(train_unit=np.arange(300) % 70)
    masks = [1 << 69 | 1, (1 << 70) - 1, 1 << 65]
    sink = ListSink()
    tasks = [Task(m, 0, ((1, "r2"),)) for m in masks]
    evaluate.run(tasks, problem, sink, progress=False)
    cells = sink.cells()
    for m in masks:
        rows = np.array([m >> int(u) & 1 for u in problem.train_unit], dtype=bool)
        hand = make_pipeline(StandardScaler(), Ridge()).fit(problem.X_train[rows], problem.y_train[rows])
        assert cells[(m, 1, "r2", 0)]["value"] == pytest.approx(hand.score(problem.X_test, problem.y_test), abs=1e-12)


def test_precomputed_rows_are_written_not_refitted():
    problem = regression_problem()
    full = fit_node(problem, 7, 0, [(0, "r2"), (1, "r2")])
    full[0]["value"] = 42.0  # marked, so a refit would show
    stored = np.zeros((1, 8, 2, 1), dtype=bool)
    sink = ListSink()
    report = evaluate.run(evaluate.plan(stored, range(8), ["r2"], [0]), problem, sink, progress=False,
                          precomputed={(7, 0): full})
    assert report.fits == 8 and sink.cells()[(7, 0, "r2", 0)]["value"] == 42.0


def test_an_executor_needs_workers():
    with pytest.raises(CfgraphError, match="positive"):
        Executor(jobs=0)


def test_the_store_sink_writes_a_batch_whole_or_not_at_all(iris_store):
    from sqlalchemy.exc import IntegrityError

    from cfgraph.store.sink import StoreSink

    sink = StoreSink.open(iris_store, "iris", ["accuracy"], [0])
    assert sink.present.all() and sink.stored == 16 * 5
    row = {"slice": 0, "metric": "accuracy", "seed": 0, "value": 0.5, "fit_seconds": 0.0, "status": "ok",
           "error": None}
    new = [{**row, "mask": 3, "metric": "balanced_accuracy"}, {**row, "mask": 3}]  # the second is stored already
    with iris_store.session() as session:
        stored = lattice_table(session, "iris").values[3, 0]
    bad = [{**row, "mask": 5, "metric": "balanced_accuracy"}, {**row, "mask": 5, "metric": "balanced_accuracy",
                                                              "status": "nonsense"}]
    with pytest.raises(IntegrityError):  # a batch that breaks a constraint writes nothing
        sink.write(bad)
    assert StoreSink.open(iris_store, "iris", ["balanced_accuracy"], [0]).present.sum() == 0
    sink.write(new)  # a cell another run stored first is kept, the rest written
    again = StoreSink.open(iris_store, "iris", ["balanced_accuracy"], [0])
    assert again.present[0, 3, 0, 0] and again.present.sum() == 1
    with iris_store.session() as session:
        assert lattice_table(session, "iris").values[3, 0] == stored != 0.5


def test_two_sinks_writing_the_same_cells_keep_one_copy(store):
    """Two runs of one world at once: each stores what it computed; a cell the other stored first is kept."""
    from sqlalchemy import delete, func

    from cfgraph.store.cells import node_ids
    from cfgraph.store.sink import StoreSink
    from cfgraph.worlds import prepare

    build_world(store, "pair", spec(), progress=False)
    with store.session() as session:
        expected = lattice_table(session, "pair").values
    with store.transaction() as session:  # forget half the training sets, as if two runs had just started
        half = [int(i) for i in node_ids(session, get_world(session, "pair"))[::2]]
        session.execute(delete(Cell).where(Cell.node_id.in_(half)))
    problem = prepare(spec()).problem
    first, second = (StoreSink.open(store, "pair", problem.metrics, [0]) for _ in range(2))
    tasks = evaluate.plan(first.present, np.arange(1 << first.n), problem.metrics, [0])
    assert len(tasks) == len(half)  # both sinks saw the same cells missing
    evaluate.run(tasks, problem, first, progress=False)
    evaluate.run(tasks, problem, second, progress=False)  # the first has stored every one of them
    with store.session() as session:
        world = get_world(session, "pair")
        got = lattice_table(session, "pair").values
        count = session.scalar(select(func.count(Cell.id)).join(Node).where(Node.world_id == world.id))
    np.testing.assert_array_equal(got, expected)
    assert count == expected.size


def test_two_processes_building_one_world_at_once_give_one_runs_grid(tmp_path):
    import subprocess
    import sys

    args = ["run", "--dataset", "iris", "--units", "5", "--model", "gnb", "--test-size", "0.4", "--world", "w",
            "--no-progress"]
    solo, shared = tmp_path / "solo.db", tmp_path / "shared.db"
    subprocess.run([sys.executable, "-m", "cfgraph.cli", "--db", str(solo), *args], check=True, capture_output=True)
    runs = [subprocess.Popen([sys.executable, "-m", "cfgraph.cli", "--db", str(shared), *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [(p.communicate(timeout=120)[1], p.returncode) for p in runs]
    assert all(code == 0 for _, code in outcomes), outcomes
    a, b = open_store(solo), open_store(shared)
    try:
        with a.session() as one, b.session() as two:
            np.testing.assert_array_equal(lattice_table(one, "w").values, lattice_table(two, "w").values)
    finally:
        a.close()
        b.close()


def test_a_world_created_by_another_run_a_moment_ago_is_joined(store, monkeypatch):
    """The race two runs of one new world meet: both see no world, one creates it first."""
    from cfgraph.store import catalog

    build_world(store, "w", spec(), progress=False)
    real, calls = catalog.find_world, []

    def first_sees_nothing(session, name):
        calls.append(name)
        return None if len(calls) == 1 else real(session, name)

    monkeypatch.setattr(catalog, "find_world", first_sees_nothing)
    report = build_world(store, "w", spec(), progress=False)
    assert report.fits == 0 and len(calls) >= 2
