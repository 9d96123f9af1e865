"""Datasets for worlds: the ones scikit-learn ships, and the user's own CSV.

Only datasets bundled inside scikit-learn are offered (iris, wine,
breast_cancer, digits for classification; diabetes for regression): nothing
is downloaded at run time.

A CSV is a real-world table: its feature columns may hold numbers or text
(categories), and any value may be missing (empty, ``NA``, ``N/A``, ``NaN``
or ``?``, in any case). Encoding and imputation are left to scikit-learn
through :attr:`Dataset.preprocessor`, an *unfitted* transformer that the
engine fits inside each training set's pipeline, so nothing is learned from
rows outside that training set.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cfgraph.errors import CfgraphError
from cfgraph.estimators import TASKS, check_task

__all__ = ["BUILTIN", "MISSING", "MISSING_GROUP", "TASKS", "Dataset", "infer_task", "is_missing",
           "load_builtin", "load_csv", "make_preprocessor"]

#: The largest magnitude a numeric feature or regression target may have: squares and sums of
#: squares (scaling, variances, squared errors) of larger values overflow float64 (about 1.8e308).
#: (A tiny value whose square underflows to 0 is harmless and kept.)
MAX_MAGNITUDE = 1e100
#: Built-in datasets and their tasks (all ship inside scikit-learn).
BUILTIN = {
    "iris": "classification",
    "wine": "classification",
    "breast_cancer": "classification",
    "digits": "classification",
    "diabetes": "regression",
}
#: Spellings of a missing value in a CSV (compared without case and surrounding spaces).
MISSING = ("", "na", "n/a", "nan", "?")
#: The unit name of rows whose grouping value is missing.
MISSING_GROUP = "(missing)"
#: An integer target with at most this many distinct values (and more than two) is ambiguous.
MAX_GUESSED_CLASSES = 20


@dataclass
class Dataset:
    """Features, target and (optionally) a grouping column.

    Attributes
    ----------
    X : ndarray, shape (n_rows, n_features)
        float when every feature is numeric (NaN where a value is missing);
        object when some feature holds text (numbers as float, text as str,
        a missing value as NaN).
    y : ndarray, shape (n_rows,)
        Class labels as str (classification) or float targets (regression).
    feature_names : list of str, length n_features
    task : {"classification", "regression"}
    groups : ndarray of str, shape (n_rows,), or None
        Values of the column chosen to define units (:data:`MISSING_GROUP` where missing).
    categorical : list of int
        Positions of the text (categorical) feature columns.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    task: str = "classification"
    groups: np.ndarray | None = None
    categorical: list[int] = field(default_factory=list)
    source: str = ""
    checksum: str | None = None

    @property
    def has_missing(self) -> bool:
        """Whether any feature value is missing."""
        return bool(is_missing(self.X).any())

    @property
    def preprocessor(self):
        """An unfitted transformer that encodes and imputes the features, or None if none is needed.

        See :func:`make_preprocessor`.
        """
        if not self.categorical and not self.has_missing:
            return None
        return make_preprocessor(self.X.shape[1], self.categorical)


def is_missing(X: np.ndarray) -> np.ndarray:
    """Where a feature array holds a missing value (NaN or None), elementwise.

    Examples
    --------
    >>> is_missing(np.array([[1.0, "a"], [np.nan, None]], dtype=object)).tolist()
    [[False, False], [True, True]]
    """
    X = np.asarray(X)
    if X.dtype != object:
        return np.isnan(X) if np.issubdtype(X.dtype, np.floating) else np.zeros(X.shape, dtype=bool)
    return np.frompyfunc(lambda v: v is None or (isinstance(v, float) and math.isnan(v)), 1, 1)(X).astype(bool)


