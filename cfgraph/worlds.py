"""Building worlds: real models on real data, and grids computed elsewhere.

A world is one universe: a dataset split into train and test, its rows grouped
into n units (A, B, C, ...), a model, metric(s), seeds and evaluation slices.
``build_world`` creates (or resumes) it and computes every missing cell;
``import_grid`` stores cells computed elsewhere, with no model attached.
"""

from __future__ import annotations

import csv
import io
import json
import math
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sklearn
from sklearn.model_selection import train_test_split

import cfgraph
from cfgraph import evaluate, lattice
from cfgraph.data import Dataset, load_builtin, load_csv
from cfgraph.errors import CfgraphError
from cfgraph.estimators import check_metric, make_estimator
from cfgraph.grouping import group_rows
from cfgraph.store import queries
from cfgraph.store.queries import SliceSpec, UnitSpec

EVAL_SLICE_MODES = ("units", "powerset")


@dataclass
class Prepared:
    """A world's data, grouping and slices, rebuilt deterministically from its spec."""

    spec: dict
    dataset: Dataset
    units: list[UnitSpec]
    slices: list[SliceSpec]
    problem: evaluate.Problem


def make_spec(*, dataset: str | None = None, csv_path: str | None = None, target: str | None = None,
              group_by: str = "kmeans", units: int | None = 4, model: str = "logreg",
              metrics=("accuracy",), seeds=(0,), seed: int = 0, test_size: float = 0.3,
              eval_slices: str = "units") -> dict:
    """Check and normalise the recipe of a trained world.

    Raises
    ------
    CfgraphError
        On an unknown dataset, model, metric, slice mode; a bad test size; or
        more units than an exhaustive lattice allows (16).
    """
    if (dataset is None) == (csv_path is None):
        raise CfgraphError("give exactly one of --dataset NAME or --csv FILE")
    if csv_path is not None and not target:
        raise CfgraphError("--csv needs --target COLUMN")
    if csv_path is None and target:
        raise CfgraphError("--target names a column of --csv FILE; a built-in dataset has its own target")
    if units is not None and units > lattice.MAX_UNITS:
        raise CfgraphError(
            f"--units {units} is too many for an exhaustive lattice (2^{units} training sets); "
            f"the limit is {lattice.MAX_UNITS} (sampling is not supported yet)"
        )
    if units is not None and units < 1:
        raise CfgraphError(f"--units must be at least 1, not {units}")
    if eval_slices not in EVAL_SLICE_MODES:
        raise CfgraphError(f"--eval-slices must be units or powerset, not {eval_slices!r}")
    if not 0 < test_size < 1:
        raise CfgraphError(f"--test-size must be between 0 and 1, not {test_size}")
    metrics = list(dict.fromkeys(metrics))
    if not metrics:
        raise CfgraphError("give at least one metric")
    for metric in metrics:
        check_metric(metric)
    make_estimator(model)  # raises on an unknown model
    seeds = sorted({int(s) for s in seeds})
    if not seeds:
        raise CfgraphError("give at least one seed (--seeds 0)")
    if seeds[0] < 0 or seed < 0:
        raise CfgraphError(f"seeds must be 0 or more (scikit-learn's random_state), not {min(seeds[0], seed)}")
    return {
        "dataset": dataset, "csv": str(Path(csv_path).resolve()) if csv_path else None, "target": target,
        "group_by": group_by, "units": units, "model": model, "metrics": metrics, "seeds": seeds,
        "seed": int(seed), "test_size": float(test_size), "eval_slices": eval_slices,
    }


