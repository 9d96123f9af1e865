"""Surrogate models of the utility: linear datamodels of a table or of any stored training sets.

A datamodel (Ilyas et al. 2022) predicts a cell from the 0/1 membership vector
of its training set, ``v(S) ~ b + sum_i theta_i [i in S]``. :func:`datamodel`
fits one by least squares on the cells of an exhaustive table;
:func:`fit_datamodel` fits one on any training sets (a sampled world's), keeps
some of them aside, and reports how well it ranks those: the linear
datamodeling score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cfgraph.errors import CfgraphError, MissingCells
from cfgraph.lattice import membership
from cfgraph.values._common import n_units_of

__all__ = ["datamodel", "fit_datamodel", "Datamodel", "DATAMODELS"]

#: Regressions :func:`fit_datamodel` can fit, with their default regularisation (sklearn's alpha).
DATAMODELS = {"ridge": 1.0, "lasso": 1e-3, "linear": None}


def datamodel(v: np.ndarray) -> tuple[np.ndarray, float]:
    """Linear datamodel: least-squares fit of a cell on the 0/1 membership vector.

    ``v(S) ~ b + sum_i theta_i [i in S]`` over the cells present, with
    scikit-learn's LinearRegression.

    Parameters
    ----------
    v : ndarray, shape (2**n,)

    Returns
    -------
    theta : ndarray, shape (n,)
    intercept : float

    Raises
    ------
    MissingCells
        If fewer than n + 1 cells are present.

    References
    ----------
    Ilyas, Park, Engstrom, Leclerc & Madry (2022), "Datamodels: predicting predictions from
    training data" (ICML).

    Examples
    --------
    >>> theta, b = datamodel(np.array([0.5, 0.7, 0.6, 0.8]))
    >>> theta.round(6).tolist(), round(b, 6)
    ([0.2, 0.1], 0.5)
    """
    from sklearn.linear_model import LinearRegression

    v = np.asarray(v, dtype=float)
    n = n_units_of(v)
    present = np.flatnonzero(~np.isnan(v))
    if len(present) < n + 1:
        missing = np.flatnonzero(np.isnan(v))
        raise MissingCells(missing.tolist(), None, "a datamodel")
    x = membership(present, n)
    fit = LinearRegression().fit(x, v[present])
    return fit.coef_, float(fit.intercept_)



@dataclass(frozen=True, eq=False)  # arrays: compare with numpy, not ==
class Datamodel:
    """A linear datamodel and its linear datamodeling score on held-out training sets.

    Attributes
    ----------
    theta : ndarray, shape (n,)
        Coefficient of each unit: the predicted change of the cell when it joins.
    intercept : float
        Predicted cell of the empty training set.
    lds : float
        Linear datamodeling score: Spearman correlation between predicted and
        actual cells of the held-out training sets; NaN when it cannot be
        computed (``lds_note`` says why).
    n_train, n_heldout : int
        Rows (cells) the coefficients were fitted on, and rows held out for the score.
    model : str
        ``"ridge"``, ``"lasso"`` or ``"linear"``.
    alpha : float or None
        Regularisation strength (scikit-learn's alpha); None for ``"linear"``.
    lds_note : str
        Why ``lds`` is NaN; empty otherwise.

    References
    ----------
    Ilyas, Park, Engstrom, Leclerc & Madry (2022), "Datamodels: predicting predictions from
    training data" (ICML).

    Examples
    --------
    >>> members = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], bool)
    >>> dm = fit_datamodel(members, np.array([0.5, 0.7, 0.6, 0.8]), model="linear", holdout=0.25)
    >>> (dm.n_train, dm.n_heldout), str(dm.lds), dm.lds_note
    ((3, 1), 'nan', 'fewer than 3 held-out training sets')
    """

    theta: np.ndarray
    intercept: float
    lds: float
    n_train: int
    n_heldout: int
    model: str
    alpha: float | None
    lds_note: str = ""


def fit_datamodel(members: np.ndarray, utilities: np.ndarray, *, model: str = "ridge",
                  alpha: float | None = None, holdout: float = 0.2, seed: int = 0) -> Datamodel:
    """Linear datamodel of any training sets, scored on training sets it has not seen.

    The distinct training sets are split by scikit-learn's ``train_test_split``
    (``test_size=holdout``, ``random_state=seed``); all cells of one training
    set (several seeds) fall on the same side, so a held-out set is never seen
    in the fit. The coefficients returned are those fitted on the training part
    only, the model that the score describes; refit on everything for a model
    without a score.

    Parameters
    ----------
    members : array_like of bool, shape (m, n)
        ``members[k, i]``: unit i is in training set k.
    utilities : array_like of float, shape (m,)
        The cell of each training set (finite).
    model : {"ridge", "lasso", "linear"}
        scikit-learn's Ridge, Lasso (sparse theta: Ilyas et al.'s choice) or
        LinearRegression (least squares, the minimum-norm solution when
        underdetermined).
    alpha : float, optional
        Regularisation strength, > 0 (scikit-learn's alpha; Lasso's is per
        sample). Defaults: 1.0 for ridge, 1e-3 for lasso; linear takes none.
    holdout : float
        Fraction of the distinct training sets held out for the score, in (0, 1).
    seed : int
        Seed of the split.

    Returns
    -------
    Datamodel
        theta (n,), intercept, lds, n_train, n_heldout, model, alpha.

    Raises
    ------
    CfgraphError
        On shapes that disagree, entries of members other than 0/1, a
        non-finite cell, fewer than 2 distinct training sets, an unknown model,
        alpha <= 0 (or any alpha for linear), holdout outside (0, 1), or a
        split that leaves a side empty.

    See Also
    --------
    datamodel : the least-squares datamodel of an exhaustive table.

    References
    ----------
    Ilyas, Park, Engstrom, Leclerc & Madry (2022), "Datamodels: predicting predictions from
    training data" (ICML); Spearman (1904), "The proof and measurement of association between
    two things".

    Examples
    --------
    An additive game on 5 units, 60 random training sets (28 distinct, 6 held
    out with their 14 rows): the fit recovers it and ranks the held-out sets perfectly.

    >>> rng = np.random.default_rng(0)
    >>> members = rng.random((60, 5)) < 0.5
    >>> dm = fit_datamodel(members, 0.1 + members @ [0.21, 0.53, -0.37, 0.44, 0.12], model="linear")
    >>> dm.theta.round(6).tolist(), round(dm.intercept, 6), round(dm.lds, 6), (dm.n_train, dm.n_heldout)
    ([0.21, 0.53, -0.37, 0.44, 0.12], 0.1, 1.0, (46, 14))
    """
    from scipy.stats import spearmanr
    from sklearn.linear_model import Lasso, LinearRegression, Ridge
    from sklearn.model_selection import train_test_split

    if model not in DATAMODELS:
        raise CfgraphError(f"unknown datamodel {str(model)[:40]!r} (use {', '.join(DATAMODELS)})")
    if model == "linear" and alpha is not None:
        raise CfgraphError("a linear datamodel takes no alpha (use ridge or lasso)")
    alpha = DATAMODELS[model] if alpha is None else float(alpha)
    if alpha is not None and not alpha > 0:
        raise CfgraphError(f"alpha must be > 0, not {alpha}")
    if not 0 < holdout < 1:
        raise CfgraphError(f"holdout must be in (0, 1), not {holdout}")
    x, y = _training_sets(members, utilities)
    sets, inverse = np.unique(x, axis=0, return_inverse=True)
    if len(sets) < 2:
        raise CfgraphError(f"a datamodel needs at least 2 distinct training sets, not {len(sets)}")
    try:
        _, held_sets = train_test_split(np.arange(len(sets)), test_size=holdout, random_state=seed)
    except ValueError as err:
        raise CfgraphError(f"cannot hold out {holdout} of {len(sets)} training sets: {str(err).splitlines()[0]}") from None
    held = np.isin(inverse.ravel(), held_sets)
    if model == "linear":
        regression = LinearRegression()
    elif model == "ridge":
        regression = Ridge(alpha=alpha)
    else:
        regression = Lasso(alpha=alpha, max_iter=100_000)
    fit = regression.fit(x[~held], y[~held])
    predicted, actual = fit.predict(x[held]), y[held]
    lds, note = np.nan, ""
    if held.sum() < 3:
        note = "fewer than 3 held-out training sets"
    elif np.ptp(actual) == 0 or np.ptp(predicted) == 0:  # Spearman is undefined (and would warn)
        note = "constant " + ("cells" if np.ptp(actual) == 0 else "predictions") + " on the held-out training sets"
    else:
        lds = float(spearmanr(predicted, actual).statistic)
    return Datamodel(theta=np.asarray(fit.coef_, dtype=float), intercept=float(fit.intercept_), lds=lds,
                     n_train=int((~held).sum()), n_heldout=int(held.sum()), model=model, alpha=alpha, lds_note=note)


def _training_sets(members, utilities) -> tuple[np.ndarray, np.ndarray]:
    """members as a 0/1 float design (m, n) and utilities as float (m,), or a one-line CfgraphError."""
    members = np.asarray(members)
    utilities = np.asarray(utilities, dtype=float)
    if members.ndim != 2 or utilities.shape != members.shape[:1]:
        raise CfgraphError(f"members (m, n) and utilities (m,) disagree: {members.shape} and {utilities.shape}")
    if members.shape[1] < 1:
        raise CfgraphError("a datamodel needs at least 1 unit")
    if members.dtype != bool and not np.isin(members, (0, 1)).all():
        raise CfgraphError("members must be 0/1 (unit in training set or not)")
    if not np.isfinite(utilities).all():
        raise CfgraphError(f"a datamodel needs finite cells: {int((~np.isfinite(utilities)).sum())} are NaN or infinite")
    return members.astype(float), utilities
