"""A world's recipe: checked and normalised before anything is stored.

:func:`make_spec` reads the data once and refuses a bad file, column, model,
metric, seed, unit count or lattice kind; :func:`check_stored_spec` checks a
recipe read back from a database as strictly; seeds are parsed and checked here.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from cfgraph import bitsets, lattice
from cfgraph.data import Dataset, load_builtin, load_csv
from cfgraph.errors import CfgraphError
from cfgraph.estimators import check_metric, check_task, make_estimator
from cfgraph.grouping import point_units

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
              group_by: str = "kmeans", units: int | None = None, model: str | None = None,
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
        The number of units: kmeans and random default to 4; for class, a column
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
    if units is None and group_by in ("kmeans", "random"):
        units = 4  # the default number of clusters or random parts
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
        raise CfgraphError(too_many_units(units, lattice or "sampled", group_by))  # before reading the data
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
        raise CfgraphError(too_many_units(count, kind, group_by))
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


def too_many_units(count: int, kind: str, group_by: str) -> str:
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
