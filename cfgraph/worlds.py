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

import math
import platform
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sklearn
from sklearn.model_selection import train_test_split
from sqlalchemy.exc import IntegrityError

import cfgraph
from cfgraph import bitsets, evaluate, lattice
from cfgraph.data import Dataset, load_builtin, load_csv
from cfgraph.errors import CfgraphError, WorldExists
from cfgraph.estimators import check_metric, check_task, make_estimator
from cfgraph.executors import Executor
from cfgraph.grouping import group_rows, point_units
from cfgraph.store import catalog
from cfgraph.store.sink import StoreSink
from cfgraph.tables import SliceSpec, UnitSpec

#: One slice per unit (+ all); one per non-empty union of units; all + one per class.
EVAL_SLICE_MODES = ("units", "powerset", "classes")
#: Groupings that are not a column of the data.
GROUPINGS = ("kmeans", "class", "random", "point")
#: Every training set fitted up front, or stored as a sampler visits it.
LATTICES = ("exhaustive", "sampled")
#: The most units of each kind of lattice.
MAX_UNITS = {"exhaustive": lattice.MAX_UNITS, "sampled": bitsets.MAX_SAMPLED_UNITS}
#: The model and metric of a world whose recipe names none, per task.
DEFAULT_MODEL = {"classification": "logreg", "regression": "ridge"}
DEFAULT_METRIC = {"classification": "accuracy", "regression": "r2"}
#: The most seeds one request may name (each is a whole lattice of fits).
MAX_SEEDS = 1000
#: The largest seed: numpy's and scikit-learn's ``random_state`` is a 32-bit unsigned integer.
MAX_SEED = 2**32 - 1
#: Spec keys that newer versions added, with the value an older stored spec means.
SPEC_DEFAULTS = {"task": "classification", "features": None, "drop": None, "lattice": "exhaustive"}


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


def seed_range_text() -> str:
    """The rule every seed follows, for error messages."""
    return f"a seed is a whole number, 0 or more and up to {MAX_SEED} (2**32-1, scikit-learn's random_state)"


def check_seed(value, what: str = "seed") -> int:
    """A seed as an int, checked to be a whole number in 0..2**32-1.

    Parameters
    ----------
    value : int or str
    what : str
        What the seed is, for the error message.

    Returns
    -------
    int

    Raises
    ------
    CfgraphError
        On a value that is not a whole number or lies outside 0..2**32-1.

    Examples
    --------
    >>> check_seed("7"), check_seed(2**32 - 1)
    (7, 4294967295)
    """
    if isinstance(value, bool):
        raise CfgraphError(f"{what} {value!r}: {seed_range_text()}")
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise CfgraphError(f"{what} {str(value)[:40]!r}: {seed_range_text()}") from None
    if isinstance(value, float) and value != number:
        raise CfgraphError(f"{what} {value!r}: {seed_range_text()}")
    if not 0 <= number <= MAX_SEED:
        raise CfgraphError(f"{what} {str(number)[:40]}: {seed_range_text()}")
    return number


