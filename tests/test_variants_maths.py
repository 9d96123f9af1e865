"""The numpy maths of variant worlds against brute force: DP envelope, data strikes, budgets, sweeps, audits.

Every answer is checked against a plain enumeration over all pairs, coalitions
or affordable sets, for every n up to 6, on random lattices and on a real one.
"""

import itertools

import numpy as np
import pytest

from cfgraph.errors import CfgraphError, MissingCells
from cfgraph.store.cells import lattice_table
from cfgraph.variants import (
    attack_report,
    audit,
    best_affordable,
    budget_report,
    coalition_drops,
    dp_envelope,
    edge_sweep,
    greedy_by_value,
    laplace_release,
    laplace_scale,
    local_sensitivity,
    random_affordable,
    strike_extremes,
    strike_path,
)
from cfgraph.variants.market import coalition_costs


def lattices(m=3, seed=0):
    """Random lattices of every size n = 1..6, with m slices, as (n, v)."""
    rng = np.random.default_rng(seed)
    for n in range(1, 7):
        yield n, rng.random((1 << n, m)).round(3)  # rounding makes ties happen


def subsets(n):
    for k in range(n + 1):
        for combo in itertools.combinations(range(n), k):
            yield sum(1 << i for i in combo)


@pytest.fixture(scope="module")
def iris_table(iris_db):
    from cfgraph.store import open_store

    store = open_store(iris_db)
    with store.session() as session:
        table = lattice_table(session, "iris")
    store.close()
    return table


# ------------------------------------------------------------------ DP envelope

def brute_envelope(v):
    n = v.shape[0].bit_length() - 1
    best = np.full(v.shape[1], -np.inf)
    local = np.full(v.shape, -np.inf)
    for s, t in itertools.product(range(1 << n), repeat=2):
        if (s ^ t).bit_count() == 1:
            change = np.abs(v[s] - v[t])
            best = np.maximum(best, change)
            local[s] = np.maximum(local[s], change)
    return best, local


def test_envelope_equals_brute_force_over_all_neighbouring_pairs(iris_table):
    cases = list(lattices()) + [(iris_table.n, iris_table.values)]
    for n, v in cases:
        best, local = brute_envelope(v)
        result = dp_envelope(v)
        np.testing.assert_allclose(result["sensitivity"], best, atol=0)
        np.testing.assert_allclose(local_sensitivity(v), local, atol=0)
        # the reported edge reaches the envelope
        for j in range(v.shape[1]):
            s, i = result["edge_set"][j], result["edge_unit"][j]
            assert not s >> i & 1
            assert abs(v[s | 1 << i, j] - v[s, j]) == best[j]
        assert result["missing_edges"] == 0


def test_envelope_skips_missing_cells_and_counts_them():
    v = np.array([0.0, 0.9, 0.2, np.nan])
    result = dp_envelope(v)
    assert result["sensitivity"] == pytest.approx(0.9)
    assert result["missing_edges"] == 2


def test_laplace_release_is_reproducible_by_seed_and_scaled_by_sensitivity_over_epsilon(iris_table):
    v = iris_table.values
    sensitivity = dp_envelope(v)["sensitivity"]
    a, scale = laplace_release(v, 0.5, seed=11)
    b, _ = laplace_release(v, 0.5, seed=11)
    c, _ = laplace_release(v, 0.5, seed=12)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_allclose(scale, sensitivity / 0.5)
    expected = v + np.random.default_rng(11).laplace(0.0, 1.0, size=v.shape) * scale
    np.testing.assert_allclose(a, expected)
    # empirical spread of the noise matches the Laplace scale (mean |noise| = b)
    big = np.zeros((1 << 12, 1))
    noisy, b12 = laplace_release(big, 2.0, seed=0, sensitivity=np.array([0.3]))
    assert np.abs(noisy).mean() == pytest.approx(0.15, rel=0.05)
    for eps in (0, -1, float("inf"), float("nan")):
        with pytest.raises(CfgraphError):
            laplace_scale(0.3, eps)


# ------------------------------------------------------------------ data strikes

def test_strike_extremes_equal_brute_force_over_all_coalitions(iris_table):
    cases = list(lattices(seed=1)) + [(iris_table.n, iris_table.values)]
    for n, v in cases:
        full = (1 << n) - 1
        result = strike_extremes(v)
        drops = coalition_drops(v)
        for q, k in enumerate(range(1, n + 1)):
            coalitions = [sum(1 << i for i in c) for c in itertools.combinations(range(n), k)]
            for j in range(v.shape[1]):
                values = {c: v[full, j] - v[full & ~c, j] for c in coalitions}
                top, bottom = max(values.values()), min(values.values())
                assert result["strongest_drop"][q, j] == pytest.approx(top)
                assert result["weakest_drop"][q, j] == pytest.approx(bottom)
                # ties go to the lowest mask
                assert result["strongest"][q, j] == min(c for c in coalitions if values[c] == top)
                assert result["weakest"][q, j] == min(c for c in coalitions if values[c] == bottom)
                for c in coalitions:
                    assert drops[c, j] == pytest.approx(values[c])
        assert result["missing"].sum() == 0


def test_strike_extremes_from_a_smaller_training_set():
    for n, v in lattices(m=1, seed=2):
        start = (1 << n) - 1 - (1 if n > 1 else 0)
        result = strike_extremes(v[:, 0], start)
        members = [i for i in range(n) if start >> i & 1]
        assert result["sizes"].tolist() == list(range(1, len(members) + 1))
        for q, k in enumerate(result["sizes"]):
            drops = [v[start, 0] - v[start & ~sum(1 << i for i in c), 0]
                     for c in itertools.combinations(members, int(k))]
            assert result["strongest_drop"][q] == pytest.approx(max(drops))
            assert result["weakest_drop"][q] == pytest.approx(min(drops))


