"""Grids computed elsewhere: read a file of cells and store it as a world with no model.

A grid file has one cell per record: ``train_set``, ``eval_slice``, ``value``
and optionally ``metric`` (default "score") and ``seed`` (default 0). Its
training sets name their units in one of two styles, told apart from the file:

* **unit letters**: every unit is one letter and a training set is its
  letters, in any order (``CM``, ``MWC``) or joined by ``+`` (``C+M``); bare
  labels of this style are capital letters. The units are the letters seen,
  sorted (a file using C, M and W has three units C, M, W), and keep their
  letters as labels, so the stored training sets read as in the file.
* **unit names**: as soon as one training set holds a longer name or a
  lower-case word (``code``, ``code+math``), units are names joined by ``+``
  (or ``,``). The units are the names seen, sorted; their labels in the store
  are A, B, C, ... in that order (a name cannot be concatenated into a label),
  and ``unit.name`` keeps the name.

The empty set is any of :data:`cfgraph.lattice.EMPTY_SPELLINGS` (``∅``, an
empty field, ``{}``, ``empty``, ``-``, ``0``). ``units`` (``--units`` on the
command line) gives the units and their bit order explicitly. A malformed or
ambiguous file is refused whole, naming its line (CSV) or record (JSON), and
nothing is written.

Nothing here imports scikit-learn: an imported world has no model.
"""

from __future__ import annotations

import csv
import io
import json
import math
import platform
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

import cfgraph
from cfgraph import lattice
from cfgraph.data import parse_number
from cfgraph.errors import CfgraphError
from cfgraph.store.catalog import check_world_name, create_world, delete_world, find_world, mark_finished
from cfgraph.store.cells import node_ids, slice_ids, write_cells
from cfgraph.tables import SliceSpec, UnitSpec

__all__ = ["GRID_FIELDS", "read_grid_file", "infer_units", "check_units", "unit_labels", "import_grid"]

#: Columns every grid file has (``metric`` and ``seed`` are optional).
GRID_FIELDS = ("train_set", "eval_slice", "value")
#: Characters that join unit names in a training-set label.
SEPARATORS = "+,"
#: Longest unit name the store keeps (``unit.name``).
MAX_NAME = 200
#: The largest seed (numpy's and scikit-learn's ``random_state`` is a 32-bit unsigned integer).
MAX_SEED = 2**32 - 1


def read_grid_file(path: str | Path) -> list[tuple[int, dict]]:
    """Records of a grid file (CSV with a header, or JSON), with their line / record numbers.

    Parameters
    ----------
    path : str or Path
        A ``.json`` file (a list of objects, or an object with a ``cells``
        list) or a CSV file with a header row.

    Returns
    -------
    list of (int, dict)
        The CSV line number (or JSON record number, from 1) and the record.

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
        except RecursionError:
            raise CfgraphError(f"{path}: JSON nested too deeply to read (a grid file is a flat list of cells)") from None
        except ValueError as exc:  # an integer past Python's digit limit (4300)
            raise CfgraphError(f"{path}: unreadable JSON: {str(exc).split(':')[0][:80]}") from None
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
        found = ", ".join(reader.fieldnames or [])
        raise CfgraphError(f"{path}: missing column(s) {', '.join(missing)} (found: {found})")
    try:
        return [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise CfgraphError(f"{path}: line {reader.line_num}: {exc}") from None


def _parts(label: str) -> tuple[list[str], bool]:
    """A label's unit tokens and whether they were joined by a separator ("C+M" -> C, M)."""
    if any(sep in label for sep in SEPARATORS):
        return [p.strip() for p in label.replace(",", "+").split("+")], True
    return [label], False


def _letter_style(label: str) -> bool:
    """True for a label written in unit letters: one-character units joined by '+', or bare capitals."""
    parts, joined = _parts(label)
    if joined:
        return all(len(p) == 1 for p in parts)
    return len(label) == 1 or all(ch.isalpha() and ch.isupper() for ch in label)


def _check_name(name: str, label: str) -> None:
    """Refuse a unit token that cannot be a unit ('', '∅', '7', a 300-character name)."""
    if name == "":
        raise CfgraphError(f"training set {label[:40]!r} has an empty unit name (units are joined by a single '+')")
    if name in lattice.EMPTY_SPELLINGS:
        raise CfgraphError(f"{name!r} spells the empty set and cannot be a unit (in training set {label[:40]!r})")
    if len(name) == 1 and not name.isalpha():
        raise CfgraphError(f"unit {name!r} in training set {label[:40]!r} is one character but not a letter; "
                           "one-character units are letters, longer names are joined by '+'")
    if len(name) > MAX_NAME:
        raise CfgraphError(f"unit name {name[:20]!r}... is longer than {MAX_NAME} characters")


