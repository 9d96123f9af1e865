"""Building worlds: real models on real data, and grids computed elsewhere.

A world is one universe: a dataset split into train and test, its rows grouped
into n units (A, B, C, ...), a model, metric(s), seeds and evaluation slices.
``build_world`` creates (or resumes) it and computes every missing cell.
Grids computed elsewhere, with no model attached, are imported by :mod:`cfgraph.grids`.

A world's lattice is ``exhaustive`` (n <= 16: all 2^n training sets fitted up
front) or ``sampled`` (n up to :data:`cfgraph.bitsets.MAX_SAMPLED_UNITS`: a
training set is stored the first time a sampler asks for it, see
:mod:`cfgraph.valuation`). A sampled world, and a world of points (every
training row a unit), slices its test rows by class only: every test row
("all") and one slice per class; slicing by unit would give thousands of
slices, and a point has no test rows of its own.
"""

from __future__ import annotations

import platform
from contextlib import ExitStack
from dataclasses import dataclass

import numpy as np
import sklearn
from sklearn.model_selection import train_test_split
from sqlalchemy.exc import IntegrityError

import cfgraph
from cfgraph import evaluate, lattice
from cfgraph.data import Dataset, load_builtin, load_csv
from cfgraph.errors import CfgraphError, WorldExists
from cfgraph.estimators import check_metric
from cfgraph.executors import Executor
from cfgraph.recipes import (  # noqa: F401  (re-exported: the recipe API grew up here)
    DEFAULT_METRIC,
    DEFAULT_MODEL,
    EVAL_SLICE_MODES,
    GROUPINGS,
    LATTICES,
    MAX_SEED,
    MAX_SEEDS,
    MAX_UNITS,
    SPEC_DEFAULTS,
    check_seed,
    check_stored_spec,
    make_spec,
    parse_seeds,
    seed_range_text,
    too_many_units,
)
from cfgraph.grouping import group_rows
from cfgraph.store import catalog
from cfgraph.store.locks import world_lock
from cfgraph.store.sink import StoreSink
from cfgraph.tables import SliceSpec, UnitSpec

@dataclass
class Prepared:
    """A world's data, grouping and slices, rebuilt deterministically from its spec.

    ``labels`` are the units' labels in bit order (letters up to 26 units);
    ``train_ids`` and ``test_ids`` each split row's index in the dataset
    before the split, shapes (n_train,) and (n_test,).
    """

    spec: dict
    dataset: Dataset
    units: list[UnitSpec]
    slices: list[SliceSpec]
    problem: evaluate.Problem
    stratified: bool = False
    labels: list[str] | None = None
    train_ids: np.ndarray | None = None
    test_ids: np.ndarray | None = None

    @property
    def sampled(self) -> bool:
        """Whether the world's lattice is sampled (stored as visited) rather than exhaustive."""
        return self.spec.get("lattice") == "sampled"


