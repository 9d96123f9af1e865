"""Synthetic replacement: a unit's training rows replaced by samples from a generative model.

For each class present in the unit, scikit-learn's ``GaussianMixture`` is
fitted on that class's rows of the unit and asked for as many samples as it
was fitted on, so the unit keeps its size and its class counts; only the
feature values are synthetic. In a regression world there are no classes:
one mixture is fitted on the unit's rows with the target as one more
dimension, and both features and targets are sampled.

A mixture needs numeric features with no missing value; a world whose table
has text columns or missing values refuses the recipe.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
from sklearn.mixture import GaussianMixture

from cfgraph.variants.derived import Derived, bits, need_numeric, unit_rows
from cfgraph.variants.recipes import unit_indices


def synthesize(X: np.ndarray, y: np.ndarray, *, components: int = 1, covariance: str = "diag",
               seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Samples from a per-class Gaussian mixture, one for every given row, class by class.

    Parameters
    ----------
    X : ndarray, shape (n_rows, d)
        The rows to imitate (one unit's training rows).
    y : ndarray, shape (n_rows,)
        Their labels; row r of the output has label ``y[r]``.
    components : int
        Mixture components per class (capped at the class's row count).
    covariance : {"full", "tied", "diag", "spherical"}
        ``GaussianMixture(covariance_type=...)``. "diag" by default: a unit
        often has fewer rows per class than features (digits: 64), where a
        full covariance is singular.
    seed : int
        Seeds the mixture fits and the sampling.

    Returns
    -------
    X_new : ndarray, shape (n_rows, d)
    notes : list of str
        Warnings scikit-learn raised while fitting (e.g. convergence), one line
        each, and the classes with a single row, which are kept as they are.

    References
    ----------
    Dempster, Laird & Rubin (1977), "Maximum likelihood from incomplete data via the EM
    algorithm"; Jordon et al. (2022), "Synthetic data - what, why and how?".

    Examples
    --------
    >>> X = np.array([[0.0], [0.1], [5.0], [5.2]])
    >>> out, _ = synthesize(X, np.array([0, 0, 1, 1]))
    >>> out.shape, bool(abs(out[2:].mean() - 5.1) < 1)
    ((4, 1), True)
    """
    out = np.empty_like(X, dtype=float)
    notes = []
    for k, label in enumerate(np.unique(y)):
        rows = np.flatnonzero(y == label)
        if len(rows) < 2:  # GaussianMixture needs two rows to fit anything
            out[rows] = X[rows]
            notes.append(f"class {label}: 1 row, kept as it was (a mixture needs 2)")
            continue
        mixture = GaussianMixture(n_components=min(components, len(rows)), covariance_type=covariance,
                                  random_state=seed + k)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            mixture.fit(X[rows])
            samples, _ = mixture.sample(len(rows))
        notes += [f"class {label}: {w.category.__name__}: {str(w.message).splitlines()[0]}" for w in caught]
        # GaussianMixture.sample returns the samples grouped by component; shuffle them.
        out[rows] = np.random.default_rng(seed + k).permutation(samples)
    return out, notes


def derive(prepared, recipe: dict, letters: list[str]) -> Derived:
    """The parent's problem with each recipe unit's training rows replaced by synthetic ones.

    Training sets without a replaced unit are copied from the parent.

    Raises
    ------
    CfgraphError
        If the parent's table has text columns or missing values.
    """
    need_numeric(prepared, "a synthetic replacement (a Gaussian mixture)")
    problem = prepared.problem
    regression = prepared.spec.get("task", "classification") == "regression"
    indices = unit_indices(recipe, letters)
    X, y = problem.X_train.copy(), problem.y_train.copy()
    notes = []
    for i in indices:
        rows = unit_rows(problem, [i])
        options = dict(components=recipe["components"], covariance=recipe["covariance"], seed=recipe["seed"] + 1000 * i)
        if regression:  # one mixture over (features, target): no classes to keep
            joint, caught = synthesize(np.column_stack([X[rows], y[rows]]), np.zeros(len(rows), dtype=int), **options)
            X[rows], y[rows] = joint[:, :-1], joint[:, -1]
            caught = [n.replace("class 0: ", "", 1) for n in caught]
        else:
            X[rows], caught = synthesize(X[rows], y[rows], **options)
        notes += [f"unit {letters[i]}: {n}" for n in caught]
    return Derived(problem=dataclasses.replace(problem, X_train=X, y_train=y), units=list(prepared.units),
                   model_spec=problem.model, copy_bits=bits(indices), notes=notes)
