"""Ablations: differences of a few cells (marginal contributions, leave-one-out, data strikes, pair interactions).

Each needs only the cells it names, so a missing one either raises
:class:`~cfgraph.errors.MissingCells` (``missing="raise"``) or gives NaN for the
values that need it (``missing="nan"``).
"""

from __future__ import annotations

import numpy as np

from cfgraph.errors import CfgraphError
from cfgraph.values._common import _require, n_units_of


MISSING_POLICIES = ("raise", "nan")


def _check_missing(missing: str) -> None:
    if missing not in MISSING_POLICIES:
        raise CfgraphError(f"missing= takes 'raise' or 'nan', not {missing!r}")


def marginal_contributions(v: np.ndarray, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Marginal contributions of unit ``i`` to every coalition that lacks it.

    Parameters
    ----------
    v : ndarray, shape (2**n,) or (2**n, m)
        Utility of every training set, indexed by bitmask.
    i : int
        The unit, 0 <= i < n.

    Returns
    -------
    coalitions : ndarray of int, shape (2**(n-1),)
        The masks S with bit i clear, ascending.
    delta : ndarray, shape (2**(n-1),) or (2**(n-1), m)
        ``v[S | 1 << i] - v[S]`` for each S (NaN where a cell is missing).

    Raises
    ------
    CfgraphError
        If ``i`` is not a unit of the lattice.

    Examples
    --------
    >>> S, d = marginal_contributions(np.array([0.0, 1.0, 2.0, 4.0]), 0)
    >>> S.tolist(), d.tolist()
    ([0, 2], [1.0, 2.0])
    """
    v = np.asarray(v, dtype=float)
    n = n_units_of(v)
    if not 0 <= i < n:
        raise CfgraphError(f"unit index {i} is out of range 0..{n - 1}")
    tail = v.shape[1:]
    # Viewing the masks as (high bits, bit i, low bits) puts S and S + i side by side.
    blocks = v.reshape((1 << (n - 1 - i), 2, 1 << i) + tail)
    delta = (blocks[:, 1] - blocks[:, 0]).reshape((1 << (n - 1),) + tail)
    coalitions = np.arange(1 << n).reshape(1 << (n - 1 - i), 2, 1 << i)[:, 0].ravel()
    return coalitions, delta


def leave_one_out(v: np.ndarray, base: int | None = None, units=None, labels=None, *,
                  missing: str = "raise") -> np.ndarray:
    """Leave-one-out value of units from a training set: ``v(S) - v(S \\ {i})``.

    Parameters
    ----------
    v : ndarray, shape (2**n,) or (2**n, m)
    base : int, optional
        The training set S as a mask; the full set by default.
    units : sequence of int, optional
        The units to leave out (default: every unit in S). Units outside S,
        or not asked for, get NaN.
    labels : sequence of str, optional
        Training-set labels by mask, for the error message.
    missing : {"raise", "nan"}
        What a missing cell does: raise :class:`MissingCells`, or give NaN for
        the values that need it.

    Returns
    -------
    ndarray, shape (n,) or (n, m)

    Raises
    ------
    CfgraphError
        If an asked-for unit is not in S.
    MissingCells
        If ``v(S)`` or a needed ``v(S \\ {i})`` is missing (with ``missing="raise"``).

    References
    ----------
    Cook (1977), "Detection of influential observation in linear regression".

    Examples
    --------
    >>> leave_one_out(np.array([0.0, 1.0, 1.0, 3.0])).tolist()
    [2.0, 2.0]
    >>> leave_one_out(np.array([0.0, np.nan, 1.0, 3.0]), missing="nan").tolist()
    [2.0, nan]
    """
    _check_missing(missing)
    v = np.asarray(v, dtype=float)
    n = n_units_of(v)
    full = (1 << n) - 1
    base = full if base is None else int(base)
    if not 0 <= base <= full:
        raise CfgraphError(f"training set mask {base} is out of range for n={n}")
    if units is None:
        inside = np.flatnonzero(base >> np.arange(n) & 1)
    else:
        inside = np.asarray(list(units), dtype=np.int64).reshape(-1)
        if ((inside < 0) | (inside >= n)).any() or (base >> inside & 1 == 0).any():
            raise CfgraphError("leave-one-out needs each unit to be in the training set")
    drops = base & ~(1 << inside)
    if missing == "raise":
        _require(v, np.concatenate([[base], drops]), "leave-one-out", labels)
    out = np.full((n,) + v.shape[1:], np.nan)
    out[inside] = v[base] - v[drops]
    return out


def group_leave_one_out(v: np.ndarray, coalition, base: int | None = None, labels=None, *,
                        missing: str = "raise"):
    """Group leave-one-out (a data strike): ``v(S) - v(S \\ C)`` for a coalition C.

    Parameters
    ----------
    v : ndarray, shape (2**n,) or (2**n, m)
    coalition : int or array_like of int, shape (k,)
        Mask of the units that withdraw together, or several such masks.
    base : int, optional
        The training set they withdraw from; the full set by default.
    labels : sequence of str, optional
        Training-set labels by mask, for the error message.
    missing : {"raise", "nan"}
        Raise on a missing cell, or give NaN.

    Returns
    -------
    float or ndarray, shape (), (m,), (k,) or (k, m)

    Raises
    ------
    CfgraphError
        If a coalition is empty or not inside the base set.
    MissingCells
        If a cell is missing (with ``missing="raise"``).

    References
    ----------
    Vincent, Li, Tilly, Chancellor & Hecht (2021), "Data leverage"; Koh, Ang, Teo & Liang
    (2019), "On the accuracy of influence functions for measuring group effects".

    Examples
    --------
    >>> v = np.array([0.1, 0.5, 0.6, 0.9])
    >>> round(float(group_leave_one_out(v, 0b11)), 2)
    0.8
    >>> group_leave_one_out(v, [1, 2, 3]).round(2).tolist()
    [0.3, 0.4, 0.8]
    """
    _check_missing(missing)
    v = np.asarray(v, dtype=float)
    n = n_units_of(v)
    base = (1 << n) - 1 if base is None else int(base)
    coalition = np.asarray(coalition, dtype=np.int64)
    if (coalition == 0).any() or (coalition & ~base).any():
        raise CfgraphError("the coalition must be a non-empty part of the training set")
    rest = base & ~coalition
    if missing == "raise":
        _require(v, np.concatenate([[base], rest.reshape(-1)]), "group leave-one-out", labels)
    return v[base] - v[rest]


def pair_interaction(v: np.ndarray, i: int, j: int, base: int = 0, labels=None, *, missing: str = "raise"):
    """Pair interaction of units i and j at coalition S: ``v(S+i+j) - v(S+i) - v(S+j) + v(S)``.

    Positive when i and j are complements at S, negative when they substitute
    for each other.

    Parameters
    ----------
    v : ndarray, shape (2**n,) or (2**n, m)
    i, j : int
        Two different units.
    base : int
        The coalition S, holding neither i nor j.
    labels : sequence of str, optional
    missing : {"raise", "nan"}

    Returns
    -------
    float or ndarray, shape () or (m,)

    Raises
    ------
    CfgraphError
        If i == j or either unit is in S.
    MissingCells
        If any of the four cells is missing (with ``missing="raise"``).

    References
    ----------
    Grabisch & Roubens (1999), "An axiomatic approach to the concept of interaction among
    players in cooperative games" (the averaged index).

    Examples
    --------
    >>> float(pair_interaction(np.array([0.0, 1.0, 1.0, 1.0]), 0, 1))
    -1.0
    """
    _check_missing(missing)
    v = np.asarray(v, dtype=float)
    n = n_units_of(v)
    if i == j or not (0 <= i < n and 0 <= j < n):
        raise CfgraphError("a pair interaction needs two different units")
    bi, bj = 1 << i, 1 << j
    if base & (bi | bj):
        raise CfgraphError("the base coalition must not contain the pair")
    masks = np.array([base | bi | bj, base | bi, base | bj, base])
    if missing == "raise":
        _require(v, masks, "pair interaction", labels)
    return v[masks[0]] - v[masks[1]] - v[masks[2]] + v[masks[3]]

