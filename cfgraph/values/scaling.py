"""Data scaling: mean score against training rows, and a fitted power law ``score(r) = c - a r^(-b)``.

The scaling curve of :func:`cfgraph.values.layers.scaling_curve` is indexed by
the number of *units* in a training set; units differ in size, so the curve a
reader wants is against the number of training *rows*. :func:`scaling_points`
groups training sets by their row count (binned on a log scale when there are
many distinct counts) and :func:`power_law_fit` fits the saturating power law
that empirical scaling studies report (the error falls as ``a r^(-b)`` towards
an irreducible floor ``1 - c``).

The fit is a separable least-squares problem: for a fixed exponent ``b`` the
model is linear in ``(c, a)``, so ``(c, a)`` come in closed form and only ``b``
is searched (a bounded scalar minimisation after a coarse grid). That avoids
the starting-point sensitivity (and the covariance warnings) of a 3-parameter
``curve_fit`` on a handful of points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from cfgraph.errors import CfgraphError

__all__ = ["NoFit", "PowerLaw", "ScalingPoints", "power_law_fit", "scaling_points", "MIN_POINTS"]

#: A 3-parameter law needs at least one point more than it has parameters to say anything.
MIN_POINTS = 4
#: Exponents searched (b in [B_MIN, B_MAX]); beyond 10 the law is a step, below 1e-3 a constant.
B_MIN, B_MAX = 1e-3, 10.0
#: Above this many distinct row counts, training sets are binned on a log scale.
MAX_POINTS = 24
#: Below this R² over the plotted points the law comes with a caveat: it describes the curve poorly.
POOR_R2 = 0.9


class NoFit(CfgraphError):
    """The points do not determine a power law (too few of them, or a flat curve)."""


@dataclass(frozen=True)
class ScalingPoints:
    """Mean score of the training sets with about ``rows`` training rows.

    Attributes
    ----------
    rows : ndarray of float, shape (p,)
        Mean training rows of each group (ascending, all > 0).
    score : ndarray of float, shape (p,)
        Mean score of the group's training sets.
    count : ndarray of int, shape (p,)
        How many training sets (cells present) each group holds.
    binned : bool
        The groups are log-spaced bins of row counts (more than ``max_points`` distinct counts),
        not one group per count.
    """

    rows: np.ndarray
    score: np.ndarray
    count: np.ndarray
    binned: bool = False


@dataclass(frozen=True)
class PowerLaw:
    """A fitted ``score(r) = c - a * r**(-b)``.

    Attributes
    ----------
    a, b, c : float
        Scale, exponent and asymptote (the score with unlimited rows).
    r2 : float
        Share of the points' variance the law explains, weighted as fitted (by training sets per point).
    rmse : float
        Root mean squared residual (weighted as fitted).
    n_points : int
    r2_points : float
        Share of the variance the law explains over the points as plotted, unweighted: what a
        reader sees. A point holding many training sets dominates the weighted ``r2``, so a law
        can score well there and still miss the points at the ends (this one can be negative:
        worse than a flat line at the points' mean).
    at_bound : bool
        The exponent sits at an end of the searched range [B_MIN, B_MAX]: the points show no
        saturation (b -> 0: over these rows the score grows like log r, and c is not identified)
        or a step (b large). The curve is still the least-squares one; its parameters mean little.
    """

    a: float
    b: float
    c: float
    r2: float
    rmse: float
    n_points: int
    at_bound: bool = False
    r2_points: float | None = None

    def __call__(self, rows) -> np.ndarray:
        """The law's score at ``rows`` (array_like of float > 0)."""
        return self.c - self.a * np.power(np.asarray(rows, dtype=float), -self.b)

    @property
    def poor(self) -> bool:
        """The law explains less than :data:`POOR_R2` of the plotted points' variance."""
        return self.r2_points is not None and self.r2_points < POOR_R2

    @property
    def caveat(self) -> str | None:
        """Why the law or its parameters mean little (None when the exponent is inside the searched
        range and the law follows the plotted points)."""
        said = []
        if self.poor:
            # The meaning only: the R² itself is in the formula and the caption beside it.
            said.append("a power law describes this curve poorly: the score depends on which units a training set "
                        "holds more than on how many rows")
        if self.at_bound and self.b < 1:
            said.append("the best exponent is at the search's lower bound: over these rows the score grows about "
                        "linearly in log r and shows no saturation yet, so the asymptote c is not identified")
        elif self.at_bound:
            said.append("the best exponent is at the search's upper bound: the curve is a step, not a power law")
        return "; ".join(said) or None

    def formula(self, digits: int = 3) -> str:
        """The law as text, e.g. ``score ≈ 0.95 − 1.2·r^−0.5 (R² 0.990 over 6 points)``; with the
        weighted R² beside it when the points hold unequal numbers of training sets."""
        sign = "−" if self.a >= 0 else "+"
        r2 = self.r2 if self.r2_points is None else self.r2_points
        text = (f"score ≈ {self.c:.{digits}g} {sign} {abs(self.a):.{digits}g}·r^−{self.b:.{digits}g}"
                f" (R² {_signed(r2)} over {self.n_points} points")
        if self.r2_points is not None and abs(self.r2 - self.r2_points) >= 5e-4:
            text += f", {_signed(self.r2)} weighted by training sets"
        return text + ")"

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "c": self.c, "r2": self.r2, "r2_points": self.r2_points,
                "rmse": self.rmse, "n_points": self.n_points, "at_bound": self.at_bound, "poor": self.poor,
                "caveat": self.caveat, "formula": self.formula()}


