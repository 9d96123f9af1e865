"""Sampled valuation: a sampler's training sets, asked of the store first, fitted only when missing.

A valuation is a sampler (which training sets to evaluate next) x a semivalue
(how their cells become values) x a stopping rule, as in pyDVL; what cfgraph
adds is the store underneath. Every training set a sampler proposes is looked
up first: a stored one costs nothing, the rest are fitted in batches through
the same engine as an exhaustive world (:func:`cfgraph.evaluate.run`: every
slice, metric and seed scored), and stored in transactions of a few hundred
fits (:data:`FLUSH_FITS`, or every :data:`FLUSH_SECONDS`, and at the end). A
run killed halfway keeps the cells of its transactions; re-run with the same
seed, the sampler proposes the same training sets, finds those stored, refits
the rest to the same cells and ends with the same values. Later samplers,
slices and questions reuse every cell.

On an exhaustive world the same samplers draw from the stored table and fit
nothing: that is how their convergence and coverage are tested against the
exact values.

Each unit's estimate comes per column: every (slice, metric, seed) of the
world, plus the mean over seeds when there are several. Column 0, the
*target* (the slice of every test row, the world's metric, the mean over
seeds), drives truncation and the stopping rules.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from cfgraph import stopping
from cfgraph.errors import CfgraphError
from cfgraph.samplers import SAMPLERS, make_sampler
from cfgraph.store import catalog, cells, estimates
from cfgraph.stored_utility import StoredWorld, complete_only, exhaustive_table
from cfgraph.values.sampled import Estimate, table_utility

__all__ = ["Column", "Valuation", "estimate", "stopping_rule", "columns_of"]

#: The largest budget, number of fits or seconds a stopping rule takes (beyond it, a run never ends).
MAX_LIMIT = 1e12
#: Checkpoints kept in a valuation's trace (for the convergence chart and rank stability).
TRACE_POINTS = 25


@dataclass(frozen=True)
class Column:
    """One value column: a slice, a metric, and a seed (None: the mean over the world's seeds)."""

    slice: str
    metric: str
    seed: int | None


@dataclass
class Valuation:
    """What one sampled valuation found.

    Attributes
    ----------
    estimate : Estimate
        values, stderr and n_samples, shape (n, len(columns)).
    columns : list of Column
        Column 0 is the target (it drove truncation and stopping).
    evaluations : int
        Training sets the sampler used, stored or new.
    fits : int
        Training sets fitted by this valuation (each for every seed).
    reused : int
        Training sets found stored (``evaluations - fits``).
    """

    world: str
    sampler: str
    method: str
    params: dict
    units: list[str]
    columns: list[Column]
    estimate: Estimate
    evaluations: int = 0
    fits: int = 0
    reused: int = 0
    seconds: float = 0.0
    stopped_by: str = ""
    trace: list = field(default_factory=list)
    valuation_id: int | None = None

    def save(self, store, sampler_seed: int | None) -> int:
        """Store this valuation and its estimates (tables ``valuation`` and ``estimate``) in one
        transaction; sets and returns :attr:`valuation_id`."""
        with store.transaction() as session:
            world = catalog.get_world(session, self.world)
            self.valuation_id = estimates.write_valuation(
                session, world, method=self.method, params=self.params, sampler_seed=sampler_seed,
                evaluations=self.evaluations, fits=self.fits, reused=self.reused, seconds=self.seconds,
                stopped_by=self.stopped_by, trace=self.trace, rows=self.rows())
        return self.valuation_id

    def rows(self, level: float = 0.95) -> list[dict]:
        """One record per (unit, column): value, stderr, n_samples and the ``level`` interval."""
        low, high = self.estimate.interval(level)
        out = []
        for j, col in enumerate(self.columns):
            for i, unit in enumerate(self.units):
                out.append({"unit_idx": i, "unit": unit, "method": self.method, "slice": col.slice, "metric": col.metric, "seed": col.seed,
                            "value": _num(self.estimate.values[i, j]), "stderr": _num(self.estimate.stderr[i, j]),
                            "n_samples": int(self.estimate.n_samples[i, j]),
                            "ci_low": _num(low[i, j]), "ci_high": _num(high[i, j])})
        return out


def _rounded(values: np.ndarray) -> list:
    """A trace's numbers to 4 significant digits (what a chart shows; a 2,000-unit trace stays under 1 MB)."""
    return [None if not np.isfinite(x) else float(f"{x:.4g}") for x in values.tolist()]


def _num(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def columns_of(slices: list[str], metrics: list[str], seeds: list[int], target_slice: str | None = None,
               target_metric: str | None = None) -> list[Column]:
    """The value columns of a world, the target first.

    The target is ``target_slice`` (default: ``all`` when the world has it,
    else the first slice) with ``target_metric`` (default: the first metric),
    on the mean over seeds when there are several.

    Examples
    --------
    >>> [tuple(c.__dict__.values()) for c in columns_of(["A", "all"], ["accuracy"], [0])]
    [('all', 'accuracy', 0), ('A', 'accuracy', 0)]
    >>> len(columns_of(["all"], ["accuracy"], [0, 1]))
    3
    """
    target_slice = target_slice or ("all" if "all" in slices else slices[0])
    target_metric = target_metric or metrics[0]
    if target_slice not in slices:
        raise CfgraphError(f"no slice {target_slice[:60]!r} (slices: {', '.join(slices)[:200]})")
    if target_metric not in metrics:
        raise CfgraphError(f"no metric {target_metric[:60]!r} (metrics: {', '.join(metrics)})")
    seed_choices = ([None] if len(seeds) > 1 else []) + list(seeds)
    cols = [Column(s, m, seed) for seed in seed_choices for s in slices for m in metrics]
    first = Column(target_slice, target_metric, None if len(seeds) > 1 else seeds[0])
    return [first] + [c for c in cols if c != first]


def stopping_rule(*, budget: int | None = None, max_fits: int | None = None, seconds: float | None = None,
                  stderr: float | None = None, rank_stable: float | None = None,
                  sampler: str | None = None) -> stopping.StoppingRule:
    """The rule that stops at the first of the given limits (and whenever the sampler is exhausted).

    Raises
    ------
    CfgraphError
        On no limit at all (except for the ``loo`` sampler, which ends by itself), or a
        limit that is not positive.

    Examples
    --------
    >>> str(stopping_rule(budget=100, stderr=0.01))  # doctest: +ELLIPSIS
    '...'
    """
    rules = []
    for value, make, what in ((budget, stopping.MaxEvaluations, "a budget of training sets"),
                              (max_fits, stopping.MaxFits, "a number of fits"),
                              (seconds, stopping.MaxSeconds, "a time budget"),
                              (stderr, stopping.StderrBelow, "a standard-error target"),
                              (rank_stable, stopping.RankStable, "a rank-stability threshold")):
        if value is None:
            continue
        try:
            finite = math.isfinite(float(value)) and float(value) <= MAX_LIMIT
        except (OverflowError, TypeError, ValueError):
            finite = False
        if not finite or not value > 0:
            raise CfgraphError(f"{what} must be a positive number up to {MAX_LIMIT:.0e}, not {str(value)[:30]}")
        rules.append(make(value))
    rule = stopping.Exhausted()
    for r in rules:
        rule = rule | r
    if not rules and sampler != "loo":
        raise CfgraphError("give a stopping rule: a budget of training sets, a number of fits, a time budget, a "
                           "standard-error target or a rank-stability threshold")
    return rule


def estimate(store, world_name: str, sampler: str = "tmc", *, budget: int | None = None,
             max_fits: int | None = None, seconds: float | None = None, stderr: float | None = None,
             rank_stable: float | None = None, seed: int = 0, jobs: int = 1, executor=None,
             slice: str | None = None, metric: str | None = None, progress: bool | None = None,
             save: bool = True, **params) -> Valuation:
    """Estimate every unit's value with a sampler, asking the store before fitting anything.

    Parameters
    ----------
    store : cfgraph.store.Store
    world_name : str
    sampler : str
        One of :data:`cfgraph.samplers.SAMPLERS`: ``permutation`` (antithetic
        pairs; Mitchell et al. 2022), ``tmc`` (truncated Monte Carlo; Ghorbani
        & Zou 2019), ``msr`` (Maximum Sample Reuse Banzhaf; Wang & Jia 2023),
        ``stratified`` (size-stratified Shapley or Beta Shapley; Kwon & Zou
        2022), ``uniform`` (uniform coalitions) or ``loo`` (exact
        leave-one-out, n + 1 training sets).
    budget, max_fits, seconds, stderr, rank_stable
        Stopping rules; the first one met stops (:func:`stopping_rule`).
        ``budget`` counts training sets used, stored or new.
    seed : int
        The sampler's seed: the same seed proposes the same training sets.
    jobs : int
        Parallel fits of missing training sets.
    slice, metric : str, optional
        The target column (default: slice ``all`` and the world's metric).
    save : bool
        Store the estimates (tables ``valuation`` and ``estimate``).
    **params
        The sampler's own parameters (``tol`` of TMC, ``semivalue``,
        ``alpha`` and ``beta`` of the stratified sampler, ``batch``).

    Returns
    -------
    Valuation

    Raises
    ------
    CfgraphError
        On an unknown sampler or parameter, no stopping rule, an unknown
        slice or metric, or missing training sets of a world without a model.
    NotFound
        If there is no such world.

    References
    ----------
    Ghorbani & Zou, "Data Shapley: Equitable Valuation of Data for Machine Learning", ICML 2019.
    Mitchell, Cooper, Frank & Holmes, "Sampling Permutations for Shapley Value Estimation", JMLR 2022.
    Wang & Jia, "Data Banzhaf: A Robust Data Valuation Framework for Machine Learning", AISTATS 2023.
    Kwon & Zou, "Beta Shapley: a Unified and Noise-reduced Data Valuation Framework", AISTATS 2022.

    Examples
    --------
    >>> from cfgraph.store import open_store
    >>> from cfgraph.worlds import build_world, make_spec
    >>> store = open_store("sqlite://")
    >>> _ = build_world(store, "iris", make_spec(dataset="iris", units=4, model="gnb"), progress=False)
    >>> v = estimate(store, "iris", "loo")
    >>> v.fits, v.evaluations, v.stopped_by
    (0, 5, 'exhausted')
    """
    if sampler not in SAMPLERS:
        raise CfgraphError(f"unknown sampler {str(sampler)[:40]!r} (samplers: {', '.join(SAMPLERS)})")
    rule = stopping_rule(budget=budget, max_fits=max_fits, seconds=seconds, stderr=stderr, rank_stable=rank_stable,
                         sampler=sampler)
    from cfgraph.executors import Executor

    executor = executor or Executor(jobs=jobs)
    with store.session() as session:
        world = catalog.get_world(session, world_name)
        metrics, seeds = cells.metrics_and_seeds(session, world)
        columns = columns_of([s.name for s in world.slices], metrics, seeds, slice, metric)
        units = [u.label for u in world.units]
        n = world.n_units
        source = StoredWorld(store, world, columns, metrics, seeds, executor)
        if source.lattice == "exhaustive":
            table, missing = exhaustive_table(session, world, columns, seeds)
            utility = complete_only(table_utility(table), missing, world)
        else:
            utility = source
    if params.get("batch") is None:
        params.update(_default_batch(sampler, n, min([x for x in (budget, max_fits) if x is not None], default=None)))
    s = make_sampler(sampler, n, seed=seed, columns=len(columns), **params)
    started = time.perf_counter()
    trace, checkpoints = [], []
    every = max(1, (budget or 20 * n) // TRACE_POINTS)
    next_checkpoint = every
    stopped_by = ""
    bar = tqdm(total=budget, desc=f"{sampler} {world_name}", unit="set",
               disable=not (sys.stderr.isatty() if progress is None else progress))
    try:
        while True:
            batch = s.propose()
            if batch is None:
                stopped_by = "exhausted"
                break
            before = s.evaluations
            s.update(utility(batch))
            bar.update(s.evaluations - before)
            fits = source.fits if utility is source else 0
            current = s.estimate()
            if s.evaluations >= next_checkpoint:
                next_checkpoint = s.evaluations + every
                checkpoints.append(current)
                trace.append({"evaluations": s.evaluations, "fits": fits,
                              "value": _rounded(current.values[:, 0]), "stderr": _rounded(current.stderr[:, 0])})
            if n <= 62 and s.evaluations >= 1 << n:  # a budget of distinct training sets can no longer grow
                stopped_by = f"every one of the 2^{n} training sets evaluated"
                break
            state = stopping.State(evaluations=s.evaluations, fits=fits, seconds=time.perf_counter() - started,
                                   estimate=current, checkpoints=checkpoints)
            if rule(state):
                stopped_by = rule.reason(state) if hasattr(rule, "reason") else str(rule)
                break
    finally:
        bar.close()
        source.finish()
    final = s.estimate()
    fits = source.fits if utility is source else 0
    result = Valuation(world=world_name, sampler=sampler, method=s.method, params={"sampler": sampler, **s.params},
                       units=units, columns=columns, estimate=final, evaluations=s.evaluations, fits=fits,
                       reused=s.evaluations - fits, seconds=time.perf_counter() - started, stopped_by=stopped_by,
                       trace=trace)
    if save:
        result.save(store, seed)
    return result


def _default_batch(sampler: str, n: int, limit: int | None) -> dict:
    """A proposal size that a budget of ``limit`` training sets passes by at most one small batch
    (about an eighth of the budget, or one permutation pair).

    Examples
    --------
    >>> _default_batch("msr", 100, 40), _default_batch("permutation", 9, 100), _default_batch("loo", 9, 5)
    ({'batch': 5}, {'batch': 5}, {})
    """
    if sampler == "tmc":
        # Permutations run in lockstep, one prefix each per round: a bigger batch means fewer rounds (each a
        # transaction) but more permutations still running, and dropped, when the budget ends. A permutation
        # may take up to n + 1 training sets, so a small budget on many units runs few at a time.
        limit = limit or 2560
        return {"batch": int(np.clip(min(limit // 40, limit // (n + 1)), 2, 64))}
    if limit is None or sampler == "loo":
        return {}
    if sampler == "permutation":  # a pair of permutations is 2 (n + 1) training sets
        return {"batch": int(max(1, min(1024 // (n + 1), limit // (2 * (n + 1)))))}
    if sampler == "msr":
        return {"batch": int(max(1, min(64, limit // 8)))}
    # stratified and uniform propose pairs S, S + i
    return {"batch": int(max(1, min(64, limit // 16)))}
