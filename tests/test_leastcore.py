"""The least core: games with known least cores, efficiency, sampled constraints, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import minimize

from cfgraph.errors import CfgraphError, MissingCells
from cfgraph.values.leastcore import LeastCore, least_core, least_core_table


def table(n, value):
    """An exhaustive table from a function of the coalition's member tuple."""
    return np.array([value(tuple(i for i in range(n) if s >> i & 1)) for s in range(1 << n)], dtype=float)


def members_of(n):
    masks = np.arange(1, (1 << n) - 1)
    return ((masks[:, None] >> np.arange(n)) & 1).astype(bool), masks


def excesses(v, x):
    """v(S) - x(S) for every proper, non-empty coalition of an exhaustive table."""
    n = len(x)
    members, masks = members_of(n)
    return v[masks] - members @ x


def test_symmetric_majority_game():
    lc = least_core_table(table(3, lambda s: float(len(s) >= 2)))
    np.testing.assert_allclose(lc.values, [1 / 3] * 3, atol=1e-8)
    assert lc.subsidy == pytest.approx(1 / 3, abs=1e-8)
    assert (lc.constraints, lc.exact, lc.dropped) == (6, True, 0)


def test_five_player_majority_game():
    # summing the C(5,3) = 10 triple constraints: 6 x(N) + 10 e >= 10, so e = 2/5 at x = 1/5
    lc = least_core_table(table(5, lambda s: float(len(s) >= 3)))
    np.testing.assert_allclose(lc.values, [0.2] * 5, atol=1e-8)
    assert lc.subsidy == pytest.approx(0.4, abs=1e-8)


@pytest.mark.parametrize("left, right, expected, subsidy", [
    (1, 1, [0.5, 0.5], -0.5),  # two units: only the singletons constrain, x_i + e >= 0
    (2, 1, [0.0, 0.0, 1.0], 0.0),  # the scarce right glove takes the pair's value
    (1, 2, [1.0, 0.0, 0.0], 0.0),
    (2, 2, [0.5, 0.5, 0.5, 0.5], 0.0),  # core: x_l + x_r = 1 for every pair; egalitarian point
])
def test_glove_games(left, right, expected, subsidy):
    n = left + right
    lc = least_core_table(table(n, lambda s: float(min(sum(i < left for i in s), sum(i >= left for i in s)))))
    np.testing.assert_allclose(lc.values, expected, atol=1e-8)
    assert lc.subsidy == pytest.approx(subsidy, abs=1e-8)


def test_unanimity_game_gives_the_null_unit_nothing():
    # u_T with T = {0, 1}: core = {x_0 + x_1 = 1, x >= 0, x_2 = 0}; e < 0 is impossible
    lc = least_core_table(table(3, lambda s: float({0, 1} <= set(s))))
    np.testing.assert_allclose(lc.values, [0.5, 0.5, 0.0], atol=1e-8)
    assert lc.subsidy == pytest.approx(0.0, abs=1e-8)


