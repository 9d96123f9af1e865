"""Exact KNN-Shapley: the Shapley value of every training point for a K-nearest-neighbour utility.

For one test point, sort the N training points by distance (closest first,
positions 1..N). The utility of a training set S looks only at its
``min(K, |S|)`` nearest members, ``alpha_1(S), alpha_2(S), ...``:

- classification: ``U(S) = (1/K) sum_j 1[y_{alpha_j(S)} = y_test]``, the
  probability a K-nearest-neighbour vote gives the true class;
- regression: ``U(S) = -((1/K) sum_j y_{alpha_j(S)} - y_test)^2``, minus the squared
  error of the K-nearest-neighbour mean (an empty set predicts 0).

Two training points adjacent in the order differ in value by a closed form,
so all N values follow from the farthest one by a reversed cumulative sum over
sorted positions (Jia et al. 2019): O(N log N) per test point, with no loop over
training points. The value for a set of test points (a slice) is the mean over
them, as Shapley values are linear in the utility.

Distances are Euclidean, computed pair by pair (:func:`scipy.spatial.distance.cdist`),
so a pair's distance is the same bit for bit whichever other rows are present;
ties go to the lower training row. :class:`cfgraph.estimators.KNNUtilityClassifier`
and :class:`~cfgraph.estimators.KNNUtilityRegressor` use the same order, so a
world of points with that model (and metric ``true_class_probability`` or
``neg_mean_squared_error``) has exactly these Shapley values.

References
----------
Jia, Dao, Wang, Hubis, Gurel, Li, Zhang, Spanos & Song (2019), "Efficient task-specific data
valuation for nearest neighbor algorithms", Proceedings of the VLDB Endowment 12(11).
"""

from __future__ import annotations

import numpy as np
from cfgraph.errors import CfgraphError

__all__ = ["knn_shapley", "knn_shapley_slices", "nearest_order"]

#: Rough bound on the bytes of the per-chunk work arrays (about eight (chunk, N) float arrays).
CHUNK_BYTES = 48 * 2**20
KNN_TASKS = ("classification", "regression")


def nearest_order(X_train: np.ndarray, X_test: np.ndarray, k: int | None = None) -> np.ndarray:
    """Training rows by Euclidean distance to each test row, closest first, ties by row index.

    Parameters
    ----------
    X_train : ndarray, shape (N, d)
    X_test : ndarray, shape (M, d)
    k : int, optional
        Keep only the first ``min(k, N)`` (default: all N).

    Returns
    -------
    ndarray of int, shape (M, min(k, N))
        Row positions in ``X_train``.

    Notes
    -----
    Squared distances are computed pair by pair (no ``|a|^2 - 2ab + |b|^2`` shortcut),
    so the order of two rows never depends on which other rows are present: a
    model fitted on a subset orders its rows as the full set does.

    References
    ----------
    Jia et al. (2019), "Efficient task-specific data valuation for nearest neighbor algorithms", VLDB.

    Examples
    --------
    >>> nearest_order(np.array([[2.0], [0.0], [1.0], [0.0]]), np.array([[0.2], [1.5]])).tolist()
    [[1, 3, 2, 0], [0, 2, 1, 3]]
    >>> nearest_order(np.array([[2.0], [0.0]]), np.array([[0.2]]), k=5).tolist()
    [[1, 0]]
    """
    from scipy.spatial.distance import cdist  # on first use: cfgraph.values loads without scipy at start-up

    X_train = np.asarray(X_train, dtype=float)
    X_test = np.asarray(X_test, dtype=float)
    n_train = len(X_train)
    keep = n_train if k is None else min(k, n_train)
    out = np.empty((len(X_test), keep), dtype=np.int64)
    if n_train == 0:
        return out
    for rows in _chunks(len(X_test), n_train):
        distances = cdist(X_test[rows], X_train, metric="sqeuclidean")
        out[rows] = np.argsort(distances, axis=1, kind="stable")[:, :keep]
    return out