def prepare(spec: dict) -> Prepared:
    """Load the data, split it, group it into units and define the slices.

    Everything is seeded by ``spec["seed"]``, so the same spec gives the same
    world on any machine with the same library versions. The split is
    stratified by class for classification (when every class has two rows),
    plain for regression. Nothing here grows with 2^n unless the spec asks
    for powerset slices (exhaustive worlds only), so a sampled world of
    thousands of units is prepared in the time of its grouping.

    Parameters
    ----------
    spec : dict
        From :func:`make_spec` (or a stored one, after :func:`check_stored_spec`).

    Returns
    -------
    Prepared
        Its ``problem`` is what the engine fits any training set of the world with.

    Raises
    ------
    CfgraphError
        On data that no longer loads or splits, a grouping that fails (see
        :func:`cfgraph.grouping.group_rows`), or more units than the spec's
        lattice allows.

    Examples
    --------
    >>> p = prepare(make_spec(dataset="iris", group_by="point", units=None))
    >>> len(p.units), p.units[0].name == f"row {p.train_ids[0]}", [s.name for s in p.slices]
    (105, True, ['all', 'class setosa', 'class versicolor', 'class virginica'])
    """
    spec = {**SPEC_DEFAULTS, **spec}  # a spec stored before these keys existed
    task, kind = spec["task"], spec["lattice"]
    if spec["csv"]:
        group_column = spec["group_by"] if spec["group_by"] not in GROUPINGS else None
        data = load_csv(spec["csv"], spec["target"], group_column, task=task, features=spec["features"],
                        drop=spec["drop"])
    else:
        if spec["group_by"] not in GROUPINGS:
            raise CfgraphError(
                f"unknown grouping {spec['group_by']!r} (use kmeans, class, random or point; a column name needs "
                "a CSV file)"
            )
        data = load_builtin(spec["dataset"], task)
    index = np.arange(len(data.y))
    classes, stratify = None, None
    if task == "classification":
        classes, counts = np.unique(data.y, return_counts=True)
        stratify = data.y if counts.min() >= 2 else None
    try:
        train_idx, test_idx = train_test_split(
            index, test_size=spec["test_size"], random_state=spec["seed"], stratify=stratify
        )
    except ValueError as exc:
        raise CfgraphError(f"cannot split the data: {exc}") from None
    g = data.groups
    preprocessor = data.preprocessor
    by_class = spec["eval_slices"] == "classes"
    if not by_class and (kind == "sampled" or spec["group_by"] == "point"):
        raise CfgraphError(f"a {'point' if spec['group_by'] == 'point' else 'sampled'} world slices its test rows "
                           f"by class: its recipe's eval slices must be 'classes', not {spec['eval_slices']!r}")
    grouping = group_rows(
        spec["group_by"], spec["units"], data.X[train_idx], data.y[train_idx], data.X[test_idx],
        data.y[test_idx], None if g is None else g[train_idx], None if g is None else g[test_idx],
        seed=spec["seed"], task=task, preprocessor=preprocessor, row_ids=train_idx, slices_by_unit=not by_class,
    )
    n = len(grouping.names)
    if n > MAX_UNITS[kind]:
        raise CfgraphError(too_many_units(n, kind, spec["group_by"]))
    labels = grouping.labels or lattice.unit_labels(n)
    train_sizes = np.bincount(grouping.train, minlength=n)
    units = [UnitSpec(name=grouping.names[k], size=int(train_sizes[k]), definition=grouping.definitions[k])
             for k in range(n)]
    if by_class:
        slices, rows = _class_slices(data.y[test_idx], classes, None if kind == "sampled" else (1 << n) - 1)
    else:
        slices, rows = _unit_slices(grouping.test, n, labels, spec["eval_slices"] == "powerset")
    problem = evaluate.Problem(
        X_train=data.X[train_idx], y_train=data.y[train_idx], train_unit=grouping.train,
        X_test=data.X[test_idx], y_test=data.y[test_idx], slice_rows=rows, classes=classes,
        model=spec["model"], metrics=spec["metrics"], task=task, preprocessor=preprocessor,
    )
    return Prepared(spec=spec, dataset=data, units=units, slices=slices, problem=problem,
                    stratified=stratify is not None, labels=labels, train_ids=train_idx, test_ids=test_idx)


def _unit_slices(test_unit: np.ndarray, n: int, letters: list[str], powerset: bool):
    """One slice per unit plus "all", or one per non-empty union of units (2^n - 1: exhaustive worlds only)."""
    full = (1 << n) - 1
    if powerset:
        slice_masks = sorted(range(1, full + 1), key=lambda m: (m.bit_count(), m))
    else:
        slice_masks = [1 << k for k in range(n)] + ([full] if n > 1 else [])
    slices, rows = [], []
    for mask in slice_masks:
        chosen = np.flatnonzero((mask >> test_unit) & 1)
        name = "all" if mask == full else lattice.mask_label(mask, letters)
        what = "every test row" if mask == full else f"test rows of units {lattice.mask_label(mask, letters)}"
        slices.append(SliceSpec(name=name, mask=mask, size=len(chosen), definition=what))
        rows.append(chosen)
    return slices, rows


def trained_problem(name: str, kind: str, spec: dict | None, needs: str):
    """The engine's problem of a stored trained world, rebuilt from its recipe.

    Parameters
    ----------
    name, kind, spec
        The world's name, kind and stored recipe.
    needs : str
        What the caller needs it for, ending the error ("to fit bags with").

    Raises
    ------
    CfgraphError
        When the world has no model and data (an imported grid, say).

    Examples
    --------
    >>> trained_problem("toy", "imported", None, "to fit bags with")
    Traceback (most recent call last):
    cfgraph.errors.CfgraphError: world 'toy' has no model to fit bags with (it is imported, not trained)
    >>> len(trained_problem("i", "trained", make_spec(dataset="iris", units=2), "").slice_rows)
    3
    """
    if kind != "trained" or not spec:
        raise CfgraphError(f"world {name!r} has no model {needs} (it is {kind}, not trained)")
    return prepare(check_stored_spec(spec)).problem