def _signed(x: float) -> str:
    """R² with three decimals and a true minus sign (it can be negative)."""
    return f"{x:.3f}".replace("-", "−")


def scaling_points(rows, score, max_points: int = MAX_POINTS) -> ScalingPoints:
    """Mean score of training sets grouped by their number of training rows.

    Training sets with no rows (the empty set) or no score (NaN) are left out: a
    power law has no value at 0 rows. With at most ``max_points`` distinct row
    counts each count is a group; above, the counts fall into ``max_points``
    log-spaced bins and each bin's point is its mean rows and mean score.

    Parameters
    ----------
    rows : array_like of int, shape (c,)
        Training rows of each training set (the sum of its units' sizes).
    score : array_like of float, shape (c,)
        Each training set's score on one slice; NaN where missing.
    max_points : int

    Returns
    -------
    ScalingPoints

    Raises
    ------
    CfgraphError
        If ``rows`` and ``score`` differ in length.

    References
    ----------
    Hestness et al. (2017), "Deep learning scaling is predictable, empirically".

    Examples
    --------
    >>> p = scaling_points([0, 10, 10, 20, 30], [0.1, 0.5, 0.7, 0.8, float("nan")])
    >>> p.rows.tolist(), p.score.tolist(), p.count.tolist()
    ([10.0, 20.0], [0.6, 0.8], [2, 1])
    """
    r = np.asarray(rows, dtype=float).ravel()
    s = np.asarray(score, dtype=float).ravel()
    if r.shape != s.shape:
        raise CfgraphError(f"scaling points need one score per training set: {r.size} row counts, {s.size} scores")
    keep = (r > 0) & ~np.isnan(s)
    r, s = r[keep], s[keep]
    if r.size == 0:
        return ScalingPoints(np.empty(0), np.empty(0), np.empty(0, dtype=np.int64))
    distinct = np.unique(r)
    binned = distinct.size > max_points
    if not binned:
        group = np.searchsorted(distinct, r)
    else:
        edges = np.geomspace(distinct[0], distinct[-1], max_points + 1)
        group = np.clip(np.searchsorted(edges, r, side="right") - 1, 0, max_points - 1)
    count = np.bincount(group)
    used = count > 0
    mean_rows = np.bincount(group, weights=r)[used] / count[used]
    mean_score = np.bincount(group, weights=s)[used] / count[used]
    return ScalingPoints(mean_rows, mean_score, count[used].astype(np.int64), binned)


def _linear_part(x: np.ndarray, y: np.ndarray, w: np.ndarray, ceiling: float | None = None
                 ) -> tuple[float, float, float]:
    """Weighted least squares of y ≈ c - a x with c <= ceiling: (c, a, weighted residual sum of squares).

    The loss is a convex quadratic in (c, a), so when the free optimum's c passes the ceiling the
    constrained optimum has c on it, and a is the one-variable fit of ceiling - y ≈ a x."""
    sw = np.sqrt(w)
    design = np.column_stack([np.ones_like(x), -x]) * sw[:, None]
    (c, a), *_ = np.linalg.lstsq(design, y * sw, rcond=None)
    if ceiling is not None and c > ceiling:
        c = float(ceiling)
        a = float(np.sum(w * x * (c - y)) / max(np.sum(w * x * x), 1e-300))
    resid = y - (c - a * x)
    return float(c), float(a), float(np.sum(w * resid ** 2))


