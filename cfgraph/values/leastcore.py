"""The least core: values that no coalition of units can improve on by more than a subsidy e.

Given the utility v(S) of some training sets S (coalitions of units) and of the
grand coalition N, the least core (Maschler, Peleg & Shapley 1979) is the set of
efficient payoffs x that minimise the largest excess ``v(S) - x(S)``::

    minimise e  subject to  sum_i x_i = v(N),  x(S) + e >= v(S) for every given S.

Yan & Procaccia (2021) proposed it for data valuation: with all 2^n - 2 proper,
non-empty coalitions it is exact (an exhaustive world); with a sample of them
(a sampled world's stored training sets) it is the least core of the sampled
constraints, whose subsidy never exceeds the exact one. Stage one is a linear
program for HiGHS (scipy's ``linprog``); stage two picks one point of the
least core (see :func:`least_core`). Nothing here knows of the store.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog, nnls

from cfgraph.errors import CfgraphError
from cfgraph.lattice import membership
from cfgraph.values._common import _require, n_units_of

__all__ = ["LeastCore", "least_core", "least_core_table", "MAX_EXACT_UNITS", "POINTS"]

#: Largest exhaustive table :func:`least_core_table` accepts (2^12 - 2 constraints).
MAX_EXACT_UNITS = 12

#: How stage two picks one point of the least core.
POINTS = ("egalitarian", "vertex")

# Stage two holds a dense (n + 1) x (constraints + 2) matrix; beyond this many entries
# (about 160 MB) ask for the vertex instead of swapping.
_MAX_DENSE = 20_000_000


@dataclass(frozen=True, eq=False)  # arrays: compare with numpy, not ==
class LeastCore:
    """One point of the least core of a game, and its subsidy.

    Attributes
    ----------
    values : ndarray, shape (n,)
        The payoff of every unit; they sum to v(N).
    subsidy : float
        The least core's e: the largest excess ``v(S) - x(S)`` over the given
        coalitions. Negative when the core has an interior (a convex game).
    constraints : int
        Distinct proper, non-empty coalitions the program was given.
    exact : bool
        True when those are all 2^n - 2 proper, non-empty coalitions.
    dropped : int
        Rows dropped because their utility was NaN (a failed or missing cell).
    point : str
        How the point was picked: ``"egalitarian"`` or ``"vertex"``.

    References
    ----------
    Yan & Procaccia (2021), "If you like Shapley then you will love the core" (AAAI).

    Examples
    --------
    >>> lc = least_core_table(np.array([0, 0, 0, 1, 0, 1, 1, 1.0]))
    >>> lc.values.round(6).tolist(), round(lc.subsidy, 6), lc.constraints, lc.exact
    ([0.333333, 0.333333, 0.333333], 0.333333, 6, True)
    """

    values: np.ndarray
    subsidy: float
    constraints: int
    exact: bool
    dropped: int = 0
    point: str = "egalitarian"


def least_core(members: np.ndarray, utilities: np.ndarray, grand: float, *,
               point: str = "egalitarian", non_negative_subsidy: bool = False) -> LeastCore:
    """Least core of a game known on some coalitions: exact on all of them, sampled otherwise.

    Stage one solves ``min e s.t. sum_i x_i = v(N), x(S) + e >= v(S)`` with
    HiGHS over a sparse constraint matrix. The least core is often a set (a
    segment, a polytope), and HiGHS returns one of its vertices, which may treat
    two interchangeable units differently. Stage two therefore (``point=
    "egalitarian"``, the default, pyDVL's choice too) fixes e at stage one's
    optimum and returns the point of the least core nearest, in Euclidean
    distance, to the equal split v(N)/n. Because that distance is strictly
    convex, the point is unique, and it gives symmetric units equal values and a
    null unit of a unanimity game nothing; an L1 or max-min-gap objective
    would be a linear program too, but its optimum is in general a face, and a
    vertex of it can again split symmetric units unequally. Stage two is a
    least-distance program, solved exactly by non-negative least squares
    (Lawson & Hanson 1974, ch. 23). ``point="vertex"`` skips it and keeps
    stage one's vertex (for games too large for stage two's dense matrix).

    Coalitions are constraints as given: the empty set and the grand coalition
    are ignored (``x(N) = v(N)`` already holds; ``e >= v(∅)`` is not a least
    core constraint), so v(∅) plays no part. A coalition given more than once
    (cells of several seeds) counts once, at its mean utility. Rows whose
    utility is NaN are dropped and counted in ``dropped``.

    Parameters
    ----------
    members : array_like of bool, shape (m, n)
        ``members[k, i]``: unit i is in coalition k.
    utilities : array_like of float, shape (m,)
        v(S) of each coalition; NaN for a missing cell.
    grand : float
        v(N), the utility of the grand coalition (all n units).
    point : {"egalitarian", "vertex"}
        Which point of the least core to return (see above).
    non_negative_subsidy : bool
        Constrain e >= 0, as pyDVL may: then a game with a non-empty core
        reports e = 0 (a point of the core) rather than its most stable point.

    Returns
    -------
    LeastCore
        Values (n,), subsidy e, distinct constraints, exactness, dropped rows.

    Raises
    ------
    CfgraphError
        On shapes that disagree, fewer than 2 units, entries of members other
        than 0/1, a non-finite grand utility, no proper non-empty coalition
        left, an unknown point, or when HiGHS finds the program unbounded (the
        sampled coalitions do not pin the values: sample more training sets or
        pass ``non_negative_subsidy=True``) or cannot solve it.

    See Also
    --------
    least_core_table : the exact least core of an exhaustive table.

    References
    ----------
    Maschler, Peleg & Shapley (1979), "Geometric properties of the kernel, nucleolus and related
    solution concepts", Mathematics of Operations Research; Lawson & Hanson (1974), "Solving least
    squares problems", ch. 23 (least distance programming); Yan & Procaccia (2021), "If you like
    Shapley then you will love the core" (AAAI); Huangfu & Hall (2018), "Parallelizing the dual
    revised simplex method" (HiGHS).

    Examples
    --------
    A glove market, two left gloves (units 0, 1) and one right glove (unit 2):
    a pair is worth 1, and the right glove takes it all.

    >>> members = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]], bool)
    >>> lc = least_core(members, np.array([0, 0, 0, 0, 1, 1.0]), 1.0)
    >>> lc.values.round(6).tolist(), round(lc.subsidy, 6), lc.exact
    ([0.0, 0.0, 1.0], 0.0, True)
    """
    if point not in POINTS:
        raise CfgraphError(f"unknown least core point {str(point)[:40]!r} (use {' or '.join(POINTS)})")
    members, utilities = _check(members, utilities, grand)
    m, n = members.shape
    keep = ~np.isnan(utilities)
    members, utilities = members[keep], utilities[keep]
    size = members.sum(axis=1)
    proper = (size > 0) & (size < n)
    coalitions, inverse = np.unique(members[proper], axis=0, return_inverse=True)
    k = len(coalitions)
    if k == 0:
        raise CfgraphError(f"the least core needs a proper, non-empty coalition with a utility (got {m} rows)")
    # a coalition of several cells (seeds) constrains at its mean utility
    target = np.bincount(inverse.ravel(), weights=utilities[proper], minlength=k) / np.bincount(inverse.ravel(), minlength=k)
    x, subsidy = _minimise_subsidy(coalitions, target, float(grand), non_negative_subsidy)
    if point == "egalitarian":
        x = _egalitarian_point(coalitions, target, float(grand), subsidy)
    return LeastCore(values=x, subsidy=subsidy, constraints=k, exact=k == (1 << n) - 2,
                     dropped=int(m - keep.sum()), point=point)


def least_core_table(v: np.ndarray, **options) -> LeastCore:
    """Exact least core of an exhaustive table: every proper, non-empty coalition constrains.

    Parameters
    ----------
    v : ndarray, shape (2**n,)
        Utility of every training set, indexed by bitmask (bit i: unit i);
        v[2**n - 1] is the grand coalition. v[0] plays no part.
    **options
        ``point`` and ``non_negative_subsidy`` of :func:`least_core`.

    Returns
    -------
    LeastCore
        With ``exact=True`` and ``constraints = 2**n - 2``.

    Raises
    ------
    MissingCells
        If a cell other than the empty set's is NaN.
    CfgraphError
        If the length is not a power of two, n < 2, or n > 12 (2^n - 2
        constraints; larger exhaustive worlds are not built).

    References
    ----------
    Yan & Procaccia (2021), "If you like Shapley then you will love the core" (AAAI).

    Examples
    --------
    A convex game, v(S) = |S|^2 on 3 units: its core has an interior, so e < 0.

    >>> lc = least_core_table(np.array([bin(s).count("1") ** 2 for s in range(8)], float))
    >>> lc.values.round(6).tolist(), round(lc.subsidy, 6)
    ([3.0, 3.0, 3.0], -2.0)
    """
    v = np.asarray(v, dtype=float)
    if v.ndim != 1:
        raise CfgraphError(f"least_core_table takes one slice, shape (2**n,), not {v.shape}")
    n = n_units_of(v)
    if n > MAX_EXACT_UNITS:
        raise CfgraphError(f"an exact least core takes at most {MAX_EXACT_UNITS} units (2^n - 2 constraints), not {n}")
    masks = np.arange(1, 1 << n)
    _require(v, masks, "the least core")
    members = membership(masks, n)
    return least_core(members, v[masks], float(v[-1]), **options)


def _check(members, utilities, grand) -> tuple[np.ndarray, np.ndarray]:
    """members as bool (m, n) and utilities as float (m,), or a one-line CfgraphError."""
    members = np.asarray(members)
    utilities = np.asarray(utilities, dtype=float)
    if members.ndim != 2 or utilities.shape != members.shape[:1]:
        raise CfgraphError(f"members (m, n) and utilities (m,) disagree: {members.shape} and {utilities.shape}")
    if members.shape[1] < 2:
        raise CfgraphError(f"the least core needs at least 2 units, not {members.shape[1]}")
    if members.dtype != bool:
        if not np.isin(members, (0, 1)).all():
            raise CfgraphError("members must be 0/1 (unit in coalition or not)")
        members = members.astype(bool)
    if not np.isfinite(grand):
        raise CfgraphError(f"the grand coalition's utility must be finite, not {grand}")
    return members, utilities


def _minimise_subsidy(coalitions: np.ndarray, target: np.ndarray, grand: float,
                      non_negative: bool) -> tuple[np.ndarray, float]:
    """Stage one, HiGHS: an efficient x and the smallest e with x(S) + e >= v(S)."""
    k, n = coalitions.shape
    # variables (x_1 .. x_n, e); -(x(S) + e) <= -v(S)
    a_ub = -sp.hstack([sp.csr_array(coalitions, dtype=float), sp.csr_array(np.ones((k, 1)))], format="csr")
    a_eq = np.append(np.ones(n), 0.0)[None, :]
    bounds = [(None, None)] * n + [(0.0 if non_negative else None, None)]
    cost = np.zeros(n + 1)
    cost[-1] = 1.0
    res = linprog(cost, A_ub=a_ub, b_ub=-target, A_eq=a_eq, b_eq=[grand], bounds=bounds, method="highs")
    if res.status == 3:
        raise CfgraphError(f"the least core program is unbounded: the {k} coalitions do not pin the values "
                           "(add training sets, or use non_negative_subsidy)")
    if res.status == 2:
        raise CfgraphError(f"the least core program is infeasible ({' '.join(res.message.split())})")
    if res.status != 0:
        raise CfgraphError(f"HiGHS could not solve the least core program: {' '.join(res.message.split())}")
    x = res.x[:n]
    x = x + (grand - x.sum()) / n  # efficiency to the last bit, not HiGHS's 1e-7 tolerance
    # the subsidy this x achieves, so that stage two's feasible set surely holds x
    subsidy = float(np.max(target - coalitions @ x))
    return x, max(subsidy, 0.0) if non_negative else subsidy


def _egalitarian_point(coalitions: np.ndarray, target: np.ndarray, grand: float, subsidy: float) -> np.ndarray:
    """Stage two: the point of {x : x(N) = v(N), x(S) >= v(S) - e} nearest to v(N)/n.

    With y = x - v(N)/n this is a least-distance program, min ||y|| s.t. G y >= h
    (efficiency as y(N) >= 0 and -y(N) >= 0), which Lawson & Hanson's theorem
    23.4 turns into one non-negative least squares problem.
    """
    k, n = coalitions.shape
    if (n + 1) * (k + 2) > _MAX_DENSE:
        raise CfgraphError(f"{k} coalitions of {n} units are too many for the egalitarian point; use point='vertex'")
    share = grand / n
    scale = max(1.0, abs(grand), float(np.abs(target).max()))
    slack = 1e-11 * scale  # rounding room: stage one's x must stay feasible
    g = np.vstack([coalitions.astype(float), np.ones((1, n)), -np.ones((1, n))])
    h = np.concatenate([target - (subsidy + slack) - coalitions.sum(axis=1) * share, [0.0, 0.0]])
    e = np.vstack([g.T, h[None, :]])
    f = np.zeros(n + 1)
    f[-1] = 1.0
    try:
        u, _ = nnls(e, f, maxiter=max(100, 10 * (k + 2)))
    except RuntimeError as err:  # older scipy raises on its iteration limit
        raise CfgraphError(f"the egalitarian least core point did not converge ({err}); use point='vertex'") from None
    r = e @ u - f
    if not r[-1] < -1e-12:  # Lawson & Hanson: r = 0 means no feasible point
        raise CfgraphError("the least core's egalitarian point is numerically infeasible; use point='vertex'")
    x = share - r[:n] / r[-1]
    return x + (grand - x.sum()) / n
