"""Samplers against exact values: convergence as 1/sqrt(samples), interval coverage, axioms, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import comb
from scipy.stats import t as student_t

from cfgraph import values
from cfgraph.errors import CfgraphError
from cfgraph.samplers import SAMPLERS, make_sampler
from cfgraph.values.sampled import Estimate, RunningMoments, size_distribution, table_utility


def membership(n: int) -> np.ndarray:
    """Every training set of n units by mask: bool (2**n, n)."""
    return ((np.arange(1 << n)[:, None] >> np.arange(n)) & 1).astype(bool)


def random_game(n: int, seed: int = 0, null: bool = False) -> np.ndarray:
    """A random 2^n table with structure: concave in weighted size, a pair interaction, noise.

    Two columns; with ``null`` the last unit is a null player (its cells copy those without it).
    """
    rng = np.random.default_rng(seed)
    m = membership(n)
    weight = rng.uniform(0.2, 1.0, n)
    col0 = np.sqrt(m @ weight) + 0.3 * (m[:, 0] & m[:, 1]) + 0.1 * rng.normal(size=1 << n)
    col1 = m @ rng.normal(size=n) + 0.5 * rng.normal(size=1 << n)
    table = np.stack([col0, col1], axis=1)
    if null:
        table = table[np.arange(1 << n) & ~(1 << (n - 1))]
    return table


def glove_game(left: int, right: int) -> np.ndarray:
    """u(S) = pairs of gloves in S: min(left gloves, right gloves)."""
    m = membership(left + right)
    return np.minimum(m[:, :left].sum(1), m[:, left:].sum(1)).astype(float)


def drive(sampler, utility, proposals: int):
    """Propose and update ``proposals`` times (fewer if the sampler runs out)."""
    for _ in range(proposals):
        members = sampler.propose()
        if members is None:
            break
        sampler.update(utility(members))
    return sampler.estimate()


def exact(table: np.ndarray, method: str) -> np.ndarray:
    if method == "shapley":
        return values.shapley(table)
    if method == "banzhaf":
        return values.banzhaf(table)
    if method.startswith("beta("):
        alpha, beta = (float(x) for x in method[5:-1].split(","))
        return values.beta_shapley(table, alpha, beta)
    raise AssertionError(method)


# name, params, n, proposals at budget B (4B proposals hold four times as many samples)
ESTIMATORS = [
    ("permutation", dict(batch=2), 10, 4),
    ("tmc", dict(batch=16, tol=0.0), 11, 11),  # [N, ∅], then n - 1 lockstep proposals per batch
    ("msr", dict(batch=50), 12, 8),
    ("stratified", dict(strata=12, batch=144), 12, 4),
    ("stratified", dict(semivalue="beta", alpha=4, beta=1, strata=11, batch=121), 11, 4),
    ("uniform", dict(batch=120), 12, 4),
]


@pytest.mark.parametrize("name, params, n, budget", ESTIMATORS,
                         ids=[f"{e[0]}-{e[1].get('semivalue', '')}" for e in ESTIMATORS])
def test_error_shrinks_as_one_over_root_samples_and_intervals_cover(name, params, n, budget):
    table = random_game(n, seed=n)
    utility = table_utility(table)
    errors = {1: [], 4: []}
    covered = []
    for rep in range(50):
        s = make_sampler(name, n, seed=rep, columns=2, **params)
        truth = exact(table, s.method)
        small = drive(s, utility, budget)
        errors[1].append(small.values - truth)
        large = drive(s, utility, 3 * budget)  # 4B in all
        errors[4].append(large.values - truth)
        low, high = large.interval(0.95)
        covered.append((low - 1e-12 <= truth) & (truth <= high + 1e-12))
    rmse = {k: np.sqrt(np.mean(np.square(v))) for k, v in errors.items()}
    # Observed over 3 games x 2 seed ranges: ratios 1.87 .. 2.14, coverage 0.93 .. 0.99
    # (the stratified sampler's i.i.d. standard error is conservative).
    assert 1.6 <= rmse[1] / rmse[4] <= 2.5, rmse
    assert 0.85 <= np.mean(covered) <= 0.995


def test_glove_game_shapley_by_permutations_and_stratified():
    table = glove_game(3, 7)  # the scarce left gloves are worth more
    truth = values.shapley(table)
    for name, params in (("permutation", dict(batch=50)), ("stratified", dict(strata=10, batch=1000))):
        e = drive(make_sampler(name, 10, seed=3, **params), table_utility(table), 4)
        low, high = e.interval()
        assert np.mean((low[:, 0] <= truth) & (truth <= high[:, 0])) >= 0.8
        assert np.abs(e.values[:, 0] - truth).max() < 0.1
        assert e.values[:3, 0].min() > e.values[3:, 0].max()


@pytest.mark.parametrize("name, params", [("permutation", {}), ("tmc", dict(tol=0.0))])
def test_permutation_estimates_are_efficient(name, params):
    table = random_game(8, seed=1)
    e = drive(make_sampler(name, 8, seed=2, columns=2, **params), table_utility(table), 20)
    np.testing.assert_allclose(e.values.sum(axis=0), table[-1] - table[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, params", [("permutation", {}), ("tmc", {}), ("stratified", {}),
                                          ("stratified", dict(semivalue="beta", alpha=4, beta=1)),
                                          ("uniform", {}), ("uniform", dict(semivalue="shapley")), ("loo", {})])
def test_null_player_gets_exactly_zero(name, params):
    table = random_game(7, seed=4, null=True)
    e = drive(make_sampler(name, 7, seed=5, columns=2, **params), table_utility(table), 20)
    assert (e.values[-1] == 0).all() and (e.stderr[-1] == 0).all()
    assert (e.n_samples[-1] >= 1).all()


def test_leave_one_out_is_exact():
    table = random_game(6, seed=2)
    s = make_sampler("loo", 6, columns=2)
    e = drive(s, table_utility(table), 5)
    np.testing.assert_allclose(e.values, values.leave_one_out(table), rtol=0, atol=1e-15)
    assert e.exact and (e.stderr == 0).all() and (e.n_samples == 1).all()
    low, high = e.interval()
    assert (low == e.values).all() and (high == e.values).all()
    assert s.evaluations == 7 and s.propose() is None


def test_tmc_truncates_in_every_column():
    # u(S) = 1 for every non-empty S: each permutation stops after its first unit, whose
    # contribution is 1; the second column (|S|) then scores 0 for the rest, as the first does.
    m = membership(6)
    table = np.stack([m.any(1).astype(float), m.sum(1).astype(float)], axis=1)
    s = make_sampler("tmc", 6, seed=0, columns=2, batch=40, tol=0.01)
    e = drive(s, table_utility(table), 2)  # [N, ∅], then one lockstep step
    assert s.evaluations == 2 + 6  # the ends and the singletons only
    np.testing.assert_array_equal(e.values[:, 0], e.values[:, 1])
    assert e.n_samples[:, 0].tolist() == [40] * 6
    assert abs(e.values[:, 0].sum() - 1) < 1e-12


def test_stratified_size_distribution_is_the_semivalue_weight():
    n = 9
    binom = comb(n - 1, np.arange(n))
    for kind, a, b in (("shapley", 1, 1), ("banzhaf", 1, 1), ("beta", 4, 1), ("beta", 16, 1)):
        np.testing.assert_allclose(size_distribution(n, kind, a, b),
                                   values.semivalue_weights(n, kind, a, b) * binom, rtol=1e-10)
        assert abs(size_distribution(n, kind, a, b).sum() - 1) < 1e-12
    assert size_distribution(3000, "banzhaf").sum() == pytest.approx(1)


@pytest.mark.parametrize("name, params", [("permutation", {}), ("tmc", {}), ("msr", {}), ("stratified", {}),
                                          ("uniform", dict(semivalue="beta", alpha=4, beta=1)), ("loo", {})])
def test_same_seed_same_proposals_and_estimates(name, params):
    utility = table_utility(random_game(8, seed=3))
    runs = []
    for _ in range(2):
        s = make_sampler(name, 8, seed=7, columns=2, **params)
        proposals = []
        for _ in range(6):
            members = s.propose()
            if members is None:
                break
            proposals.append(members)
            s.update(utility(members))
        runs.append((np.concatenate(proposals), s.estimate(), s.evaluations))
    (p1, e1, n1), (p2, e2, n2) = runs
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(e1.values, e2.values)
    np.testing.assert_array_equal(e1.stderr, e2.stderr)
    assert n1 == n2 and n1 == len(set(map(bytes, np.packbits(p1, axis=1))))


@pytest.mark.parametrize("name, params, small, large, total", [
    ("permutation", {}, 3, 7, 21), ("tmc", {}, 3, 7, 21), ("msr", {}, 30, 70, 2100),
    ("stratified", dict(strata=4), 8, 20, 160), ("uniform", {}, 30, 70, 2100)])
def test_estimates_do_not_depend_on_the_batch_split(name, params, small, large, total):
    # The same samples grouped into different proposals: the same training sets in the same
    # order (tmc runs in lockstep, so only its estimates compare) and bit-for-bit the same estimates.
    utility = table_utility(random_game(12, seed=6))
    results = []
    for batch in (small, large):
        s = make_sampler(name, 12, seed=11, columns=2, batch=batch, **params)
        proposals = []
        while (s.estimate().n_samples.max() < total if name == "tmc" else len(proposals) < total // batch):
            proposals.append(s.propose())
            s.update(utility(proposals[-1]))
        results.append((np.concatenate(proposals), s.estimate()))
    (p1, e1), (p2, e2) = results
    if name != "tmc":
        np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(e1.values, e2.values)
    np.testing.assert_array_equal(e1.stderr, e2.stderr)
    np.testing.assert_array_equal(e1.n_samples, e2.n_samples)


def test_resumed_run_equals_uninterrupted_and_fits_only_what_is_missing():
    table = table_utility(random_game(9, seed=8))
    bits = 1 << np.arange(9)

    def stored_first(store, fits):
        def utility(members):  # a store: a training set is fitted once, then read
            masks = set((members.astype(np.int64) @ bits).tolist())
            fits.append(len(masks - store))
            store.update(masks)
            return table(members)
        return utility

    everything, fits = set(), []
    whole = drive(make_sampler("tmc", 9, seed=4, columns=2, tol=0.05), stored_first(everything, fits), 30)
    store = set()
    drive(make_sampler("tmc", 9, seed=4, columns=2, tol=0.05), stored_first(store, []), 12)  # killed after 12 proposals
    killed, fits = set(store), []
    resumed = make_sampler("tmc", 9, seed=4, columns=2, tol=0.05)
    again = drive(resumed, stored_first(store, fits), 30)
    np.testing.assert_array_equal(again.values, whole.values)
    np.testing.assert_array_equal(again.stderr, whole.stderr)
    assert store == everything and resumed.evaluations == len(everything)
    assert sum(fits) == len(everything - killed) < resumed.evaluations


def test_failed_cells_are_skipped():
    n = 8
    table = random_game(n, seed=9)[:, :1].copy()
    table[np.random.default_rng(0).choice(1 << n, 40, replace=False)] = np.nan
    table[0] = table[-1] = 1.0
    utility = table_utility(table)
    s = make_sampler("msr", n, seed=1, batch=500)
    members = s.propose()
    u = utility(members)
    s.update(u)
    e = s.estimate()
    ok = ~np.isnan(u[:, 0])
    for i in range(n):
        inside, outside = u[ok & members[:, i], 0], u[ok & ~members[:, i], 0]
        assert e.values[i, 0] == pytest.approx(inside.mean() - outside.mean(), rel=1e-12)
        assert e.stderr[i, 0] == pytest.approx(np.sqrt(inside.var(ddof=1) / len(inside)
                                                       + outside.var(ddof=1) / len(outside)), rel=1e-10)
        assert e.n_samples[i, 0] == ok.sum()
    p = drive(make_sampler("permutation", n, seed=1, batch=20), utility, 1)
    assert np.isfinite(p.values).all() and (p.n_samples < 20).any() and (p.n_samples > 0).all()


def test_running_moments_match_numpy_whatever_the_chunks():
    rng = np.random.default_rng(2)
    units = rng.integers(0, 5, 300)
    x = rng.normal(size=(300, 2)) * 1e3 + 1e6  # a large offset: the merge must not lose precision
    x[rng.random((300, 2)) < 0.1] = np.nan
    m = RunningMoments(5, 2)
    for chunk in np.array_split(np.arange(300), [1, 7, 100, 101, 250]):
        m.add_indexed(units[chunk], x[chunk])
    sets = np.zeros((300, 5), bool)
    sets[np.arange(300), units] = True
    by_sets = RunningMoments(5, 2)
    for chunk in np.array_split(np.arange(300), 3):
        by_sets.add_sets(sets[chunk], x[chunk])
    for i in range(5):
        xi = x[units == i]
        for est in (m.estimate(), by_sets.estimate()):
            np.testing.assert_allclose(est.values[i], np.nanmean(xi, axis=0), rtol=1e-12)
            np.testing.assert_allclose(est.stderr[i], np.nanstd(xi, axis=0, ddof=1)
                                       / np.sqrt((~np.isnan(xi)).sum(0)), rtol=1e-6)
            assert est.n_samples[i].tolist() == (~np.isnan(xi)).sum(0).tolist()


def test_estimate_interval():
    e = Estimate(np.array([[1.0, 2.0, 3.0, 4.0]]).T, np.array([[0.5, 0.0, np.nan, 0.5]]).T,
                 np.array([[10, 10, 1, 0]]).T)
    low, high = e.interval(0.9)
    half = student_t.ppf(0.95, 9) * 0.5
    assert low[:, 0].tolist()[:2] == [1.0 - half, 2.0] and high[1, 0] == 2.0
    assert np.isnan(low[2:, 0]).all() and np.isnan(high[2:, 0]).all()
    assert Estimate.empty(3, 2).values.shape == (3, 2)
    with pytest.raises(CfgraphError):
        e.interval(1.0)


def test_bad_input_is_refused():
    with pytest.raises(CfgraphError, match="unknown sampler"):
        make_sampler("bootstrap", 4)
    with pytest.raises(CfgraphError, match="takes no parameter 'tol'"):
        make_sampler("msr", 4, tol=0.1)
    for name, params in (("tmc", dict(tol=-1)), ("permutation", dict(batch=0)), ("msr", dict(batch=2.5)),
                         ("stratified", dict(semivalue="owen")), ("stratified", dict(semivalue="beta", alpha=0)),
                         ("uniform", dict(alpha="x"))):
        with pytest.raises(CfgraphError):
            make_sampler(name, 4, **params)
    with pytest.raises(CfgraphError):
        make_sampler("msr", 0)
    with pytest.raises(CfgraphError, match="seed"):
        make_sampler("msr", 3, seed=-1)
    assert make_sampler("tmc", 3, tol=None).params["tol"] == 0.01  # None: the default
    s = make_sampler("msr", 4, batch=3, columns=2)
    with pytest.raises(CfgraphError, match="nothing was proposed"):
        s.update(np.zeros((3, 2)))
    s.propose()
    with pytest.raises(CfgraphError, match="before proposing again"):
        s.propose()
    with pytest.raises(CfgraphError, match=r"\(3, 2\)"):
        s.update(np.zeros((3, 1)))
    assert set(SAMPLERS) == {"permutation", "tmc", "msr", "stratified", "uniform", "loo"}
    assert np.isnan(make_sampler("permutation", 4).estimate().values).all()


@pytest.mark.parametrize("name", ["permutation", "tmc", "msr", "stratified", "uniform"])
def test_a_sampler_that_has_asked_for_every_training_set_stops(name):
    # The budget counts distinct training sets: on a small lattice it could never be reached.
    table = random_game(3, seed=1)
    s = make_sampler(name, 3, seed=0, columns=2)
    e = drive(s, table_utility(table), 1000)
    assert s.saturated and s.evaluations == 8 and s.propose() is None
    assert np.isfinite(e.values).all() and (e.n_samples > 0).all()
    one = make_sampler(name, 1, columns=2)
    e1 = drive(one, table_utility(np.array([[0.0, 1.0], [2.0, 5.0]])), 1000)
    assert e1.values.tolist() == [[2.0, 4.0]] and one.evaluations == 2
