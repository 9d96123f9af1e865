"""Training each training set once per seed and scoring it on every evaluation slice.

Each task fits one training set for one seed and scores the fitted model on
every (slice, metric) still missing, so a world costs one fit per training set
and seed whatever summaries are asked of it later. The engine knows nothing of
the store: :func:`plan` turns a boolean "stored" array into tasks,
:func:`run` sends them to an :class:`~cfgraph.executors.Executor` (a joblib
backend) and hands the finished cells to a *sink* in batches, each written by
the sink in one transaction, so a run killed halfway keeps what it finished
and a re-run computes only the rest. Every fit uses ``random_state=seed``, so
results do not depend on the backend or the number of workers.
"""

from __future__ import annotations

import copy
import functools
import itertools
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from sklearn.base import clone
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.pipeline import Pipeline
from tqdm.auto import tqdm

from cfgraph.estimators import make_estimator
from cfgraph.executors import Executor
from cfgraph.scoring import Scoring, warning_note

__all__ = ["Problem", "RunReport", "Sink", "Task", "build_estimator", "fit_node", "plan", "run", "score_model",
           "warning_note"]


@dataclass
class Problem:
    """Everything a worker needs to fit and score one training set.

    Attributes
    ----------
    X_train : ndarray, shape (n_train, d)
        Training rows (an object array when ``preprocessor`` handles text or missing values).
    y_train : ndarray, shape (n_train,)
        Class labels, or numbers for regression.
    train_unit : ndarray of int, shape (n_train,)
        Unit index of each training row.
    X_test, y_test : ndarray, shape (n_test, d) and (n_test,)
    slice_rows : list of ndarray of int
        Test-row indices of each evaluation slice, in slice order.
    classes : ndarray or None
        The task's classes, sorted; None for regression.
    model : str
        A spec for :func:`cfgraph.estimators.make_estimator`.
    metrics : list of str
        scikit-learn scorer names.
    sample_weight : ndarray, shape (n_train,), optional
        Passed to the final estimator's ``fit``.
    task : {"classification", "regression"}
    preprocessor : unfitted scikit-learn transformer, optional
        Cloned into every fit's pipeline before the estimator, so it learns
        only from the training set's own rows.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    train_unit: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    slice_rows: list[np.ndarray]
    classes: np.ndarray | None
    model: str
    metrics: list[str]
    sample_weight: np.ndarray | None = None
    task: str = "classification"
    preprocessor: object = None
    #: When True, every fit also predicts every training row (``predict``), returned in
    #: its first cell row as ``train_pred``: the out-of-bag predictions Data-OOB needs.
    predict_train: bool = False

    def training_rows(self, mask: int) -> np.ndarray:
        """Which training rows belong to training set ``mask`` (a bitmask of units, any size).

        Returns
        -------
        ndarray of bool, shape (n_train,)

        Examples
        --------
        >>> p = Problem(np.zeros((3, 1)), np.zeros(3), np.array([0, 1, 70]), np.zeros((0, 1)), np.zeros(0),
        ...             [], None, "ridge", ["r2"], task="regression")
        >>> p.training_rows(1 << 70 | 1).tolist()
        [True, False, True]
        """
        n_units = int(self.train_unit.max()) + 1 if len(self.train_unit) else 0
        packed = np.frombuffer(int(mask).to_bytes((n_units + 7) // 8 or 1, "little"), dtype=np.uint8)
        return np.unpackbits(packed, bitorder="little").astype(bool)[self.train_unit]

    def prior(self) -> float:
        """The regression task's prior: the mean target of the whole training split."""
        return float(np.mean(self.y_train))


@dataclass(frozen=True)
class Task:
    """One fit to make: training set ``mask`` with model seed ``seed``, scored on ``wanted``.

    ``mask`` is a key the sink maps to its node (a Python int of any size), not
    a position in a 2^n array, so a lattice whose nodes are created when first
    visited can hand the engine the same tasks.
    """

    mask: int
    seed: int
    wanted: tuple  # of (slice position, metric)


class Sink(Protocol):
    """Where finished cells go.

    ``write(rows)`` stores one batch of :func:`fit_node` rows in one
    transaction (rows name their training set by ``mask``); ``finish()`` is
    called once after the last batch; ``stored`` is the number of cells held
    before the run (reported as skipped).
    """

    stored: int

    def write(self, rows: list[dict]) -> None: ...

    def finish(self) -> None: ...


@dataclass
class RunReport:
    """What one evaluation run did."""

    fits: int = 0
    cells: int = 0
    failed: int = 0
    seconds: float = 0.0
    skipped_cells: int = 0
    statuses: dict = field(default_factory=dict)

    def count(self, rows: list[dict]) -> None:
        """Add one stored batch of cell rows."""
        self.fits += len({(r["mask"], r["seed"]) for r in rows})
        self.cells += len(rows)
        for r in rows:
            self.statuses[r["status"]] = self.statuses.get(r["status"], 0) + 1
        self.failed += sum(r["status"] == "failed" for r in rows)