def power_law_fit(rows, score, weights=None, ceiling: float | None = None) -> PowerLaw:
    """Fit ``score(r) = c - a * r**(-b)`` by least squares (variable projection over b).

    Parameters
    ----------
    rows : array_like of float, shape (p,)
        Training rows of each point (> 0).
    score : array_like of float, shape (p,)
        Mean score at each point.
    weights : array_like of float, shape (p,), optional
        Weight of each point's squared residual (e.g. how many training sets it averages).
    ceiling : float, optional
        The best score the metric can reach (1 for accuracy, 0 for a negated error; see
        :func:`cfgraph.scoring.perfect_score`): the asymptote ``c`` is kept at or below it.
        Without it, scores that still rise about linearly in ``log r`` drive ``b`` to its lower
        bound and ``c`` far past any reachable score; with it such a curve is fitted as the
        error ``ceiling - score = a r^(-b)``, the form scaling studies report.

    Returns
    -------
    PowerLaw

    Raises
    ------
    NoFit
        With fewer than :data:`MIN_POINTS` points at distinct row counts, or when the scores
        are all equal (a flat curve has no exponent).
    CfgraphError
        On mismatched lengths, rows <= 0 or non-finite values.

    References
    ----------
    Hestness et al. (2017), "Deep learning scaling is predictable, empirically";
    Kaplan et al. (2020), "Scaling laws for neural language models";
    Golub & Pereyra (1973), "The differentiation of pseudo-inverses and nonlinear least
    squares problems whose variables separate" (variable projection).

    Examples
    --------
    >>> r = np.array([10.0, 20, 40, 80, 160, 320])
    >>> law = power_law_fit(r, 0.95 - 2.0 * r ** -0.6)
    >>> round(law.a, 4), round(law.b, 4), round(law.c, 4)
    (2.0, 0.6, 0.95)
    >>> rising = 0.5 + 0.1 * np.log10(r)             # still climbing: no floor in sight
    >>> power_law_fit(r, rising).at_bound, round(power_law_fit(r, rising).c, 1)
    (True, 44.1)
    >>> law = power_law_fit(r, rising, ceiling=1.0)   # accuracy cannot pass 1: error = a r^-b
    >>> law.c, round(law.b, 3), law.at_bound
    (1.0, 0.133, False)
    >>> power_law_fit([1, 2, 3, 4], [0.5, 0.5, 0.5, 0.5])
    Traceback (most recent call last):
    ...
    cfgraph.values.scaling.NoFit: no power law: the score is the same (0.5) at every row count
    """
    r = np.asarray(rows, dtype=float).ravel()
    y = np.asarray(score, dtype=float).ravel()
    w = np.ones_like(r) if weights is None else np.asarray(weights, dtype=float).ravel()
    if not (r.shape == y.shape == w.shape):
        raise CfgraphError(f"power_law_fit needs equal lengths: {r.size} rows, {y.size} scores, {w.size} weights")
    if not (np.isfinite(r).all() and np.isfinite(y).all() and np.isfinite(w).all()):
        raise CfgraphError("power_law_fit needs finite rows, scores and weights (drop missing cells first)")
    if (r <= 0).any() or (w < 0).any():
        raise CfgraphError("power_law_fit needs rows > 0 and weights >= 0")
    distinct = np.unique(r[w > 0]).size
    if distinct < MIN_POINTS:
        raise NoFit(f"no power law: {distinct} distinct row count(s), a fit needs at least {MIN_POINTS}")
    if np.ptp(y[w > 0]) < 1e-12:
        raise NoFit(f"no power law: the score is the same ({y[w > 0][0]:.4g}) at every row count")
    # Scale rows to their largest so r^-b stays well conditioned for any b; a absorbs the scale.
    top = r.max()
    u = r / top

    def loss(log_b: float) -> float:
        return _linear_part(u ** -np.exp(log_b), y, w, ceiling)[2]

    grid = np.linspace(np.log(B_MIN), np.log(B_MAX), 61)
    losses = [loss(g) for g in grid]  # 61 small lstsq solves, not a loop over cells
    i = int(np.argmin(losses))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    best = minimize_scalar(loss, bounds=(lo, hi), method="bounded", options={"xatol": 1e-10})
    log_b = float(best.x) if best.fun <= losses[i] else float(grid[i])
    b = float(np.exp(log_b))
    c, a_scaled, sse = _linear_part(u ** -b, y, w, ceiling)
    a = a_scaled * top ** b  # a_scaled * (r / top)^-b == (a_scaled * top^b) * r^-b
    mean = np.average(y, weights=w)
    total = float(np.sum(w * (y - mean) ** 2))
    plain = float(np.sum((y - y.mean()) ** 2))
    resid = float(np.sum((y - (c - a_scaled * u ** -b)) ** 2))
    return PowerLaw(a=float(a), b=b, c=c, r2=1.0 - sse / total if total > 0 else 1.0,
                    rmse=float(np.sqrt(sse / w.sum())), n_points=int(r.size),
                    at_bound=not B_MIN * 1.01 < b < B_MAX / 1.01,
                    r2_points=1.0 - resid / plain if plain > 0 else 1.0)