def test_miner_game_of_four():
    # a pair of miners carries a bar: all pair sums must be 1, so x = 1/2 and e = 0
    lc = least_core_table(table(4, lambda s: float(len(s) // 2)))
    np.testing.assert_allclose(lc.values, [0.5] * 4, atol=1e-8)
    assert lc.subsidy == pytest.approx(0.0, abs=1e-8)


def test_convex_game_has_a_core_and_the_values_lie_in_it():
    weights = np.array([1.0, 2.0, 3.0, 0.5])
    v = table(4, lambda s: weights[list(s)].sum() ** 2)  # supermodular, so the core is non-empty
    lc = least_core_table(v)
    assert lc.subsidy < 0
    assert excesses(v, lc.values).max() <= lc.subsidy + 1e-8
    assert (excesses(v, lc.values) <= 1e-9).all()  # inside the core
    with_floor = least_core_table(v, non_negative_subsidy=True)
    assert with_floor.subsidy == 0.0
    assert (excesses(v, with_floor.values) <= 1e-8).all()


def test_null_unit_of_a_convex_game_gets_nothing():
    # unit 2 adds nothing: x_2 + e >= v({2}) = 0 and x(N - 2) + e >= v(N) force -e <= x_2 <= e,
    # so e = 0, x_2 = 0, and x_0 = x_1 = 2 is the egalitarian point of x_0 + x_1 = 4, x_0, x_1 >= 1
    v = table(3, lambda s: float(len([i for i in s if i != 2]) ** 2))
    lc = least_core_table(v)
    assert lc.subsidy == pytest.approx(0.0, abs=1e-8)
    np.testing.assert_allclose(lc.values, [2.0, 2.0, 0.0], atol=1e-8)
    assert lc.values.sum() == pytest.approx(4.0, abs=1e-12)


def test_egalitarian_point_is_the_nearest_to_the_equal_split():
    rng = np.random.default_rng(3)
    n = 4
    v = rng.random(1 << n)
    lc = least_core_table(v)
    members, masks = members_of(n)
    share = v[-1] / n
    # an independent solver of the same quadratic program
    cons = [{"type": "eq", "fun": lambda x: x.sum() - v[-1]},
            {"type": "ineq", "fun": lambda x: members @ x - v[masks] + lc.subsidy + 1e-10}]
    ref = minimize(lambda x: ((x - share) ** 2).sum(), np.full(n, share), constraints=cons, method="SLSQP",
                   options={"ftol": 1e-14, "maxiter": 500})
    assert ref.success
    np.testing.assert_allclose(lc.values, ref.x, atol=1e-6)
    vertex = least_core_table(v, point="vertex")
    assert vertex.subsidy == pytest.approx(lc.subsidy, abs=1e-9)
    assert np.linalg.norm(lc.values - share) <= np.linalg.norm(vertex.values - share) + 1e-9


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, 16, elements=st.floats(-5, 5)), st.sampled_from(["egalitarian", "vertex"]))
def test_efficiency_and_the_subsidy_bound_every_coalition(v, point):
    lc = least_core_table(v, point=point)
    assert lc.values.sum() == pytest.approx(v[-1], abs=1e-9)
    assert excesses(v, lc.values).max() <= lc.subsidy + 1e-7
    assert excesses(v, lc.values).max() >= lc.subsidy - 1e-7  # e is attained: it is the least


def test_rows_in_any_order_with_duplicates_empty_and_grand_rows():
    rng = np.random.default_rng(1)
    n = 4
    v = rng.random(1 << n)
    exact = least_core_table(v)
    masks = np.concatenate([np.arange(1 << n), rng.integers(0, 1 << n, 20)])
    rng.shuffle(masks)
    members = ((masks[:, None] >> np.arange(n)) & 1).astype(bool)
    lc = least_core(members, v[masks], v[-1])
    np.testing.assert_allclose(lc.values, exact.values, atol=1e-8)
    assert lc.subsidy == pytest.approx(exact.subsidy, abs=1e-9)
    assert (lc.constraints, lc.exact) == (14, True)


def test_duplicate_cells_count_at_their_mean():
    members = np.array([[1, 0], [1, 0], [0, 1]], bool)
    lc = least_core(members, np.array([0.2, 0.4, 0.1]), 1.0)
    # x_0 + e >= 0.3, x_1 + e >= 0.1, x_0 + x_1 = 1: e = (0.4 - 1) / 2
    assert lc.subsidy == pytest.approx(-0.3, abs=1e-8)
    np.testing.assert_allclose(lc.values, [0.6, 0.4], atol=1e-8)


def test_nan_rows_are_dropped_and_counted():
    v = table(3, lambda s: float(len(s) >= 2))
    members, masks = members_of(3)
    utilities = v[masks]
    utilities[0] = np.nan  # unit 0 alone: its constraint is slack anyway
    lc = least_core(members, utilities, v[-1])
    assert (lc.dropped, lc.constraints, lc.exact) == (1, 5, False)
    np.testing.assert_allclose(lc.values, [1 / 3] * 3, atol=1e-8)


def test_sampled_constraints_relax_the_exact_program_and_converge_to_it():
    rng = np.random.default_rng(7)
    n = 6
    v = rng.random(1 << n)
    exact = least_core_table(v)
    members, masks = members_of(n)
    singletons = np.flatnonzero(members.sum(axis=1) == 1)  # with them the program is bounded
    others = rng.permutation(np.flatnonzero(members.sum(axis=1) > 1))
    order = np.concatenate([singletons, others])
    subsidies = []
    for k in (6, 10, 20, 40, len(order)):
        rows = order[:k]
        lc = least_core(members[rows], v[masks][rows], v[-1])
        assert lc.constraints == k and lc.exact == (k == len(order))
        assert lc.values.sum() == pytest.approx(v[-1], abs=1e-9)
        subsidies.append(lc.subsidy)
    assert all(e <= exact.subsidy + 1e-9 for e in subsidies)
    assert np.all(np.diff(subsidies) >= -1e-9)  # more constraints never lower e
    assert subsidies[-1] == pytest.approx(exact.subsidy, abs=1e-9)


def test_unbounded_sample_is_refused():
    members = np.array([[1, 0, 0], [1, 1, 0]], bool)  # x_0 can grow without end
    with pytest.raises(CfgraphError, match="unbounded"):
        least_core(members, np.array([0.1, 0.5]), 1.0)
    lc = least_core(members, np.array([0.1, 0.5]), 1.0, non_negative_subsidy=True)
    assert lc.subsidy == 0.0 and lc.values.sum() == pytest.approx(1.0)


def test_missing_cells_and_bad_input():
    v = table(3, lambda s: float(len(s) >= 2))
    v[3] = np.nan
    with pytest.raises(MissingCells, match="1 missing"):
        least_core_table(v)
    v[3] = 1.0
    v[0] = np.nan  # the empty set plays no part
    assert least_core_table(v).exact
    with pytest.raises(CfgraphError, match="at most 12 units"):
        least_core_table(np.zeros(1 << 13))
    with pytest.raises(CfgraphError, match="2\\^n"):
        least_core_table(np.zeros(6))
    with pytest.raises(CfgraphError, match="at least 2 units"):
        least_core_table(np.zeros(2))
    with pytest.raises(CfgraphError, match="disagree"):
        least_core(np.ones((3, 2), bool), np.zeros(2), 1.0)
    with pytest.raises(CfgraphError, match="0/1"):
        least_core(np.full((2, 2), 2), np.zeros(2), 1.0)
    with pytest.raises(CfgraphError, match="finite"):
        least_core(np.eye(2, dtype=bool), np.zeros(2), np.nan)
    with pytest.raises(CfgraphError, match="proper, non-empty"):
        least_core(np.array([[0, 0], [1, 1]], bool), np.zeros(2), 1.0)
    with pytest.raises(CfgraphError, match="proper, non-empty"):
        least_core(np.eye(2, dtype=bool), np.full(2, np.nan), 1.0)
    with pytest.raises(CfgraphError, match="unknown least core point"):
        least_core(np.eye(2, dtype=bool), np.zeros(2), 1.0, point="nucleolus")


def test_result_is_frozen():
    lc = least_core(np.eye(2, dtype=bool), np.zeros(2), 1.0)
    assert isinstance(lc, LeastCore)
    np.testing.assert_allclose(lc.values, [0.5, 0.5])
    with pytest.raises(AttributeError):
        lc.subsidy = 0.0
