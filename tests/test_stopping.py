"""Stopping rules: each limit, composition with | and &, names, and a run driven to a standard-error target."""

from __future__ import annotations

import numpy as np
import pytest

from cfgraph.samplers import make_sampler
from cfgraph.stopping import (AllOf, AnyOf, Exhausted, MaxEvaluations, MaxFits, MaxSeconds, RankStable, State,
                              StderrBelow)
from cfgraph.values.sampled import Estimate, table_utility


def estimate(values, stderr, n_samples=10) -> Estimate:
    values = np.asarray(values, dtype=float)[:, None]
    return Estimate(values, np.asarray(stderr, dtype=float)[:, None], np.full(values.shape, n_samples))


def test_limits():
    state = State(evaluations=100, fits=40, seconds=2.5)
    assert MaxEvaluations(100)(state) and not MaxEvaluations(101)(state)
    assert MaxFits(40)(state) and not MaxFits(41)(state)
    assert MaxSeconds(2.5)(state) and not MaxSeconds(3)(state)
    assert not Exhausted()(state) and Exhausted()(State(exhausted=True))


def test_composition_names_and_reasons():
    rule = MaxEvaluations(5000) | StderrBelow(0.01) | Exhausted()
    assert isinstance(rule, AnyOf) and len(rule.rules) == 3  # flattened
    assert str(rule) == "max_evaluations(5000) | stderr_below(0.01) | exhausted"
    both = MaxFits(10) & (MaxSeconds(60) | MaxEvaluations(7))
    assert isinstance(both, AllOf)
    assert str(both) == "max_fits(10) & (max_seconds(60) | max_evaluations(7))"
    assert not both(State(fits=10)) and both(State(fits=10, evaluations=7))
    assert not both(State(evaluations=7))
    assert rule.reason(State(evaluations=6000, exhausted=True)) == "max_evaluations(5000) | exhausted"
    assert both.reason(State(fits=10, evaluations=7)) == str(both)
    assert "max_fits(10)" in repr(MaxFits(10))
    with pytest.raises(TypeError):
        MaxFits(1) | 3


def test_stderr_below():
    assert not StderrBelow(0.1)(State())
    assert StderrBelow(0.1)(State(estimate=estimate([1, 2], [0.1, 0.05])))
    assert not StderrBelow(0.1)(State(estimate=estimate([1, 2], [0.1, 0.2])))
    assert not StderrBelow(0.1)(State(estimate=estimate([1, 2], [0.0, 0.0], n_samples=1)))  # too few samples
    assert not StderrBelow(0.1)(State(estimate=estimate([1, np.nan], [0.0, np.nan])))
    exact = Estimate(np.ones((2, 1)), np.zeros((2, 1)), np.ones((2, 1), dtype=int), exact=True)
    assert StderrBelow(1e-9)(State(estimate=exact))


def test_rank_stable_reads_estimates_trace_dicts_and_arrays():
    a, b = estimate([0.1, 0.5, 0.3, np.nan], [0.1] * 4), estimate([0.2, 0.6, 0.4, 0.9], [0.1] * 4)
    assert not RankStable()(State(checkpoints=[a]))
    assert RankStable()(State(checkpoints=[a, b]))  # the unit without a value is left out
    assert RankStable(0.99)(State(checkpoints=[{"value": [1, 2, 3]}, {"value": [10, 20, 30]}]))
    assert not RankStable(0.99)(State(checkpoints=[{"value": [1, 2, 3]}, {"value": [30, 20, 10]}]))
    assert RankStable(0.4)(State(checkpoints=[[1, 2, 3, 4], [1, 2, 4, 3]]))  # Spearman 0.8
    assert not RankStable(0.9)(State(checkpoints=[[1, 2, 3, 4], [1, 2, 4, 3]]))
    assert RankStable()(State(checkpoints=[[1, 1, 1], [2, 2, 2]]))
    assert not RankStable()(State(checkpoints=[[1, 1, 1], [1, 2, 3]]))
    assert not RankStable()(State(checkpoints=[[1, np.nan], [1, 2]]))


def test_a_run_stops_at_its_standard_error_target():
    rng = np.random.default_rng(0)
    table = rng.normal(size=1 << 6)
    s = make_sampler("permutation", 6, seed=0, batch=4)
    utility = table_utility(table)
    rule = StderrBelow(0.2) | MaxEvaluations(10_000)
    while True:
        s.update(utility(s.propose()))
        state = State(evaluations=s.evaluations, estimate=s.estimate())
        if rule(state):
            break
    assert rule.reason(state) == "stderr_below(0.2)"
    assert s.estimate().stderr[:, 0].max() <= 0.2
    assert s.evaluations < 10_000
