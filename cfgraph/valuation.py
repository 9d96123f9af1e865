"""Sampled valuation: a sampler's training sets, asked of the store first, fitted only when missing.

A valuation is a sampler (which training sets to evaluate next) x a semivalue
(how their cells become values) x a stopping rule, as in pyDVL; what cfgraph
adds is the store underneath. Every training set a sampler proposes is looked
up first: a stored one costs nothing, the rest are fitted in batches through
the same engine as an exhaustive world (:func:`cfgraph.evaluate.run`: every
slice, metric and seed scored, each batch one transaction). A run killed
halfway keeps its cells; re-run with the same seed, the sampler proposes the
same training sets, finds the finished ones stored and ends with the same
values. Later samplers, slices and questions reuse every cell.

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

from cfgraph import bitsets, lattice, stopping
from cfgraph.errors import CfgraphError
from cfgraph.samplers import SAMPLERS, make_sampler
from cfgraph.store import catalog, cells, estimates, nodes
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


class _StoredWorld:
    """A world's cells as a utility: the store first, the engine for what is missing."""

    def __init__(self, store, world, columns: list[Column], metrics: list[str], seeds: list[int], executor):
        self.store, self.name, self.n = store, world.name, world.n_units
        self.columns, self.metrics, self.seeds = columns, metrics, seeds
        self.slices = [s.name for s in world.slices]
        self.fits = self.reused = 0
        self.executor = executor
        self.lattice = world.lattice
        self._problem = None
        self._sink = None
        self._index = None
        self._spec = world.spec
        self._kind = world.kind
        # Column j reads cell (seed index, slice position, metric index); seed None averages the seeds.
        self._pick = [(None if c.seed is None else seeds.index(c.seed), self.slices.index(c.slice),
                       metrics.index(c.metric)) for c in columns]

    def _problem_of(self):
        if self._problem is None:
            from cfgraph.worlds import check_stored_spec, prepare

            if self._kind != "trained" or not self._spec:
                raise CfgraphError(f"world {self.name!r} has no model to fit missing training sets with "
                                   f"(it is {self._kind}); only its stored cells can be sampled")
            self._problem = prepare(check_stored_spec(self._spec)).problem
        return self._problem

    def _cells(self, members: np.ndarray, digests: np.ndarray):
        """Stored cells of training sets: values and presence, (b, seeds, slices, metrics).

        Training sets whose digest is not in the world's node index (read once, then kept up to
        date by every write of this valuation) are known not to be stored, so a round that only
        visits new training sets costs no read. (A training set another run stores meanwhile is
        fitted again, to the same cells, which the store keeps once.)
        """
        values = np.full((len(members), len(self.seeds), len(self.slices), len(self.metrics)), np.nan)
        present = np.zeros(values.shape, dtype=bool)
        with self.store.session() as session:
            world = catalog.get_world(session, self.name)
            if self._index is None:
                self._index = nodes.NodeIndex()
                self._index.refresh(session, world)
            maybe = np.isin(digests, self._index.stored[:, 0])
            if not maybe.any():
                return values, present
            ids = np.full(len(members), -1, dtype=np.int64)
            ids[maybe] = nodes.find_nodes(session, world, members[maybe])
            known = ids >= 0
            if known.any():
                values[known], present[known] = cells.cells_of_nodes(session, world, ids[known], self.metrics,
                                                                     self.seeds)
        return values, present

    def __call__(self, members: np.ndarray) -> np.ndarray:
        members = np.asarray(members, dtype=bool)
        digests = bitsets.digest(members)
        unique, first, inverse = np.unique(digests, return_index=True, return_inverse=True)
        distinct = members[first]
        values, present = self._cells(distinct, unique)
        todo = ~present.all(axis=(2, 3))  # (sets, seeds): a fit per seed still to make
        need = todo.any(axis=1)
        self.reused += int((~need).sum())
        if need.any():
            rows = self._fit(distinct, todo)
            self.fits += int(need.sum())
            # The cells just written are the ones fitted: fill them in without reading them back.
            row_of = {bitsets.to_mask(distinct[k]): k for k in np.flatnonzero(need)}
            seed_of = {s: i for i, s in enumerate(self.seeds)}
            metric_of = {m: i for i, m in enumerate(self.metrics)}
            for r in rows:
                values[row_of[r["mask"]], seed_of[r["seed"]], r["slice"], metric_of[r["metric"]]] = \
                    np.nan if r["value"] is None else r["value"]
        out = np.empty((len(distinct), len(self.columns)))
        for j, (si, p, mi) in enumerate(self._pick):
            out[:, j] = values[:, :, p, mi].mean(axis=1) if si is None else values[:, si, p, mi]
        return out[inverse.ravel()]

    def _fit(self, members: np.ndarray, todo: np.ndarray) -> list[dict]:
        """Fit the missing (training set, seed) pairs in one engine run; the rows it stored."""
        from cfgraph import evaluate
        from cfgraph.store.sink import SampledSink

        problem = self._problem_of()
        if self._sink is None:
            self._sink = _Recorder(SampledSink.open(self.store, self.name, self.metrics, self.seeds))
        self._sink.sink._index = self._index  # one index of the world's nodes, kept by every write
        wanted = tuple((p, m) for p in range(len(self.slices)) for m in self.metrics)
        tasks = [evaluate.Task(bitsets.to_mask(members[k]), int(self.seeds[si]), wanted)
                 for k, si in zip(*np.nonzero(todo))]
        self._sink.rows = []
        # One batch per worker: each batch is one transaction, and a round is a few dozen fits.
        chunk = -(-len(tasks) // self.executor.workers)
        evaluate.run(tasks, problem, self._sink, self.executor, progress=False, chunk=chunk)
        return self._sink.rows

    def finish(self) -> None:
        """Mark the world's last fitting time, once per valuation that fitted anything."""
        if self._sink is not None:
            self._sink.sink.finish()


class _Recorder:
    """A sink that passes rows on to the store and keeps them (so they need not be read back)."""

    def __init__(self, sink):
        self.sink, self.rows, self.stored = sink, [], sink.stored

    def write(self, rows: list[dict]) -> None:
        self.sink.write(rows)
        self.rows.extend(rows)

    def finish(self) -> None:  # once per valuation, not per round
        pass


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
        source = _StoredWorld(store, world, columns, metrics, seeds, executor)
        if source.lattice == "exhaustive":
            table, missing = _exhaustive_table(session, world, columns, seeds)
            utility = _complete_only(table_utility(table), missing, world)
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
        with store.transaction() as session:
            world = catalog.get_world(session, world_name)
            result.valuation_id = estimates.write_valuation(
                session, world, method=result.method, params=result.params, sampler_seed=seed,
                evaluations=result.evaluations, fits=result.fits, reused=result.reused, seconds=result.seconds,
                stopped_by=result.stopped_by, trace=trace, rows=result.rows())
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


def _exhaustive_table(session, world, columns: list[Column], seeds: list[int]) -> np.ndarray:
    """An exhaustive world's cells as value columns: shape (2**n, len(columns)), NaN where missing or failed,
    and which training sets miss a cell of some column: bool (2**n,).

    One query per (metric, seed) read, whatever the number of columns.
    """
    tables = {}
    out = np.empty((1 << world.n_units, len(columns)))
    missing = np.zeros(1 << world.n_units, dtype=bool)
    for j, column in enumerate(columns):
        stack = []
        for seed in (seeds if column.seed is None else [column.seed]):
            if (column.metric, seed) not in tables:
                tables[column.metric, seed] = cells.lattice_table(session, world, column.metric, seed)
            table = tables[column.metric, seed]
            stack.append(table.column(column.slice))
            missing |= table.status[:, table.slices.index(column.slice)] == ""  # not stored (failed is stored)
        out[:, j] = np.mean(stack, axis=0)
    return out, missing


def _complete_only(utility, missing: np.ndarray, world):
    """``utility`` that refuses training sets whose cells are not stored (an imported grid's gaps).

    A failed cell is stored (NaN, skipped by the estimators); a missing one is unknown, and
    sampling around it would make up an estimate the cells cannot support.
    """
    if not missing.any():
        return utility
    letters = [u.label for u in world.units]
    name, count = world.name, int(missing.sum())
    weights = 1 << np.arange(world.n_units, dtype=np.int64)

    def checked(members):
        masks = np.asarray(members, dtype=np.int64) @ weights
        gaps = masks[missing[masks]]
        if len(gaps):
            shown = ", ".join(lattice.mask_label(int(m), letters) for m in np.unique(gaps)[:5])
            raise CfgraphError(f"world {name!r} lacks the cells of {count} training sets that a sampler may ask "
                               f"for (e.g. {shown}); a sampler on an exhaustive world draws from stored cells only")
        return utility(members)

    return checked
