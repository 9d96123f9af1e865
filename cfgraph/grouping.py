"""Grouping rows into units (data objects A, B, C, ...), on the training and test splits alike.

The same grouping partitions the test split, giving one evaluation slice per
unit ("the test points near B"). Grouping by ``point`` makes every training
row a unit of its own, named by its row id in the dataset; its test rows then
belong to no unit.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from cfgraph import lattice
from cfgraph.data import MISSING_GROUP
from cfgraph.errors import CfgraphError

METHODS = ("kmeans", "class", "random", "point")


@dataclass
class Grouping:
    """Unit index of every training and test row, with each unit's name and definition."""

    train: np.ndarray  # shape (n_train,), int in 0..n-1
    test: np.ndarray  # shape (n_test,), int in 0..n-1, or -1 for a test row of no unit (point grouping)
    names: list[str]
    definitions: list[str]
    method: str
    labels: list[str] | None = None  # unit labels when the grouping names them (points beyond 26), else None


def group_rows(method: str, n_units: int | None, X_train, y_train, X_test, y_test,
               g_train=None, g_test=None, seed: int = 0, *, task: str = "classification",
               preprocessor=None, row_ids=None, slices_by_unit: bool = True) -> Grouping:
    """Assign every row to a unit.

    Parameters
    ----------
    method : str
        ``kmeans`` (KMeans clusters of standardised features, fitted on the
        training split, test rows assigned to the nearest centroid; units
        ordered by training size, largest first), ``class`` (one unit per
        class; classification only), ``random`` (a seeded random partition
        into equal parts), or the name of the dataset's group column (one unit
        per value, rows with a missing value forming the last unit,
        "(missing)"), or ``point`` (every training row is a unit, named
        ``row <id>`` and, beyond 26 units, labelled ``r<id>``; every test row
        belongs to no unit, ``test`` is -1).
    n_units : int or None
        Number of units; required for kmeans and random, checked for class,
        column and point (a point grouping has one unit per training row).
    X_train, X_test : ndarray, shapes (n_train, d) and (n_test, d)
        Features (object arrays with text or missing values when ``preprocessor`` is given).
    task : {"classification", "regression"}
    preprocessor : unfitted transformer, optional
        Encodes and imputes the features (:attr:`cfgraph.data.Dataset.preprocessor`).
        KMeans then clusters that numeric view, fitted on every training row:
        the grouping is not a model, so its encoder and imputer may see the
        whole training split (the models' own are fitted per training set).
    row_ids : ndarray of int, shape (n_train,), optional
        Each training row's index in the dataset before the split (default
        0..n_train-1); a point grouping names its units by it.
    slices_by_unit : bool
        Whether the world slices its test rows by unit; if so, every unit
        needs a test row. A sampled world slices by class only.

    Returns
    -------
    Grouping

    Raises
    ------
    CfgraphError
        On an unknown method, class grouping of a regression task, a wrong
        number of units (for points: other than the training row count), or
        a unit with no training rows or (when slicing by unit) no test rows.

    Examples
    --------
    >>> y = np.array(["a", "b"] * 4)
    >>> g = group_rows("class", None, np.zeros((8, 1)), y, np.zeros((8, 1)), y)
    >>> g.names, g.train.tolist()
    (['a', 'b'], [0, 1, 0, 1, 0, 1, 0, 1])
    >>> p = group_rows("point", None, np.zeros((3, 1)), y[:3], np.zeros((2, 1)), y[:2], row_ids=[7, 2, 5])
    >>> p.names, p.train.tolist(), p.test.tolist()
    (['row 7', 'row 2', 'row 5'], [0, 1, 2], [-1, -1])
    """
    labels = None
    if method == "kmeans":
        n = _need_n(n_units, method)
        if preprocessor is not None:
            view = clone(preprocessor).fit(X_train)
            X_train, X_test = view.transform(X_train), view.transform(X_test)
        scaler = StandardScaler().fit(X_train)
        scaled = scaler.transform(X_train)
        distinct = len(np.unique(np.asarray(scaled, dtype=float), axis=0))
        if distinct < n:  # KMeans would warn and leave clusters empty
            raise CfgraphError(f"kmeans cannot make {n} units: the training rows have only {distinct} distinct "
                               "feature vector(s) once standardised; use fewer units or another grouping")
        with warnings.catch_warnings():  # rows distinct as numbers may coincide in KMeans' distances (0, 1e-300)
            warnings.simplefilter("error", ConvergenceWarning)
            try:
                km = KMeans(n_clusters=n, n_init=10, random_state=seed).fit(scaled)
            except ConvergenceWarning:
                raise CfgraphError(f"kmeans cannot make {n} units: the training rows are too close to tell apart "
                                   "once standardised; use fewer units or another grouping") from None
        order = np.argsort(-np.bincount(km.labels_, minlength=n), kind="stable")
        relabel = np.empty(n, dtype=int)
        relabel[order] = np.arange(n)
        train, test = relabel[km.labels_], relabel[km.predict(scaler.transform(X_test))]
        names = [f"cluster {k + 1}" for k in range(n)]
        how = "standardised features" if preprocessor is None else "imputed, one-hot encoded, standardised features"
        defs = [f"rows nearest KMeans centroid {k + 1} of {n} ({how}, seed {seed})" for k in range(n)]
    elif method == "random":
        n = _need_n(n_units, method)
        rng = np.random.default_rng(seed)
        train = rng.permutation(np.arange(len(y_train)) % n)
        test = rng.permutation(np.arange(len(y_test)) % n)
        names = [f"random part {k + 1}" for k in range(n)]
        defs = [f"part {k + 1} of a seeded random partition of the rows into {n} equal parts (seed {seed})"
                for k in range(n)]
    elif method == "point":
        ids = np.arange(len(y_train)) if row_ids is None else np.asarray(row_ids, dtype=np.int64)
        point_units(n_units, len(ids))
        train, test = np.arange(len(ids)), np.full(len(y_test), -1)
        names = [f"row {i}" for i in ids]
        defs = [f"training row {i} (row {i} of the dataset before the split, counting from 0)" for i in ids]
        if len(ids) > len(lattice.LETTERS):  # letters while they last, as every grouping; then the row id
            labels = [f"r{i}" for i in ids]
    elif method == "class":
        if task != "classification":
            raise CfgraphError("grouping by class needs a classification task; group a regression task by "
                               "kmeans, random or a column")
        values = np.unique(y_train)
        train, test, names = _by_value(values, y_train, y_test, n_units, "classes")
        defs = [f"rows of class {v}" for v in names]
    elif g_train is not None:
        values = np.unique(g_train)
        if MISSING_GROUP in values:  # the rows with no value come last
            values = np.append(values[values != MISSING_GROUP], MISSING_GROUP)
        train, test, names = _by_value(values, g_train, g_test, n_units, f"values in column {method!r}")
        defs = [f"rows with {method} = {v}" if v != MISSING_GROUP else f"rows with no value in column {method}"
                for v in names]
    else:
        raise CfgraphError(
            f"unknown grouping {method!r} (use kmeans, class, random, point, or a column of a CSV file)"
        )
    n = len(names)
    if n == 0:
        raise CfgraphError("the grouping gives no units: the training split is empty")
    tags = labels or lattice.unit_labels(n)
    train_sizes = np.bincount(train, minlength=n)
    empty = np.flatnonzero(train_sizes == 0)
    if len(empty):
        k = int(empty[0])
        raise CfgraphError(f"unit {tags[k]} ({names[k]}) has no training rows; use fewer units")
    if slices_by_unit and method != "point":
        empty = np.flatnonzero(np.bincount(test, minlength=n) == 0)
        if len(empty):
            k = int(empty[0])
            raise CfgraphError(
                f"unit {tags[k]} ({names[k]}) has no test rows, so its evaluation slice would be empty; "
                "use fewer units or a larger test split"
            )
    return Grouping(train=train, test=test, names=names, definitions=defs, method=method, labels=labels)


