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
the scorer calls the real model. Accuracy, the default metric, is the mean of
a 0/1 score per row and is read off one comparison of all test rows.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.metaestimators import available_if

from cfgraph.estimators import AllClasses, check_metric

__all__ = ["CachedClassifier", "CachedRegressor", "Responses", "Scoring", "warning_note"]

#: Response methods a scorer may ask a model for.
RESPONSE_METHODS = ("predict", "predict_proba", "decision_function")


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


#: Metrics that are the mean over the slice's rows of a per-row 0/1 score, as scikit-learn
#: computes them (``accuracy_score`` is ``np.average(y_true == y_pred)``).
ROW_MEANS = {"accuracy": lambda y_true, y_pred: y_true == y_pred}


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
        self.row_means = {m: ROW_MEANS[m] for m in self.scorers if m in ROW_MEANS}
        self._membership = self._sizes = None  # (slices, n_test) 0/1 and slice sizes, built when first needed

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
        per_row = {} if per_slice else {m: self._per_row(m, responses) for m in metrics & self.row_means.keys()}
        out = []
        for position, metric in wanted:
            rows = self.slice_rows[position]
            if not len(rows):
                out.append((None, "score: the slice has no test rows"))
                continue
            if metric in per_row:
                means, note = per_row[metric]
                out.append((float(means[position]), note) if means is not None else (None, note))
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

    def _per_row(self, metric: str, responses: Responses) -> tuple[np.ndarray | None, str | None]:
        """A row-mean metric on every slice (shape (slices,)), and its note (as :meth:`score` gives).

        The per-row scores are 0 or 1, so the membership product sums them exactly and
        each mean is bit for bit ``np.average`` over the slice's rows.
        """
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                scores = self.row_means[metric](self.y_test, responses.get("predict", slice(None)))
            except Exception as exc:
                return None, f"score: {type(exc).__name__}: {exc}"
        if self._membership is None:
            self._membership = np.zeros((len(self.slice_rows), len(self.y_test)))
            for position, rows in enumerate(self.slice_rows):
                self._membership[position, rows] = 1.0
            self._sizes = np.maximum(self._membership.sum(axis=1), 1)
        return self._membership @ scores.astype(float) / self._sizes, warning_note(caught)
