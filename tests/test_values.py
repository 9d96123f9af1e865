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
