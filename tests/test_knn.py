"""KNN-Shapley (Jia et al. 2019): the closed form against brute force over every training set, against the
exhaustive lattice of a world of points fitted with the knn-utility model, and the model and metric themselves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cfgraph import values
from cfgraph.errors import CfgraphError
from cfgraph.estimators import AllClasses, check_metric, make_estimator, metric_task
from cfgraph.knn_utility import KNNUtilityClassifier, KNNUtilityRegressor, true_class_probability
from cfgraph.store import open_store
from cfgraph.values import knn
from cfgraph.values.knn import knn_shapley, knn_shapley_slices, nearest_order
from cfgraph.world import World
from cfgraph.worlds import build_world, make_spec, prepare


# ------------------------------------------------------------------ brute force

def utilities(X, y, x_test, y_test, k, task):
    """U(S) for every training set S (indexed by bitmask over training rows), straight from the definition."""
    n = len(X)
    distance = ((X - x_test) ** 2).sum(axis=1)
    order = np.lexsort((np.arange(n), distance))  # by distance, ties by row
    member = ((np.arange(2 ** n)[:, None] >> order) & 1).astype(bool)  # (2^n, n) in sorted order
    chosen = member & (np.cumsum(member, axis=1) <= k)
    if task == "classification":
        return (chosen * (y[order] == y_test)).sum(axis=1) / k
    return -((chosen * y[order]).sum(axis=1) / k - y_test) ** 2


def brute_shapley(v):
    """Shapley values from the definition: sum over S without i of |S|!(n-|S|-1)!/n! (v(S+i) - v(S))."""
    n = int(np.log2(len(v)))
    masks = np.arange(2 ** n)
    size = np.array([bin(m).count("1") for m in masks])
    weight = np.array([math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)])
    out = np.zeros(n)
    for i in range(n):
        without = masks[(masks >> i) & 1 == 0]
        out[i] = (weight[size[without]] * (v[without | (1 << i)] - v[without])).sum()
    return out


def random_problem(rng, n, m, task, *, grid=True):
    """n training and m test points; integer features on a 3 x 3 grid give many tied distances."""
    draw = (lambda size: rng.integers(0, 3, size).astype(float)) if grid else (lambda size: rng.normal(size=size))
    X, X_test = draw((n, 2)), draw((m, 2))
    if task == "classification":
        return X, rng.integers(0, 3, n), X_test, rng.integers(0, 3, m)
    return X, rng.normal(size=n), X_test, rng.normal(size=m)


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("seed", range(12))
def test_the_closed_form_equals_brute_force_shapley(task, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 9))
    X, y, X_test, y_test = random_problem(rng, n, 4, task, grid=seed % 3 != 0)
    for k in sorted({1, 2, 3, n, n + 2}):
        got = knn_shapley(X, y, X_test, y_test, k, task=task)
        for m in range(len(X_test)):
            expected = brute_shapley(utilities(X, y, X_test[m], y_test[m], k, task))
            np.testing.assert_allclose(got[m], expected, rtol=0, atol=1e-12, err_msg=f"k={k}, test point {m}")


def test_hand_computed_values_with_a_tie():
    """Rows 0 and 2 are equally far from the test point: row 0, the lower, counts as nearer."""
    X, y = np.array([[1.0], [3.0], [-1.0]]), np.array(["b", "a", "a"])
    # Order: row 0 (b), row 2 (a), row 1 (a). K = 1: s_3 = 1/3, s_2 = 1/3, s_1 = 1/3 + (0 - 1) = -2/3.
    np.testing.assert_allclose(knn_shapley(X, y, np.array([[0.0]]), np.array(["a"]), 1),
                               [[-2 / 3, 1 / 3, 1 / 3]], atol=1e-15)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_efficiency_the_values_of_a_test_point_sum_to_the_full_set_minus_the_empty_set(task):
    rng = np.random.default_rng(7)
    X, y, X_test, y_test = random_problem(rng, 40, 25, task, grid=False)
    for k in (1, 4, 40, 55):
        got = knn_shapley(X, y, X_test, y_test, k, task=task)
        model = (KNNUtilityClassifier if task == "classification" else KNNUtilityRegressor)(n_neighbors=k)
        full = per_row_utility(model.fit(X, y), X_test, y_test, task, np.arange(3))
        empty = 0.0 if task == "classification" else -y_test ** 2
        np.testing.assert_allclose(got.sum(axis=1), full - empty, rtol=0, atol=1e-12)


def test_slices_average_their_test_points_and_an_empty_slice_is_nan():
    rng = np.random.default_rng(3)
    X, y, X_test, y_test = random_problem(rng, 30, 12, "classification")
    per_point = knn_shapley(X, y, X_test, y_test, 5)
    slices = [np.arange(12), np.array([2, 5, 7]), np.array([], dtype=int), np.array([4])]
    got = knn_shapley_slices(X, y, X_test, y_test, 5, slices)
    np.testing.assert_allclose(got[[0, 1, 3]], [per_point[rows].mean(axis=0) for rows in slices if len(rows)],
                               atol=1e-15)
    assert np.isnan(got[2]).all()


def test_chunks_do_not_change_the_values(monkeypatch):
    """Small chunks (one test point at a time) give the values of one chunk."""
    rng = np.random.default_rng(5)
    for task in ("classification", "regression"):
        X, y, X_test, y_test = random_problem(rng, 50, 9, task)
        whole = knn_shapley(X, y, X_test, y_test, 3, task=task)
        sliced = knn_shapley_slices(X, y, X_test, y_test, 3, [np.arange(9), np.array([1, 8])], task=task)
        with monkeypatch.context() as patch:
            patch.setattr(knn, "CHUNK_BYTES", 1)
            assert len(list(knn._chunks(9, 50))) == 9
            np.testing.assert_array_equal(knn_shapley(X, y, X_test, y_test, 3, task=task), whole)
            np.testing.assert_allclose(
                knn_shapley_slices(X, y, X_test, y_test, 3, [np.arange(9), np.array([1, 8])], task=task),
                sliced, atol=1e-15)


def test_a_subset_orders_its_rows_as_the_full_set_does():
    rng = np.random.default_rng(11)
    X, _, X_test, _ = random_problem(rng, 20, 6, "classification")
    full = nearest_order(X, X_test)
    keep = np.sort(rng.choice(20, 9, replace=False))
    on_subset = keep[nearest_order(X[keep], X_test)]
    np.testing.assert_array_equal(on_subset, full[np.isin(full, keep)].reshape(6, 9))


# ------------------------------------------------------------------ the model and the metric

def per_row_utility(model, X_test, y_test, task, classes=None):
    """Each test row's utility from a fitted knn-utility model (classes: every label, sorted)."""
    if task == "regression":
        return -(model.predict(X_test) - y_test) ** 2
    proba = AllClasses(model, classes).predict_proba(X_test)
    return proba[np.arange(len(y_test)), np.searchsorted(classes, y_test)]


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_model_on_any_training_set_gives_the_utility_of_the_definition(task):
    rng = np.random.default_rng(17)
    X, y, X_test, y_test = random_problem(rng, 8, 5, task)
    cls = KNNUtilityClassifier if task == "classification" else KNNUtilityRegressor
    for k in (1, 3, 9):
        table = np.array([utilities(X, y, X_test[m], y_test[m], k, task) for m in range(5)])  # (5, 2^8)
        for mask in [0, 1, 128, 255, *rng.integers(0, 256, 20)]:
            rows = np.flatnonzero((int(mask) >> np.arange(8)) & 1)
            model = cls(n_neighbors=k).fit(X[rows], y[rows])
            np.testing.assert_allclose(per_row_utility(model, X_test, y_test, task, np.arange(3)), table[:, mask],
                                       atol=1e-15)