def check_stored_spec(spec) -> dict:
    """Check a recipe read from a database as strictly as one typed on the command line.

    A database can be handed over or edited by hand: its model path must pass the module
    allowlist (checked before any import), and its seeds, metrics and unit count the same
    ranges as user input, before anything derived from it is written.

    Raises
    ------
    CfgraphError
        On a recipe that is not an object, or a model, seed, metric, lattice or unit count
        that would be refused if typed (a sampled lattice allows up to
        :data:`cfgraph.bitsets.MAX_SAMPLED_UNITS` units, an exhaustive one 16).

    Examples
    --------
    >>> check_stored_spec({"model": "gnb", "seeds": [0], "metrics": ["accuracy"], "units": 4})["model"]
    'gnb'
    >>> check_stored_spec({"model": "gnb", "units": 1257, "lattice": "sampled"})["units"]
    1257
    >>> check_stored_spec({"model": "os.system"})
    Traceback (most recent call last):
    ...
    cfgraph.errors.CfgraphError: model module 'os' is not in an allowed package (sklearn, cfgraph, diffprivlib); if you trust it, allow 'os' explicitly (cfgraph --allow-module or $CFGRAPH_ALLOW_MODULES)
    """
    if not isinstance(spec, dict):
        raise CfgraphError("the stored recipe is not an object")
    task = spec.get("task", "classification")
    check_task(task)
    make_estimator(str(spec.get("model", "")), task=task)
    for seed in spec.get("seeds", []) or []:
        check_seed(seed, "stored seed")
    if "seed" in spec:
        check_seed(spec["seed"], "stored split seed")
    for metric in spec.get("metrics", []) or []:
        check_metric(str(metric), task=task)
    kind = spec.get("lattice", "exhaustive")
    if kind not in LATTICES:
        raise CfgraphError(f"the stored recipe's lattice is {str(kind)[:20]!r}, not exhaustive or sampled")
    units = spec.get("units")
    if units is not None and (not isinstance(units, int) or isinstance(units, bool)
                              or not 1 <= units <= MAX_UNITS[kind]):
        raise CfgraphError(f"the stored recipe asks for {str(units)[:20]} units; a world of a {kind} lattice "
                           f"has 1 to {MAX_UNITS[kind]}")
    return spec


def parse_seeds(text: str) -> list[int]:
    """Model seeds from a list of numbers and ranges: ``"0-9"``, ``"0,2,5-7"``.

    Parameters
    ----------
    text : str
        Comma-separated items, each a seed ``k`` or an inclusive range ``a-b`` with ``a <= b``.

    Returns
    -------
    list of int
        Sorted, without repeats.

    Raises
    ------
    CfgraphError
        Naming the text, on an empty list, a seed outside 0..2**32-1, a reversed range,
        an item that is not a seed or range, or more than 1000 seeds.

    Examples
    --------
    >>> parse_seeds("0,2,5-7")
    [0, 2, 5, 6, 7]
    >>> parse_seeds(" 3 , 0-1, 1")
    [0, 1, 3]
    """
    items = [item.replace(" ", "") for item in str(text).split(",")]
    if not any(items):
        raise CfgraphError(f"seeds {text!r}: give at least one seed (e.g. 0, 0-9 or 0,2,5-7)")
    seeds: set[int] = set()
    for item in items:
        if not item:
            raise CfgraphError(f"seeds {text[:60]!r}: an empty item between commas")
        match = re.fullmatch(r"(-?\d+)(?:-(-?\d+))?", item, re.ASCII)  # 0-9 only, not other scripts' digits
        if match is None:
            raise CfgraphError(f"seeds {text!r}: {item!r} is not a seed or a range like 0-9")
        low = int(match[1])
        high = int(match[2]) if match[2] is not None else low
        if min(low, high) < 0:
            raise CfgraphError(f"seeds {text!r}: {seed_range_text()}")
        if high < low:
            raise CfgraphError(f"seeds {text!r}: the range {item} runs backwards; write {high}-{low}")
        if high - low >= MAX_SEEDS:  # checked before the range is built
            raise CfgraphError(f"seeds {text!r}: more than {MAX_SEEDS} seeds")
        if high > MAX_SEED:
            raise CfgraphError(f"seeds {text!r}: {seed_range_text()}")
        seeds.update(range(low, high + 1))
    if len(seeds) > MAX_SEEDS:
        raise CfgraphError(f"seeds {text!r}: more than {MAX_SEEDS} seeds")
    return sorted(seeds)