def _class_slices(y_test: np.ndarray, classes, full: int | None):
    """Every test row ("all", coinciding with training set ``full``) and one slice per class with test rows.

    A class slice coincides with no training set (its mask is None); neither
    does "all" in a sampled world, whose full set has no 64-bit mask.
    """
    slices = [SliceSpec(name="all", mask=full, size=len(y_test), definition="every test row")]
    rows = [np.arange(len(y_test))]
    for c in [] if classes is None else classes:
        chosen = np.flatnonzero(y_test == c)
        if len(chosen):  # a class too rare to reach the test split has no slice
            slices.append(SliceSpec(name=f"class {c}", mask=None, size=len(chosen),
                                    definition=f"test rows of class {c}"))
            rows.append(chosen)
    return slices, rows


#: Two-class scorers and what to use on more classes.
TWO_CLASS_METRICS = {
    "f1": "f1_macro or f1_weighted", "precision": "precision_macro or precision_weighted",
    "recall": "recall_macro or recall_weighted", "jaccard": "jaccard_macro or jaccard_weighted",
    "roc_auc": "roc_auc_ovr", "average_precision": "neg_log_loss or roc_auc_ovr",
}


def preflight(prepared: Prepared, seed: int) -> list[dict]:
    """Fit the full training set once and score it on every slice with every metric.

    A model spec scikit-learn rejects (``knn(n_neighbors=0)``, ``SVC(C=-1)``) or a
    metric that does not suit the task (``r2`` on classes, ``accuracy`` on a
    regression, ``f1`` on three classes) would otherwise fill the whole lattice
    with failed cells; refusing it up front stores nothing.

    Parameters
    ----------
    prepared : Prepared
    seed : int
        The model seed of the fit.

    Returns
    -------
    list of dict
        The full set's cells, which the run stores instead of fitting it again.

    Raises
    ------
    CfgraphError
        With the first metric of the wrong task, fit error, or score error on
        the slice of every test row ("all").
    """
    problem = prepared.problem
    for metric in problem.metrics:
        check_metric(metric, problem.classes, task=problem.task)
        if problem.task == "classification" and metric in TWO_CLASS_METRICS and len(problem.classes) != 2:
            raise CfgraphError(f"{metric} is a two-class metric and this task has {len(problem.classes)} classes: "
                               f"use {TWO_CLASS_METRICS[metric]}")
    full = (1 << len(prepared.units)) - 1
    wanted = [(p, m) for p in range(len(prepared.slices)) for m in problem.metrics]
    rows = evaluate.fit_node(problem, full, seed, wanted)
    for row in rows:
        if row["status"] == "failed" and prepared.slices[row["slice"]].name == "all":
            what = "fitted" if row["error"].startswith("fit:") else f"scored with {row['metric']}"
            message = row["error"].split(": ", 1)[-1].splitlines()[0][:300]
            raise CfgraphError(f"the full training set cannot be {what} (model {prepared.spec['model']}): {message}")
    return rows


def versions() -> dict:
    return {"cfgraph": cfgraph.__version__, "python": platform.python_version(),
            "scikit-learn": sklearn.__version__, "numpy": np.__version__}


def _identity(spec: dict) -> dict:
    """The part of a spec that must match to resume a world (seeds and metrics may grow).

    A spec stored before a key existed means that key's old behaviour (:data:`SPEC_DEFAULTS`).
    """
    return {k: v for k, v in {**SPEC_DEFAULTS, **spec}.items() if k not in ("seeds", "metrics")}


