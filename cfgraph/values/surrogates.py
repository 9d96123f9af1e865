"""Surrogate models of the utility: the linear datamodel fitted on the cells present."""

from __future__ import annotations

import numpy as np

from cfgraph.errors import MissingCells
from cfgraph.values._common import n_units_of


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
    x = (present[:, None] >> np.arange(n)) & 1
    fit = LinearRegression().fit(x, v[present])
    return fit.coef_, float(fit.intercept_)