def infer_units(labels: Iterable[tuple[int, str]], where: str = "line") -> list[str]:
    """The units a grid file's training-set labels use, in bit order.

    Parameters
    ----------
    labels : iterable of (int, str)
        Each training set's line (or record) number and label.
    where : str
        How to name a position in messages ("line", or "record" for JSON).

    Returns
    -------
    list of str
        The unit letters seen (if every label is in unit letters) or the unit
        names seen, sorted.

    Raises
    ------
    CfgraphError
        Naming the first offending line: a one-character unit that is not a
        letter, an empty name, a name that is also a spelling of the empty set,
        a name whose letters are all units too (``CM`` beside ``C`` and ``M``:
        one unit or two?), or more units than an exhaustive lattice allows.

    Examples
    --------
    >>> infer_units([(2, "CM"), (3, "W"), (4, "∅")])
    ['C', 'M', 'W']
    >>> infer_units([(2, "math"), (3, "code+math")])
    ['code', 'math']
    """
    labels = [(line, str(label).strip()) for line, label in labels]
    labels = [(line, label) for line, label in labels if label not in lattice.EMPTY_SPELLINGS]
    letters = all(_letter_style(label) for _, label in labels)
    first: dict[str, int] = {}  # unit -> line of its first appearance
    for line, label in labels:
        parts, joined = _parts(label)
        tokens = list(label) if letters and not joined else parts
        for token in tokens:
            try:
                _check_name(token, label)
            except CfgraphError as exc:
                raise CfgraphError(f"{where} {line}: {exc}") from None
            if token not in first:
                first[token] = line
                if len(first) > lattice.MAX_UNITS:
                    shown = ", ".join(list(first)[:lattice.MAX_UNITS])
                    raise CfgraphError(
                        f"{where} {line}: unit {token[:20]!r} is unit number {len(first)}; an exhaustive lattice "
                        f"allows at most {lattice.MAX_UNITS} (units so far: {shown[:120]})"
                    )
    if not first:
        raise CfgraphError("no units in any train_set (every training set is empty); pass the unit names")
    if not letters:
        singles = {u for u in first if len(u) == 1}
        for name, line in sorted(first.items(), key=lambda item: item[1]):
            if len(name) > 1 and set(name) <= singles:
                spelled = "+".join(name)
                raise CfgraphError(
                    f"{where} {line}: {name[:20]!r} could be one unit or the units {', '.join(name)}; "
                    f"write {spelled[:40]!r} for the units, or give the unit names in bit order"
                )
    return sorted(first)


def check_units(units: Sequence[str]) -> list[str]:
    """Check unit names given in bit order (``--units``).

    Raises
    ------
    CfgraphError
        On no units, more than an exhaustive lattice allows, a repeated name,
        or a name that cannot be a unit (empty, containing '+' or ',', a
        spelling of the empty set, one character that is not a letter).

    Examples
    --------
    >>> check_units(["W", "C", "M"])
    ['W', 'C', 'M']
    """
    units = [str(u).strip() for u in units]
    if not units:
        raise CfgraphError("give at least one unit name")
    if len(units) > lattice.MAX_UNITS:
        raise CfgraphError(f"{len(units)} units is more than an exhaustive lattice allows ({lattice.MAX_UNITS})")
    repeated = sorted({u for u in units if units.count(u) > 1})
    if repeated:
        raise CfgraphError(f"unit {repeated[0][:20]!r} is named twice")
    for name in units:
        if any(sep in name for sep in SEPARATORS):
            raise CfgraphError(f"a unit name may not contain '+' or ',': {name[:40]!r}")
        _check_name(name, name)
    return units


def unit_labels(units: Sequence[str]) -> list[str]:
    """The one-character labels units get in the store: their own if all are one character, else A, B, C, ...

    Examples
    --------
    >>> unit_labels(["C", "M", "W"])
    ['C', 'M', 'W']
    >>> unit_labels(["code", "math"])
    ['A', 'B']
    """
    if all(len(u) == 1 for u in units):
        return list(units)
    return lattice.unit_letters(len(units))


def _versions() -> dict:
    return {"cfgraph": cfgraph.__version__, "python": platform.python_version(), "numpy": np.__version__}