def knn_shapley(X_train, y_train, X_test, y_test, k: int, *, task: str = "classification") -> np.ndarray:
    """Exact Shapley value of every training point for every test point, K-nearest-neighbour utility.

    Parameters
    ----------
    X_train : array-like, shape (N, d)
    y_train : array-like, shape (N,)
        Class labels (classification) or numbers (regression).
    X_test : array-like, shape (M, d)
    y_test : array-like, shape (M,)
    k : int
        K, the number of neighbours (>= 1; may exceed N).
    task : {"classification", "regression"}
        The utility (see the module's text): the K-nearest-neighbour vote's
        probability of the true class, or minus the squared error of the
        K-nearest-neighbour mean.

    Returns
    -------
    ndarray, shape (M, N)
        Row m: the values of the training points for test point m. Each row
        sums to ``U(all training points) - U(empty set)`` (efficiency).

    Raises
    ------
    CfgraphError
        On an unknown task, K < 1, no training rows, shapes that do not
        match, or a NaN or infinite feature or regression target.

    References
    ----------
    Jia, Dao, Wang, Hubis, Gurel, Li, Zhang, Spanos & Song (2019), "Efficient task-specific data
    valuation for nearest neighbor algorithms", VLDB 12(11), Theorem 1 (classification); the
    regression recursion is derived in the same way (see Notes).

    Notes
    -----
    Positions ``i = 1..N`` in order of distance, ``m_i = 1[y_i = y_test]``:
    ``s_N = m_N min(K, N) / (K N)`` and
    ``s_i = s_{i+1} + (m_i - m_{i+1}) / K * min(K, i) / i``.
    For regression, with ``P_i = sum_{j<i} y_j``, ``h(i) = c(c-1) / (2 i (i-1))`` for
    ``c = min(K, i)`` and ``g(j) = T(T+1) / (2 (j-1)(j-2))`` for ``T = min(K-1, j-2)``
    (the chances that a closer, or a farther, point is among the chosen neighbours):
    ``s_i - s_{i+1} = (y_{i+1} - y_i) / K * [min(K, i)/i ((y_i + y_{i+1})/K - 2 y_test)
    + 2/K (h(i) P_i + sum_{j>i+1} g(j) y_j)]`` and
    ``s_N = -y_N / K [min(K, N)/N (y_N/K - 2 y_test) + 2/K h(N) P_N]``.

    Examples
    --------
    Two training points of the test point's class and one of another; K = 1:

    >>> X, y = np.array([[0.0], [1.0], [3.0]]), np.array([0, 1, 0])
    >>> knn_shapley(X, y, np.array([[0.2]]), np.array([0]), k=1).round(4).tolist()
    [[0.8333, -0.1667, 0.3333]]
    >>> round(float(knn_shapley(X, y, np.array([[0.2]]), np.array([0]), k=1).sum()), 12)  # U(N) - U(empty)
    1.0
    >>> knn_shapley(X, np.array([1.0, 2.0, 4.0]), np.array([[0.2]]), np.array([1.0]), k=2,
    ...             task="regression").round(4).tolist()
    [[1.25, 0.5, -1.0]]
    """
    X_train, y_train, X_test, y_test, k = _checked(X_train, y_train, X_test, y_test, k, task)
    out = np.empty((len(X_test), len(X_train)))
    for rows, values in _values_by_chunk(X_train, y_train, X_test, y_test, k, task):
        out[rows] = values
    return out


