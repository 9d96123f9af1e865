"""Training each training set once per seed and scoring it on every evaluation slice.

Each task fits one node (training set) for one seed and scores the fitted
model on every slice and metric still missing, so a world costs 2^n fits per
seed whatever summaries are asked of it later. Tasks run in parallel with
joblib; results are written in batches, each batch one transaction, so a run
killed halfway keeps what it finished and a re-run computes only the rest.
Every fit uses ``random_state=seed``, so results do not depend on ``n_jobs``.
"""

from __future__ import annotations

import itertools
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from joblib import Parallel, delayed
from sklearn.dummy import DummyClassifier
from tqdm.auto import tqdm

from cfgraph.estimators import AllClasses, check_metric, make_estimator
from cfgraph.store import queries


@dataclass
class Problem:
    """Everything a worker needs to fit and score one training set.

    Attributes
    ----------
    train_unit : ndarray of int, shape (n_train,)
        Unit index of each training row.
    slice_rows : list of ndarray of int
        Test-row indices of each evaluation slice, in slice order.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    train_unit: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    slice_rows: list[np.ndarray]
    classes: np.ndarray
    model: str
    metrics: list[str]
    sample_weight: np.ndarray | None = None


@dataclass
class RunReport:
    """What one evaluation run did."""

    fits: int = 0
    cells: int = 0
    failed: int = 0
    seconds: float = 0.0
    skipped_cells: int = 0
    statuses: dict = field(default_factory=dict)


def fit_node(problem: Problem, mask: int, seed: int, wanted: list[tuple[int, str]]) -> list[dict]:
    """Fit the training set ``mask`` with ``seed`` and score it on the wanted (slice, metric) pairs.

    The empty training set scores a chance baseline: a model that knows only
    the task's classes and guesses uniformly at random (scikit-learn's
    ``DummyClassifier(strategy="uniform")``, seeded); status ``baseline``.
    A training set whose rows hold one class predicts that class
    (``DummyClassifier(strategy="constant")`` over all classes); status
    ``single_class``. A fit or score that raises is stored as ``failed`` with
    its message and no value.

    Returns
    -------
    list of dict
        One row per wanted cell: mask, slice (position), metric, seed, value,
        fit_seconds, status, error.
    """
    rows = ((mask >> problem.train_unit) & 1).astype(bool)
    y = problem.y_train[rows]
    d = problem.X_train.shape[1]
    stub_X = np.zeros((len(problem.classes), d))
    started = time.perf_counter()
    error = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if not rows.any():
                status = "baseline"
                model = DummyClassifier(strategy="uniform", random_state=seed).fit(stub_X, problem.classes)
            elif len(np.unique(y)) == 1:
                status = "single_class"
                model = DummyClassifier(strategy="constant", constant=y[0]).fit(stub_X, problem.classes)
            else:
                status = "ok"
                model = make_estimator(problem.model, seed)
                if problem.sample_weight is not None:
                    model.fit(problem.X_train[rows], y, **_weight_kwargs(model, problem.sample_weight[rows]))
                else:
                    model.fit(problem.X_train[rows], y)
        except Exception as exc:  # a fit that raises is stored as failed, never replaced by a number
            status, model, error = "failed", None, f"fit: {type(exc).__name__}: {exc}"
    fit_seconds = time.perf_counter() - started
    return score_model(problem, model, mask, seed, wanted, status, error or warning_note(caught), fit_seconds)


def score_model(problem: Problem, model, mask: int, seed: int, wanted: list[tuple[int, str]],
                status: str, note: str | None, fit_seconds: float) -> list[dict]:
    """Score a fitted model (or None after a failed fit) on the wanted (slice, metric) pairs.

    Returns
    -------
    list of dict
        One cell row per pair, as :func:`fit_node` returns them; a score that
        raises or is not finite makes that cell ``failed`` with its message.
    """
    out = []
    scorers = {m: check_metric(m, problem.classes) for m in {m for _, m in wanted}}
    if model is not None and hasattr(model, "predict_proba") and len(model.classes_) < len(problem.classes):
        model = AllClasses(model, problem.classes)
    for position, metric in wanted:
        row = {"mask": mask, "slice": position, "metric": metric, "seed": seed,
               "fit_seconds": fit_seconds, "status": status, "value": None, "error": note}
        if model is not None:
            idx = problem.slice_rows[position]
            with warnings.catch_warnings(record=True) as scored:
                warnings.simplefilter("always")
                try:
                    row["value"] = float(scorers[metric](model, problem.X_test[idx], problem.y_test[idx]))
                    if not np.isfinite(row["value"]):
                        raise ValueError(f"the scorer returned {row['value']}")
                except Exception as exc:
                    row.update(status="failed", value=None, error=f"score: {type(exc).__name__}: {exc}")
            row["error"] = row["error"] or warning_note(scored)
        out.append(row)
    return out


def _weight_kwargs(model, weight):
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        return {f"{model.steps[-1][0]}__sample_weight": weight}
    return {"sample_weight": weight}


def warning_note(caught) -> str | None:
    """The first caught warning as one line (as cells record them), or None."""
    if not caught:
        return None
    first = caught[0]
    return f"warning: {first.category.__name__}: {str(first.message).splitlines()[0][:300]}"


@dataclass
class Target:
    """A world's lattice as a run sees it: which cells are stored, and where new ones go."""

    world: str
    n: int
    slices: list[str]
    present: np.ndarray  # (seeds, 2**n, slices, metrics) bool, see queries.stored_cells
    stored: int
    node_ids: np.ndarray
    slice_ids: dict

    @classmethod
    def load(cls, store, world_name: str, metrics: list[str], seeds: list[int]) -> Target:
        with store.session() as session:
            world = queries.get_world(session, world_name)
            return cls(world=world_name, n=world.n_units, slices=[s.name for s in world.slices],
                       present=queries.stored_cells(session, world, metrics, seeds),
                       stored=queries.count_cells(session, world), node_ids=queries.node_ids(session, world),
                       slice_ids=queries.slice_ids(session, world))

    def write(self, store, rows: list[dict], report: RunReport) -> None:
        """Store :func:`fit_node` rows as cells in one transaction and count them in ``report``."""
        with store.transaction() as session:
            queries.write_cells(session, [{
                "node_id": int(self.node_ids[r["mask"]]), "slice_id": self.slice_ids[self.slices[r["slice"]]],
                "metric": r["metric"], "seed": r["seed"], "value": r["value"],
                "fit_seconds": r["fit_seconds"], "status": r["status"], "error": r["error"],
            } for r in rows])
        report.fits += len({(r["mask"], r["seed"]) for r in rows})
        report.cells += len(rows)
        for r in rows:
            report.statuses[r["status"]] = report.statuses.get(r["status"], 0) + 1
        report.failed += sum(r["status"] == "failed" for r in rows)

    def finish(self, store) -> None:
        with store.transaction() as session:
            queries.mark_finished(session, queries.get_world(session, self.world))