def _value(raw) -> float:
    """A cell value: a finite number (JSON number or numeric text).

    Raises
    ------
    CfgraphError
        On text that is not a number (or a JSON true/false), NaN or infinity.
    """
    try:
        if isinstance(raw, bool):
            raise ValueError(raw)
        value = float(raw) if isinstance(raw, (int, float)) else parse_number(raw)
    except (ValueError, OverflowError):
        raise CfgraphError(f"value {str(raw)[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise CfgraphError(f"value {str(raw)[:40]!r} is not a finite number")
    return value


def _seed(raw) -> int:
    """A cell's seed: a whole number in 0..2**32-1 (numpy's random_state range); absent means 0.

    Raises
    ------
    CfgraphError
        On text or a JSON value that is not a whole number, or one outside the range.
    """
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return 0
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise CfgraphError(f"seed {json.dumps(raw)[:40]} is not an integer")
    try:
        seed = int(raw.strip()) if isinstance(raw, str) else int(raw)
    except (ValueError, OverflowError):
        raise CfgraphError(f"seed {str(raw)[:40]!r} is not an integer") from None
    if isinstance(raw, float) and raw != seed:
        raise CfgraphError(f"seed {raw!r} is not an integer")
    if not 0 <= seed <= MAX_SEED:
        raise CfgraphError(f"seed {str(seed)[:40]} is outside 0..{MAX_SEED} (2**32-1, scikit-learn's random_state)")
    return seed


def import_grid(store, path: str | Path, world: str, units: list[str] | None = None,
                replace: bool = False, description: str | None = None) -> dict:
    """Store a grid of cells computed elsewhere as a world with no model attached.

    Cells not in the file stay missing. The whole file is checked before
    anything is written; at the first malformed record it is refused with its
    line (record) number and the store is left as it was.

    Parameters
    ----------
    store : cfgraph.store.Store
    path : str or Path
        A CSV or JSON grid file (see the module docstring for the format).
    world : str
        The new world's name.
    units : list of str, optional
        Unit names (or letters) in bit order; by default inferred from the
        training-set labels by :func:`infer_units`.
    replace : bool
        Replace an existing imported world of that name.
    description : str, optional

    Returns
    -------
    dict
        ``world``, ``units`` (count), ``slices``, ``cells``.

    Raises
    ------
    CfgraphError
        On an unknown or repeated unit, an ambiguous label, a duplicate cell, a
        value that is not a finite number, a missing field, or an existing world
        (unless ``replace``).

    Examples
    --------
    >>> import tempfile, cfgraph
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "g.csv").write_text("train_set,eval_slice,value\\nCM,W,0.5\\nW,W,0.9\\n")
    >>> store = cfgraph.open_store(folder / "g.db")
    >>> import_grid(store, folder / "g.csv", "cmw")
    {'world': 'cmw', 'units': 3, 'slices': 1, 'cells': 2}
    >>> store.close()
    """
    path = Path(path)
    check_world_name(world)
    records = read_grid_file(path)
    if not records:
        raise CfgraphError(f"{path}: no cells in the file")
    where = "record" if path.suffix.lower() == ".json" else "line"
    for line, rec in records:
        for f in GRID_FIELDS:
            if rec.get(f) is None or (f != "train_set" and str(rec.get(f)).strip() == ""):
                raise CfgraphError(f"{path}: {where} {line}: missing field {f!r}")
        for f in ("train_set", "eval_slice", "metric"):  # JSON may hold lists, numbers, objects
            if rec.get(f) is not None and not isinstance(rec[f], str):
                raise CfgraphError(f"{path}: {where} {line}: {f} must be text (a string), not "
                                   f"{type(rec[f]).__name__} {json.dumps(rec[f])[:40]}")
        if not isinstance(rec["value"], (str, int, float)) or isinstance(rec["value"], bool):
            raise CfgraphError(f"{path}: {where} {line}: value {json.dumps(rec['value'])[:40]} is not a number")
    try:
        units = check_units(units) if units is not None else infer_units(
            ((line, rec["train_set"]) for line, rec in records), where)
    except CfgraphError as exc:
        raise CfgraphError(f"{path}: {exc}") from None
    cells, slices, seen_keys = [], {}, {}
    for line, rec in records:
        try:
            mask = lattice.parse_label(str(rec["train_set"]), units)
        except CfgraphError as exc:
            raise CfgraphError(f"{path}: {where} {line}: {exc}") from None
        try:
            value = _value(rec["value"])
        except CfgraphError as exc:
            raise CfgraphError(f"{path}: {where} {line}: {exc}") from None
        slice_name = str(rec["eval_slice"]).strip()
        if len(slice_name) > 200:
            raise CfgraphError(f"{path}: {where} {line}: eval_slice name longer than 200 characters")
        metric = str(rec.get("metric") or "score").strip()
        try:
            seed = _seed(rec.get("seed"))
        except CfgraphError as exc:
            raise CfgraphError(f"{path}: {where} {line}: {exc}") from None
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
        try:  # a slice named like a training set ("B", "code") holds those units' test rows
            smask = lattice.parse_label(name, units) or None
        except CfgraphError:
            smask = None
        slice_specs.append(SliceSpec(name=name, mask=smask, definition="imported"))
    seeds = sorted({c[3] for c in cells})
    metrics = list(dict.fromkeys(c[2] for c in cells))
    with store.transaction() as session:
        if replace and find_world(session, world):
            delete_world(session, world, kind="imported")
        w = create_world(
            session, world, kind="imported", labels=unit_labels(units),
            units=[UnitSpec(name=u, definition="imported") for u in units],
            slices=slice_specs, metric=metrics[0], eval_slices="imported", dataset=str(path.name),
            seed=seeds[0], spec={"source": str(path), "metrics": metrics, "seeds": seeds}, versions=_versions(),
            description=description or f"imported from {path.name}",
        )
        ids = node_ids(session, w)
        sids = slice_ids(session, w)
        write_cells(session, [
            {"node_id": int(ids[m]), "slice_id": sids[s], "metric": met, "seed": sd, "value": v,
             "fit_seconds": None, "status": "ok", "error": None}
            for m, s, met, sd, v in cells
        ])
        mark_finished(session, w)
    return {"world": world, "units": len(units), "slices": len(slice_specs), "cells": len(cells)}