def knn_shapley_slices(X_train, y_train, X_test, y_test, k: int, slice_rows, *,
                       task: str = "classification") -> np.ndarray:
    """Exact KNN-Shapley value of every training point on each slice of test rows.

    A slice's utility is the mean of its test points' utilities (as an
    accuracy-like metric averages rows), so its Shapley values are the mean of
    theirs. Test points are valued a chunk at a time: the (M, N) matrix of
    :func:`knn_shapley` is never held whole.

    Parameters
    ----------
    X_train, y_train, X_test, y_test, k, task
        As for :func:`knn_shapley`.
    slice_rows : sequence of array-like of int
        Each slice's test-row positions, as :attr:`cfgraph.evaluate.Problem.slice_rows`.

    Returns
    -------
    ndarray, shape (n_slices, N)
        NaN for a slice with no test rows.

    Raises
    ------
    CfgraphError
        As :func:`knn_shapley`, and on a slice row outside ``0..M-1``.

    References
    ----------
    Jia et al. (2019), "Efficient task-specific data valuation for nearest neighbor algorithms", VLDB 12(11).

    Examples
    --------
    >>> X, y = np.array([[0.0], [1.0], [3.0]]), np.array([0, 1, 0])
    >>> X_test, y_test = np.array([[0.2], [2.9]]), np.array([0, 1])
    >>> knn_shapley_slices(X, y, X_test, y_test, 1, [[0], [0, 1]]).round(4).tolist()
    [[0.8333, -0.1667, 0.3333], [0.4167, 0.1667, -0.0833]]
    """
    from scipy.sparse import csr_array  # on first use, as in nearest_order

    X_train, y_train, X_test, y_test, k = _checked(X_train, y_train, X_test, y_test, k, task)
    n_test = len(X_test)
    slice_rows = [np.asarray(rows, dtype=np.int64).ravel() for rows in slice_rows]
    outside = [int(r) for rows in slice_rows for r in rows[(rows < 0) | (rows >= n_test)][:1]]
    if outside:
        raise CfgraphError(f"a slice names test row {outside[0]}, outside the {n_test} test rows")
    sizes = np.array([len(rows) for rows in slice_rows])
    # (slices, M), 1/|slice| on each slice's rows: a product averages every slice at once.
    weights = csr_array((np.repeat(1.0 / np.maximum(sizes, 1), sizes),
                         (np.repeat(np.arange(len(slice_rows)), sizes),
                          np.concatenate([np.zeros(0, np.int64), *slice_rows]))),
                        shape=(len(slice_rows), n_test))
    out = np.zeros((len(slice_rows), len(X_train)))
    for rows, values in _values_by_chunk(X_train, y_train, X_test, y_test, k, task):
        out += weights[:, rows] @ values
    out[sizes == 0] = np.nan
    return out


def _checked(X_train, y_train, X_test, y_test, k, task):
    """The inputs as arrays of the right shapes, or a one-line CfgraphError."""
    if task not in KNN_TASKS:
        raise CfgraphError(f"unknown task {task!r} (use classification or regression)")
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 1:
        raise CfgraphError(f"K, the number of neighbours, must be a whole number >= 1, not {k!r}")
    try:
        X_train = np.asarray(X_train, dtype=float)
        X_test = np.asarray(X_test, dtype=float)
    except (TypeError, ValueError):
        raise CfgraphError("KNN-Shapley needs numeric features") from None
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    if X_train.ndim != 2 or X_test.ndim != 2 or X_train.shape[1] != X_test.shape[1]:
        raise CfgraphError(f"the features must be two tables with the same columns, not shapes "
                           f"{X_train.shape} and {X_test.shape}")
    if len(X_train) == 0:
        raise CfgraphError("KNN-Shapley needs at least one training row")
    if y_train.shape != (len(X_train),) or y_test.shape != (len(X_test),):
        raise CfgraphError(f"the targets must have one value per row: shapes {y_train.shape} and {y_test.shape} "
                           f"for {len(X_train)} training and {len(X_test)} test rows")
    if not (np.isfinite(X_train).all() and np.isfinite(X_test).all()):
        raise CfgraphError("the features hold NaN or infinite values: impute or drop them first")
    if task == "regression":
        try:
            y_train, y_test = y_train.astype(float), y_test.astype(float)
        except (TypeError, ValueError):
            raise CfgraphError("a regression target must be numeric") from None
    if any(y.dtype.kind in "fc" and not np.isfinite(y).all() for y in (y_train, y_test)):
        raise CfgraphError("the targets hold NaN or infinite values")
    return X_train, y_train, X_test, y_test, int(k)


