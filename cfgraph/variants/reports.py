"""The tables behind ``cfgraph variant ...``, ``strike``, ``budget``, ``envelope`` and the web page.

Each function reads stored lattices (through a session or a
:class:`~cfgraph.tables.LatticeTable`), calls the numpy maths of the
variant modules, and returns plain rows (lists of dicts) that the CLI renders
and the web page shows.
"""

from __future__ import annotations

import numpy as np

from cfgraph import lattice
from cfgraph import values as V
from cfgraph.errors import CfgraphError
from cfgraph.tables import LatticeTable
from cfgraph.variants import envelope as E
from cfgraph.variants import leverage, market, poisoning, unlearning, weighting
from cfgraph.variants.build import variant_pair



def toy_example():
    """A store in a temporary file holding the seed's toy grid, and a session on it (for examples).

    Examples
    --------
    >>> store, session = toy_example()
    >>> session.close(); store.close()
    """
    import pathlib
    import tempfile

    from cfgraph.grids import import_grid
    from cfgraph.resources import seed_file
    from cfgraph.store import open_store

    store = open_store(pathlib.Path(tempfile.mkdtemp()) / "cfgraph.db")
    import_grid(store, seed_file("toy_grid.csv"), "toy")
    return store, store.session()

def _f(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x


def _mean(a) -> float | None:
    """Mean of the cells present (None when none is)."""
    a = np.asarray(a, dtype=float)
    present = a[~np.isnan(a)]
    return float(present.mean()) if present.size else None


def _max(a) -> float | None:
    a = np.asarray(a, dtype=float)
    present = a[~np.isnan(a)]
    return float(present.max()) if present.size else None


def _columns(table: LatticeTable, slice_name: str | None) -> list[int]:
    if slice_name in (None, "*"):
        return list(range(len(table.slices)))
    return [table.slice_index(slice_name)]


def delta_rows(session, name: str, metric: str | None = None, seed: int | None = None) -> tuple[list[str], list[dict]]:
    """The variant's delta grid against its parent: one row per parent training set.

    Returns
    -------
    slices : list of str
    rows : list of dict
        ``train_set`` and, per slice, the delta ``variant - parent`` (None where missing).

    Examples
    --------
    Every variant report reads a variant world and its parent; any other world is refused:

    >>> store, session = toy_example()
    >>> delta_rows(session, "toy")
    Traceback (most recent call last):
    ...
    cfgraph.errors.NotFound: world 'toy' is not a variant of a stored world
    >>> session.close(); store.close()
    """
    pair = variant_pair(session, name, metric, seed)
    order = sorted(range(len(pair.base)), key=lambda m: (m.bit_count(), m))
    rows = [{"train_set": pair.parent.labels[m],
             **{s: _f(pair.delta[m, j]) for j, s in enumerate(pair.parent.slices)}} for m in order]
    return pair.parent.slices, rows


def attack_rows(session, name: str, metric: str | None = None, seed: int | None = None) -> tuple[list[str], list[dict]]:
    """A poison variant's attack grid: ``f(S + P) - f(S)`` for every honest training set S.

    Returns
    -------
    slices : list of str
    rows : list of dict
        ``train_set`` (S), ``with_poison`` (S + P) and, per slice, the attack delta.

    Examples
    --------
    >>> store, session = toy_example()
    >>> attack_rows(session, "toy")
    Traceback (most recent call last):
    ...
    cfgraph.errors.NotFound: world 'toy' is not a variant of a stored world
    >>> session.close(); store.close()
    """
    pair = variant_pair(session, name, metric, seed, kind="poison")
    table = pair.variant
    p = table.n - 1
    coalitions, attack = V.marginal_contributions(table.values, p)
    order = sorted(range(len(coalitions)), key=lambda k: (int(coalitions[k]).bit_count(), int(coalitions[k])))
    rows = [{"train_set": table.labels[coalitions[k]], "with_poison": table.labels[coalitions[k] | 1 << p],
             **{s: _f(attack[k, j]) for j, s in enumerate(table.slices)}} for k in order]
    return table.slices, rows


def poison_rows(session, name: str, metric: str | None = None, seed: int | None = None) -> list[dict]:
    """Per slice: the attack delta f(S + P) - f(S) (at the full honest set, mean, worst) and P's values.

    ``lowest_honest`` is the honest unit with the lowest Shapley value; ``p_lowest``
    says whether P's Shapley value is below every honest unit's.

    Examples
    --------
    >>> store, session = toy_example()
    >>> poison_rows(session, "toy")
    Traceback (most recent call last):
    ...
    cfgraph.errors.NotFound: world 'toy' is not a variant of a stored world
    >>> session.close(); store.close()
    """
    pair = variant_pair(session, name, metric, seed, kind="poison")
    table = pair.variant
    report = poisoning.attack_report(table.values)
    p = table.n - 1
    rows = []
    for j, s in enumerate(table.slices):
        honest = report["shapley"][:p, j]
        low = int(np.argmin(honest))
        rows.append({
            "slice": s, "poison": table.letters[p],
            "attack_full": _f(report["attack_full"][j]), "attack_mean": _f(report["attack_mean"][j]),
            "attack_worst": _f(np.min(report["attack"][:, j])),
            "loo_p": _f(report["loo"][p, j]), "shapley_p": _f(report["shapley"][p, j]),
            "lowest_honest": table.letters[low], "shapley_lowest_honest": _f(honest[low]),
            "p_lowest": bool(report["shapley"][p, j] < honest.min()),
        })
    return rows


def dp_rows(session, names: list[str], metric: str | None = None, seed: int | None = None) -> list[dict]:
    """Per DP world: epsilon, the mean cell (over every training set and slice), the parent's,
    the mean (absolute) delta, and the mean over slices at the full training set.

    Examples
    --------
    >>> store, session = toy_example()
    >>> dp_rows(session, ["toy"])
    Traceback (most recent call last):
    ...
    cfgraph.errors.NotFound: world 'toy' is not a variant of a stored world
    >>> session.close(); store.close()
    """
    rows = []
    for name in names:
        pair = variant_pair(session, name, metric, seed, kind="dp")
        rows.append({
            "epsilon": pair.recipe["epsilon"], "world": name,
            "mean": _mean(pair.values), "parent_mean": _mean(pair.base),
            "mean_delta": _mean(pair.delta), "mean_abs_delta": _mean(np.abs(pair.delta)),
            "full_set": _mean(pair.values[-1]), "parent_full_set": _mean(pair.base[-1]),
        })
    return sorted(rows, key=lambda r: r["epsilon"])


def weight_rows(session, names: list[str], slice_name: str = "all", metric: str | None = None,
                seed: int | None = None) -> tuple[list[float], list[dict]]:
    """The sweep along every edge S -> S + i, from the weight worlds of one parent and unit.

    Returns
    -------
    weights : list of float
        0, the swept weights, 1.
    rows : list of dict
        ``from`` (S), ``to`` (S + i) and the score at each weight, keyed ``w=...``.

    Raises
    ------
    CfgraphError
        If the worlds are not weight variants of one parent and one unit.

    Examples
    --------
    >>> store, session = toy_example()
    >>> weight_rows(session, ["toy"])
    Traceback (most recent call last):
    ...
    cfgraph.errors.NotFound: world 'toy' is not a variant of a stored world
    >>> session.close(); store.close()
    """
    pairs = [variant_pair(session, n, metric, seed) for n in names]
    kinds = {(p.recipe["kind"], p.recipe.get("unit"), p.parent.world) for p in pairs}
    if len(kinds) != 1 or next(iter(kinds))[0] != "weight":
        raise CfgraphError("a weight sweep needs weight variants of one parent and one unit")
    parent = pairs[0].parent
    i = parent.letters.index(pairs[0].recipe["unit"])
    j = parent.slice_index(slice_name)
    coalitions, weights, scores = weighting.edge_sweep(
        parent.values[:, j], {p.recipe["weight"]: p.values[:, j] for p in pairs}, i)
    rows = [{"from": parent.labels[s], "to": parent.labels[s | 1 << i],
             **{f"w={w:g}": _f(x) for w, x in zip(weights, scores[k])}} for k, s in enumerate(coalitions)]
    return weights.tolist(), rows


def unlearn_rows(session, names: list[str], tolerance: float = unlearning.DEFAULT_TOLERANCE,
                 metric: str | None = None, seed: int | None = None) -> tuple[list[dict], list[dict]]:
    """The unlearning audit: per unit and slice the largest and mean gap; per unit pass/fail.

    Returns
    -------
    per_slice : list of dict
        unit, method, slice, max_gap, mean_gap, passed.
    per_unit : list of dict
        unit, method, world, max_gap (over slices), passed (every slice within tolerance).

    Examples
    --------
    >>> store, session = toy_example()
    >>> unlearn_rows(session, ["toy"])
    Traceback (most recent call last):
    ...
    cfgraph.errors.NotFound: world 'toy' is not a variant of a stored world
    >>> session.close(); store.close()
    """
    if not (np.isfinite(tolerance) and tolerance >= 0):
        raise CfgraphError(f"the tolerance must be a number >= 0, not {tolerance}")
    per_slice, per_unit = [], []
    for name in names:
        pair = variant_pair(session, name, metric, seed, kind="unlearn")
        unit, method = pair.recipe["unit"], pair.recipe["method"]
        result = unlearning.audit(pair.base, pair.values, pair.parent.letters.index(unit), tolerance)
        for j, s in enumerate(pair.parent.slices):
            per_slice.append({"unit": unit, "method": method, "slice": s, "max_gap": _f(result["max_gap"][j]),
                              "mean_gap": _f(result["mean_gap"][j]), "passed": bool(result["passed"][j])})
        per_unit.append({"unit": unit, "method": method, "world": name,
                         "max_gap": _max(result["max_gap"]), "passed": bool(result["passed"].all())})
    return per_slice, per_unit


def envelope_rows(table: LatticeTable, epsilon: float, seed: int = 0,
                  slice_name: str | None = None) -> list[dict]:
    """Per slice: the envelope (largest one-unit change and its edge), the Laplace scale, and a
    noisy release of the full set's cell reproducible by ``seed``.

    Examples
    --------
    >>> from cfgraph.tables import LatticeTable
    >>> t = LatticeTable(world="w", letters=["A", "B"], labels=["∅", "A", "B", "AB"], slices=["all"],
    ...                  slice_masks=[None], metric="accuracy", seed=0, values=np.array([[0.1], [0.5], [0.6], [0.9]]),
    ...                  status=np.full((4, 1), "ok", dtype=object))
    >>> row = envelope_rows(t, epsilon=2.0)[0]
    >>> row["sensitivity"], row["edge"], row["laplace_scale"]
    (0.5, '∅ -> B', 0.25)
    """
    result = E.dp_envelope(table.values)
    released, scale = E.laplace_release(table.values, epsilon, seed,
                                        np.nan_to_num(result["sensitivity"], nan=0.0))
    full = (1 << table.n) - 1
    rows = []
    for j in _columns(table, slice_name):
        s, i = int(result["edge_set"][j]), int(result["edge_unit"][j])
        rows.append({
            "slice": table.slices[j], "sensitivity": _f(result["sensitivity"][j]),
            "edge": f"{table.labels[s]} -> {table.labels[s | 1 << i]}" if s >= 0 else None,
            "unit": table.letters[i] if i >= 0 else None, "epsilon": float(epsilon),
            "laplace_scale": _f(scale[j]), "full_set": _f(table.values[full, j]),
            "released": _f(released[full, j]), "seed": seed,
        })
    return rows


def strike_rows(table: LatticeTable, slice_name: str = "all", coalition: str | None = None,
                order: str | None = None) -> tuple[list[dict], list[dict]]:
    """A data strike's removal path (when a coalition is given) and the strongest / weakest coalition of each size.

    Parameters
    ----------
    coalition : str, optional
        The striking units' letters ("BC").
    order : str, optional
        The order they leave in (letters; the coalition's order by default).

    Returns
    -------
    path : list of dict
        step, train_set, value, drop (from the previous step).
    extremes : list of dict
        k, strongest, strongest_drop, weakest, weakest_drop, missing.

    Examples
    --------
    >>> from cfgraph.tables import LatticeTable
    >>> t = LatticeTable(world="w", letters=["A", "B"], labels=["∅", "A", "B", "AB"], slices=["all"],
    ...                  slice_masks=[None], metric="accuracy", seed=0, values=np.array([[0.1], [0.5], [0.6], [0.9]]),
    ...                  status=np.full((4, 1), "ok", dtype=object))
    >>> path, extremes = strike_rows(t, "all", coalition="AB")
    >>> [(p["train_set"], p["drop"] and round(p["drop"], 2)) for p in path]
    [('AB', None), ('B', 0.3), ('∅', 0.5)]
    >>> [(e["k"], e["strongest"], round(e["strongest_drop"], 2)) for e in extremes]
    [(1, 'B', 0.4), (2, 'AB', 0.8)]
    """
    j = table.slice_index(slice_name)
    column = table.values[:, j]
    path = []
    if coalition:
        members = lattice.parse_label(coalition, table.letters)
        sequence = order or coalition
        if lattice.parse_label(sequence, table.letters) != members:
            raise CfgraphError(f"the order {sequence!r} must list the coalition's units {coalition!r}, each once")
        ordered = [table.letters.index(x) for x in sequence if x not in "+, "]
        result = leverage.strike_path(column, ordered)
        for step, mask in enumerate(result["masks"]):
            path.append({"step": step, "train_set": table.labels[mask], "value": _f(result["values"][step]),
                         "drop": _f(result["drops"][step - 1]) if step else None})
    ext = leverage.strike_extremes(column)
    extremes = [{"k": int(k), "strongest": table.labels[ext["strongest"][q]] if ext["strongest"][q] >= 0 else None,
                 "strongest_drop": _f(ext["strongest_drop"][q]),
                 "weakest": table.labels[ext["weakest"][q]] if ext["weakest"][q] >= 0 else None,
                 "weakest_drop": _f(ext["weakest_drop"][q]), "missing": int(ext["missing"][q])}
                for q, k in enumerate(ext["sizes"])]
    return path, extremes


def budget_rows(table: LatticeTable, prices, budget: float, slice_name: str = "all",
                seed: int = 0, trials: int = 200) -> list[dict]:
    """The best affordable training set, the greedy-by-value set and random sets, with the gaps.

    Examples
    --------
    >>> from cfgraph.tables import LatticeTable
    >>> t = LatticeTable(world="w", letters=["A", "B"], labels=["∅", "A", "B", "AB"], slices=["all"],
    ...                  slice_masks=[None], metric="accuracy", seed=0, values=np.array([[0.1], [0.5], [0.6], [0.9]]),
    ...                  status=np.full((4, 1), "ok", dtype=object))
    >>> rows = budget_rows(t, [1.0, 2.0], 2.0, trials=10)
    >>> [(r["method"], r["train_set"], round(r["gap"], 2)) for r in rows[:2]]
    [('best (exact)', 'B', 0.0), ('greedy by Shapley/price', 'A', 0.1)]
    """
    j = table.slice_index(slice_name)
    result = market.budget_report(table.values[:, j], prices, budget, seed=seed, trials=trials)
    best, greedy, rand = result["best"], result["greedy"], result["random"]
    return [
        {"method": "best (exact)", "train_set": table.labels[best["mask"]], "value": best["value"],
         "cost": best["cost"], "gap": 0.0},
        {"method": "greedy by Shapley/price", "train_set": table.labels[greedy["mask"]], "value": greedy["value"],
         "cost": greedy["cost"], "gap": result["greedy_gap"]},
        {"method": f"random (mean of {trials})", "train_set": None, "value": rand["value"], "cost": rand["cost"],
         "gap": result["random_gap"]},
    ]


def parse_prices(text: str, letters: list[str]) -> list[float]:
    """Prices as ``1,2,1,3`` (in unit order) or ``A=1,B=2,...`` (every unit named once).

    Raises
    ------
    CfgraphError
        On a non-number, an unknown or missing unit, or the wrong count.

    Examples
    --------
    >>> parse_prices("B=2,A=1", ["A", "B"]), parse_prices("1,2", ["A", "B"])
    ([1.0, 2.0], [1.0, 2.0])
    """
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        if parts and all("=" in p for p in parts):
            named = {}
            for p in parts:
                unit, _, price = p.partition("=")
                unit = unit.strip()
                if unit not in letters:
                    raise CfgraphError(f"unknown unit {unit!r} in the prices (units: {', '.join(letters)})")
                if unit in named:
                    raise CfgraphError(f"the prices name unit {unit} twice")
                named[unit] = float(price)
            missing = [u for u in letters if u not in named]
            if missing:
                raise CfgraphError(f"the prices have no price for unit(s) {', '.join(missing)}")
            return [named[u] for u in letters]
        prices = [float(p) for p in parts]
    except ValueError:
        raise CfgraphError(f"prices are numbers, e.g. 1,2,1,3 or A=1,B=2,C=1,D=3; not {text!r}") from None
    if len(prices) != len(letters):
        raise CfgraphError(
            f"the prices need {len(letters)} prices (one per unit {', '.join(letters)}), not {len(prices)}"
        )
    return prices