def make_preprocessor(n_features: int, categorical: list[int]):
    """The unfitted encoder and imputer of a table's features.

    Numeric columns: ``SimpleImputer(strategy="median")``. Text columns:
    ``SimpleImputer(strategy="constant", fill_value="(missing)")`` (a missing
    value is a category of its own) then ``OneHotEncoder(handle_unknown="ignore")``,
    so a category the training set never saw encodes as all zeros. Columns
    missing on every row of a training set are kept (imputed as 0 or
    "(missing)"), so every training set gives the same number of columns.

    Parameters
    ----------
    n_features : int
    categorical : list of int
        Positions of the text columns.

    Returns
    -------
    sklearn.compose.ColumnTransformer
        Unfitted; its output is a dense float array.

    Examples
    --------
    >>> X = np.array([[1.0, "a"], [np.nan, "b"], [3.0, np.nan]], dtype=object)
    >>> make_preprocessor(2, [1]).fit_transform(X).tolist()
    [[1.0, 0.0, 1.0, 0.0], [2.0, 0.0, 0.0, 1.0], [3.0, 1.0, 0.0, 0.0]]
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    numeric = [j for j in range(n_features) if j not in set(categorical)]
    parts = []
    if numeric:
        parts.append(("numeric", SimpleImputer(strategy="median", keep_empty_features=True), numeric))
    if categorical:
        text = make_pipeline(
            SimpleImputer(strategy="constant", fill_value=MISSING_GROUP, keep_empty_features=True),
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
        )
        parts.append(("text", text, list(categorical)))
    return ColumnTransformer(parts, sparse_threshold=0.0)


def infer_task(values, what: str = "the target") -> str:
    """Classification or regression, from a target column's values (as written in the file).

    The rule: any value that is not a number -> classification; a number
    with a fractional part -> regression; whole numbers: two distinct values
    -> classification (a binary outcome), more than 20 -> regression, and 3
    to 20 distinct values are ambiguous (a rating or a count could be either),
    so the caller must say.

    Parameters
    ----------
    values : sequence of str
        The target values, none missing.

    Raises
    ------
    CfgraphError
        When whole numbers take 3 to 20 distinct values (or one value only).

    Examples
    --------
    >>> infer_task(["yes", "no", "1"]), infer_task(["0.5", "2", "3"]), infer_task(["0", "1", "1"])
    ('classification', 'regression', 'classification')
    >>> infer_task([str(k) for k in range(30)])
    'regression'
    """
    numbers = _numbers(values, what)
    if numbers is None:
        return "classification"
    distinct = np.unique(numbers)
    if not np.array_equal(distinct, np.round(distinct)):
        return "regression"
    if len(distinct) == 2:
        return "classification"
    if len(distinct) > MAX_GUESSED_CLASSES:
        return "regression"
    shown = ", ".join(f"{v:g}" for v in distinct[:6]) + (", ..." if len(distinct) > 6 else "")
    raise CfgraphError(
        f"{what} holds {len(distinct)} distinct whole number(s) ({shown}): classes or a quantity? "
        "Say which task: classification or regression"
    )


def parse_number(text) -> float:
    """A number as a CSV writes it: ASCII digits, sign, point, exponent, inf/nan words.

    Stricter than ``float``, which also reads ``1_000`` and other scripts' digits (``٣``):
    a cell like that is text, as a spreadsheet would take it.

    Raises
    ------
    ValueError
        If the text is not such a number.

    Examples
    --------
    >>> parse_number(" 1.5e3 "), parse_number("-inf")
    (1500.0, -inf)
    """
    text = str(text).strip()
    if not text.isascii() or "_" in text:
        raise ValueError(text)
    return float(text)


def _numbers(values, what: str = "the target") -> np.ndarray | None:
    """The values as floats, or None if any is not a number (text: a class label).

    Raises
    ------
    CfgraphError
        If every value is a number but one is infinite or NaN: neither a class nor a target.
    """
    out = np.empty(len(values))
    for k, v in enumerate(values):
        try:
            out[k] = parse_number(v)
        except ValueError:
            return None
    bad = np.flatnonzero(~np.isfinite(out))
    if len(bad):
        raise CfgraphError(f"{what}: value {str(values[bad[0]])[:30]!r} (data row {bad[0] + 1}) is not a finite number")
    return out


def load_builtin(name: str, task: str | None = None) -> Dataset:
    """Load a dataset that ships inside scikit-learn.

    Parameters
    ----------
    name : str
        iris, wine, breast_cancer, digits (classification) or diabetes (regression).
    task : str, optional
        Checked against the dataset's own task.

    Raises
    ------
    CfgraphError
        If ``name`` is not a built-in dataset, or ``task`` is not its task.

    Examples
    --------
    >>> d = load_builtin("diabetes")
    >>> d.task, d.X.shape, d.y.dtype.kind
    ('regression', (442, 10), 'f')
    """
    if name not in BUILTIN:
        raise CfgraphError(f"unknown dataset {name!r} (choose one of {', '.join(BUILTIN)}, or a CSV file)")
    if task is not None and task != BUILTIN[name]:
        raise CfgraphError(f"{name} is a {BUILTIN[name]} dataset, not {task}")
    from sklearn import datasets as skdatasets

    bunch = getattr(skdatasets, f"load_{name}")()
    names = [str(f) for f in getattr(bunch, "feature_names", [])] or [f"x{i}" for i in range(bunch.data.shape[1])]
    if BUILTIN[name] == "regression":
        y = np.asarray(bunch.target, dtype=float)
    else:
        target_names = getattr(bunch, "target_names", None)
        y = np.asarray(np.asarray(target_names)[bunch.target] if target_names is not None else bunch.target)
        y = y.astype(str)
    return Dataset(name=name, X=np.asarray(bunch.data, dtype=float), y=y, feature_names=names,
                   task=BUILTIN[name], source=f"sklearn.datasets.load_{name}")


def load_csv(path: str | Path, target: str, group_column: str | None = None, *, task: str | None = None,
             features: list[str] | None = None, drop: list[str] | None = None) -> Dataset:
    """Load a CSV with a header row: feature columns, a target column, optionally a group column.

    A feature column holds numbers or text (categories), with any value
    possibly missing (see :data:`MISSING`); a column of numbers and text mixed
    is refused. Only the chosen columns are read: a column that is not a
    feature may hold anything.

    Parameters
    ----------
    path : path
    target : str
        The target column: class labels (any text) or, for regression, numbers.
    group_column : str, optional
        A column whose values define the units (never a feature). A missing
        value there puts the row in a unit of its own, :data:`MISSING_GROUP`.
    task : {"classification", "regression"}, optional
        Inferred from the target column by :func:`infer_task` when not given.
    features : list of str, optional
        The feature columns, in this order (default: every column but the
        target, the group column and ``drop``).
    drop : list of str, optional
        Columns not to use (cannot be combined with ``features``).

    Returns
    -------
    Dataset
        With the file's SHA-256 as ``checksum``.

    Raises
    ------
    CfgraphError
        On a missing or non-UTF-8 file, an unknown column (the message lists
        the columns), a line with the wrong number of fields, a missing target
        (with its line number), a non-numeric regression target, a column of
        numbers and text mixed or holding an infinite number (with the line),
        a feature column with no value at all, an ambiguous task, or a target
        with a single class (value).

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("size,colour,price\\n1.5,red,10.2\\nNA,blue,7.9\\n2.0,,12.5\\n")
    >>> d = load_csv(path, "price")
    >>> d.task, d.feature_names, d.categorical, d.X[:, 1].tolist()
    ('regression', ['size', 'colour'], [1], ['red', 'blue', nan])
    """
    path = Path(path)
    if not path.is_file():
        raise CfgraphError(f"no such CSV file: {path}")
    if task is not None:
        check_task(task)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CfgraphError(f"{path}: not UTF-8 text") from None
    reader = csv.reader(text.splitlines())
    try:
        rows = list(reader)
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KiB limit
        raise CfgraphError(f"{path}: line {reader.line_num}: {exc}") from None
    if not rows or not rows[0]:
        raise CfgraphError(f"{path}: empty file (a header row is needed)")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        raise CfgraphError(f"{path}: repeated column names in the header")
    chosen = _choose_columns(path, header, target, group_column, features, drop)
    body = rows[1:]
    if not body:
        raise CfgraphError(f"{path}: no data rows")
    for r, row in enumerate(body):
        if len(row) != len(header):
            raise CfgraphError(f"{path}: line {r + 2} has {len(row)} fields, the header has {len(header)}")
    col = {h: i for i, h in enumerate(header)}

    labels = [row[col[target]].strip() for row in body]
    for r, label in enumerate(labels):
        if label.lower() in MISSING:
            raise CfgraphError(f"{path}: line {r + 2}: missing target value in column {target!r}")
    if task is None:
        _refuse_stray_text(path, target, labels)
        task = infer_task(labels, f"{path}: the target column {target!r}")
    if task == "regression":
        y = np.empty(len(labels))
        for r, label in enumerate(labels):
            y[r] = _finite(path, r + 2, target, label, "a regression target must be a number")
        if np.unique(y).size < 2:
            raise CfgraphError(f"{path}: the target column {target!r} holds a single value; nothing to learn")
    else:
        y = np.asarray(labels)
        if np.unique(y).size < 2:
            raise CfgraphError(f"{path}: the target column {target!r} has a single class; a classifier needs two")

    columns, categorical = [], []
    for j, name in enumerate(chosen):
        values, is_text = _feature_column(path, name, [row[col[name]].strip() for row in body])
        columns.append(values)
        if is_text:
            categorical.append(j)
    X = np.empty((len(body), len(chosen)), dtype=object if categorical else float)
    for j, values in enumerate(columns):
        X[:, j] = values

    groups = None
    if group_column:
        groups = np.array([row[col[group_column]].strip() for row in body], dtype=object)
        missing = np.array([g.lower() in MISSING for g in groups])
        if (groups == MISSING_GROUP).any():
            line = int(np.flatnonzero(groups == MISSING_GROUP)[0]) + 2
            raise CfgraphError(f"{path}: line {line}: the group value {MISSING_GROUP!r} is reserved for missing values")
        groups[missing] = MISSING_GROUP
        groups = groups.astype(str)
    return Dataset(name=path.name, X=X, y=y, feature_names=chosen, task=task, groups=groups,
                   categorical=categorical, source=str(path), checksum=hashlib.sha256(raw).hexdigest())


def _refuse_stray_text(path, target: str, labels: list[str]) -> None:
    """Refuse a target of numbers with a few text values: a typo would make it a task of many classes.

    A target that is mostly numbers (more numbers than text) but holds some text
    is refused at its first text value; a user whose labels really are text
    says so with the task, classification.
    """
    text = [r for r, label in enumerate(labels) if not _is_number(label)]
    if text and len(text) < len(labels) - len(text):
        r = text[0]
        raise CfgraphError(
            f"{path}: line {r + 2}, column {target!r}: text value {labels[r][:30]!r} in a target of numbers "
            f"({len(labels) - len(text)} numbers, {len(text)} text); fix the value, or say the task is "
            "classification if the labels really are text"
        )


def _is_number(text: str) -> bool:
    try:
        parse_number(text)
        return True
    except ValueError:
        return False


def _choose_columns(path, header, target, group_column, features, drop) -> list[str]:
    """The feature columns: ``features`` as given, else every other column but ``drop``."""
    def known(names, what):
        for name in names:
            if name not in header:
                raise CfgraphError(f"{path}: no column {name!r}{what} (columns: {', '.join(header)})")

    known([target], "")
    if group_column:
        known([group_column], "")
    if features is not None and drop is not None:
        raise CfgraphError("choose the feature columns or the columns to drop, not both")
    reserved = {target: "the target", group_column: "the grouping column"}
    if features is not None:
        features = list(dict.fromkeys(features))
        known(features, " among the features")
        for name in features:
            if name in reserved:
                raise CfgraphError(f"{path}: column {name!r} is {reserved[name]}; it cannot be a feature too")
        chosen = features
    else:
        drop = list(drop or [])
        known(drop, " to drop")
        chosen = [h for h in header if h not in reserved and h not in drop]
    if not chosen:
        raise CfgraphError(f"{path}: no feature columns besides {target!r}")
    return chosen


def _finite(path, line: int, column: str, cell: str, why: str) -> float:
    """A numeric cell as a float: finite and at most MAX_MAGNITUDE in absolute value."""
    try:
        value = parse_number(cell)
    except ValueError:
        raise CfgraphError(f"{path}: line {line}, column {column!r}: non-numeric value {cell!r} ({why})") from None
    if not math.isfinite(value):
        raise CfgraphError(f"{path}: line {line}, column {column!r}: {cell[:30]} is not a finite number")
    if abs(value) > MAX_MAGNITUDE:
        raise CfgraphError(f"{path}: line {line}, column {column!r}: {cell[:30]} is too large in magnitude "
                           f"(over {MAX_MAGNITUDE:g}: its square overflows the models' float arithmetic); "
                           "rescale the column")
    return value


def _feature_column(path, name: str, cells: list[str]) -> tuple[list, bool]:
    """A feature column's values (float or str, NaN where missing) and whether it is text.

    A column is numeric when every present value is a number, text when none
    is; numbers and text mixed are refused at the first value of the rarer kind.
    """
    present = [(r, c) for r, c in enumerate(cells) if c.lower() not in MISSING]
    if not present:
        raise CfgraphError(f"{path}: column {name!r} has no value on any line; leave it out of the features")
    numeric = []
    for _, c in present:
        try:
            parse_number(c)
            numeric.append(True)
        except ValueError:
            numeric.append(False)
    n_numbers = sum(numeric)
    if n_numbers == len(present):
        out = [math.nan] * len(cells)
        for r, c in present:
            out[r] = _finite(path, r + 2, name, c, "")
        return out, False
    if n_numbers == 0:
        out = [math.nan] * len(cells)
        for r, c in present:
            out[r] = c
        return out, True
    odd = next(k for k, flag in enumerate(numeric) if flag == (n_numbers < len(present) - n_numbers))
    r, c = present[odd]
    kind = "numeric" if numeric[odd] else "non-numeric"
    usual = "text" if numeric[odd] else "numbers"
    raise CfgraphError(
        f"{path}: line {r + 2}, column {name!r}: {kind} value {c!r} in a column of {usual} "
        "(a feature column holds numbers or text, not both)"
    )