def prepare(spec: dict) -> Prepared:
    """Load the data, split it, group it into units and define the slices.

    Everything is seeded by ``spec["seed"]``, so the same spec gives the same
    world on any machine with the same library versions.
    """
    if spec["csv"]:
        group_column = spec["group_by"] if spec["group_by"] not in ("kmeans", "class", "random") else None
        data = load_csv(spec["csv"], spec["target"], group_column)
    else:
        if spec["group_by"] not in ("kmeans", "class", "random"):
            raise CfgraphError(
                f"unknown grouping {spec['group_by']!r} (use kmeans, class or random; a column name needs --csv)"
            )
        data = load_builtin(spec["dataset"])
    index = np.arange(len(data.y))
    classes, counts = np.unique(data.y, return_counts=True)
    stratify = data.y if counts.min() >= 2 else None
    try:
        train_idx, test_idx = train_test_split(
            index, test_size=spec["test_size"], random_state=spec["seed"], stratify=stratify
        )
    except ValueError as exc:
        raise CfgraphError(f"cannot split the data: {exc}") from None
    g = data.groups
    grouping = group_rows(
        spec["group_by"], spec["units"], data.X[train_idx], data.y[train_idx], data.X[test_idx],
        data.y[test_idx], None if g is None else g[train_idx], None if g is None else g[test_idx],
        seed=spec["seed"],
    )
    n = len(grouping.names)
    if n > lattice.MAX_UNITS:
        raise CfgraphError(f"the grouping gives {n} units; an exhaustive lattice allows at most {lattice.MAX_UNITS}")
    letters = lattice.unit_letters(n)
    train_sizes = np.bincount(grouping.train, minlength=n)
    units = [UnitSpec(name=grouping.names[k], size=int(train_sizes[k]), definition=grouping.definitions[k])
             for k in range(n)]
    full = (1 << n) - 1
    if spec["eval_slices"] == "powerset":
        slice_masks = sorted(range(1, full + 1), key=lambda m: (m.bit_count(), m))
    else:
        slice_masks = [1 << k for k in range(n)] + ([full] if n > 1 else [])
    slices, rows = [], []
    for mask in slice_masks:
        chosen = np.flatnonzero((mask >> grouping.test) & 1)
        name = "all" if mask == full else lattice.mask_label(mask, letters)
        what = "every test row" if mask == full else f"test rows of units {lattice.mask_label(mask, letters)}"
        slices.append(SliceSpec(name=name, mask=mask, size=len(chosen), definition=what))
        rows.append(chosen)
    problem = evaluate.Problem(
        X_train=data.X[train_idx], y_train=data.y[train_idx], train_unit=grouping.train,
        X_test=data.X[test_idx], y_test=data.y[test_idx], slice_rows=rows, classes=classes,
        model=spec["model"], metrics=spec["metrics"],
    )
    return Prepared(spec=spec, dataset=data, units=units, slices=slices, problem=problem)


#: Scorer-name prefixes of regression metrics, which a classifier's labels cannot feed.
REGRESSION_METRICS = ("r2", "explained_variance", "max_error", "neg_max_error", "neg_mean", "neg_median",
                      "neg_root", "d2_")
#: Two-class scorers and what to use on more classes.
TWO_CLASS_METRICS = {
    "f1": "f1_macro or f1_weighted", "precision": "precision_macro or precision_weighted",
    "recall": "recall_macro or recall_weighted", "jaccard": "jaccard_macro or jaccard_weighted",
    "roc_auc": "roc_auc_ovr", "average_precision": "neg_log_loss or roc_auc_ovr",
}


