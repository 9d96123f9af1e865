"""The K-nearest-neighbour utility of KNN-Shapley as a scikit-learn model and metric.

:class:`KNNUtilityClassifier` and :class:`KNNUtilityRegressor` (model short name
``knn-utility``) and the metric :func:`true_class_probability` make a world's
cells the utility of Jia et al. (2019), whose exact Shapley values
:mod:`cfgraph.values.knn` computes in closed form: an exhaustive world of points
built with them is the brute-force check of that closed form.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_array, check_consistent_length, check_is_fitted, column_or_1d

__all__ = ["KNNUtilityClassifier", "KNNUtilityRegressor", "TrueClassProbabilityScorer", "true_class_probability"]


def true_class_probability(y_true, y_proba, *, labels=None, sample_weight=None) -> float:
    """Mean over rows of the predicted probability of each row's true class.

    With :class:`KNNUtilityClassifier` it is the KNN-Shapley utility of Jia et al.
    (2019): the share of the K nearest neighbours that have the row's class.

    Parameters
    ----------
    y_true : array-like, shape (n,)
    y_proba : array-like, shape (n, n_classes)
        ``predict_proba``'s answer, one column per label. Rows need not sum to 1.
    labels : array-like, shape (n_classes,), optional
        The class of each column (default: the sorted classes of ``y_true``). A
        true class among none of them has probability 0.
    sample_weight : array-like, shape (n,), optional

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the number of columns is not the number of labels.

    References
    ----------
    Jia et al. (2019), "Efficient task-specific data valuation for nearest neighbor algorithms", VLDB.

    Examples
    --------
    >>> true_class_probability(["a", "b"], np.array([[0.75, 0.25], [0.5, 0.5]]))
    0.625
    >>> true_class_probability([0, 2], np.array([[0.5, 0.0], [0.5, 0.5]]), labels=[0, 1])  # 2 is unknown
    0.25
    """
    y_true, y_proba = np.asarray(y_true), np.asarray(y_proba, dtype=float)
    labels = np.unique(y_true) if labels is None else np.asarray(labels)
    if y_proba.ndim != 2 or y_proba.shape[1] != len(labels):
        raise ValueError(f"probabilities of shape {y_proba.shape} for {len(labels)} classes")
    is_true = labels[None, :] == y_true[:, None]  # (n, classes)
    return float(np.average((y_proba * is_true).sum(axis=1), weights=sample_weight))


class TrueClassProbabilityScorer:
    """The scorer of :func:`true_class_probability`: ``scorer(fitted_classifier, X, y_true)``, greater is better.

    A callable scorer, as scikit-learn accepts anywhere a scorer goes, rather than
    ``make_scorer(..., response_method="predict_proba")``: scikit-learn hands a
    two-class model's probabilities to a scorer as the positive class's column
    alone, taking the other as 1 minus it, while the KNN utility's probabilities
    sum to less than 1 on a training set of fewer than K rows. Columns are matched
    to classes by the model's ``classes_``; a class the model lacks has probability 0.

    Examples
    --------
    >>> model = KNNUtilityClassifier(n_neighbors=3).fit([[0.0], [5.0]], ["a", "b"])
    >>> TrueClassProbabilityScorer()(model, [[0.1], [0.2]], ["a", "b"])
    0.3333333333333333
    """

    def __call__(self, estimator, X, y_true, sample_weight=None) -> float:
        return true_class_probability(y_true, estimator.predict_proba(X), labels=estimator.classes_,
                                      sample_weight=sample_weight)

    def __repr__(self) -> str:
        return "TrueClassProbabilityScorer()"


class _KNNUtility(BaseEstimator):
    """What both KNN utilities share: they remember the training rows, and order them per test row."""

    #: Fitted on every training set as it is (the empty and one-class sets included): the engine
    #: never replaces it by a baseline, so each cell is the utility KNN-Shapley values.
    fits_any_training_set = True

    def __init__(self, n_neighbors: int = 5):
        self.n_neighbors = n_neighbors

    def _remember(self, X, y, sample_weight):
        if sample_weight is not None:
            raise ValueError("the K-nearest-neighbour utility of KNN-Shapley takes no sample weights")
        if isinstance(self.n_neighbors, bool) or not isinstance(self.n_neighbors, (int, np.integer)) \
                or self.n_neighbors < 1:
            raise ValueError(f"n_neighbors must be a whole number >= 1, not {self.n_neighbors!r}")
        self.X_ = check_array(X, ensure_min_samples=0)
        y = column_or_1d(y)
        check_consistent_length(self.X_, y)
        self.n_features_in_ = self.X_.shape[1]
        return y

    def _nearest(self, X) -> np.ndarray:
        """The min(K, |S|) nearest training rows of each row of X, shape (len(X), min(K, |S|))."""
        from cfgraph.values.knn import nearest_order

        check_is_fitted(self)
        X = check_array(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features; the model was fitted with {self.n_features_in_}")
        return nearest_order(self.X_, X, self.n_neighbors)


class KNNUtilityClassifier(ClassifierMixin, _KNNUtility):
    """The K-nearest-neighbour vote as KNN-Shapley scores it: class shares among the K nearest.

    ``predict_proba`` gives, per test row, the number of each class among its
    ``min(K, |S|)`` nearest training rows divided by K (not by the number of
    neighbours found: a training set of fewer than K rows gives probabilities
    summing to less than 1, and the empty set gives no columns). Distances are
    Euclidean on the unscaled features, ties go to the lower training row, as in
    :func:`cfgraph.values.knn.knn_shapley`. ``classes_`` are the training set's own;
    :class:`cfgraph.estimators.AllClasses` (which scoring applies) lines the columns up with the world's.
    With metric :func:`true_class_probability` each cell is Jia et al.'s utility.

    Parameters
    ----------
    n_neighbors : int
        K.

    References
    ----------
    Jia et al. (2019), "Efficient task-specific data valuation for nearest neighbor algorithms", VLDB.

    Examples
    --------
    >>> model = KNNUtilityClassifier(n_neighbors=3).fit([[0.0], [1.0], [5.0]], ["a", "b", "b"])
    >>> model.predict_proba([[0.4]]).round(4).tolist(), model.predict([[0.4]]).tolist()
    ([[0.3333, 0.6667]], ['b'])
    >>> KNNUtilityClassifier().fit(np.zeros((0, 1)), []).predict_proba([[0.4]]).shape
    (1, 0)
    """

    def fit(self, X, y, sample_weight=None):
        y = self._remember(X, y, sample_weight)
        self.classes_, self.y_ = np.unique(y, return_inverse=True)
        return self

    def predict_proba(self, X) -> np.ndarray:
        nearest = self.y_[self._nearest(X)]  # class positions, shape (rows, min(K, |S|))
        counts = (nearest[:, :, None] == np.arange(len(self.classes_))).sum(axis=1)
        return counts / self.n_neighbors

    def predict(self, X) -> np.ndarray:
        if not len(self.classes_):
            raise ValueError("fitted on no training rows, so there is no class to predict")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class KNNUtilityRegressor(RegressorMixin, _KNNUtility):
    """The K-nearest-neighbour mean as KNN-Shapley scores it: the sum of the nearest targets over K.

    ``predict`` gives, per test row, the sum of the targets of its ``min(K, |S|)``
    nearest training rows divided by K (0 for the empty set). With metric
    ``neg_mean_squared_error`` each cell is the regression utility of Jia et al.
    (2019), averaged over the slice's rows.

    Parameters
    ----------
    n_neighbors : int
        K.

    References
    ----------
    Jia et al. (2019), "Efficient task-specific data valuation for nearest neighbor algorithms", VLDB.

    Examples
    --------
    >>> KNNUtilityRegressor(n_neighbors=2).fit([[0.0], [1.0], [5.0]], [1.0, 2.0, 4.0]).predict([[0.4], [9.0]]).tolist()
    [1.5, 3.0]
    """

    def fit(self, X, y, sample_weight=None):
        self.y_ = self._remember(X, y, sample_weight).astype(float)
        return self

    def predict(self, X) -> np.ndarray:
        return self.y_[self._nearest(X)].sum(axis=1) / self.n_neighbors