@functools.lru_cache(maxsize=64)
def _template(spec: str, seed: int, task: str):
    return make_estimator(spec, seed, task=task)


def build_estimator(problem: Problem, seed: int):
    """The unfitted model of one fit: ``problem.model`` seeded, after a clone of the preprocessor.

    Returns
    -------
    sklearn.base.BaseEstimator
        The estimator alone, or a flat ``Pipeline`` whose first step is the
        preprocessor (named ``preprocessor``).

    Examples
    --------
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> p = Problem(np.zeros((1, 1)), np.zeros(1), np.zeros(1, int), np.zeros((1, 1)), np.zeros(1), [],
    ...             None, "ridge", ["r2"], task="regression", preprocessor=MinMaxScaler())
    >>> [name for name, _ in build_estimator(p, 0).steps]
    ['preprocessor', 'standardscaler', 'ridge']
    """
    # A deep copy of the cached, unfitted template is clone() at a quarter of the cost (no signature inspection).
    estimator = copy.deepcopy(_template(problem.model, seed, problem.task))
    if problem.preprocessor is None:
        return estimator
    steps = estimator.steps if isinstance(estimator, Pipeline) else [(type(estimator).__name__.lower(), estimator)]
    return Pipeline([("preprocessor", clone(problem.preprocessor)), *steps])


def fit_node(problem: Problem, mask: int, seed: int, wanted, scoring: Scoring | None = None) -> list[dict]:
    """Fit the training set ``mask`` with ``seed`` and score it on the wanted (slice, metric) pairs.

    The empty training set scores the task's baseline (status ``baseline``):
    for classification a model that knows only the task's classes and guesses
    uniformly at random (scikit-learn's ``DummyClassifier(strategy="uniform")``,
    seeded, predicting each slice's rows in one call, as it always has); for
    regression the task's prior, the mean target of the whole training split
    (``DummyRegressor(strategy="constant")``). A training set whose target is
    constant (one class, or one number) predicts that constant (status
    ``constant``). A fit or score that raises is stored as ``failed`` with its
    message and no value.

    Parameters
    ----------
    problem : Problem
    mask : int
        The training set, a bitmask of units.
    seed : int
        Model seed (``random_state``).
    wanted : sequence of (int, str)
        (slice position, metric) pairs to score.
    scoring : Scoring, optional
        Reused across calls; built from ``problem`` if not given.

    Returns
    -------
    list of dict
        One row per wanted cell: mask, slice (position), metric, seed, value,
        fit_seconds, status, error.

    Examples
    --------
    >>> import numpy as np
    >>> p = Problem(X_train=np.array([[0.], [1.], [2.], [3.]]), y_train=np.array([1., 1., 2., 4.]),
    ...             train_unit=np.array([0, 0, 1, 1]), X_test=np.array([[1.], [3.]]),
    ...             y_test=np.array([1., 3.]), slice_rows=[np.array([0, 1])], classes=None,
    ...             model="linear", metrics=["neg_mean_absolute_error"], task="regression")
    >>> [(r["status"], round(r["value"], 9)) for m in (0, 1, 3)
    ...  for r in fit_node(p, m, 0, [(0, "neg_mean_absolute_error")])]
    [('baseline', -1.0), ('constant', -1.0), ('ok', -0.5)]
    """
    scoring = scoring or Scoring(problem)
    started = time.perf_counter()
    model, status, note = fit_training_set(problem, mask, seed)
    fit_seconds = time.perf_counter() - started
    rows = score_model(problem, model, mask, seed, wanted, status, note, fit_seconds, scoring=scoring)
    if problem.predict_train and rows:
        rows[0]["train_pred"] = None if model is None else _predict_train(problem, model)
    return rows