def test_strike_path_follows_the_order_and_drops_sum_to_the_group_loo():
    for n, v in lattices(m=2, seed=3):
        rng = np.random.default_rng(n)
        for k in range(1, n + 1):
            order = rng.permutation(n)[:k].tolist()
            result = strike_path(v, order)
            mask = (1 << n) - 1
            assert result["masks"][0] == mask
            for step, i in enumerate(order):
                before = mask
                mask &= ~(1 << i)
                assert result["masks"][step + 1] == mask
                np.testing.assert_allclose(result["drops"][step], v[before] - v[mask])
            np.testing.assert_allclose(result["total"], result["drops"].sum(axis=0))
    v = np.array([0.1, 0.5, 0.6, np.nan])
    with pytest.raises(MissingCells):
        strike_path(v, [0])
    with pytest.raises(CfgraphError):
        strike_path(np.zeros(4), [0, 0])


# ------------------------------------------------------------------ budgets

def test_best_affordable_equals_brute_force_over_affordable_sets(iris_table):
    rng = np.random.default_rng(4)
    cases = [(n, v[:, 0]) for n, v in lattices(m=1, seed=5)]
    cases += [(iris_table.n, iris_table.values[:, j]) for j in range(len(iris_table.slices))]
    for n, v in cases:
        for _ in range(5):
            prices = rng.integers(1, 5, size=n).astype(float)
            budget = float(rng.integers(int(prices.min()), int(prices.sum()) + 1))
            affordable = [m for m in subsets(n) if sum(prices[i] for i in range(n) if m >> i & 1) <= budget]
            top = max(v[m] for m in affordable)
            best = best_affordable(v, prices, budget)
            assert best["value"] == top
            assert best["mask"] == min(m for m in affordable if v[m] == top)
            assert best["affordable"] == len(affordable) and best["missing"] == 0
            assert best["cost"] <= budget
            report = budget_report(v, prices, budget, seed=1, trials=50)
            # the baselines are affordable and never beat the exact answer
            costs = coalition_costs(prices)
            assert costs[report["greedy"]["mask"]] <= budget
            assert (costs[report["random"]["masks"]] <= budget).all()
            assert report["greedy_gap"] >= 0 and report["random_gap"] >= 0


def test_greedy_and_random_baselines():
    # value per price: A 0.3, B 0.2, C 0.5 (C first), D negative (never bought)
    assert greedy_by_value([0.3, 0.4, 0.5, -0.1], [1, 2, 1, 1], 2) == 0b0101
    masks = random_affordable([1.0, 1.0, 1.0], 2.0, seed=3, trials=300)
    assert set(masks.tolist()) == {0b011, 0b101, 0b110}  # always maximal: two units
    np.testing.assert_array_equal(masks, random_affordable([1.0, 1.0, 1.0], 2.0, seed=3, trials=300))


def test_budget_below_every_price_is_refused():
    with pytest.raises(CfgraphError, match="buys no unit"):
        best_affordable(np.zeros(4), [2.0, 3.0], 1.0)
    with pytest.raises(CfgraphError, match="one price per unit"):
        best_affordable(np.zeros(4), [2.0], 5.0)
    with pytest.raises(CfgraphError, match=">= 0"):
        best_affordable(np.zeros(4), [2.0, -1.0], 5.0)


# ------------------------------------------------------------------ sweeps, audits, attacks

def test_edge_sweep_lines_up_the_edges():
    base = np.array([0.0, 1.0, 0.5, 0.9, 0.2, 0.8, 0.6, 1.0])
    half = base + 0.01
    coalitions, weights, scores = edge_sweep(base, {0.5: half, 1.0: base}, 1)
    assert coalitions.tolist() == [0, 1, 4, 5]
    assert weights.tolist() == [0.0, 0.5, 1.0]
    np.testing.assert_array_equal(scores[:, 0], base[[0, 1, 4, 5]])
    np.testing.assert_array_equal(scores[:, 1], half[[2, 3, 6, 7]])
    np.testing.assert_array_equal(scores[:, 2], base[[2, 3, 6, 7]])


def test_audit_gap_is_the_largest_difference_on_sets_without_the_unit():
    for n, exact in lattices(m=2, seed=6):
        approx = exact + np.random.default_rng(n).normal(0, 0.1, exact.shape)
        for i in range(n):
            result = audit(exact, approx, i, tolerance=0.15)
            without = [m for m in range(1 << n) if not m >> i & 1]
            assert result["coalitions"].tolist() == without
            gap = np.abs(approx[without] - exact[without]).max(axis=0)
            np.testing.assert_allclose(result["max_gap"], gap)
            np.testing.assert_array_equal(result["passed"], gap <= 0.15)
            assert (audit(exact, exact, i)["max_gap"] == 0).all()


def test_attack_report_is_the_poison_units_marginal_contribution():
    for n, v in lattices(m=2, seed=7):
        if n < 2:
            continue
        p = n - 1
        result = attack_report(v)
        honest = [m for m in range(1 << n) if not m >> p & 1]
        np.testing.assert_allclose(result["attack"], v[[m | 1 << p for m in honest]] - v[honest])
        np.testing.assert_allclose(result["attack_full"], v[(1 << n) - 1] - v[(1 << p) - 1])
        np.testing.assert_allclose(result["shapley"].sum(axis=0), v[-1] - v[0])