def point_units(n_units: int | None, n_train: int) -> int:
    """The number of units of a point grouping: one per training row.

    Parameters
    ----------
    n_units : int or None
        The number asked for; None takes the training row count.
    n_train : int
        Rows in the training split.

    Returns
    -------
    int
        ``n_train``.

    Raises
    ------
    CfgraphError
        If ``n_units`` is given and differs from ``n_train``.

    Examples
    --------
    >>> point_units(None, 105), point_units(105, 105)
    (105, 105)
    """
    if n_units is not None and n_units != n_train:
        raise CfgraphError(f"grouping by point makes one unit per training row: the training split has {n_train} "
                           f"rows, so the number of units must be {n_train} (or left out), not {n_units}")
    return n_train


def _need_n(n_units, method):
    if n_units is None:
        raise CfgraphError(f"grouping by {method} needs a number of units")
    if n_units < 1:
        raise CfgraphError(f"the number of units must be at least 1, not {n_units}")
    return int(n_units)


def _by_value(values, train_col, test_col, n_units, what):
    if n_units is not None and n_units != len(values):
        raise CfgraphError(f"there are {len(values)} {what}, so the number of units must be {len(values)} (or left out), not {n_units}")
    index = {v: k for k, v in enumerate(values)}
    unknown = set(np.unique(test_col)) - set(index)
    if unknown:
        raise CfgraphError(f"the test split has {what} not seen in training: {', '.join(map(str, sorted(unknown)))}")
    train = np.array([index[v] for v in train_col])
    test = np.array([index[v] for v in test_col])
    return train, test, [str(v) for v in values]