def plan(present: np.ndarray, masks, metrics: list[str], seeds: list[int]):
    """Tasks still to do: ``(mask, seed, wanted)`` for every node among ``masks`` with a missing cell.

    Parameters
    ----------
    present : ndarray of bool, shape (len(seeds), 2**n, slices, len(metrics))
        From :func:`cfgraph.store.queries.stored_cells`.
    masks : array-like of int
        The training sets to consider.

    Returns
    -------
    list of (int, int, list of (int, str))
        Mask, seed, and the (slice position, metric) pairs it still lacks.
    """
    masks = np.asarray(masks, dtype=np.int64)
    missing = ~present[:, masks]  # (seeds, masks, slices, metrics)
    tasks = []
    for si, k in zip(*np.nonzero(missing.any(axis=(2, 3)))):  # only the nodes with work to do
        positions, metric_idx = np.nonzero(missing[si, k])
        tasks.append((int(masks[k]), int(seeds[si]),
                      [(int(p), metrics[m]) for p, m in zip(positions, metric_idx)]))
    return tasks


def run(store, world_name: str, problem: Problem, seeds: list[int], *, jobs: int = 1,
        progress: bool | None = None, chunk: int | None = None,
        on_batch: Callable[[int], None] | None = None, precomputed: dict | None = None) -> RunReport:
    """Compute every missing cell of a world and store it.

    Parameters
    ----------
    store : cfgraph.store.Store
    world_name : str
    problem : Problem
    seeds : list of int
        Model seeds; each training set is fitted once per seed.
    jobs : int
        joblib ``n_jobs`` (-1 = all cores).
    progress : bool, optional
        Show a tqdm bar; by default only when stderr is a terminal.
    on_batch : callable, optional
        Called with the number of tasks stored so far after each committed
        batch (tests use it to simulate a crash).
    precomputed : dict, optional
        ``{(mask, seed): rows}`` from :func:`fit_node` calls already made (the
        build's preflight fit of the full set): stored as they are, not refitted.

    Returns
    -------
    RunReport
        Fits made, cells written, failed cells, wall seconds.
    """
    started = time.perf_counter()
    target = Target.load(store, world_name, problem.metrics, seeds)
    tasks = plan(target.present, np.arange(1 << target.n), problem.metrics, seeds)
    report = RunReport(skipped_cells=target.stored)
    ready = []  # rows of fits already made, for tasks they cover whole
    for task in list(tasks):
        mask, seed, wanted = task
        rows = (precomputed or {}).get((mask, seed), [])
        if set(wanted) <= {(r["slice"], r["metric"]) for r in rows}:
            ready.append([r for r in rows if (r["slice"], r["metric"]) in set(wanted)])
            tasks.remove(task)
    if not tasks and not ready:
        report.seconds = time.perf_counter() - started
        return report
    batch_size = chunk or max(1, min(32, len(tasks) // (8 * max(1, abs(jobs)))))
    batches = [tasks[i:i + batch_size] for i in range(0, len(tasks), batch_size)]
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=len(tasks) + len(ready), desc=f"fitting {world_name}", unit="fit", disable=not show)
    done = 0
    parallel = Parallel(n_jobs=jobs, return_as="generator_unordered")
    try:
        for rows in itertools.chain(ready, parallel(delayed(_fit_batch)(problem, batch) for batch in batches)):
            target.write(store, rows, report)
            fits = len({(r["mask"], r["seed"]) for r in rows})
            done += fits
            bar.update(fits)
            if on_batch is not None:
                on_batch(done)
    finally:
        bar.close()
    target.finish(store)
    report.seconds = time.perf_counter() - started
    return report


def _fit_batch(problem: Problem, batch) -> list[dict]:
    out = []
    for mask, seed, wanted in batch:
        out.extend(fit_node(problem, mask, seed, wanted))
    return out