def preflight(prepared: Prepared, seed: int) -> list[dict]:
    """Fit the full training set once and score it on every slice with every metric.

    A model spec scikit-learn rejects (``knn(n_neighbors=0)``, ``SVC(C=-1)``) or a
    metric that does not suit the task (``r2``, ``f1`` on three classes) would
    otherwise fill the whole lattice with failed cells; refusing it up front
    stores nothing.

    Returns
    -------
    list of dict
        The full set's cells, which the run stores instead of fitting it again.

    Raises
    ------
    CfgraphError
        With the first fit error, or score error on the slice of every test row.
    """
    classes = prepared.problem.classes
    for metric in prepared.problem.metrics:
        if metric.startswith(REGRESSION_METRICS):
            raise CfgraphError(f"{metric} is a regression metric; cfgraph trains classifiers "
                               "(e.g. accuracy, balanced_accuracy, f1_macro, neg_log_loss)")
        if metric in TWO_CLASS_METRICS and len(classes) != 2:
            raise CfgraphError(f"{metric} is a two-class metric and this task has {len(classes)} classes: "
                               f"use {TWO_CLASS_METRICS[metric]}")
    full = (1 << len(prepared.units)) - 1
    wanted = [(p, m) for p in range(len(prepared.slices)) for m in prepared.problem.metrics]
    rows = evaluate.fit_node(prepared.problem, full, seed, wanted)
    for row in rows:
        if row["status"] == "failed" and prepared.slices[row["slice"]].mask == full:
            what = "fitted" if row["error"].startswith("fit:") else f"scored with {row['metric']}"
            message = row["error"].split(": ", 1)[-1].splitlines()[0][:300]
            raise CfgraphError(f"the full training set cannot be {what} (model {prepared.spec['model']}): {message}")
    return rows


def versions() -> dict:
    return {"cfgraph": cfgraph.__version__, "python": platform.python_version(),
            "scikit-learn": sklearn.__version__, "numpy": np.__version__}


def _identity(spec: dict) -> dict:
    """The part of a spec that must match to resume a world (seeds and metrics may grow)."""
    return {k: v for k, v in spec.items() if k not in ("seeds", "metrics")}


def build_world(store, name: str, spec: dict, *, jobs: int = 1, replace: bool = False,
                progress: bool | None = None, on_batch=None) -> evaluate.RunReport:
    """Create or resume a trained world and compute every missing cell.

    Re-running with the same spec computes only the cells not yet stored;
    adding seeds or metrics computes just those. A different spec for an
    existing name is refused unless ``replace``.

    Parameters
    ----------
    store : cfgraph.store.Store
    name : str
        The world's name.
    spec : dict
        From :func:`make_spec`.
    jobs : int
        Parallel fits (joblib n_jobs).

    Returns
    -------
    evaluate.RunReport

    Raises
    ------
    CfgraphError
        On bad data or a conflicting existing world; nothing is written then.
    """
    queries.check_world_name(name)
    if jobs == 0:
        raise CfgraphError("--jobs must be a positive number of workers, or -1 for all cores")
    prepared = prepare(spec)  # all validation happens before any write
    if prepared.dataset.checksum:  # resuming on an edited CSV would mix old and new cells
        spec = {**spec, "csv_sha256": prepared.dataset.checksum}
    with store.session() as session:
        existing = queries.find_world(session, name)
        known = None if existing is None or replace else existing.spec or {}
    precomputed = {}
    if known is None or not (set(spec["metrics"]) <= set(known.get("metrics", []))
                             and set(spec["seeds"]) <= set(known.get("seeds", []))):
        full = (1 << len(prepared.units)) - 1
        precomputed[(full, spec["seeds"][0])] = preflight(prepared, spec["seeds"][0])
    with store.transaction() as session:
        existing = queries.find_world(session, name)
        if existing is not None and replace:
            queries.delete_world(session, name, kind="trained")
            existing = None
        if existing is not None:
            if existing.kind != "trained" or _identity(existing.spec or {}) != _identity(spec):
                raise CfgraphError(
                    f"world {name!r} exists with a different recipe; pass --replace to rebuild it "
                    "or choose another --world name"
                )
            merged = dict(spec)
            merged["metrics"] = list(dict.fromkeys(existing.spec["metrics"] + spec["metrics"]))
            merged["seeds"] = sorted(set(existing.spec["seeds"]) | set(spec["seeds"]))
            existing.spec = merged
        else:
            queries.create_world(
                session, name, kind="trained", units=prepared.units, slices=prepared.slices,
                metric=spec["metrics"][0], eval_slices=spec["eval_slices"],
                dataset=spec["dataset"] or spec["csv"], model_spec=spec["model"], seed=spec["seed"],
                split={"test_size": spec["test_size"], "seed": spec["seed"],
                       "n_train": int(len(prepared.problem.y_train)), "n_test": int(len(prepared.problem.y_test)),
                       "stratified": True},
                grouping={"method": spec["group_by"], "units": len(prepared.units)},
                spec=spec, versions=versions(),
                description=f"{prepared.dataset.source}; {len(prepared.units)} units by {spec['group_by']}; "
                            f"model {spec['model']}",
            )
    return evaluate.run(store, name, prepared.problem, spec["seeds"], jobs=jobs, progress=progress,
                        on_batch=on_batch, precomputed=precomputed)


