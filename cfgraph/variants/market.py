"""Budgeted selection (a data market): the best affordable training set, against simple baselines.

Each unit has a price; a buyer with a budget buys a training set whose total
price fits. Over a stored lattice the best affordable set is exact: one
masked argmax over the 2^n cells. Two baselines show what that is worth:
greedy by value per price (the knapsack heuristic, with each unit's Shapley
value as its value) and random affordable sets (units in a random order,
each bought if it still fits).

Nothing here knows of SQL: arrays indexed by bitmask, as in :mod:`cfgraph.values`.
"""

from __future__ import annotations

import numpy as np

from cfgraph import values as V
from cfgraph.errors import CfgraphError, MissingCells

# Costs are sums of floats; a set whose cost equals the budget up to rounding is affordable.
_SLACK = 1e-9


def check_prices(prices, budget: float, n: int) -> tuple[np.ndarray, float]:
    """Validate prices and budget.

    Raises
    ------
    CfgraphError
        If there are not n prices, a price is negative or not finite, the
        budget is not finite, or the budget is below every price (it buys nothing).
    """
    prices = np.asarray(prices, dtype=float)
    if prices.shape != (n,):
        raise CfgraphError(f"give one price per unit: {n} prices, not {prices.size}")
    if not np.isfinite(prices).all() or (prices < 0).any():
        raise CfgraphError("prices must be finite numbers >= 0")
    budget = float(budget)
    if not np.isfinite(budget):
        raise CfgraphError(f"the budget must be a finite number, not {budget}")
    if budget < prices.min() - _SLACK:
        raise CfgraphError(f"a budget of {budget:g} buys no unit: the cheapest costs {prices.min():g}")
    return prices, budget