def test_true_class_probability_scores_the_model_through_all_the_tasks_classes():
    X, y = np.array([[0.0], [1.0], [2.0], [9.0]]), np.array(["a", "b", "b", "c"])
    X_test, y_test = np.array([[0.1], [8.0]]), np.array(["a", "c"])
    scorer = check_metric("true_class_probability", ["a", "b", "c"])
    model = KNNUtilityClassifier(n_neighbors=2).fit(X, y)
    assert scorer(model, X_test, y_test) == pytest.approx((0.5 + 0.5) / 2)
    # Trained on "b" rows only: the view through every class puts 0 on a and c.
    only_b = AllClasses(KNNUtilityClassifier(n_neighbors=2).fit(X[1:3], y[1:3]), np.array(["a", "b", "c"]))
    assert only_b.predict_proba(X_test).tolist() == [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]
    assert scorer(only_b, X_test, y_test) == 0.0
    empty = AllClasses(KNNUtilityClassifier().fit(X[:0], y[:0]), np.array(["a", "b", "c"]))
    assert empty.predict_proba(X_test).tolist() == [[0.0] * 3] * 2 and scorer(empty, X_test, y_test) == 0.0
    with pytest.raises(ValueError, match="no class to predict"):
        KNNUtilityClassifier().fit(X[:0], y[:0]).predict(X_test)
    # Two classes, fewer rows than K: probabilities sum to 2/3, so "1 - p(b)" would be wrong for class a.
    binary = check_metric("true_class_probability", ["a", "b"])
    two = KNNUtilityClassifier(n_neighbors=3).fit(X[:2], y[:2])
    assert binary(two, np.array([[0.1], [1.6]]), np.array(["a", "b"])) == pytest.approx((1 / 3 + 1 / 3) / 2)
    assert metric_task("true_class_probability") == "classification"
    with pytest.raises(CfgraphError, match="true_class_probability is a classification metric"):
        check_metric("true_class_probability", task="regression")
    # Unwrapped, a model lacking the true class gives it probability 0; weights weigh rows.
    assert scorer(KNNUtilityClassifier(n_neighbors=2).fit(X[1:3], y[1:3]), X_test, y_test) == 0.0
    assert true_class_probability(["a", "b"], np.array([[1.0, 0.0], [0.0, 0.5]]), sample_weight=[1, 3]) == 0.625
    with pytest.raises(ValueError, match="for 2 classes"):
        true_class_probability(["a"], np.array([0.5]), labels=["a", "b"])


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_knn_utility_is_a_short_name_of_both_tasks_with_its_own_k(task):
    model = make_estimator("knn-utility(n_neighbors=3)", task=task)
    assert type(model) is (KNNUtilityClassifier if task == "classification" else KNNUtilityRegressor)
    assert model.n_neighbors == 3 and model.fits_any_training_set
    assert make_estimator("knn-utility", task=task).n_neighbors == 5
    with pytest.raises(CfgraphError, match="plain keyword arguments"):
        make_estimator("knn-utility(3)", task=task)
    with pytest.raises(ValueError, match="n_neighbors must be a whole number"):
        make_estimator("knn-utility(n_neighbors=0)", task=task).fit([[0.0]], [1])
    with pytest.raises(ValueError, match="no sample weights"):
        make_estimator("knn-utility", task=task).fit([[0.0]], [1], sample_weight=[1.0])