# ---------------------------------------------------------------- imported grids

GRID_FIELDS = ("train_set", "eval_slice", "value")


def read_grid_file(path: str | Path) -> list[tuple[int, dict]]:
    """Records of a grid file (CSV with a header, or JSON), with their line / record numbers.

    Raises
    ------
    CfgraphError
        On a missing file, unreadable JSON or CSV, or missing columns.
    """
    path = Path(path)
    if not path.is_file():
        raise CfgraphError(f"no such file: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise CfgraphError(f"{path}: not UTF-8 text") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CfgraphError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        records = data.get("cells") if isinstance(data, dict) else data
        if not isinstance(records, list):
            raise CfgraphError(f"{path}: expected a list of cells (or an object with a 'cells' list)")
        out = []
        for k, rec in enumerate(records, start=1):
            if not isinstance(rec, dict):
                raise CfgraphError(f"{path}: record {k} is not an object")
            out.append((k, rec))
        return out
    reader = csv.DictReader(io.StringIO(text))
    missing = [f for f in GRID_FIELDS if f not in (reader.fieldnames or [])]
    if missing:
        raise CfgraphError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(reader.fieldnames or [])})")
    return [(reader.line_num, row) for row in reader]


def import_grid(store, path: str | Path, world: str, units: list[str] | None = None,
                replace: bool = False, description: str | None = None) -> dict:
    """Store a grid of cells computed elsewhere as a world with no model attached.

    The file has one cell per record: ``train_set`` (unit letters, "∅" for the
    empty set), ``eval_slice`` (any name), ``value`` (a finite number) and
    optionally ``metric`` (default "score") and ``seed`` (default 0). Cells not
    in the file stay missing. The whole file is refused at the first
    malformed record, with its line number, and nothing is written.

    Parameters
    ----------
    units : list of str, optional
        Unit names in bit order; by default the letters seen in training-set labels.

    Returns
    -------
    dict
        world, units, slices, cells.

    Raises
    ------
    CfgraphError
        On an unknown unit letter, a duplicate cell, a non-numeric value, a
        missing field, or an existing world (unless ``replace``).
    """
    path = Path(path)
    queries.check_world_name(world)
    records = read_grid_file(path)
    if not records:
        raise CfgraphError(f"{path}: no cells in the file")
    where = "record" if path.suffix.lower() == ".json" else "line"
    if units is None:
        seen = set()
        for line, rec in records:
            label = str(rec.get("train_set", "")).strip()
            if label not in lattice.EMPTY_SPELLINGS:
                seen.update(ch for ch in label if ch not in "+, ")
        if not seen:
            raise CfgraphError(f"{path}: no unit letters in any train_set; pass --units")
        unknown = sorted(ch for ch in seen if ch not in lattice.LETTERS)
        if unknown:
            raise CfgraphError(f"{path}: train_set labels use {', '.join(unknown[:5])!s}; unit letters are A, B, C, ... "
                               "(pass --units NAME,NAME,... to use names joined by '+')")
        # Letters keep their places: a file that never mentions C still has a unit C.
        units = list(lattice.LETTERS[:max(lattice.LETTERS.index(ch) for ch in seen) + 1])
    if len(units) > lattice.MAX_UNITS:
        raise CfgraphError(f"{len(units)} units is more than an exhaustive lattice allows ({lattice.MAX_UNITS})")
    if len(set(units)) != len(units):
        raise CfgraphError("--units names a unit twice")
    if any(len(u) == 1 and u != lattice.LETTERS[i] for i, u in enumerate(units)):
        raise CfgraphError("one-letter unit names must be A, B, C, ... in order (a training set's label is its "
                           "units' letters); give longer names to name units freely")
    letters = lattice.unit_letters(len(units))

    def parse(label: str) -> int:
        """A training set written with the units' names ("fiction+science") or letters ("AB")."""
        try:
            return lattice.parse_label(label, units)
        except CfgraphError:
            if list(units) == letters:
                raise
            return lattice.parse_label(label, letters)
    cells, slices, seen_keys = [], {}, {}
    for line, rec in records:
        for f in GRID_FIELDS:
            if rec.get(f) is None or (f != "train_set" and str(rec.get(f)).strip() == ""):
                raise CfgraphError(f"{path}: {where} {line}: missing field {f!r}")
        try:
            mask = parse(str(rec["train_set"]))
        except CfgraphError as exc:
            raise CfgraphError(f"{path}: {where} {line}: {exc}") from None
        raw = rec["value"]
        try:
            if isinstance(raw, bool):
                raise ValueError
            value = float(str(raw).strip()) if not isinstance(raw, (int, float)) else float(raw)
        except ValueError:
            raise CfgraphError(f"{path}: {where} {line}: value {raw!r} is not a number") from None
        if not math.isfinite(value):
            raise CfgraphError(f"{path}: {where} {line}: value {raw!r} is not a finite number")
        slice_name = str(rec["eval_slice"]).strip()
        if len(slice_name) > 200:
            raise CfgraphError(f"{path}: {where} {line}: eval_slice name longer than 200 characters")
        metric = str(rec.get("metric") or "score").strip()
        try:
            seed = int(str(rec.get("seed", 0) if rec.get("seed") not in (None, "") else 0))
        except ValueError:
            raise CfgraphError(f"{path}: {where} {line}: seed {rec.get('seed')!r} is not an integer") from None
        key = (mask, slice_name, metric, seed)
        if key in seen_keys:
            raise CfgraphError(
                f"{path}: {where} {line}: duplicate cell ({rec['train_set']}, {slice_name}, {metric}, seed {seed}); "
                f"first at {where} {seen_keys[key]}"
            )
        seen_keys[key] = line
        slices.setdefault(slice_name, None)
        cells.append(key + (value,))
    slice_specs = []
    for name in slices:
        try:
            smask = parse(name) or None
        except CfgraphError:
            smask = None
        slice_specs.append(SliceSpec(name=name, mask=smask, definition="imported"))
    metric = cells[0][2]
    seeds = sorted({c[3] for c in cells})
    metrics = list(dict.fromkeys(c[2] for c in cells))
    with store.transaction() as session:
        if replace and queries.find_world(session, world):
            queries.delete_world(session, world, kind="imported")
        w = queries.create_world(
            session, world, kind="imported",
            units=[UnitSpec(name=u, definition="imported") for u in units],
            slices=slice_specs, metric=metric, eval_slices="imported", dataset=str(path.name),
            seed=seeds[0], spec={"source": str(path), "metrics": metrics, "seeds": seeds}, versions=versions(),
            description=description or f"imported from {path.name}",
        )
        ids = queries.node_ids(session, w)
        sids = queries.slice_ids(session, w)
        queries.write_cells(session, [
            {"node_id": int(ids[m]), "slice_id": sids[s], "metric": met, "seed": sd, "value": v,
             "fit_seconds": None, "status": "ok", "error": None}
            for m, s, met, sd, v in cells
        ])
        queries.mark_finished(session, w)
    return {"world": world, "units": len(units), "slices": len(slice_specs), "cells": len(cells)}
