"""Semivalues and other summaries: hand-computed cases, brute force, and the axioms."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cfgraph import values as V
from cfgraph.errors import CfgraphError, MissingCells

TOY = {"AB": [0.85, 0.72, 0.45, 0.38], "ABC": [0.88, 0.80, 0.75, 0.52],
       "ABCD": [0.92, 0.88, 0.85, 0.82], "ACD": [0.78, 0.55, 0.82, 0.80]}


def toy_lattice():
    v = np.full((16, 4), np.nan)
    for label, row in TOY.items():
        v[sum(1 << "ABCD".index(ch) for ch in label)] = row
    return v


def brute_shapley(v):
    """Average marginal contribution over all n! orders."""
    n = V.n_units_of(v)
    phi = np.zeros(n)
    for order in itertools.permutations(range(n)):
        mask = 0
        for i in order:
            phi[i] += v[mask | 1 << i] - v[mask]
            mask |= 1 << i
    return phi / math.factorial(n)


def brute_banzhaf(v):
    n = V.n_units_of(v)
    return np.array([np.mean([v[s | 1 << i] - v[s] for s in range(1 << n) if not s >> i & 1])
                     for i in range(n)])


def brute_semivalue(v, size_weight):
    """Direct enumeration of sum_S w(|S|) (v(S+i) - v(S))."""
    n = V.n_units_of(v)
    return np.array([sum(size_weight(bin(s).count("1")) * (v[s | 1 << i] - v[s])
                         for s in range(1 << n) if not s >> i & 1) for i in range(n)])


lattices = st.integers(1, 6).flatmap(
    lambda n: arrays(np.float64, 1 << n, elements=st.floats(-10, 10, allow_nan=False, width=32)))


def test_three_player_glove_game_by_hand():
    # Unit A holds a left glove, B and C right gloves; a pair is worth 1.
    # Shapley: A = 2/3, B = C = 1/6 (a textbook value).
    v = np.zeros(8)
    for s in range(8):
        v[s] = 1.0 if (s & 1) and (s & 6) else 0.0
    np.testing.assert_allclose(V.shapley(v), [2 / 3, 1 / 6, 1 / 6])
    # Banzhaf: A is pivotal in 3 of 4 coalitions of {B, C}; B only in {A}.
    np.testing.assert_allclose(V.banzhaf(v), [3 / 4, 1 / 4, 1 / 4])
    np.testing.assert_allclose(V.leave_one_out(v), [1.0, 0.0, 0.0])
    assert V.pair_interaction(v, 1, 2, base=1) == -1.0  # B and C substitute for each other


@settings(max_examples=60, deadline=None)
@given(lattices)
def test_shapley_equals_brute_force_over_permutations(v):
    np.testing.assert_allclose(V.shapley(v), brute_shapley(v), atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(lattices)
def test_efficiency(v):
    assert abs(V.shapley(v).sum() - (v[-1] - v[0])) < 1e-9


@settings(max_examples=40, deadline=None)
@given(lattices)
def test_banzhaf_equals_direct_enumeration(v):
    np.testing.assert_allclose(V.banzhaf(v), brute_banzhaf(v), atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(lattices, st.floats(0.5, 20), st.floats(0.5, 20))
def test_beta_shapley_equals_direct_enumeration(v, alpha, beta):
    n = V.n_units_of(v)
    w = lambda k: math.exp(math.lgamma(k + beta) + math.lgamma(n - 1 - k + alpha) - math.lgamma(n + alpha + beta - 1)
                           - (math.lgamma(alpha) + math.lgamma(beta) - math.lgamma(alpha + beta)))
    np.testing.assert_allclose(V.beta_shapley(v, alpha, beta), brute_semivalue(v, w), atol=1e-8)


@pytest.mark.parametrize("n", [1, 2, 5, 9])
@pytest.mark.parametrize("kind,params", [("shapley", ()), ("beta", (16, 1)), ("beta", (2, 5))])
def test_probabilistic_semivalue_weights_sum_to_one(n, kind, params):
    w = V.semivalue_weights(n, kind, *params)
    total = sum(math.comb(n - 1, k) * w[k] for k in range(n))
    assert abs(total - 1) < 1e-12


def test_beta_one_one_is_shapley_and_beta_16_1_favours_small_coalitions():
    np.testing.assert_allclose(V.semivalue_weights(6, "beta", 1, 1), V.semivalue_weights(6, "shapley"))
    w = V.semivalue_weights(6, "beta", 16, 1)
    q = [math.comb(5, k) * w[k] for k in range(6)]
    assert q == sorted(q, reverse=True)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.data())
def test_symmetry_and_null_player(n, data):
    # A game that depends only on how many of units 1.. are present, plus a null unit 0.
    f = data.draw(arrays(np.float64, n, elements=st.floats(-5, 5, width=32)))
    size_without_0 = np.array([bin(m >> 1).count("1") for m in range(1 << n)])
    v = f[size_without_0]
    for compute in (V.shapley, V.banzhaf, lambda x: V.beta_shapley(x, 4, 2)):
        phi = compute(v)
        assert abs(phi[0]) < 1e-9  # null player
        np.testing.assert_allclose(phi[1:], phi[1], atol=1e-9)  # symmetry


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5).flatmap(lambda n: st.tuples(
    arrays(np.float64, 1 << n, elements=st.floats(-5, 5, width=32)),
    arrays(np.float64, 1 << n, elements=st.floats(-5, 5, width=32)))), st.floats(-3, 3))
def test_linearity(pair, c):
    u, w = pair
    np.testing.assert_allclose(V.shapley(u + c * w), V.shapley(u) + c * V.shapley(w), atol=1e-8)


def test_many_slices_at_once_match_one_at_a_time():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(32, 3))
    together = V.shapley(v)
    for j in range(3):
        np.testing.assert_allclose(together[:, j], V.shapley(v[:, j]))


def test_toy_world_leave_one_out_of_b_on_slice_b_is_0_33():
    v = toy_lattice()
    assert V.leave_one_out(v[:, 1], units=[1])[1] == pytest.approx(0.88 - 0.55)


def test_missing_cells_are_named_not_zeroed():
    v = toy_lattice()[:, 1]
    with pytest.raises(MissingCells) as err:
        V.leave_one_out(v)  # needs BCD and ABD as well
    assert sorted(err.value.masks) == [0b1011, 0b1110]
    with pytest.raises(MissingCells) as err:
        V.shapley(v)
    assert len(err.value.masks) == 12


def test_group_leave_one_out_is_a_data_strike():
    v = toy_lattice()
    # C and D strike from ABCD: f(ABCD) - f(AB) on slice C.
    assert V.group_leave_one_out(v[:, 2], 0b1100) == pytest.approx(0.85 - 0.45)
    with pytest.raises(CfgraphError):
        V.group_leave_one_out(v[:, 2], 0)


def test_scaling_curve_skips_missing_and_counts():
    mean, count = V.scaling_curve(toy_lattice()[:, 0])
    assert count.tolist() == [0, 0, 1, 2, 1]
    assert mean[2] == pytest.approx(0.85)
    assert mean[3] == pytest.approx((0.88 + 0.78) / 2)
    assert math.isnan(mean[0])
    v = np.arange(8, dtype=float)
    mean, count = V.scaling_curve(v)
    assert mean.tolist() == [0.0, (1 + 2 + 4) / 3, (3 + 5 + 6) / 3, 7.0]


def test_best_of_size_and_datamodel():
    v = toy_lattice()[:, 3]
    mask, value, missing = V.best_of_size(v, 3)
    assert (mask, value, missing) == (0b1101, 0.80, 2)
    additive = np.array([0.1 + 0.2 * (m & 1) + 0.5 * (m >> 1 & 1) - 0.3 * (m >> 2 & 1) for m in range(8)])
    theta, intercept = V.datamodel(additive)
    np.testing.assert_allclose(theta, [0.2, 0.5, -0.3], atol=1e-12)
    assert intercept == pytest.approx(0.1)


def test_bad_inputs_are_refused():
    with pytest.raises(CfgraphError, match="power of two|2\\^n"):
        V.shapley(np.zeros(6))
    with pytest.raises(CfgraphError, match="alpha > 0"):
        V.beta_shapley(np.zeros(4), 0, 1)
    with pytest.raises(CfgraphError):
        V.pair_interaction(np.zeros(4), 0, 0)


# ------------------------------------------------------------ the layer-sum table


def old_semivalue(v, weights):
    """The previous implementation (n passes over half the lattice each), kept as a reference."""
    n = V.n_units_of(v)
    size = np.array([bin(m).count("1") for m in range(1 << n)])
    shape_tail = (1,) * (v.ndim - 1)
    with_i = weights[np.maximum(size - 1, 0)].reshape((-1,) + shape_tail) * v
    without_i = weights[np.minimum(size, n - 1)].reshape((-1,) + shape_tail) * v
    out = np.empty((n,) + v.shape[1:])
    for i in range(n):
        shape = (1 << (n - 1 - i), 2, 1 << i) + v.shape[1:]
        out[i] = with_i.reshape(shape)[:, 1].sum(axis=(0, 1)) - without_i.reshape(shape)[:, 0].sum(axis=(0, 1))
    return out


def brute_layer_sums(v):
    n = V.n_units_of(v)
    with_unit = np.zeros((n, n + 1) + v.shape[1:])
    total = np.zeros((n + 1,) + v.shape[1:])
    for m in range(1 << n):
        s = bin(m).count("1")
        total[s] += v[m]
        for i in range(n):
            if m >> i & 1:
                with_unit[i, s] += v[m]
    return with_unit, total


@pytest.mark.parametrize("n", [0, 1, 2, 5, 6, 7, 9, 13])
@pytest.mark.parametrize("m", [None, 1, 3])
def test_layer_sums_equal_direct_enumeration(n, m):
    # n = 7 .. 13 go through the split into 6 low bits and a recursion on the high bits.
    rng = np.random.default_rng(n)
    v = rng.normal(size=(1 << n,) if m is None else (1 << n, m))
    with_unit, total = V.layer_sums(v)
    expected_with, expected_total = brute_layer_sums(v)
    assert with_unit.shape == expected_with.shape and total.shape == expected_total.shape
    np.testing.assert_allclose(with_unit, expected_with, rtol=0, atol=1e-11)
    np.testing.assert_allclose(total, expected_total, rtol=0, atol=1e-11)


@pytest.mark.parametrize("n", [1, 3, 6, 8, 12])
@pytest.mark.parametrize("kind,params", [("shapley", ()), ("banzhaf", ()), ("beta", (16, 1)), ("beta", (0.5, 3))])
def test_semivalue_equals_the_previous_implementation(n, kind, params):
    rng = np.random.default_rng(100 + n)
    v = rng.normal(size=(1 << n, 2))
    w = V.semivalue_weights(n, kind, *params)
    np.testing.assert_allclose(V.semivalue(v, w), old_semivalue(v, w), rtol=0, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(lattices, st.data())
def test_custom_weights_from_a_cached_table_equal_direct_enumeration(v, data):
    n = V.n_units_of(v)
    w = np.array(data.draw(st.lists(st.floats(-2, 2, width=32), min_size=n, max_size=n)))
    table = V.layer_sums(v)
    np.testing.assert_allclose(V.semivalue_from_layer_sums(*table, w), brute_semivalue(v, lambda k: w[k]), atol=1e-9)
    # the same table serves any other weights: Beta(2, 3) without reading the cells again
    np.testing.assert_allclose(V.semivalue_from_layer_sums(*table, V.semivalue_weights(n, "beta", 2, 3)),
                               V.beta_shapley(v, 2, 3), atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5).flatmap(lambda n: st.tuples(
    arrays(np.float64, 1 << n, elements=st.floats(-5, 5, width=32)),
    arrays(np.float64, 1 << n, elements=st.floats(-5, 5, width=32)))), st.floats(-3, 3))
def test_linearity_of_banzhaf_and_beta(pair, c):
    u, w = pair
    np.testing.assert_allclose(V.banzhaf(u + c * w), V.banzhaf(u) + c * V.banzhaf(w), atol=1e-8)
    np.testing.assert_allclose(V.beta_shapley(u + c * w, 3, 2), V.beta_shapley(u, 3, 2) + c * V.beta_shapley(w, 3, 2),
                               atol=1e-8)


def test_semivalue_refuses_missing_and_infinite_cells_and_bad_tables():
    v = np.arange(8, dtype=float)
    v[5] = np.nan
    with pytest.raises(MissingCells) as err:
        V.semivalue(v, np.ones(3))
    assert err.value.masks == [5]
    v[5] = np.inf
    with pytest.raises(CfgraphError, match="finite"):
        V.shapley(v)
    with pytest.raises(CfgraphError, match="layer-sum table"):
        V.semivalue_from_layer_sums(np.zeros((3, 4)), np.zeros(4), np.ones(2))
    with pytest.raises(CfgraphError, match="2\\^n"):
        V.layer_sums(np.zeros(12))


# ------------------------------------------------------- local formulas, vectorised


def test_leave_one_out_with_missing_as_nan_and_from_another_base():
    v = np.array([0.0, 1.0, np.nan, 3.0, 0.5, 1.5, 2.5, 4.0])
    loo = V.leave_one_out(v, missing="nan")
    assert loo[0] == pytest.approx(4.0 - 2.5) and loo[1] == pytest.approx(4.0 - 1.5)
    assert loo[2] == pytest.approx(4.0 - 3.0)
    loo = V.leave_one_out(v, base=0b011, missing="nan")  # f(AB) - f(B) needs the missing B
    assert math.isnan(loo[0]) and loo[1] == pytest.approx(3.0 - 1.0) and math.isnan(loo[2])
    with pytest.raises(MissingCells):
        V.leave_one_out(v, base=0b011)
    with pytest.raises(CfgraphError, match="in the training set"):
        V.leave_one_out(v, base=0b011, units=[2])
    with pytest.raises(CfgraphError, match="missing="):
        V.leave_one_out(v, missing="zero")


def test_group_leave_one_out_of_many_coalitions_at_once():
    v = toy_lattice()
    drops = V.group_leave_one_out(v, [0b1100, 0b0010, 0b0100], missing="nan")
    assert drops.shape == (3, 4)
    np.testing.assert_allclose(drops[0], np.array(TOY["ABCD"]) - np.array(TOY["AB"]))
    np.testing.assert_allclose(drops[1], np.array(TOY["ABCD"]) - np.array(TOY["ACD"]))
    np.testing.assert_allclose(drops[2], np.full(4, np.nan))  # ABD is not stored
    with pytest.raises(CfgraphError, match="non-empty part"):
        V.group_leave_one_out(v, [0b0001, 0], missing="nan")
    with pytest.raises(CfgraphError, match="non-empty part"):
        V.group_leave_one_out(v, 0b1000, base=0b0111)


def test_pair_interaction_with_missing_as_nan():
    v = toy_lattice()[:, 0]
    assert math.isnan(V.pair_interaction(v, 2, 3, base=0b0011, missing="nan"))  # ABD is missing
    with pytest.raises(MissingCells) as err:
        V.pair_interaction(v, 2, 3, base=0b0011)
    assert err.value.masks == [0b1011]
    with pytest.raises(CfgraphError, match="must not contain"):
        V.pair_interaction(v, 0, 1, base=0b0001)


def test_layer_means_of_arbitrary_cells_and_of_a_lattice():
    mean, present, total = V.layer_means(np.array([1.0, 2.0, np.nan, 4.0]), size=[1, 1, 2, 0], n_layers=4)
    assert mean[0] == 4.0 and mean[1] == 1.5 and math.isnan(mean[2]) and math.isnan(mean[3])
    assert present.tolist() == [1, 2, 0, 0] and total.tolist() == [1, 2, 1, 0]
    v = toy_lattice()
    mean, present, total = V.layer_means(v)
    assert mean.shape == (5, 4) and total.tolist() == [1, 4, 6, 4, 1]
    assert present[:, 0].tolist() == [0, 0, 1, 2, 1]
    np.testing.assert_allclose(mean[3], (np.array(TOY["ABC"]) + np.array(TOY["ACD"])) / 2)
    with pytest.raises(CfgraphError, match="one size"):
        V.layer_means(np.zeros(3), size=[0, 1])


# -------------------------------------------------------------- seeds and intervals


def test_seed_interval_known_values():
    mean, std, half, k = V.seed_interval(np.array([[1.0, 2.0, np.nan], [3.0, np.nan, np.nan], [5.0, 4.0, 7.0]]))
    assert mean.tolist() == [3.0, 3.0, 7.0] and k.tolist() == [3, 2, 1]
    assert std[0] == pytest.approx(2.0) and std[1] == pytest.approx(math.sqrt(2)) and math.isnan(std[2])
    # t(0.975, df=2) = 4.302652729749462; t(0.975, df=1) = 12.706204736174694
    assert half[0] == pytest.approx(4.302652729749462 * 2 / math.sqrt(3), rel=1e-9)
    assert half[1] == pytest.approx(12.706204736174694 * math.sqrt(2) / math.sqrt(2), rel=1e-9)
    assert math.isnan(half[2])
    # another axis and another confidence: t(0.95, df=3) = 2.353363434801823
    mean, std, half, k = V.seed_interval(np.array([[0.0, 1.0, 2.0, 3.0]]), axis=1, confidence=0.9)
    assert mean.tolist() == [1.5] and k.tolist() == [4]
    assert half[0] == pytest.approx(2.353363434801823 * np.std([0, 1, 2, 3], ddof=1) / 2, rel=1e-9)
    mean, std, half, k = V.seed_interval(np.full((3, 2), np.nan))
    assert np.isnan(mean).all() and k.tolist() == [0, 0]
    with pytest.raises(CfgraphError, match="between 0 and 1"):
        V.seed_interval(np.zeros((3, 2)), confidence=1.0)


def test_seed_interval_covers_the_true_mean_95_percent_of_the_time():
    from scipy.stats import binom

    repetitions, seeds = 2000, 5
    draws = np.random.default_rng(2026).normal(loc=0.7, scale=0.2, size=(seeds, repetitions))
    mean, _, half, k = V.seed_interval(draws)
    assert (k == seeds).all()
    covered = int((np.abs(mean - 0.7) <= half).sum())
    low, high = binom.interval(0.999, repetitions, 0.95)
    assert low <= covered <= high, covered


def test_mean_of_per_seed_values_is_the_value_of_the_mean_grid():
    # Every value is linear in the cells, so averaging over seeds commutes with it.
    grids = np.random.default_rng(7).random((5, 1 << 6, 3))
    mean_grid = grids.mean(axis=0)
    for compute in (V.shapley, V.banzhaf, lambda v: V.beta_shapley(v, 16, 1), V.leave_one_out,
                    lambda v: V.semivalue_from_layer_sums(*V.layer_sums(v), V.semivalue_weights(6, "beta", 2, 2))):
        per_seed = np.stack([compute(g) for g in grids])
        mean, _, _, k = V.seed_interval(per_seed)
        assert (k == 5).all()
        np.testing.assert_allclose(mean, compute(mean_grid), rtol=0, atol=1e-12)


def test_datamodel_of_a_complete_lattice_is_the_banzhaf_value():
    # Under the uniform distribution over training sets, the least-squares linear fit of a game
    # on the membership vector has the Banzhaf values as coefficients (Hammer & Holzman 1992).
    from types import SimpleNamespace

    from cfgraph import summaries

    rng = np.random.default_rng(3)
    v = rng.normal(size=(1 << 5, 2))
    table = SimpleNamespace(values=v, labels=[str(m) for m in range(32)], letters=list("ABCDE"), slices=["x", "y"])
    arrays, problems = summaries.value_arrays(table, summaries.parse_methods("datamodel+banzhaf"))
    assert problems == []
    np.testing.assert_allclose(arrays["datamodel"], arrays["banzhaf"], atol=1e-10)
    assert not np.allclose(arrays["datamodel"], summaries.value_arrays(table, [("shapley", ())])[0]["shapley"])


def test_datamodel_needs_n_plus_one_cells_and_says_which_slice():
    from types import SimpleNamespace

    from cfgraph import summaries

    v = np.full((8, 1), np.nan)
    v[[0, 7, 3], 0] = [0.1, 0.9, 0.5]
    table = SimpleNamespace(values=v, labels=[str(m) for m in range(8)], letters=list("ABC"), slices=["all"])
    arrays, problems = summaries.value_arrays(table, summaries.parse_methods("datamodel"))
    assert np.isnan(arrays["datamodel"]).all()
    assert [p["slice"] for p in problems] == ["all"] and "datamodel" in problems[0]["error"]
