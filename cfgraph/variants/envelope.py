"""The DP envelope of a grid: how far any one unit moves a cell, and the Laplace noise to release it.

Two training sets are neighbours when they differ by one unit (an edge of the
Hasse diagram). The envelope of a slice is the largest change of its cell
along any edge, ``max |v(S + i) - v(S)|``: the sensitivity of the released
score to one data object, measured over the stored lattice. The Laplace
mechanism releases ``v(S) + Laplace(0, sensitivity / epsilon)``.

The envelope is an *empirical* sensitivity, taken from the cells themselves:
it says how much noise this grid would need, not a worst case over all
possible data (for accuracy that worst case is 1). A formal guarantee needs a
data-independent bound, which can be passed in as ``sensitivity``.

Nothing here knows of SQL: arrays indexed by bitmask, as in :mod:`cfgraph.values`.
"""

from __future__ import annotations

import numpy as np

from cfgraph import values as V
from cfgraph.errors import CfgraphError


def local_sensitivity(v: np.ndarray) -> np.ndarray:
    """Largest change between each training set and any of its neighbours.

    Parameters
    ----------
    v : ndarray, shape (2**n,) or (2**n, m)
        Cells indexed by bitmask; NaN = missing (edges touching it are skipped).

    Returns
    -------
    ndarray, same shape
        ``max over i of |v(S) - v(S xor {i})|``; NaN where no neighbour is present.

    Examples
    --------
    >>> local_sensitivity(np.array([0.0, 0.5, 0.25, 1.0])).tolist()
    [0.5, 0.5, 0.75, 0.75]
    """
    v = np.asarray(v, dtype=float)
    n = V.n_units_of(v)
    out = np.full(v.shape, -np.inf)
    for i in range(n):  # n vectorised passes over the 2^(n-1) edges that add unit i
        coalitions, delta = V.marginal_contributions(v, i)
        change = np.where(np.isnan(delta), -np.inf, np.abs(delta))
        out[coalitions] = np.maximum(out[coalitions], change)
        out[coalitions | 1 << i] = np.maximum(out[coalitions | 1 << i], change)
    return np.where(np.isinf(out), np.nan, out)


def dp_envelope(v: np.ndarray) -> dict:
    """The DP envelope of a grid: the largest change one unit makes along any edge, per slice.

    Parameters
    ----------
    v : ndarray, shape (2**n,) or (2**n, m)

    Returns
    -------
    dict
        ``sensitivity`` (shape () or (m,)): the largest ``|v(S + i) - v(S)|``;
        ``edge_set`` and ``edge_unit``: the S and i that reach it (lowest unit,
        then lowest S, on ties); ``per_unit`` (shape (n,) or (n, m)): each
        unit's largest change; ``missing_edges``: edges skipped for a missing cell.
        A slice with no complete edge gets NaN and -1.

    References
    ----------
    Dwork, McSherry, Nissim & Smith (2006), "Calibrating noise to sensitivity in private
    data analysis"; Nissim, Raskhodnikova & Smith (2007), "Smooth sensitivity and sampling
    in private data analysis" (local sensitivity).

    Examples
    --------
    >>> e = dp_envelope(np.array([0.0, 0.5, 0.25, 1.0]))
    >>> e["sensitivity"].item(), e["edge_set"].item(), e["edge_unit"].item()
    (0.75, 2, 0)
    """
    v = np.asarray(v, dtype=float)
    n = V.n_units_of(v)
    tail = v.shape[1:]
    per_unit = np.full((n,) + tail, np.nan)
    where = np.full((n,) + tail, -1, dtype=np.int64)
    missing = 0
    for i in range(n):
        coalitions, delta = V.marginal_contributions(v, i)
        change = np.abs(delta)
        missing += int(np.isnan(change).reshape(len(change), -1).any(axis=1).sum())
        filled = np.where(np.isnan(change), -np.inf, change)
        best = filled.argmax(axis=0)
        top = np.take_along_axis(filled, np.expand_dims(best, 0), axis=0)[0]
        per_unit[i] = np.where(np.isinf(top), np.nan, top)
        where[i] = np.where(np.isinf(top), -1, coalitions[best])
    filled = np.where(np.isnan(per_unit), -np.inf, per_unit)
    unit = filled.argmax(axis=0)
    top = np.take_along_axis(filled, np.expand_dims(unit, 0), axis=0)[0]
    edge_set = np.take_along_axis(where, np.expand_dims(unit, 0), axis=0)[0]
    empty = np.isinf(top)
    return {
        "sensitivity": np.where(empty, np.nan, top),
        "edge_set": np.where(empty, -1, edge_set),
        "edge_unit": np.where(empty, -1, unit),
        "per_unit": per_unit,
        "missing_edges": missing,
    }


def laplace_scale(sensitivity, epsilon: float):
    """Scale b of the Laplace mechanism: ``sensitivity / epsilon``.

    Raises
    ------
    CfgraphError
        If epsilon is not a finite number > 0.

    References
    ----------
    Dwork, McSherry, Nissim & Smith (2006), "Calibrating noise to sensitivity in private
    data analysis".

    Examples
    --------
    >>> laplace_scale(0.3, 2.0)
    0.15
    """
    epsilon = float(epsilon)
    if not (np.isfinite(epsilon) and epsilon > 0):
        raise CfgraphError(f"epsilon must be a finite number > 0, not {epsilon}")
    return np.asarray(sensitivity, dtype=float) / epsilon if np.ndim(sensitivity) else float(sensitivity) / epsilon


def laplace_release(v: np.ndarray, epsilon: float, seed: int = 0, sensitivity=None) -> tuple[np.ndarray, np.ndarray]:
    """Release every cell with Laplace noise; the same seed gives the same release.

    Parameters
    ----------
    v : ndarray, shape (2**n,) or (2**n, m)
    epsilon : float
        Privacy budget per released cell, > 0.
    seed : int
        Seeds ``numpy.random.default_rng``; noise is drawn with ``Generator.laplace``.
    sensitivity : float or ndarray of shape (m,), optional
        Defaults to the grid's envelope (see the module's caveat).

    Returns
    -------
    released : ndarray, same shape as ``v`` (NaN stays NaN)
    scale : float or ndarray, shape () or (m,)

    Raises
    ------
    CfgraphError
        If epsilon is not > 0 or the sensitivity is negative.

    References
    ----------
    Dwork, McSherry, Nissim & Smith (2006), "Calibrating noise to sensitivity in private
    data analysis".

    Examples
    --------
    >>> a, _ = laplace_release(np.array([0.5, 0.7]), 1.0, seed=3)
    >>> b, _ = laplace_release(np.array([0.5, 0.7]), 1.0, seed=3)
    >>> bool((a == b).all())
    True
    """
    v = np.asarray(v, dtype=float)
    if sensitivity is None:
        sensitivity = np.nan_to_num(dp_envelope(v)["sensitivity"], nan=0.0)
    sensitivity = np.asarray(sensitivity, dtype=float)
    if (sensitivity < 0).any() or not np.isfinite(sensitivity).all():
        raise CfgraphError("the sensitivity must be a finite number >= 0")
    scale = laplace_scale(sensitivity, epsilon)
    noise = np.random.default_rng(seed).laplace(0.0, 1.0, size=v.shape) * scale
    return v + noise, scale