def coalition_costs(prices) -> np.ndarray:
    """Total price of every training set, indexed by mask (built by doubling, O(2^n)).

    Examples
    --------
    >>> coalition_costs([1.0, 2.0]).tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    costs = np.zeros(1)
    for p in np.asarray(prices, dtype=float):
        costs = np.concatenate([costs, costs + p])
    return costs


def best_affordable(v: np.ndarray, prices, budget: float) -> dict:
    """The best training set whose total price fits the budget, exact over the stored cells.

    Parameters
    ----------
    v : ndarray, shape (2**n,)
        One slice's cells; NaN = missing (left out, and counted).
    prices : sequence of float, length n
    budget : float

    Returns
    -------
    dict
        ``mask``, ``value``, ``cost`` of the best affordable set (lowest mask on
        ties); ``affordable`` (how many sets fit); ``missing`` (affordable
        sets whose cell is missing: the answer is exact when 0).

    Raises
    ------
    CfgraphError
        On bad prices or budget (see :func:`check_prices`).
    MissingCells
        If no affordable set has a cell.

    References
    ----------
    Agarwal, Dahleh & Sarkar (2019), "A marketplace for data: an algorithmic solution";
    Mirzasoleiman, Bilmes & Leskovec (2020), "Coresets for data-efficient training of
    machine learning models".

    Examples
    --------
    >>> best_affordable(np.array([0.1, 0.5, 0.6, 0.9]), [1.0, 2.0], 2.0)["mask"]
    2
    """
    v = np.asarray(v, dtype=float)
    n = V.n_units_of(v)
    if v.ndim != 1:
        raise CfgraphError("budgeted selection takes one slice")
    prices, budget = check_prices(prices, budget, n)
    costs = coalition_costs(prices)
    fits = costs <= budget + _SLACK
    known = fits & ~np.isnan(v)
    if not known.any():
        raise MissingCells(np.flatnonzero(fits).tolist(), None, "the best affordable training set")
    best = int(np.flatnonzero(known)[np.argmax(v[known])])
    return {"mask": best, "value": float(v[best]), "cost": float(costs[best]),
            "affordable": int(fits.sum()), "missing": int((fits & np.isnan(v)).sum())}


def greedy_by_value(unit_values, prices, budget: float) -> int:
    """Greedy knapsack: buy units by value per price, highest first, while they fit.

    Units with value <= 0 are not bought. Ties go to the lower unit.

    References
    ----------
    Dantzig (1957), "Discrete-variable extremum problems" (the greedy ratio rule).

    Examples
    --------
    >>> greedy_by_value([0.3, 0.4], [1.0, 2.0], 2.0)
    1
    """
    values = np.asarray(unit_values, dtype=float)
    prices = np.asarray(prices, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(prices > 0, values / np.where(prices > 0, prices, 1.0), np.inf)
    order = np.lexsort((np.arange(len(values)), -density))
    mask, spent = 0, 0.0
    for i in order:  # a loop over the n units
        if values[i] > 0 and spent + prices[i] <= budget + _SLACK:
            mask |= 1 << int(i)
            spent += prices[i]
    return mask


def random_affordable(prices, budget: float, seed: int = 0, trials: int = 200) -> np.ndarray:
    """Random affordable training sets: units in a random order, each bought if it still fits.

    Returns
    -------
    ndarray of int, shape (trials,)
        One mask per trial (maximal: no further unit fits), reproducible by seed.

    Examples
    --------
    >>> random_affordable([1.0, 1.0], 1.0, seed=0, trials=4).tolist()
    [1, 1, 1, 2]
    """
    prices = np.asarray(prices, dtype=float)
    n = len(prices)
    rng = np.random.default_rng(seed)
    orders = rng.permuted(np.tile(np.arange(n), (trials, 1)), axis=1)
    masks = np.zeros(trials, dtype=np.int64)
    spent = np.zeros(trials)
    for step in range(n):  # a loop over the n positions, vectorised over trials
        unit = orders[:, step]
        buy = spent + prices[unit] <= budget + _SLACK
        masks[buy] |= 1 << unit[buy]
        spent[buy] += prices[unit[buy]]
    return masks


def budget_report(v: np.ndarray, prices, budget: float, unit_values=None, seed: int = 0,
                  trials: int = 200) -> dict:
    """The best affordable set against greedy-by-value and random baselines, with the gaps.

    Parameters
    ----------
    v : ndarray, shape (2**n,)
        One slice's cells (all present for the baselines' values).
    unit_values : ndarray, shape (n,), optional
        Values for the greedy rule; the Shapley values on ``v`` by default.

    Returns
    -------
    dict
        ``best`` (see :func:`best_affordable`), ``greedy`` and ``random``
        (``mask``/``masks``, ``value``, ``cost``), ``greedy_gap`` (best - greedy),
        ``random_gap`` (best - mean of the random sets).

    Raises
    ------
    CfgraphError
        On bad prices or budget.
    MissingCells
        If a cell is missing.

    Examples
    --------
    >>> r = budget_report(np.array([0.1, 0.5, 0.6, 0.9]), [1.0, 2.0], 2.0)
    >>> r["best"]["mask"], r["greedy"]["mask"], round(r["greedy_gap"], 2)
    (2, 1, 0.1)
    """
    v = np.asarray(v, dtype=float)
    n = V.n_units_of(v)
    best = best_affordable(v, prices, budget)
    prices, budget = check_prices(prices, budget, n)
    if unit_values is None:
        unit_values = V.shapley(v)
    costs = coalition_costs(prices)
    greedy = greedy_by_value(unit_values, prices, budget)
    rand = random_affordable(prices, budget, seed, trials)
    if np.isnan(v[greedy]) or np.isnan(v[rand]).any():
        raise MissingCells([m for m in [greedy, *np.unique(rand)] if np.isnan(v[m])], None, "the baselines")
    return {
        "best": best,
        "greedy": {"mask": greedy, "value": float(v[greedy]), "cost": float(costs[greedy])},
        "random": {"masks": rand, "value": float(v[rand].mean()), "cost": float(costs[rand].mean()),
                   "trials": trials, "seed": seed},
        "greedy_gap": best["value"] - float(v[greedy]),
        "random_gap": best["value"] - float(v[rand].mean()),
    }