def _chunks(n_test: int, n_train: int):
    """Slices of test rows whose (chunk, N) work arrays stay within :data:`CHUNK_BYTES`."""
    size = max(1, CHUNK_BYTES // (64 * max(n_train, 1)))
    for start in range(0, n_test, size):
        yield slice(start, min(start + size, n_test))


def _values_by_chunk(X_train, y_train, X_test, y_test, k: int, task: str):
    """(test rows, values shape (chunk, N)) for successive chunks of test points."""
    n = len(X_train)
    position = np.arange(1, n + 1)  # 1-based sorted positions i
    nearer = np.minimum(k, position) / position  # min(K, i) / i: chance a point at i is chosen
    for rows in _chunks(len(X_test), n):
        order = nearest_order(X_train, X_test[rows])  # one chunk: the same bound applies
        if task == "classification":
            sorted_values = _classification(y_train[order] == y_test[rows, None], k, nearer)
        else:
            sorted_values = _regression(y_train[order], y_test[rows, None], k, position, nearer)
        values = np.empty_like(sorted_values)
        np.put_along_axis(values, order, sorted_values, axis=1)
        yield rows, values


def _from_farthest(last: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Values at sorted positions from the farthest point's value and ``s_i - s_{i+1}`` (shape (m, N-1))."""
    below = np.cumsum(steps[:, ::-1], axis=1)[:, ::-1]  # sum over l >= i of s_l - s_{l+1}
    return np.concatenate([below, np.zeros((len(last), 1))], axis=1) + last[:, None]


def _classification(match: np.ndarray, k: int, nearer: np.ndarray) -> np.ndarray:
    """Jia et al. (2019) Theorem 1, at sorted positions; ``match`` is (m, N) bool."""
    match = match.astype(float)
    n = match.shape[1]
    last = match[:, -1] * min(k, n) / (k * n)
    steps = (match[:, :-1] - match[:, 1:]) / k * nearer[:-1]
    return _from_farthest(last, steps)


def _regression(ys: np.ndarray, y_test: np.ndarray, k: int, position: np.ndarray, nearer: np.ndarray) -> np.ndarray:
    """The regression recursion (see :func:`knn_shapley`'s Notes), at sorted positions; ``ys`` is (m, N)."""
    chosen = np.minimum(k, position)
    with np.errstate(divide="ignore", invalid="ignore"):
        # h(i): chance a given point closer than i is among the neighbours when i is (0 for i = 1).
        closer = np.where(position > 1, chosen * (chosen - 1) / (2 * position * (position - 1)), 0.0)
        # g(j): chance a point at j (beyond the pair) is among the neighbours when the pair's point is.
        top = np.minimum(k - 1, position - 2)
        farther = np.where(position > 2, top * (top + 1) / (2 * (position - 1) * (position - 2)), 0.0)
    before = np.cumsum(ys, axis=1) - ys  # P_i = sum_{j<i} y_j
    after = np.cumsum((farther * ys)[:, ::-1], axis=1)[:, ::-1]  # sum_{j>=i} g(j) y_j
    beyond = np.concatenate([after[:, 2:], np.zeros((len(ys), 1))], axis=1)  # sum_{j>=i+2}, for i = 1..N-1
    y_i, y_next = ys[:, :-1], ys[:, 1:]
    steps = (y_next - y_i) / k * (nearer[:-1] * ((y_i + y_next) / k - 2 * y_test)
                                  + 2 / k * (closer[:-1] * before[:, :-1] + beyond))
    y_last = ys[:, -1]
    last = -y_last / k * (nearer[-1] * (y_last / k - 2 * y_test[:, 0]) + 2 / k * closer[-1] * before[:, -1])
    return _from_farthest(last, steps)
