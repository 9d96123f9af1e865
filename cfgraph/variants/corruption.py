"""Corrupted examples: label noise and Gaussian feature noise on chosen units.

Only the chosen units' training rows change; the test rows (and so the
evaluation slices) stay clean, so a variant cell measures what training on
corrupted data does to a clean evaluation.

Label flips need classes: a regression world refuses them (its features can
still be corrupted). Feature noise touches numeric columns only; text
(categorical) columns and missing values are left as they are.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from cfgraph.errors import CfgraphError
from cfgraph.variants.derived import Derived, bits, need_classes, unit_rows
from cfgraph.variants.recipes import unit_indices


def flip_labels(y: np.ndarray, rows: np.ndarray, fraction: float, classes: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """Flip the labels of a fraction of the given rows to another class, uniformly at random.

    Symmetric (uniform) label noise: each chosen row gets one of the other
    ``len(classes) - 1`` classes with equal probability.

    Parameters
    ----------
    y : ndarray, shape (n_rows,)
        Labels; not modified.
    rows : ndarray of int
        Rows that may be flipped (one unit's training rows).
    fraction : float
        r in [0, 1]: ``round(r * len(rows))`` distinct rows are flipped.
    classes : ndarray, shape (c,)
        Every class of the task, c >= 2.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (n_rows,)
        A copy of ``y`` with the chosen labels flipped.

    References
    ----------
    Frénay & Verleysen (2014), "Classification in the presence of label noise: a survey";
    Natarajan et al. (2013), "Learning with noisy labels".

    Examples
    --------
    >>> y = np.array(["a", "a", "b", "b"])
    >>> flip_labels(y, np.arange(4), 1.0, np.array(["a", "b"]), np.random.default_rng(0)).tolist()
    ['b', 'b', 'a', 'a']
    """
    out = y.copy()
    k = int(np.floor(fraction * len(rows) + 0.5))
    if k == 0:
        return out
    chosen = np.sort(rng.choice(rows, size=k, replace=False))
    index = np.searchsorted(classes, y[chosen])
    offset = rng.integers(1, len(classes), size=k)  # never 0: the label always changes
    out[chosen] = classes[(index + offset) % len(classes)]
    return out


def feature_noise(X: np.ndarray, rows: np.ndarray, sigma: float, scale: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """Add Gaussian noise of ``sigma`` feature standard deviations to the given rows.

    Parameters
    ----------
    X : ndarray of float, shape (n_rows, d)
        Features; not modified. A missing value (NaN) stays missing.
    rows : ndarray of int
    sigma : float
        Noise level in units of each feature's standard deviation.
    scale : ndarray, shape (d,)
        Each feature's standard deviation (over the whole training split).

    Returns
    -------
    ndarray, shape (n_rows, d)
        A copy of ``X`` with ``N(0, (sigma * scale_j)^2)`` added to rows' feature j.

    References
    ----------
    Zhu & Wu (2004), "Class noise vs. attribute noise: a quantitative study".

    Examples
    --------
    >>> X = np.zeros((2, 2))
    >>> feature_noise(X, np.array([1]), 0.0, np.ones(2), np.random.default_rng(0)).tolist()
    [[0.0, 0.0], [0.0, 0.0]]
    """
    out = X.copy()
    if sigma > 0 and len(rows):
        out[rows] += rng.normal(size=(len(rows), X.shape[1])) * (sigma * scale)
    return out


def derive(prepared, recipe: dict, letters: list[str]) -> Derived:
    """The parent's problem with the recipe's units corrupted (labels first, then features).

    Training sets without a corrupted unit see exactly the parent's data, so
    their cells are copied from the parent.

    Raises
    ------
    CfgraphError
        For label noise on a regression world, or feature noise on a table
        with no numeric column.
    """
    problem = prepared.problem
    if recipe["labels"] > 0:
        need_classes(prepared, "label noise")
    numeric = [j for j in range(problem.X_train.shape[1]) if j not in set(prepared.dataset.categorical)]
    if recipe["features"] > 0 and not numeric:
        raise CfgraphError("feature noise needs a numeric feature, and every feature of this world is text")
    indices = unit_indices(recipe, letters)
    rng = np.random.default_rng(recipe["seed"])
    y = problem.y_train
    values = problem.X_train[:, numeric].astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column missing on every row has no scale: NaN
        scale = np.nanstd(values, axis=0)
    for i in indices:  # unit by unit, so a unit's noise does not depend on the others' sizes
        rows = unit_rows(problem, [i])
        if recipe["labels"] > 0:
            y = flip_labels(y, rows, recipe["labels"], problem.classes, rng)
        values = feature_noise(values, rows, recipe["features"], scale, rng)
    X = problem.X_train.copy()
    X[:, numeric] = values
    return Derived(
        problem=dataclasses.replace(problem, X_train=X, y_train=y),
        units=list(prepared.units), model_spec=problem.model, copy_bits=bits(indices),
    )
