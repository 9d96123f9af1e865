"""Data-OOB (Kwon & Zou 2023): scikit-learn's bootstrap bags, the estimator on known scores, and a world whose
bags become stored training sets, checked against a recomputation by hand and on mislabelled points."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import BaggingClassifier
from sklearn.linear_model import LinearRegression
from sklearn.metrics import roc_auc_score
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from cfgraph import bitsets
from cfgraph.errors import CfgraphError, NotFound
from cfgraph.executors import Executor
from cfgraph.oob import data_oob_run
from cfgraph.store import catalog, cells, nodes
from cfgraph.values.oob import MAX_BAGS, bootstrap_bags, data_oob, oob_scores
from cfgraph.worlds import build_world, make_spec, prepare

#: Iris with every training row a unit (30 rows), Gaussian naive Bayes: a sampled world of points.
POINTS = dict(dataset="iris", group_by="point", units=None, model="gnb", metrics=["accuracy"], seeds=[0], seed=0,
              test_size=0.8, lattice="sampled")


# ------------------------------------------------------------------ bags


@pytest.mark.parametrize("n, bags, seed", [(1, 3, 0), (30, 20, 0), (57, 9, 12345), (200, 5, 2**32 - 1)])
def test_bags_are_scikit_learns_bootstrap_samples(n, bags, seed):
    X = np.random.default_rng(0).normal(size=(n, 3))
    y = np.arange(n) % 2
    bagging = BaggingClassifier(DecisionTreeClassifier(), n_estimators=bags, random_state=seed).fit(X, y)
    expected = np.zeros((bags, n), dtype=bool)
    for b, rows in enumerate(bagging.estimators_samples_):
        expected[b, rows] = True
    np.testing.assert_array_equal(bootstrap_bags(n, bags, seed), expected)


@pytest.mark.parametrize("args", [(0, 5, 0), (5, 0, 0), (5, MAX_BAGS + 1, 0), (5, 2.5, 0), (5, True, 0),
                                  (5, 5, -1), (5, 5, 2**32), (5, "5", 0)])
def test_bad_bag_counts_and_seeds_are_refused_in_one_line(args):
    with pytest.raises(CfgraphError) as info:
        bootstrap_bags(*args)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------ the estimator on hand-made scores


def test_data_oob_averages_each_units_rows_then_its_out_of_bag_bags():
    # Units: 0 = rows 0, 1; 1 = row 2; 2 = row 3 (in every bag: never out of bag).
    train_unit = np.array([0, 0, 1, 2])
    in_bag = np.array([[0, 1, 1], [1, 0, 1], [0, 0, 1], [0, 1, 1]], dtype=bool)
    nan = np.nan
    scores = np.array([[1.0, 0.0, 9.0, 9.0],     # unit 0 out: its rows average 0.5
                       [9.0, 9.0, 1.0, 9.0],     # unit 1 out: 1
                       [1.0, 1.0, 0.0, 9.0],     # both out: unit 0 -> 1, unit 1 -> 0
                       [nan, 0.0, 9.0, 9.0]])    # unit 0 out, one row unknown: 0
    e = data_oob(in_bag, scores, train_unit)
    np.testing.assert_allclose(e.values[:2], [(0.5 + 1 + 0) / 3, 0.5])
    assert e.n_samples.tolist() == [3, 2, 0] and np.isnan(e.values[2]) and np.isnan(e.stderr[2])
    np.testing.assert_allclose(e.stderr[:2], [np.std([0.5, 1, 0], ddof=1) / np.sqrt(3),
                                              np.std([1, 0], ddof=1) / np.sqrt(2)])


def test_a_bag_without_predictions_does_not_count_and_one_sample_has_no_stderr():
    scores = oob_scores([None, np.array(["a", "b"])], np.array(["a", "a"]))
    e = data_oob(np.array([[0, 0], [1, 0]], dtype=bool), scores, np.arange(2))
    assert e.n_samples.tolist() == [0, 1] and np.isnan(e.values[0]) and e.values[1] == 0.0
    assert np.isnan(e.stderr).all()


def test_oob_scores_of_a_regression_are_negative_squared_errors():
    np.testing.assert_array_equal(oob_scores(np.array([[1.0, 2.0], [0.0, 5.0]]), np.array([1.0, 3.0]), "regression"),
                                  [[0.0, -1.0], [-1.0, -4.0]])


def test_bad_shapes_are_refused_in_one_line():
    for args in [(np.ones((2, 3), bool), np.ones((2, 2)), np.arange(3)),
                 (np.ones((2, 3), bool), np.ones((2, 3)), np.array([0, 1, 3])),
                 (np.ones(3, bool), np.ones((2, 3)), np.arange(3))]:
        with pytest.raises(CfgraphError) as info:
            data_oob(*args)
        assert "\n" not in str(info.value)
    with pytest.raises(CfgraphError):
        oob_scores([np.zeros(3)], np.zeros(2))


# ------------------------------------------------------------------ a world whose bags are training sets


@pytest.fixture
def points(store):
    build_world(store, "points", make_spec(**POINTS), progress=False)
    return store


def _stored(store, name, in_bag):
    """Node ids of the bags and whether each has its cell (all slices, the world's metric, seed 0)."""
    with store.session() as session:
        world = catalog.get_world(session, name)
        ids = nodes.find_nodes(session, world, in_bag)
        values, present = cells.cells_of_nodes(session, world, ids, ["accuracy"], [0])
        return ids, present, cells.count_cells(session, world)


def test_each_bag_becomes_a_stored_training_set_and_values_match_a_fit_by_hand(points):
    run = data_oob_run(points, "points", bags=20, seed=3)
    n = 30
    assert run.values.shape == run.stderr.shape == run.n_samples.shape == (n,)
    distinct = np.unique(run.in_bag, axis=0)
    assert run.fits == len(distinct) and run.reused == 20 - len(distinct) and run.evaluations == 20
    np.testing.assert_array_equal(run.in_bag, bootstrap_bags(n, 20, 3))
    # (i) every bag is now a stored training set with all its cells.
    ids, present, count = _stored(points, "points", run.in_bag)
    assert (ids >= 0).all() and present.all()
    assert count == len(distinct) * 4  # 4 slices (all + 3 classes), one metric, one seed
    # (ii) the values, recomputed with scikit-learn: fit each bag's rows, predict the rows out of the bag.
    p = prepare(make_spec(**POINTS)).problem
    sums, counts = np.zeros(n), np.zeros(n)
    for bag in run.in_bag:
        rows = bag[p.train_unit]
        assert len(np.unique(p.y_train[rows])) > 1  # no bag is one class (which would predict a constant)
        model = make_pipeline(StandardScaler(), GaussianNB()).fit(p.X_train[rows], p.y_train[rows])
        right = model.predict(p.X_train[~rows]) == p.y_train[~rows]
        np.add.at(sums, p.train_unit[~rows], right)
        np.add.at(counts, p.train_unit[~rows], 1)
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(run.values, sums / counts, atol=1e-12, equal_nan=True)
    assert run.n_samples.tolist() == counts.astype(int).tolist()
    # (iii) a second run draws the same bags, finds them stored, writes nothing, and agrees.
    again = data_oob_run(points, "points", bags=20, seed=3)
    assert again.fits == 0 and again.reused == 20 and again.prediction_fits == len(distinct)
    assert _stored(points, "points", run.in_bag)[2] == count
    np.testing.assert_array_equal(again.values, run.values)
    np.testing.assert_array_equal(again.stderr, run.stderr)


def test_a_larger_run_stores_only_its_new_bags_and_the_store_serves_both(points):
    first = data_oob_run(points, "points", bags=5, seed=8)
    more = data_oob_run(points, "points", bags=12, seed=8)
    # The bag seeds are one stream of RandomState(seed): B = 12 begins with the 5 bags of B = 5.
    np.testing.assert_array_equal(more.in_bag[:5], first.in_bag)
    assert more.fits == len(np.unique(more.in_bag, axis=0)) - len(np.unique(first.in_bag, axis=0))
    with points.session() as session:
        assert nodes.count_nodes(session, catalog.get_world(session, "points")) == len(np.unique(more.in_bag, axis=0))


def test_on_an_exhaustive_world_the_bags_are_stored_nodes_and_nothing_is_written(iris_store):
    with iris_store.session() as session:
        before = cells.count_cells(session, catalog.get_world(session, "iris"))
    run = data_oob_run(iris_store, "iris", bags=15, seed=0)
    with iris_store.session() as session:
        assert cells.count_cells(session, catalog.get_world(session, "iris")) == before
    assert run.fits == 0 and run.reused == 15 and run.values.shape == (4,)
    assert run.prediction_fits == len({bitsets.to_mask(b) for b in run.in_bag})


def test_an_exhaustive_worlds_missing_cells_are_written_to_its_existing_nodes(store, tmp_path):
    path = tmp_path / "tiny.csv"
    path.write_text("x,label\n" + "".join(f"{k % 5},{'ab'[k % 2]}\n" for k in range(12)))
    build_world(store, "tiny", make_spec(csv_path=str(path), target="label", group_by="point", units=None,
                                         model="gnb"), progress=False)
    with sqlite3.connect(store.sqlite_path) as conn:  # as if the build had been killed early
        conn.execute("DELETE FROM cell WHERE node_id IN (SELECT id FROM node WHERE mask > 0)")
    run = data_oob_run(store, "tiny", bags=6, seed=2)
    distinct = np.unique(run.in_bag, axis=0)
    ids, present, count = _stored(store, "tiny", distinct)
    assert run.fits == len(distinct) and present.all()
    with store.session() as session:
        assert nodes.count_nodes(session, catalog.get_world(session, "tiny")) == 2 ** run.in_bag.shape[1]
    assert count == (len(distinct) + 1) * present.shape[2]  # the empty set's cells and the bags'


def test_mislabelled_points_get_lower_values(store, tmp_path):
    """(iv) 10 flipped labels among ~90 breast-cancer points: Data-OOB ranks them low (AUC > 0.7)."""
    X, y = load_breast_cancer(return_X_y=True)
    rng = np.random.default_rng(0)
    keep = rng.choice(len(y), 130, replace=False)
    X, y = X[keep], np.array(["malignant", "benign"])[y[keep]]
    flipped = y.copy()
    flip = rng.choice(len(y), 11, replace=False)  # 10 of them land in the training split
    flipped[flip] = np.where(y[flip] == "benign", "malignant", "benign")
    path = tmp_path / "noisy.csv"
    header = ",".join(f"x{j}" for j in range(X.shape[1])) + ",label\n"
    path.write_text(header + "".join(",".join(f"{v:.6g}" for v in row) + f",{c}\n" for row, c in zip(X, flipped)))
    spec = make_spec(csv_path=str(path), target="label", group_by="point", units=None, model="logreg",
                     metrics=["accuracy"], test_size=0.3)
    build_world(store, "noisy", spec, progress=False)
    p = prepare(spec)
    is_flipped = p.problem.y_train != y[p.train_ids]
    assert 60 <= len(is_flipped) <= 100 and is_flipped.sum() == 10
    run = data_oob_run(store, "noisy", bags=50, seed=0)
    assert (run.n_samples > 0).all()
    assert roc_auc_score(is_flipped, -run.values) > 0.7  # 0.99 with these draws


def test_a_regression_world_scores_negative_squared_errors_and_any_backend_agrees(store):
    spec = make_spec(dataset="diabetes", group_by="point", units=None, model="linear", metrics=["r2"],
                     test_size=0.9, lattice="sampled")
    build_world(store, "diab", spec, progress=False)
    run = data_oob_run(store, "diab", bags=10, seed=5)
    p = prepare(spec).problem
    sums, counts = np.zeros(len(p.y_train)), np.zeros(len(p.y_train))
    for bag in run.in_bag:
        model = LinearRegression().fit(p.X_train[bag], p.y_train[bag])
        sums[~bag] -= (model.predict(p.X_train[~bag]) - p.y_train[~bag]) ** 2
        counts[~bag] += 1
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(run.values, sums / counts, rtol=1e-9, equal_nan=True)
    threads = data_oob_run(store, "diab", bags=10, seed=5, executor=Executor("threading", 2))
    assert threads.fits == 0
    np.testing.assert_array_equal(threads.values, run.values)


def test_bad_input_is_refused_in_one_line(points, toy_store):
    for kwargs in [dict(bags=0), dict(bags=-3), dict(bags=MAX_BAGS + 1), dict(bags=10**30), dict(seed=-1)]:
        with pytest.raises(CfgraphError) as info:
            data_oob_run(points, "points", **kwargs)
        assert "\n" not in str(info.value)
    with pytest.raises(NotFound):
        data_oob_run(points, "no such world", bags=3)
    with pytest.raises(CfgraphError, match="no model"):
        data_oob_run(toy_store, "toy", bags=3)