def make_spec(*, dataset: str | None = None, csv_path: str | None = None, target: str | None = None,
              group_by: str = "kmeans", units: int | None = 4, model: str | None = None,
              metrics=None, seeds=(0,), seed: int = 0, test_size: float = 0.3,
              eval_slices: str = "units", task: str | None = None, features=None, drop=None,
              lattice: str | None = None) -> dict:
    """Check and normalise the recipe of a trained world.

    The data is read once here, so a bad file, column or task is refused
    before anything is stored.

    Parameters
    ----------
    dataset, csv_path : str
        Exactly one: a built-in dataset (:data:`cfgraph.data.BUILTIN`) or a CSV file.
    target : str
        The CSV's target column.
    group_by : str
        kmeans, class, random, point (every training row a unit), or a CSV column.
    units : int, optional
        The number of units: needed by kmeans and random; for class, a column
        or point, None or the number the data gives (for point, the number of
        training rows).
    model : str, optional
        Default: logreg for classification, ridge for regression.
    metrics : list of str, optional
        scikit-learn scorer names of the task's kind; default accuracy, or r2 for regression.
    eval_slices : {"units", "powerset", "classes"}
        One slice per unit plus "all"; one per non-empty union of units; or
        "all" plus one per class. A sampled or point world slices by class:
        "units" becomes "classes" and "powerset" is refused.
    task : {"classification", "regression"}, optional
        Default: the built-in dataset's, or inferred from the CSV's target
        (:func:`cfgraph.data.infer_task`).
    features, drop : list of str, optional
        The CSV's feature columns, or the columns to leave out (not both).
    lattice : {"exhaustive", "sampled"}, optional
        Default: exhaustive up to 16 units (for points, 16 training rows),
        sampled beyond.

    Returns
    -------
    dict
        The spec, with ``task``, ``lattice``, ``eval_slices`` (and a point
        world's ``units``) resolved and every default filled in.

    Raises
    ------
    CfgraphError
        On an unknown dataset, column, model, metric, slice mode, lattice or
        task; a metric or model of the other task; a bad CSV; an ambiguous
        task; class grouping of a regression task; a bad test size; a number
        of units other than the training row count for points; powerset
        slices of a point or sampled world; or more units than the lattice
        allows (exhaustive 16, sampled :data:`cfgraph.bitsets.MAX_SAMPLED_UNITS`).

    Examples
    --------
    >>> spec = make_spec(dataset="diabetes", group_by="random", units=3)
    >>> spec["task"], spec["model"], spec["metrics"], spec["lattice"]
    ('regression', 'ridge', ['r2'], 'exhaustive')
    >>> points = make_spec(dataset="iris", group_by="point", units=None)
    >>> points["lattice"], points["units"], points["eval_slices"]
    ('sampled', 105, 'classes')
    """
    if (dataset is None) == (csv_path is None):
        raise CfgraphError("give exactly one data source: a built-in dataset's name or a CSV file")
    if csv_path is not None and not target:
        raise CfgraphError("a CSV file needs the name of its target column")
    if csv_path is None and target:
        raise CfgraphError("a target column belongs to a CSV file; a built-in dataset has its own target")
    if csv_path is None and (features is not None or drop is not None):
        raise CfgraphError("choosing feature columns needs a CSV file; a built-in dataset uses all its features")
    if lattice is not None and lattice not in LATTICES:
        raise CfgraphError(f"a world's lattice is exhaustive or sampled, not {str(lattice)[:40]!r}")
    if units is not None and units < 1:
        raise CfgraphError(f"a world needs at least 1 unit, not {units}")
    if units is not None and group_by != "point" and units > MAX_UNITS[lattice or "sampled"]:
        raise CfgraphError(_too_many(units, lattice or "sampled", group_by))  # before reading the data
    if eval_slices not in EVAL_SLICE_MODES:
        raise CfgraphError(f"evaluation slices are 'units', 'powerset' or 'classes', not {eval_slices!r}")
    if not 0 < test_size < 1:
        raise CfgraphError(f"the test size must be between 0 and 1, not {test_size}")
    if task is not None:
        check_task(task)
    features = _columns(features, "feature columns")
    drop = _columns(drop, "columns to drop")
    if csv_path is not None:
        group_column = group_by if group_by not in GROUPINGS else None
        data = load_csv(csv_path, target, group_column, task=task, features=features, drop=drop)
    else:
        if group_by not in GROUPINGS:
            raise CfgraphError(
                f"unknown grouping {group_by!r} (use kmeans, class, random or point; a column name needs a CSV file)"
            )
        data = load_builtin(dataset, task)
    task = data.task
    if group_by == "class" and task != "classification":
        raise CfgraphError("grouping by class needs a classification task; group a regression task by "
                           "kmeans, random or a column")
    count = _unit_count(group_by, units, data, test_size)
    kind = lattice or ("exhaustive" if count <= MAX_UNITS["exhaustive"] else "sampled")
    if count > MAX_UNITS[kind]:
        raise CfgraphError(_too_many(count, kind, group_by))
    if group_by == "point":
        units = count  # resuming with units left out or given is the same recipe
    if kind == "sampled" or group_by == "point":
        if eval_slices == "powerset":
            why = ("a point has no test rows of its own" if group_by == "point"
                   else "a sampled world's 2^n unions of units are too many")
            raise CfgraphError(f"powerset slices need units with test rows of their own, and {why}: "
                               "use eval slices 'classes' (every test row, and each class's)")
        eval_slices = "classes"
    model = model or DEFAULT_MODEL[task]
    metrics = list(dict.fromkeys([DEFAULT_METRIC[task]] if metrics is None else metrics))
    if not metrics:
        raise CfgraphError("give at least one metric")
    for metric in metrics:
        check_metric(metric, task=task)
    make_estimator(model, task=task)  # raises on an unknown model, or one of the other task
    seeds = sorted({check_seed(s) for s in seeds})
    if not seeds:
        raise CfgraphError("give at least one model seed (e.g. 0)")
    seed = check_seed(seed, what="split seed")
    if len(seeds) > MAX_SEEDS:
        raise CfgraphError(f"{len(seeds)} seeds is more than {MAX_SEEDS}")
    return {
        "dataset": dataset, "csv": str(Path(csv_path).resolve()) if csv_path else None, "target": target,
        "group_by": group_by, "units": units, "model": model, "metrics": metrics, "seeds": seeds,
        "seed": int(seed), "test_size": float(test_size), "eval_slices": eval_slices, "task": task,
        "features": features, "drop": drop, "lattice": kind,
    }