def _predict_train(problem: Problem, model) -> np.ndarray | None:
    """The model's ``predict`` on every training row (None when it raises: those predictions are unknown)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(model.predict(problem.X_train))
    except Exception:  # a model that cannot predict has no out-of-bag answers; the cells record the failure
        return None


def fit_training_set(problem: Problem, mask: int, seed: int, estimator=None) -> tuple[object, str, str | None]:
    """Fit one training set: the fitted model, its cell status and a note.

    The one place that decides what a training set's model is (see :func:`fit_node`
    for the rules): the empty set's baseline, the constant predictor of a constant
    target, or ``estimator`` (default: the problem's model, built with ``seed``)
    fitted on the set's rows with their sample weights.

    Parameters
    ----------
    problem : Problem
    mask : int
        The training set, a bitmask of units.
    seed : int
        Model seed (``random_state``); it also seeds the classification baseline.
    estimator : estimator, optional
        An unfitted (or warm-startable) estimator to fit instead of a new one.

    Returns
    -------
    model : fitted estimator, or None when the fit raised
    status : {"ok", "baseline", "constant", "failed"}
    note : str or None
        The error of a failed fit, else the first warning raised while fitting.

    Examples
    --------
    >>> import numpy as np
    >>> p = Problem(X_train=np.array([[0.], [1.], [2.]]), y_train=np.array(["a", "a", "b"]),
    ...             train_unit=np.array([0, 0, 1]), X_test=np.array([[1.]]), y_test=np.array(["a"]),
    ...             slice_rows=[np.array([0])], classes=np.array(["a", "b"]), model="gnb", metrics=["accuracy"])
    >>> [fit_training_set(p, m, 0)[1] for m in (0, 1, 3)]
    ['baseline', 'constant', 'ok']
    """
    rows = problem.training_rows(mask)
    y = problem.y_train[rows]
    regression = problem.task == "regression"
    if estimator is None and getattr(_template(problem.model, seed, problem.task), "fits_any_training_set", False):
        # A model whose utility is defined on every training set, empty or one-class included
        # (the K-nearest-neighbour utility of KNN-Shapley), is fitted as it is, never replaced.
        return _fit_as_is(problem, rows, y, seed)
    stub_X = np.zeros((1 if regression else len(problem.classes), 1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if not rows.any():
                status = "baseline"
                model = (DummyRegressor(strategy="constant", constant=problem.prior()).fit(stub_X, [0.0])
                         if regression else
                         DummyClassifier(strategy="uniform", random_state=seed).fit(stub_X, problem.classes))
            elif (y == y[0]).all():
                status = "constant"
                model = (DummyRegressor(strategy="constant", constant=y[0]).fit(stub_X, y[:1]) if regression else
                         DummyClassifier(strategy="constant", constant=y[0]).fit(stub_X, problem.classes))
            else:
                status = "ok"
                model = estimator if estimator is not None else build_estimator(problem, seed)
                if problem.sample_weight is not None:
                    model.fit(problem.X_train[rows], y, **_weight_kwargs(model, problem.sample_weight[rows]))
                else:
                    model.fit(problem.X_train[rows], y)
        except Exception as exc:  # a fit that raises is stored as failed, never replaced by a number
            return None, "failed", f"fit: {type(exc).__name__}: {exc}"
    return model, status, warning_note(caught)


def _fit_as_is(problem: Problem, rows: np.ndarray, y: np.ndarray, seed: int) -> tuple[object, str, str | None]:
    """Fit a ``fits_any_training_set`` model on the rows; the status still says empty or constant."""
    status = "baseline" if not rows.any() else "constant" if (y == y[0]).all() else "ok"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = build_estimator(problem, seed)
            weights = {} if problem.sample_weight is None else _weight_kwargs(model, problem.sample_weight[rows])
            model.fit(problem.X_train[rows], y, **weights)
        except Exception as exc:  # stored as failed, as any fit that raises
            return None, "failed", f"fit: {type(exc).__name__}: {exc}"
    return model, status, warning_note(caught)


def score_model(problem: Problem, model, mask: int, seed: int, wanted, status: str, note: str | None,
                fit_seconds: float, scoring: Scoring | None = None) -> list[dict]:
    """Score a fitted model (or None after a failed fit) on the wanted (slice, metric) pairs.

    The model predicts every test row once per response method a metric
    needs; each cell is scored from those predictions on its slice's rows
    (:class:`cfgraph.scoring.Scoring`).

    Returns
    -------
    list of dict
        One cell row per pair, as :func:`fit_node` returns them; a score that
        raises or is not finite makes that cell ``failed`` with its message.
    """
    scoring = scoring or Scoring(problem)
    if model is None:
        scores = [(None, note)] * len(wanted)
    else:
        # The seeded uniform guesser draws its guesses per call: it keeps predicting slice by slice.
        per_slice = status == "baseline" and problem.task == "classification"
        scores = scoring.score(model, wanted, per_slice=per_slice)
    out = []
    for (position, metric), (value, message) in zip(wanted, scores):
        failed = model is not None and value is None
        out.append({"mask": mask, "slice": position, "metric": metric, "seed": seed, "fit_seconds": fit_seconds,
                    "status": "failed" if failed else status, "value": value,
                    "error": message if failed else (note or message)})
    return out


def _weight_kwargs(model, weight) -> dict:
    """``fit`` keyword routing ``sample_weight`` to the last step of (possibly nested) pipelines."""
    prefix = ""
    while isinstance(model, Pipeline):
        name, model = model.steps[-1]
        prefix += f"{name}__"
    return {f"{prefix}sample_weight": weight}


def plan(stored: np.ndarray, masks, metrics: list[str], seeds: list[int]) -> list[Task]:
    """Tasks still to do: one per (training set among ``masks``, seed) with a cell not stored.

    Parameters
    ----------
    stored : ndarray of bool, shape (len(seeds), 2**n, slices, len(metrics))
        True where a cell is stored (e.g. :meth:`cfgraph.store.sink.StoreSink.open`'s ``present``).
    masks : array-like of int
        The training sets to consider.
    metrics : list of str
    seeds : list of int

    Returns
    -------
    list of Task
        Mask, seed, and the (slice position, metric) pairs it still lacks.

    Examples
    --------
    >>> stored = np.ones((1, 4, 2, 1), dtype=bool)
    >>> stored[0, 3, 1, 0] = False
    >>> plan(stored, range(4), ["accuracy"], [7])
    [Task(mask=3, seed=7, wanted=((1, 'accuracy'),))]
    """
    masks = np.asarray(masks, dtype=np.int64)
    missing = ~stored[:, masks]  # (seeds, masks, slices, metrics)
    tasks = []
    for si, k in zip(*np.nonzero(missing.any(axis=(2, 3)))):  # only the nodes with work to do
        positions, metric_idx = np.nonzero(missing[si, k])
        tasks.append(Task(int(masks[k]), int(seeds[si]),
                          tuple((int(p), metrics[m]) for p, m in zip(positions, metric_idx))))
    return tasks


def run(tasks: Iterable[Task], problem: Problem, sink: Sink, executor: Executor | None = None, *,
        progress: bool | None = None, desc: str = "fitting", chunk: int | None = None,
        on_batch: Callable[[int], None] | None = None, precomputed: dict | None = None) -> RunReport:
    """Fit and score every task and hand the cells to ``sink``, batch by batch.

    Parameters
    ----------
    tasks : iterable of Task
        From :func:`plan` (or any sampler of training sets).
    problem : Problem
    sink : Sink
        Receives each finished batch (one transaction each), then ``finish()``.
    executor : Executor, optional
        Where fits run (a joblib backend or a Dask cluster); one in-process worker by default.
    progress : bool, optional
        Show a tqdm bar; by default only when stderr is a terminal.
    desc : str
        The bar's label.
    chunk : int, optional
        Tasks per batch (by default up to 32, smaller when there are few tasks per worker).
    on_batch : callable, optional
        Called with the number of tasks stored so far after each batch the sink
        wrote (tests use it to simulate a crash).
    precomputed : dict, optional
        ``{(mask, seed): rows}`` from :func:`fit_node` calls already made (a
        build's preflight fit of the full set): written as they are, not refitted.

    Returns
    -------
    RunReport
        Fits made, cells written, failed cells, wall seconds.
    """
    started = time.perf_counter()
    executor = executor or Executor()
    report = RunReport(skipped_cells=sink.stored)
    ready, todo = [], []  # rows of fits already made (for tasks they cover whole), and the rest
    for task in tasks:
        rows = (precomputed or {}).get((task.mask, task.seed), [])
        have = {(r["slice"], r["metric"]): r for r in rows}
        if rows and set(task.wanted) <= set(have):
            ready.append([have[w] for w in task.wanted])
        else:
            todo.append(task)
    if not todo and not ready:
        report.seconds = time.perf_counter() - started
        return report
    size = chunk or max(1, min(32, len(todo) // (8 * executor.workers)))
    batches = [todo[i:i + size] for i in range(0, len(todo), size)]
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=len(todo) + len(ready), desc=desc, unit="fit", disable=not show)
    done = 0
    try:
        for rows in itertools.chain(ready, executor.map_unordered(_fit_batch, batches, problem)):
            sink.write(rows)
            report.count(rows)
            fits = len({(r["mask"], r["seed"]) for r in rows})
            done += fits
            bar.update(fits)
            if on_batch is not None:
                on_batch(done)
    finally:
        bar.close()
    sink.finish()
    report.seconds = time.perf_counter() - started
    return report


@functools.lru_cache(maxsize=1)
def _thread_pools():
    """The process's thread pools, scanned once (a scan costs milliseconds; a batch can be a few fits).

    Made on a worker's first batch, when scikit-learn, scipy and numpy are loaded: the BLAS
    libraries a fit uses are known by then.
    """
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _fit_batch(problem: Problem, batch: list[Task]) -> list[dict]:
    scoring = Scoring(problem)
    out = []
    # One BLAS thread per fit: a world's fits are many and small, run side by side by the executor's
    # workers; a BLAS pool per fit only contends for the cores (10-25x the CPU of a small logistic fit
    # on a busy 2-core machine).
    with _thread_pools().limit(limits=1, user_api="blas"):
        for task in batch:
            out.extend(fit_node(problem, task.mask, task.seed, list(task.wanted), scoring=scoring))
    return out
