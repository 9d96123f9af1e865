"""A world's cells as a utility: the store first, the engine for what is missing.

:class:`StoredWorld` answers "what are the column values of these training
sets" for any sampler or method: training sets this valuation already
evaluated are remembered, stored ones are read (one query per round, none when
the node index shows they are new), and the rest are fitted through
:func:`cfgraph.evaluate.run` and stored by :class:`HeldSink` in transactions of
:data:`FLUSH_FITS` fits. :func:`exhaustive_table` reads an exhaustive world's
table as the same columns, and :func:`complete_only` refuses the training sets
an imported grid lacks.
"""

from __future__ import annotations

import time
from contextlib import ExitStack

import numpy as np

from cfgraph import bitsets, lattice
from cfgraph.errors import CfgraphError
from cfgraph.store import cells, nodes
from cfgraph.store.locks import world_lock

__all__ = ["FLUSH_FITS", "FLUSH_SECONDS", "HeldSink", "StoredWorld", "complete_only", "exhaustive_table"]

#: New fits are stored once this many are held, or once the first held fit is FLUSH_SECONDS old,
#: and at the end of the valuation: a kill -9 loses at most that much fitting, never a value.
FLUSH_FITS = 128
FLUSH_SECONDS = 2.0


class StoredWorld:
    """A world's cells as a utility: the store first, the engine for what is missing."""

    def __init__(self, store, world, columns: list, metrics: list[str], seeds: list[int], executor):
        self.store, self.name, self.n = store, world.name, world.n_units
        self.columns, self.metrics, self.seeds = columns, metrics, seeds
        self.slices = [s.name for s in world.slices]
        self.fits = self.reused = 0
        self.executor = executor
        self.lattice = world.lattice
        # The world's row (its slices loaded), used detached by every read: no ORM load per round.
        self._world = world
        # Column values of every training set this valuation has evaluated, by packed members: a
        # sampler that comes back to one (TMC's short prefixes, a stratified pair) reads nothing.
        self._known: dict[bytes, np.ndarray] = {}
        self._problem = None
        self._sink = None
        self._index = None
        # The world's lock (PostgreSQL), taken at the first fit and released by finish().
        self._lock = ExitStack()
        self._spec = world.spec
        self._kind = world.kind
        # Column j reads cell (seed index, slice position, metric index); seed None averages the seeds.
        self._pick = [(None if c.seed is None else seeds.index(c.seed), self.slices.index(c.slice),
                       metrics.index(c.metric)) for c in columns]

    def _problem_of(self):
        if self._problem is None:
            from cfgraph.worlds import trained_problem

            self._problem = trained_problem(self.name, self._kind, self._spec,
                                            "to fit missing training sets with: only its stored cells can be sampled")
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
        if self._index is None:
            self._index = nodes.NodeIndex()
            with self.store.session() as session:
                self._index.refresh(session, self._world)
        maybe = np.isin(digests, self._index.stored[:, 0])
        if not maybe.any():
            return values, present
        with self.store.session() as session:
            ids = np.full(len(members), -1, dtype=np.int64)
            ids[maybe] = nodes.find_nodes(session, self._world, members[maybe])
            known = ids >= 0
            if known.any():
                values[known], present[known] = cells.cells_of_nodes(session, self._world, ids[known],
                                                                     self.metrics, self.seeds)
        return values, present

    def __call__(self, members: np.ndarray) -> np.ndarray:
        members = np.asarray(members, dtype=bool)
        keys = [row.tobytes() for row in np.packbits(members, axis=1)]
        first = {}
        for k, key in enumerate(keys):
            if key not in self._known:
                first.setdefault(key, k)
        self.reused += len(set(keys)) - len(first)
        if first:
            rows = np.fromiter(first.values(), dtype=np.int64, count=len(first))
            for key, row in zip(first, self._evaluate(members[rows])):
                self._known[key] = row
        return np.array([self._known[key] for key in keys]).reshape(len(keys), len(self.columns))

    def _evaluate(self, distinct: np.ndarray) -> np.ndarray:
        """Column values of distinct training sets not evaluated yet: read if stored, else fitted."""
        values, present = self._cells(distinct, bitsets.digest(distinct))
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
        return out

    def _fit(self, members: np.ndarray, todo: np.ndarray) -> list[dict]:
        """Fit the missing (training set, seed) pairs in one engine run; the rows it stored."""
        from cfgraph import evaluate
        from cfgraph.store.sink import SampledSink

        problem = self._problem_of()
        if self._sink is None:
            self._lock.enter_context(world_lock(self.store, self._world))  # another driver filling it: refused
            self._sink = HeldSink(SampledSink.open(self.store, self.name, self.metrics, self.seeds))
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
        """Store the fits still held, mark the world's last fitting time (once per valuation that fitted),
        and release the world's lock."""
        with self._lock:
            if self._sink is not None:
                self._sink.flush()
                self._sink.sink.finish()


class HeldSink:
    """A sink that keeps the rows it is given (so they need not be read back) and stores them in
    transactions of at least :data:`FLUSH_FITS` fits or :data:`FLUSH_SECONDS` seconds of fitting.

    A sampler's round is a few fits (TMC's is one prefix per running permutation), and a
    transaction per round cost a quarter of each fit. The values do not depend on when the rows
    are stored: a run killed before a flush refits those training sets, to the same cells.
    """

    def __init__(self, sink):
        self.sink, self.rows, self.stored = sink, [], sink.stored
        self.pending, self.fits, self.since = [], 0, None

    def write(self, rows: list[dict]) -> None:
        self.rows.extend(rows)
        self.pending.extend(rows)
        self.fits += len({(r["mask"], r["seed"]) for r in rows})
        self.since = self.since or time.perf_counter()
        if self.fits >= FLUSH_FITS or time.perf_counter() - self.since >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Store the rows held, in one transaction (kept for the next flush if it fails)."""
        if self.pending:
            self.sink.write(self.pending)
            self.pending, self.fits, self.since = [], 0, None

    def finish(self) -> None:  # once per valuation (see StoredWorld.finish), not per round
        pass


def exhaustive_table(session, world, columns: list, seeds: list[int]) -> np.ndarray:
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


def complete_only(utility, missing: np.ndarray, world):
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
