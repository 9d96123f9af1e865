"""Datasets for worlds: the ones scikit-learn ships, and the user's own CSV.

Only datasets bundled inside scikit-learn are offered (iris, wine,
breast_cancer, digits): nothing is downloaded at run time.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn import datasets as skdatasets

from cfgraph.errors import CfgraphError

BUILTIN = {
    "iris": skdatasets.load_iris,
    "wine": skdatasets.load_wine,
    "breast_cancer": skdatasets.load_breast_cancer,
    "digits": skdatasets.load_digits,
}


@dataclass
class Dataset:
    """Features, labels and (optionally) a grouping column.

    Attributes
    ----------
    X : ndarray of float, shape (n_rows, n_features)
    y : ndarray, shape (n_rows,)
        Class labels (strings or numbers).
    groups : ndarray of str, shape (n_rows,), or None
        Values of the column chosen to define units.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    groups: np.ndarray | None = None
    source: str = ""
    checksum: str | None = None


def load_builtin(name: str) -> Dataset:
    """Load a dataset that ships inside scikit-learn.

    Raises
    ------
    CfgraphError
        If ``name`` is not one of iris, wine, breast_cancer, digits.
    """
    if name not in BUILTIN:
        raise CfgraphError(f"unknown dataset {name!r} (choose one of {', '.join(BUILTIN)} or pass --csv FILE)")
    bunch = BUILTIN[name]()
    names = [str(f) for f in getattr(bunch, "feature_names", [])] or [f"x{i}" for i in range(bunch.data.shape[1])]
    target_names = getattr(bunch, "target_names", None)
    y = np.asarray(target_names)[bunch.target] if target_names is not None else bunch.target
    return Dataset(name=name, X=np.asarray(bunch.data, dtype=float), y=np.asarray(y).astype(str),
                   feature_names=names, source=f"sklearn.datasets.load_{name}")


def load_csv(path: str | Path, target: str, group_column: str | None = None) -> Dataset:
    """Load a CSV with a header row: numeric feature columns, a target column, optionally a group column.

    Parameters
    ----------
    path : path
    target : str
        The column holding class labels (any text).
    group_column : str, optional
        A column whose values define the units (not used as a feature).

    Raises
    ------
    CfgraphError
        On a missing file, an unknown column (the message lists the columns),
        an empty or NaN value (with its line number), a non-numeric feature,
        or fewer than two classes.
    """
    path = Path(path)
    if not path.is_file():
        raise CfgraphError(f"no such CSV file: {path}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CfgraphError(f"{path}: not UTF-8 text") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or not rows[0]:
        raise CfgraphError(f"{path}: empty file (a header row is needed)")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        raise CfgraphError(f"{path}: repeated column names in the header")
    for column in [target] + ([group_column] if group_column else []):
        if column not in header:
            raise CfgraphError(f"{path}: no column {column!r} (columns: {', '.join(header)})")
    features = [h for h in header if h not in (target, group_column)]
    if not features:
        raise CfgraphError(f"{path}: no feature columns besides {target!r}")
    body = rows[1:]
    if not body:
        raise CfgraphError(f"{path}: no data rows")
    col = {h: i for i, h in enumerate(header)}
    X = np.empty((len(body), len(features)))
    y, groups = [], []
    for r, row in enumerate(body):
        line = r + 2
        if len(row) != len(header):
            raise CfgraphError(f"{path}: line {line} has {len(row)} fields, the header has {len(header)}")
        for j, name in enumerate(features):
            cell = row[col[name]].strip()
            try:
                value = float(cell)
            except ValueError:
                what = "an empty value" if cell == "" else f"non-numeric value {cell!r}"
                raise CfgraphError(f"{path}: line {line}, column {name!r}: {what} (features must be numbers)") from None
            if not math.isfinite(value):
                raise CfgraphError(f"{path}: line {line}, column {name!r}: {cell} is not a finite number")
            X[r, j] = value
        label = row[col[target]].strip()
        if label == "" or label.lower() == "nan":
            raise CfgraphError(f"{path}: line {line}: missing target value in column {target!r}")
        y.append(label)
        if group_column:
            g = row[col[group_column]].strip()
            if g == "":
                raise CfgraphError(f"{path}: line {line}: missing value in group column {group_column!r}")
            groups.append(g)
    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        raise CfgraphError(f"{path}: the target column {target!r} has a single class; a classifier needs two")
    return Dataset(
        name=path.name, X=X, y=y, feature_names=features,
        groups=np.asarray(groups) if group_column else None,
        source=str(path), checksum=hashlib.sha256(raw).hexdigest(),
    )