def build_world(store, name: str, spec: dict, *, jobs: int = 1, replace: bool = False,
                progress: bool | None = None, on_batch=None, executor: Executor | None = None) -> evaluate.RunReport:
    """Create or resume a trained world and compute every missing cell.

    Re-running with the same spec computes only the cells not yet stored;
    adding seeds or metrics computes just those. A different spec for an
    existing name is refused unless ``replace``.

    A sampled world (``spec["lattice"] == "sampled"``) is created with its
    units and slices but no training sets, and nothing is fitted beyond the
    preflight of the full set (which refuses a bad model or metric and is not
    stored): a sampler fills it, see :func:`cfgraph.valuation.estimate`,
    which rebuilds the world's problem with :func:`prepare`.

    Parameters
    ----------
    store : cfgraph.store.Store
    name : str
        The world's name.
    spec : dict
        From :func:`make_spec`.
    jobs : int
        Parallel fits (joblib n_jobs).

    replace : bool
        Delete a world of that name first.
    progress : bool, optional
        Show a progress bar (default: on a terminal).
    on_batch : callable, optional
        Called after each stored batch (see :func:`cfgraph.evaluate.run`).
    executor : Executor, optional
        Where the fits run (e.g. ``Executor("dask", scheduler=...)``); overrides ``jobs``.

    Returns
    -------
    evaluate.RunReport
        What was fitted; no fits for a sampled world.

    Raises
    ------
    CfgraphError
        On bad data, a model or metric the full training set cannot be fitted
        or scored with, a conflicting existing world, or (on PostgreSQL) a
        world another run is filling (:func:`cfgraph.store.locks.world_lock`);
        nothing is written then.

    Examples
    --------
    >>> from cfgraph.store import open_store
    >>> store = open_store("sqlite://")
    >>> build_world(store, "iris", make_spec(dataset="iris", units=3, model="gnb"), progress=False).fits
    8
    >>> points = make_spec(dataset="iris", group_by="point", units=None, model="gnb")
    >>> build_world(store, "iris-points", points).fits  # 105 units, no training set stored yet
    0
    """
    catalog.check_world_name(name)
    if jobs == 0:
        raise CfgraphError("parallel jobs must be a positive number of workers, or -1 for all cores")
    prepared = prepare(spec)  # all validation happens before any write
    if prepared.dataset.checksum:  # resuming on an edited CSV would mix old and new cells
        spec = {**spec, "csv_sha256": prepared.dataset.checksum}
    with store.session() as session:
        existing = catalog.find_world(session, name)
        known = None if existing is None or replace else existing.spec or {}
    with ExitStack() as held:
        if existing is not None:  # on PostgreSQL, refused before any write if another run is filling it
            held.enter_context(world_lock(store, existing))
        precomputed = {}
        if known is None or not (set(spec["metrics"]) <= set(known.get("metrics", []))
                                 and set(spec["seeds"]) <= set(known.get("seeds", []))):
            full = (1 << len(prepared.units)) - 1
            precomputed[(full, spec["seeds"][0])] = preflight(prepared, spec["seeds"][0])
        try:
            _create_or_merge(store, name, spec, prepared, replace)
        except (IntegrityError, WorldExists):  # another run created the world a moment ago: join it
            _create_or_merge(store, name, spec, prepared, replace=False)
        if prepared.sampled:  # its training sets are stored as a sampler visits them, never 2^n up front
            return evaluate.RunReport()
        held.enter_context(world_lock(store, name))  # the world just created or replaced (re-entrant otherwise)
        metrics, seeds = prepared.problem.metrics, spec["seeds"]
        sink = StoreSink.open(store, name, metrics, seeds)
        tasks = evaluate.plan(sink.present, np.arange(1 << sink.n), metrics, seeds)
        return evaluate.run(tasks, prepared.problem, sink, executor or Executor(jobs=jobs), progress=progress,
                            desc=f"fitting {name}", on_batch=on_batch, precomputed=precomputed)


def _create_or_merge(store, name: str, spec: dict, prepared: Prepared, replace: bool) -> None:
    """Create the world, or check an existing one has the same recipe and merge its seeds and metrics."""
    with store.transaction() as session:
        existing = catalog.find_world(session, name)
        if existing is not None and replace:
            catalog.delete_world(session, name, kind="trained")
            existing = None
        if existing is not None:
            if existing.kind != "trained" or _identity(existing.spec or {}) != _identity(spec):
                if (existing.kind == "trained" and existing.spec.get("csv_sha256")
                        and _identity({**existing.spec, "csv_sha256": None}) == _identity({**spec, "csv_sha256": None})):
                    raise CfgraphError(
                        f"world {name!r} was built from {spec['csv']} before the file changed (its checksum "
                        "differs); replace the world to rebuild it from the new file, or choose another world name"
                    )
                raise CfgraphError(
                    f"world {name!r} exists with a different recipe; replace it to rebuild it "
                    "or choose another name"
                )
            merged = dict(spec)
            merged["metrics"] = list(dict.fromkeys(existing.spec["metrics"] + spec["metrics"]))
            merged["seeds"] = sorted(set(existing.spec["seeds"]) | set(spec["seeds"]))
            existing.spec = merged
        else:
            catalog.create_world(
                session, name, kind="trained", units=prepared.units, slices=prepared.slices,
                metric=spec["metrics"][0], eval_slices=spec["eval_slices"], task=prepared.problem.task,
                dataset=spec["dataset"] or spec["csv"], model_spec=spec["model"], seed=spec["seed"],
                split={"test_size": spec["test_size"], "seed": spec["seed"],
                       "n_train": int(len(prepared.problem.y_train)), "n_test": int(len(prepared.problem.y_test)),
                       "stratified": prepared.stratified},
                grouping={"method": spec["group_by"], "units": len(prepared.units)},
                spec=spec, versions=versions(), lattice=prepared.spec["lattice"], labels=prepared.labels,
                description=f"{prepared.dataset.source}; {prepared.problem.task}; {len(prepared.units)} units "
                            f"by {spec['group_by']}; model {spec['model']}"
                            + ("; sampled lattice" if prepared.sampled else ""),
            )
