"""Scoring a fitted model on every evaluation slice from one prediction per response method.

A world scores each fitted model on many slices and metrics. Calling a
scikit-learn scorer per (slice, metric) re-predicts and re-validates the test
rows every time; here the model answers each response method it is asked for
(``predict``, ``predict_proba``, ``decision_function``) once, on every test row,
and each (slice, metric) is scored from those answers on the slice's rows.

The numbers still come from scikit-learn's own scorer objects: they are handed
a fitted stand-in (:class:`CachedClassifier` or :class:`CachedRegressor`) whose
methods return the cached answers for the row indices passed as ``X``. So
``pos_label``, ``labels=`` and response-method choices behave exactly as when
the scorer calls the real model. The commonest metrics (accuracy, R^2, mean
squared and absolute errors, :data:`SLICE_METRICS`) are computed for every slice
at once, from one comparison of all test rows and a product with the slices'
membership matrix.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.sparse import csr_array
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.metaestimators import available_if

from cfgraph.estimators import AllClasses, check_metric

__all__ = ["CachedClassifier", "CachedRegressor", "Responses", "Scoring", "perfect_score", "warning_note"]

#: Scores that reach 1 at best (every scikit-learn scorer is greater-is-better).
_BEST_IS_ONE = ("accuracy", "balanced_accuracy", "top_k_accuracy", "roc_auc", "average_precision", "f1",
                "precision", "recall", "jaccard", "r2", "explained_variance", "true_class_probability",
                "matthews_corrcoef", "d2_")


def perfect_score(metric: str) -> float | None:
    """The best score a metric can reach: 1 for accuracy-like scores and R^2, 0 for scikit-learn's
    negated errors (``neg_...``), None when it is not known to be bounded.

    Examples
    --------
    >>> perfect_score("accuracy"), perfect_score("f1_macro"), perfect_score("neg_log_loss"), perfect_score("max_error")
    (1.0, 1.0, 0.0, None)
    """
    if metric.startswith("neg_"):
        return 0.0
    return 1.0 if metric.startswith(_BEST_IS_ONE) else None


def warning_note(caught) -> str | None:
    """The first caught warning as one line (as cells record them), or None.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warnings.warn("few rows\\nsecond line", UserWarning)
    >>> warning_note(caught)
    'warning: UserWarning: few rows'
    """
    if not caught:
        return None
    first = caught[0]
    return f"warning: {first.category.__name__}: {str(first.message).splitlines()[0][:300]}"


class Responses:
    """A fitted model's answers on every test row, each method asked once.

    Parameters
    ----------
    model : fitted estimator
    X : array-like, shape (n_test, d)
        Every test row.

    Notes
    -----
    What a method raised is raised again at each request, and the warnings
    it gave are given again, so a cell scored from the cache records the same
    failure or warning note as if the scorer had called the model itself.
    """

    def __init__(self, model, X):
        self.model = model
        self.X = X
        self._answers = {}

    def get(self, method: str, rows: np.ndarray) -> np.ndarray:
        """The answers of ``model.<method>`` for the test rows ``rows``."""
        if method not in self._answers:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    answer, error = getattr(self.model, method)(self.X), None
                except Exception as exc:  # kept, raised again for every cell that needs it
                    answer, error = None, exc
            self._answers[method] = (answer, error, list(caught))
        answer, error, caught = self._answers[method]
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if error is not None:
            raise error
        return answer[rows]


def _serves(method: str):
    def respond(self, X):
        return self.responses.get(method, X)

    respond.__name__ = respond.__qualname__ = method
    return available_if(lambda self: hasattr(self.responses.model, method))(respond)


class _Cached(BaseEstimator):
    """A fitted stand-in: ``X`` is an array of test-row indices, answers come from :class:`Responses`."""

    def __init__(self, responses=None):
        self.responses = responses

    def fit(self, X=None, y=None):  # pragma: no cover - stands in for a fitted model
        raise NotImplementedError("a stand-in for a fitted model")

    def __sklearn_is_fitted__(self):
        return True

    predict = _serves("predict")
    predict_proba = _serves("predict_proba")
    decision_function = _serves("decision_function")


class CachedClassifier(ClassifierMixin, _Cached):
    """Stand-in for a fitted classifier (its ``classes_`` are the model's)."""

    @property
    def classes_(self):
        return self.responses.model.classes_


class CachedRegressor(RegressorMixin, _Cached):
    """Stand-in for a fitted regressor."""


#: Metrics computed for every slice at once from ``predict`` on all test rows: for each, a
#: function ``(scoring, y_pred) -> values`` of shape (slices,), NaN where the slice needs
#: scikit-learn's own scorer (R^2 on fewer than two rows or on a constant target). Accuracy
#: is a mean of 0/1 scores, so its sums are exact and its values are bit for bit
#: ``accuracy_score``'s; the others agree with scikit-learn's to rounding (about 1e-15).
SLICE_METRICS = {
    "accuracy": lambda s, y_pred: s.slice_means(s.y_test == y_pred),
    "neg_mean_squared_error": lambda s, y_pred: -s.slice_means((s.y_test - y_pred) ** 2),
    "neg_root_mean_squared_error": lambda s, y_pred: -np.sqrt(s.slice_means((s.y_test - y_pred) ** 2)),
    "neg_mean_absolute_error": lambda s, y_pred: -s.slice_means(np.abs(s.y_test - y_pred)),
    "r2": lambda s, y_pred: 1 - s.membership @ ((s.y_test - y_pred) ** 2) / s.total_sum_of_squares,
}


class Scoring:
    """A problem's scorers, test rows and slices: scores fitted models on (slice, metric) pairs.

    Parameters
    ----------
    problem : cfgraph.evaluate.Problem
        Its ``X_test``, ``y_test``, ``slice_rows``, ``metrics``, ``classes`` and ``task``.

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> from cfgraph.evaluate import Problem
    >>> p = Problem(X_train=np.zeros((2, 1)), y_train=np.array([0, 1]), train_unit=np.array([0, 1]),
    ...             X_test=np.zeros((4, 1)), y_test=np.array([0, 0, 0, 1]),
    ...             slice_rows=[np.array([0, 1]), np.arange(4)], classes=np.array([0, 1]),
    ...             model="gnb", metrics=["accuracy", "balanced_accuracy"])
    >>> model = DummyClassifier(strategy="constant", constant=0).fit(np.zeros((2, 1)), [0, 1])
    >>> Scoring(p).score(model, [(0, "accuracy"), (1, "accuracy"), (1, "balanced_accuracy")])
    [(1.0, None), (0.75, None), (0.5, None)]
    """

    def __init__(self, problem):
        self.X_test = problem.X_test
        self.y_test = problem.y_test
        self.slice_rows = problem.slice_rows
        self.classes = problem.classes
        self.task = problem.task
        self.scorers = {m: check_metric(m, problem.classes, problem.task) for m in problem.metrics}
        self.fast = {m: SLICE_METRICS[m] for m in self.scorers if m in SLICE_METRICS}
        #: (slices, n_test) sparse 0/1: which test rows each slice holds (sparse, as powerset slices are many).
        self.sizes = np.array([len(rows) for rows in self.slice_rows], dtype=float)
        self.membership = csr_array(
            (np.ones(int(self.sizes.sum())),
             (np.repeat(np.arange(len(self.slice_rows)), self.sizes.astype(int)),
              np.concatenate([np.asarray(rows, dtype=np.int64) for rows in self.slice_rows] or [np.zeros(0, int)]))),
            shape=(len(self.slice_rows), len(self.y_test)))
        if self.task == "regression" and "r2" in self.fast:
            # Per slice, sum (y - mean of the slice's y)^2, as r2_score takes it; NaN sends a slice
            # with fewer than two rows or a constant target to r2_score itself.
            self.total_sum_of_squares = np.array([
                np.sum((self.y_test[rows] - np.mean(self.y_test[rows])) ** 2) if len(rows) > 1 else np.nan
                for rows in self.slice_rows])
            self.total_sum_of_squares[self.total_sum_of_squares == 0] = np.nan

    def slice_means(self, per_row: np.ndarray) -> np.ndarray:
        """Mean of a per-row score over each slice's rows, shape (slices,) (NaN for an empty slice)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.membership @ per_row.astype(float) / self.sizes

    def scorer(self, metric: str):
        """The scikit-learn scorer of ``metric`` (a metric added after construction is checked now)."""
        if metric not in self.scorers:
            self.scorers[metric] = check_metric(metric, self.classes, self.task)
        return self.scorers[metric]

    def score(self, model, wanted, *, per_slice: bool = False) -> list[tuple[float | None, str | None]]:
        """Score a fitted model on each wanted (slice position, metric) pair.

        Parameters
        ----------
        model : fitted estimator
        wanted : list of (int, str)
        per_slice : bool
            Let the model predict each slice's rows itself (for a model whose
            answer for a row depends on the call, as a seeded random guesser's does).

        Returns
        -------
        list of (float or None, str or None)
            Per pair: the score, and a note; a score that raises or is not
            finite gives ``(None, "score: Error: message")``, otherwise the note
            is the first warning caught while scoring, or None.
        """
        if self.task == "classification" and hasattr(model, "predict_proba") \
                and len(model.classes_) < len(self.classes):
            model = AllClasses(model, self.classes)
        responses = Responses(model, self.X_test)
        stand_in = (CachedClassifier if self.task == "classification" else CachedRegressor)(responses)
        metrics = {m for _, m in wanted}
        fast = {} if per_slice else {m: self._all_slices(m, responses) for m in metrics & self.fast.keys()}
        out = []
        for position, metric in wanted:
            rows = self.slice_rows[position]
            if not len(rows):
                out.append((None, "score: the slice has no test rows"))
                continue
            if metric in fast:
                values, note = fast[metric]
                if values is None:
                    out.append((None, note))
                    continue
                if np.isfinite(values[position]):
                    out.append((float(values[position]), note))
                    continue
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    if per_slice:
                        value = self.scorer(metric)(model, self.X_test[rows], self.y_test[rows])
                    else:
                        value = self.scorer(metric)(stand_in, rows, self.y_test[rows])
                    value = float(value)
                    if not np.isfinite(value):
                        raise ValueError(f"the scorer returned {value}")
                except Exception as exc:
                    out.append((None, f"score: {type(exc).__name__}: {exc}"))
                    continue
            out.append((value, warning_note(caught)))
        return out

    def _all_slices(self, metric: str, responses: Responses) -> tuple[np.ndarray | None, str | None]:
        """A :data:`SLICE_METRICS` metric on every slice (shape (slices,)), and its note as :meth:`score` gives it."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                y_pred = responses.get("predict", slice(None))
            except Exception as exc:
                return None, f"score: {type(exc).__name__}: {exc}"
            with np.errstate(all="ignore"):
                values = self.fast[metric](self, y_pred)
        return values, warning_note(caught)
