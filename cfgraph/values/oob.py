"""Data-OOB: a unit's value is how well the bagging models that did not see it predict its rows.

Kwon & Zou (2023) value a training point by its out-of-bag score in a bagging
ensemble: each of B bootstrap bags trains one model, and a point's value is
the mean, over the bags it is *out of*, of that model's score on it
(``1[pred == y]`` for classification, ``-(pred - y)^2`` for regression). A
mislabelled or atypical point is predicted badly by the models that never saw
it, so it gets a low value. The cost is B fits, whatever the number of units.

Here a bag is a *training set* of units: the distinct units of one bootstrap
draw of n units with replacement, drawn exactly as scikit-learn's
``BaggingClassifier`` draws its bootstrap indices (so, with points as units,
:func:`bootstrap_bags` are the sets of ``estimators_samples_``). A unit of
several rows is valued by the mean score of its rows. Nothing here knows of
the store; :mod:`cfgraph.oob` fits the bags through cfgraph's engine.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
from scipy import sparse

from cfgraph.errors import CfgraphError

__all__ = ["MAX_BAGS", "OOBEstimate", "bootstrap_bags", "data_oob", "oob_scores"]

#: The most bags a run may draw (Kwon & Zou use 1,000; each bag keeps a prediction per training row).
MAX_BAGS = 10_000
#: scikit-learn's per-estimator seeds are drawn below this bound (``sklearn.ensemble._bagging.MAX_INT``).
_MAX_INT = np.iinfo(np.int32).max
_MAX_SEED = 2**32 - 1


class OOBEstimate(NamedTuple):
    """Data-OOB values of n units.

    Attributes
    ----------
    values : ndarray of float, shape (n,)
        Mean out-of-bag score of each unit; NaN for a unit never out of bag.
    stderr : ndarray of float, shape (n,)
        Sample standard deviation of its per-bag scores over sqrt(n_samples); NaN with fewer than 2.
    n_samples : ndarray of int, shape (n,)
        Bags the unit was out of and scored in.
    """

    values: np.ndarray
    stderr: np.ndarray
    n_samples: np.ndarray

    def as_estimate(self):
        """The values as a one-column :class:`cfgraph.values.sampled.Estimate` (shape (n, 1)).

        Examples
        --------
        >>> e = OOBEstimate(np.array([0.5]), np.array([0.1]), np.array([4])).as_estimate()
        >>> e.values.shape, int(e.n_samples[0, 0])
        ((1, 1), 4)
        """
        from cfgraph.values.sampled import Estimate

        return Estimate(self.values[:, None], self.stderr[:, None], self.n_samples[:, None])


def _whole(value, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise CfgraphError(f"{what} must be a whole number from {low} to {high:,}, not {str(value)[:30]}")
    return int(value)


def bootstrap_bags(n_units: int, n_bags: int, seed: int) -> np.ndarray:
    """The distinct units of each of ``n_bags`` bootstrap draws of ``n_units`` units.

    Drawn as scikit-learn's ``BaggingClassifier(n_estimators=n_bags,
    random_state=seed, bootstrap=True)`` draws its row indices on ``n_units``
    rows: one seed per bag from ``RandomState(seed).randint(MAX_INT,
    size=n_bags)``, then ``RandomState(bag_seed).randint(0, n_units,
    n_units)``. A unit drawn several times is in the bag once (a training
    set is a set); the bags a unit is out of are the same as scikit-learn's.

    Parameters
    ----------
    n_units : int
        Units to draw from (n >= 1).
    n_bags : int
        Bootstrap draws B, 1 to :data:`MAX_BAGS`.
    seed : int
        ``random_state``, 0 to 2**32 - 1.

    Returns
    -------
    ndarray of bool, shape (n_bags, n_units)
        True where the unit is in the bag.

    Raises
    ------
    CfgraphError
        On a number of units, bags or a seed out of range.

    References
    ----------
    Efron, "Bootstrap methods: another look at the jackknife", Annals of Statistics 1979.
    Breiman, "Bagging predictors", Machine Learning 1996.

    Examples
    --------
    >>> bags = bootstrap_bags(5, 3, seed=0)
    >>> bags.shape, bool(bags.any(axis=1).all())
    ((3, 5), True)
    >>> bool((bootstrap_bags(5, 3, seed=0) == bags).all())
    True
    """
    n_units = _whole(n_units, "the number of units", 1, 2**31 - 1)
    n_bags = _whole(n_bags, "the number of bags", 1, MAX_BAGS)
    seed = _whole(seed, "the bagging seed", 0, _MAX_SEED)
    bag_seeds = np.random.RandomState(seed).randint(_MAX_INT, size=n_bags)
    in_bag = np.zeros((n_bags, n_units), dtype=bool)
    for b, bag_seed in enumerate(bag_seeds):  # one generator per bag, as scikit-learn's workers do
        in_bag[b, np.random.RandomState(bag_seed).randint(0, n_units, n_units)] = True
    return in_bag


def oob_scores(train_pred, y_train, task: str = "classification") -> np.ndarray:
    """Each bag's score on each training row: ``1[pred == y]``, or ``-(pred - y)^2`` for regression.

    Parameters
    ----------
    train_pred : sequence of (ndarray of shape (n_train,) or None), length B; or ndarray (B, n_train)
        Each bag model's predictions on every training row; None where the
        bag has no predictions (its fit failed).
    y_train : ndarray, shape (n_train,)
        True labels or targets.
    task : {"classification", "regression"}

    Returns
    -------
    ndarray of float, shape (B, n_train)
        NaN in the rows of bags without predictions.

    Raises
    ------
    CfgraphError
        On an unknown task or predictions of the wrong length.

    References
    ----------
    Kwon & Zou, "Data-OOB: Out-of-bag Estimate as a Simple and Efficient Data Value", ICML 2023.

    Examples
    --------
    >>> oob_scores([np.array(["a", "b"]), None], np.array(["a", "a"])).tolist()
    [[1.0, 0.0], [nan, nan]]
    >>> oob_scores(np.array([[1.0, 3.0]]), np.array([1.0, 1.0]), "regression").tolist()
    [[-0.0, -4.0]]
    """
    if task not in ("classification", "regression"):
        raise CfgraphError(f"unknown task {str(task)[:30]!r} (classification or regression)")
    y_train = np.asarray(y_train)
    out = np.full((len(train_pred), len(y_train)), np.nan)
    for b, pred in enumerate(train_pred):
        if pred is None:
            continue
        pred = np.asarray(pred)
        if pred.shape != y_train.shape:
            raise CfgraphError(f"bag {b} has {pred.shape[0] if pred.ndim else 0} predictions for "
                               f"{len(y_train)} training rows")
        if task == "classification":
            out[b] = pred == y_train
        else:
            out[b] = -(pred.astype(float) - y_train.astype(float)) ** 2
    return out


def data_oob(in_bag, scores, train_unit) -> OOBEstimate:
    """Data-OOB value of each unit: its mean score over the bags it is out of.

    A unit's score in a bag is the mean score of its rows there (NaN rows
    skipped); its value is the mean of those scores over the bags it is out
    of and has a score in (a bag whose predictions failed does not count).
    Scores of rows in the bag are ignored whatever they hold. Each bag
    counts once per draw, so a training set drawn twice counts twice, as two
    estimators of the same ensemble would.

    Parameters
    ----------
    in_bag : ndarray of bool, shape (B, n)
        Which units each bag holds (:func:`bootstrap_bags`).
    scores : ndarray of float, shape (B, n_train)
        Each bag's score on each training row (:func:`oob_scores`); NaN where unknown.
    train_unit : ndarray of int, shape (n_train,)
        Unit of each training row, in 0..n-1.

    Returns
    -------
    OOBEstimate
        values, stderr and n_samples, each of shape (n,). A unit never out of
        bag (or never scored) has value NaN and 0 samples; its stderr is NaN
        with fewer than 2 samples.

    Raises
    ------
    CfgraphError
        On arrays of mismatched shapes or a unit index out of range.

    References
    ----------
    Kwon & Zou, "Data-OOB: Out-of-bag Estimate as a Simple and Efficient Data Value", ICML 2023.

    Examples
    --------
    Three points, two bags; point 2 is in both bags, so it has no value.

    >>> in_bag = np.array([[1, 0, 1], [0, 1, 1]], bool)
    >>> scores = np.array([[np.nan, 1.0, np.nan], [0.0, np.nan, np.nan]])
    >>> e = data_oob(in_bag, scores, np.arange(3))
    >>> e.values.tolist(), e.n_samples.tolist()
    ([0.0, 1.0, nan], [1, 1, 0])
    """
    in_bag = np.asarray(in_bag, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    train_unit = np.asarray(train_unit)
    if in_bag.ndim != 2 or scores.ndim != 2 or train_unit.ndim != 1:
        raise CfgraphError("in_bag and scores must be 2-D (bags x units, bags x rows) and train_unit 1-D")
    (n_bags, n), n_train = in_bag.shape, len(train_unit)
    if scores.shape != (n_bags, n_train):
        raise CfgraphError(f"scores have shape {scores.shape}; expected (bags, training rows) = {(n_bags, n_train)}")
    if n_train and (not np.issubdtype(train_unit.dtype, np.integer) or train_unit.min() < 0 or train_unit.max() >= n):
        raise CfgraphError(f"train_unit must hold unit indices 0..{n - 1}")
    known = np.isfinite(scores) & ~in_bag[:, train_unit]
    # Sums and counts of each unit's rows per bag, as one sparse product (rows x units indicator).
    rows_of = sparse.csr_matrix((np.ones(n_train), (np.arange(n_train), train_unit)), shape=(n_train, n))
    sums = np.asarray(rows_of.T @ np.where(known, scores, 0.0).T).T
    counts = np.asarray(rows_of.T @ known.T.astype(float)).T
    scored = counts > 0  # out of bag, with at least one known row
    per_bag = np.where(scored, sums / np.where(scored, counts, 1.0), 0.0)  # (B, n)
    n_samples = scored.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = per_bag.sum(axis=0) / n_samples
        squares = (np.where(scored, per_bag - values, 0.0) ** 2).sum(axis=0)
        stderr = np.sqrt(squares / (n_samples - 1) / n_samples)
    values[n_samples == 0] = np.nan
    stderr[n_samples < 2] = np.nan
    return OOBEstimate(values, stderr, n_samples.astype(np.int64))