def _unit_count(group_by: str, units: int | None, data: Dataset, test_size: float) -> int:
    """How many units the recipe gives: the number asked for, or the one the data gives (checked by prepare)."""
    if group_by == "point":
        # train_test_split's sizes for a float test size: ceil(test_size * n) test rows, the rest train.
        return point_units(units, len(data.y) - math.ceil(test_size * len(data.y)))
    if units is not None:
        return units
    values = data.y if group_by == "class" else data.groups
    return len(np.unique(values)) if values is not None else 1


def _too_many(count: int, kind: str, group_by: str) -> str:
    """The one-line refusal of ``count`` units on a lattice of ``kind``."""
    what = f"{count} units" + (" (one per training row)" if group_by == "point" else "")
    if kind == "exhaustive":
        return (f"{what} is too many for an exhaustive lattice (2^{count} training sets; the limit is "
                f"{MAX_UNITS['exhaustive']} units): use a sampler: cfgraph run --sampler tmc ...")
    return (f"{what} is more than a sampled world allows ({MAX_UNITS['sampled']}); use fewer units"
            + (", or a larger test split" if group_by == "point" else ""))


def _columns(names, what: str) -> list[str] | None:
    """Column names from a list or a comma-separated string, without repeats; None stays None."""
    if names is None:
        return None
    names = names.split(",") if isinstance(names, str) else list(names)
    names = [str(c).strip() for c in names if str(c).strip()]
    if not names:
        raise CfgraphError(f"the list of {what} is empty")
    return list(dict.fromkeys(names))


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
        raise CfgraphError(_too_many(n, kind, spec["group_by"]))
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
                progress: bool | None = None, on_batch=None) -> evaluate.RunReport:
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

    Returns
    -------
    evaluate.RunReport
        What was fitted; no fits for a sampled world.

    Raises
    ------
    CfgraphError
        On bad data, a model or metric the full training set cannot be fitted
        or scored with, or a conflicting existing world; nothing is written then.

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
    metrics, seeds = prepared.problem.metrics, spec["seeds"]
    sink = StoreSink.open(store, name, metrics, seeds)
    tasks = evaluate.plan(sink.present, np.arange(1 << sink.n), metrics, seeds)
    return evaluate.run(tasks, prepared.problem, sink, Executor(jobs=jobs), progress=progress,
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
