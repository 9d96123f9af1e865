"""Scoring each fitted model once gives, cell for cell, what a scikit-learn scorer per slice gives."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import get_scorer_names
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from cfgraph.estimators import AllClasses, check_metric, metric_task
from cfgraph.evaluate import Problem
from cfgraph.scoring import Scoring, warning_note

CLASSIFICATION = sorted(m for m in get_scorer_names() if metric_task(m) == "classification")
REGRESSION = sorted(m for m in get_scorer_names() if metric_task(m) == "regression")


def per_slice_scores(problem, model, wanted):
    """The scoring cfgraph did before: one scorer call per (slice, metric), the model predicting each slice."""
    scorers = {m: check_metric(m, problem.classes, problem.task) for _, m in wanted}
    if problem.task == "classification" and hasattr(model, "predict_proba") \
            and len(model.classes_) < len(problem.classes):
        model = AllClasses(model, problem.classes)
    out = []
    for position, metric in wanted:
        idx = problem.slice_rows[position]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                value = float(scorers[metric](model, problem.X_test[idx], problem.y_test[idx]))
                if not np.isfinite(value):
                    raise ValueError(f"the scorer returned {value}")
            except Exception as exc:
                out.append((None, f"score: {type(exc).__name__}: {exc}"))
                continue
        out.append((value, warning_note(caught)))
    return out


def problem_of(X, y, task, rng):
    """A problem over a 60/40 split with slices: every row, one class (or the lowest targets),
    a random handful, a single row, and no row at all."""
    order = rng.permutation(len(y))
    train, test = order[: int(0.6 * len(y))], order[int(0.6 * len(y)):]
    y_test = y[test]
    one_class = np.flatnonzero(y_test == y_test[0]) if task == "classification" else np.argsort(y_test)[:15]
    slices = [np.arange(len(test)), one_class, np.sort(rng.choice(len(test), 12, replace=False)),
              np.array([3]), np.array([], dtype=int)]
    if task == "regression":  # and rows sharing one target value (R^2 is then 1 or 0 by convention)
        values, counts = np.unique(y_test, return_counts=True)
        slices.append(np.flatnonzero(y_test == values[counts.argmax()]))
        assert len(slices[-1]) >= 2
    classes = np.unique(y) if task == "classification" else None
    return Problem(X_train=X[train], y_train=y[train], train_unit=np.zeros(len(train), int), X_test=X[test],
                   y_test=y_test, slice_rows=slices, classes=classes, model="gnb",
                   metrics=CLASSIFICATION if task == "classification" else REGRESSION, task=task)


def assert_same(problem, model, metrics):
    wanted = [(p, m) for p in range(len(problem.slice_rows)) for m in metrics]
    fast = Scoring(problem).score(model, wanted)
    slow = per_slice_scores(problem, model, wanted)
    scored = 0
    for (position, metric), (v1, n1), (v2, n2) in zip(wanted, fast, slow):
        where = f"{metric} on slice {position}"
        if not len(problem.slice_rows[position]):  # a scorer may return a number for no rows; cfgraph does not
            assert (v1, n1) == (None, "score: the slice has no test rows")
            continue
        assert (v1 is None) == (v2 is None), f"{where}: {n1} / {n2}"
        if v1 is not None:
            assert v1 == pytest.approx(v2, rel=1e-12, abs=1e-12), where
            scored += 1
        assert n1 == n2, where
    return scored


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def fitted_classifiers(X, y):
    lacking = np.isin(y, np.unique(y)[:2])  # a model that never saw the last class
    return {
        "gnb": GaussianNB().fit(X, y),
        "logreg": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, y),
        "tree": DecisionTreeClassifier(random_state=0, max_depth=3).fit(X, y),
        "lacking a class": GaussianNB().fit(X[lacking], y[lacking]),
        "constant": DummyClassifier(strategy="constant", constant=y[0]).fit(X, y),
    }


def test_multiclass_scores_equal_per_slice_scorers(rng):
    X, y = load_iris(return_X_y=True)
    problem = problem_of(X, y, "classification", rng)
    scored = 0
    for name, model in fitted_classifiers(problem.X_train, problem.y_train).items():
        scored += assert_same(problem, model, CLASSIFICATION)
    # Most cells are real numbers (the two-class metrics fail on three classes, alike on both paths).
    assert scored > 0.5 * 5 * len(CLASSIFICATION) * 5


def test_binary_string_label_scores_equal_per_slice_scorers(rng):
    X, y = load_breast_cancer(return_X_y=True)
    y = np.array(["benign", "malignant"])[y]
    problem = problem_of(X[:, :8], y, "classification", rng)
    scored = 0
    for name, model in fitted_classifiers(problem.X_train, problem.y_train).items():
        if name != "lacking a class":
            scored += assert_same(problem, model, CLASSIFICATION)
    for metric in ("f1", "precision", "recall", "jaccard", "roc_auc", "average_precision", "neg_brier_score"):
        assert Scoring(problem).score(fitted_classifiers(problem.X_train, problem.y_train)["gnb"],
                                      [(0, metric)])[0][0] is not None
    assert scored > 0.5 * 4 * len(CLASSIFICATION) * 5


def test_regression_scores_equal_per_slice_scorers(rng):
    X, y = load_diabetes(return_X_y=True)
    problem = problem_of(X, y, "regression", rng)
    models = {"ridge": make_pipeline(StandardScaler(), Ridge()).fit(problem.X_train, problem.y_train),
              "tree": DecisionTreeRegressor(random_state=0, max_depth=4).fit(problem.X_train, problem.y_train),
              "constant": DummyRegressor(strategy="constant", constant=problem.y_test[problem.slice_rows[-1][0]])
              .fit(problem.X_train, problem.y_train)}
    scored = sum(assert_same(problem, model, REGRESSION) for model in models.values())
    assert scored > 0.5 * 3 * len(REGRESSION) * 6
    # A perfect constant on a constant slice: R^2 is 1 by scikit-learn's convention, read from its own scorer.
    assert Scoring(problem).score(models["constant"], [(5, "r2")]) == [(1.0, None)]


def test_accuracy_is_read_from_one_prediction(rng):
    """The accuracy shortcut: the model predicts once, whatever the number of slices."""
    X, y = load_iris(return_X_y=True)
    problem = problem_of(X, y, "classification", rng)

    class Counting(GaussianNB):
        calls = 0

        def predict(self, X):
            type(self).calls += 1
            return super().predict(X)

    model = Counting().fit(problem.X_train, problem.y_train)
    scores = Scoring(problem).score(model, [(p, "accuracy") for p in range(4)] + [(0, "balanced_accuracy")])
    assert Counting.calls == 1
    assert scores[1] == (float(np.mean(model.predict(problem.X_test[problem.slice_rows[1]])
                                       == problem.y_test[problem.slice_rows[1]])), None)


def test_a_failing_predict_fails_every_cell_with_its_message(rng):
    X, y = load_iris(return_X_y=True)
    problem = problem_of(X, y, "classification", rng)

    class Broken(GaussianNB):
        def predict(self, X):
            raise RuntimeError("no answer")

    scores = Scoring(problem).score(Broken().fit(problem.X_train, problem.y_train),
                                    [(0, "accuracy"), (1, "f1_macro")])
    assert scores == [(None, "score: RuntimeError: no answer")] * 2


def test_regression_errors_are_read_from_one_prediction(rng):
    X, y = load_diabetes(return_X_y=True)
    problem = problem_of(X, y, "regression", rng)

    class Counting(Ridge):
        calls = 0

        def predict(self, X):
            type(self).calls += 1
            return super().predict(X)

    model = Counting().fit(problem.X_train, problem.y_train)
    metrics = ["r2", "neg_mean_squared_error", "neg_root_mean_squared_error", "neg_mean_absolute_error"]
    scores = Scoring(problem).score(model, [(p, m) for p in (0, 1, 2) for m in metrics])
    assert Counting.calls == 1 and all(v is not None for v, _ in scores)