# ------------------------------------------------------------------ the key test: the world's exact lattice

def tiny_world(tmp_path, task, classes, n_rows, test_size, k):
    """An exhaustive world of points (<= 10 training rows) on a CSV with tied distances, model knn-utility."""
    rng = np.random.default_rng(len(classes) if classes else 0)
    target = (lambda j: classes[j % len(classes)]) if classes else (lambda j: f"{rng.normal():.6f}")
    path = tmp_path / f"{task}.csv"
    path.write_text("x1,x2,y\n" + "".join(f"{rng.integers(0, 3)},{rng.integers(0, 4)},{target(j)}\n"
                                          for j in range(n_rows)))
    metric = "true_class_probability" if task == "classification" else "neg_mean_squared_error"
    spec = make_spec(csv_path=str(path), target="y", group_by="point", units=None, task=task,
                     model=f"knn-utility(n_neighbors={k})", metrics=[metric], test_size=test_size)
    assert spec["lattice"] == "exhaustive" and spec["units"] <= 10
    store = open_store(tmp_path / "knn.db")
    report = build_world(store, "knn", spec, progress=False)
    assert report.failed == 0 and report.fits == 2 ** spec["units"]
    return store, prepare(spec).problem, metric


@pytest.mark.parametrize("task, classes, n_rows, test_size, k", [
    ("classification", "abc", 14, 0.28, 3),
    ("classification", "ab", 12, 0.34, 2),
    ("regression", "", 14, 0.28, 3),
])
def test_an_exhaustive_world_of_points_has_exactly_the_knn_shapley_values(tmp_path, task, classes, n_rows,
                                                                          test_size, k):
    store, problem, metric = tiny_world(tmp_path, task, classes, n_rows, test_size, k)
    try:
        with World.open(store, "knn") as w:
            table = w.table(metric)
        assert not np.isnan(table.values).any()
        exact = values.shapley(table.values).T  # (slices, n)
        closed = knn_shapley_slices(problem.X_train, problem.y_train, problem.X_test, problem.y_test, k,
                                    problem.slice_rows, task=task)
        assert exact.shape == closed.shape == (len(problem.slice_rows), len(problem.X_train))
        np.testing.assert_allclose(exact, closed, rtol=0, atol=1e-9)
        # Efficiency on the lattice's own corners.
        np.testing.assert_allclose(closed.sum(axis=1), table.values[-1] - table.values[0], atol=1e-9)
    finally:
        store.close()


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("change, needle", [
    (dict(k=0), "K, the number of neighbours"),
    (dict(k=2.5), "K, the number of neighbours"),
    (dict(k=True), "K, the number of neighbours"),
    (dict(task="ranking"), "unknown task"),
    (dict(X_train=np.zeros((0, 2)), y_train=np.zeros(0)), "at least one training row"),
    (dict(X_train=np.zeros(4)), "two tables with the same columns"),
    (dict(X_test=np.zeros((3, 5))), "two tables with the same columns"),
    (dict(y_train=np.zeros(3)), "one value per row"),
    (dict(y_test=np.zeros((3, 1))), "one value per row"),
    (dict(X_train=np.array([[np.nan, 0.0]] * 4)), "NaN or infinite"),
    (dict(X_test=np.array([[np.inf, 0.0]] * 3)), "NaN or infinite"),
    (dict(X_train=np.array([["a", "b"]] * 4)), "numeric features"),
    (dict(task="regression", y_train=np.array([1.0, np.nan, 0.0, 2.0])), "targets hold NaN"),
    (dict(task="regression", y_train=np.array(["a", "b", "c", "d"])), "must be numeric"),
])
def test_bad_input_is_refused_in_one_line(change, needle):
    args = dict(X_train=np.zeros((4, 2)), y_train=np.array([0, 1, 0, 1]), X_test=np.ones((3, 2)),
                y_test=np.array([0, 1, 1]), k=2, task="classification")
    args.update(change)
    with pytest.raises(CfgraphError, match=needle) as caught:
        knn_shapley(**args)
    assert "\n" not in str(caught.value)


def test_a_slice_outside_the_test_rows_is_refused():
    with pytest.raises(CfgraphError, match="test row 3, outside the 3 test rows"):
        knn_shapley_slices(np.zeros((4, 2)), np.zeros(4), np.ones((3, 2)), np.zeros(3), 2, [[0, 3]])
