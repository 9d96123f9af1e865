"""Selections of grid cells and the focus they give the questions.

A *selection* is a set of cells (training set x evaluation slice), whole rows
(training sets), whole columns (evaluation slices) and optionally a layer k.
From it, :func:`resolve` derives a :class:`Focus`: the current cell (S, E), a
second slice E', the focus unit i, a second unit j, a coalition C, a layer k,
Beta Shapley's alpha and beta and an unlearning tolerance.

Works on any *grid* with the attributes of
:class:`cfgraph.tables.LatticeTable`; knows nothing of SQL or Flask.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from cfgraph import lattice
from cfgraph.errors import CfgraphError, NotFound

DEFAULT_ALPHA, DEFAULT_BETA = 16.0, 1.0
DEFAULT_TOLERANCE = 0.15


class GridLike(Protocol):
    """What the questions read from a grid: a :class:`cfgraph.tables.LatticeTable` or any object
    with these attributes (``values`` (2^n, m) with NaN for a missing cell, ``labels`` by mask,
    unit ``letters``, slice names and the training set each slice coincides with, or None).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> g = SimpleNamespace(values=np.zeros((4, 1)), labels=["∅", "A", "B", "AB"], letters="AB",
    ...                     slices=["all"], slice_masks=[None])
    >>> len(g.labels) == len(g.values) == 2 ** len(g.letters)
    True
    """

    values: np.ndarray
    labels: Sequence[str]
    letters: Sequence[str]
    slices: Sequence[str]
    slice_masks: Sequence[int | None]


# ------------------------------------------------------------------ selection


@dataclass(frozen=True)
class Selection:
    """Cells, rows (training-set masks), columns (slice indices) and an optional layer k.

    Examples
    --------
    >>> Selection(cells=((3, 0),)).empty, Selection().empty
    (False, True)
    """

    cells: tuple[tuple[int, int], ...] = ()
    rows: tuple[int, ...] = ()
    columns: tuple[int, ...] = ()
    layer: int | None = None

    @property
    def empty(self) -> bool:
        return not (self.cells or self.rows or self.columns) and self.layer is None


def _slice_index(grid: GridLike, name: str) -> int:
    try:
        return list(grid.slices).index(name)
    except ValueError:
        raise NotFound(f"no evaluation slice {name[:60]!r} in this world") from None


def _mask(grid: GridLike, label: str) -> int:
    try:
        return lattice.parse_label(label, grid.letters)
    except CfgraphError as exc:
        raise NotFound(f"unknown training set: {exc}") from None


def parse_int(text, what: str, low: int | None = None, high: int | None = None) -> int | None:
    """Parse an optional integer parameter and check its range.

    Raises
    ------
    CfgraphError
        If it is not an integer or lies outside ``low..high``.

    Examples
    --------
    >>> parse_int(" 3 ", "k", 0, 4), parse_int("", "k")
    (3, None)
    """
    if text is None or str(text).strip() == "":
        return None
    try:
        value = int(str(text).strip())
    except ValueError:
        raise CfgraphError(f"{what} must be an integer, not {str(text)[:40]!r}") from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise CfgraphError(f"{what}={value} is out of range {low}..{high}")
    return value


def parse_float(text, what: str, default: float, low: float = 0.0) -> float:
    """Parse an optional positive float parameter (strictly above ``low``).

    Raises
    ------
    CfgraphError
        If it is not a finite number above ``low``.

    Examples
    --------
    >>> parse_float("2.5", "alpha", 16.0), parse_float(None, "alpha", 16.0)
    (2.5, 16.0)
    """
    if text is None or str(text).strip() == "":
        return default
    try:
        value = float(str(text).strip())
    except ValueError:
        raise CfgraphError(f"{what} must be a number, not {str(text)[:40]!r}") from None
    if not math.isfinite(value) or value <= low:
        raise CfgraphError(f"{what} must be a finite number above {low:g}, not {value:g}")
    return value


def parse_selection(grid: GridLike, cells: Sequence[str] = (), rows: Sequence[str] = (),
                    columns: Sequence[str] = (), layer=None) -> Selection:
    """Parse a selection from its URL form.

    Parameters
    ----------
    grid : GridLike
    cells : sequence of str
        ``"TRAIN:SLICE"`` each, e.g. ``"ACD:B"`` (the training set's letters, or
        ``∅``; the slice's name may itself contain ``:``).
    rows : sequence of str
        Training-set labels.
    columns : sequence of str
        Evaluation-slice names.
    layer : str or int, optional
        A layer k (all training sets of size k).

    Returns
    -------
    Selection
        Duplicates removed, order kept.

    Raises
    ------
    CfgraphError
        On a malformed cell or a layer out of range (status 400).
    NotFound
        On an unknown training set or slice (status 404).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> g = SimpleNamespace(letters="AB", slices=["A", "B"])
    >>> parse_selection(g, cells=["AB:B", "A:B"]).cells
    ((3, 1), (1, 1))
    """
    out_cells = []
    for text in cells:
        label, sep, slice_name = str(text).partition(":")
        if not sep or not slice_name:
            raise CfgraphError(f"malformed cell {str(text)[:60]!r}: write TRAIN:SLICE, e.g. ACD:B")
        out_cells.append((_mask(grid, label), _slice_index(grid, slice_name)))
    n = len(grid.letters)
    return Selection(
        cells=tuple(dict.fromkeys(out_cells)),
        rows=tuple(dict.fromkeys(_mask(grid, r) for r in rows)),
        columns=tuple(dict.fromkeys(_slice_index(grid, c) for c in columns)),
        layer=parse_int(layer, "layer", 0, n),
    )


def selection_params(grid: GridLike, selection: Selection) -> dict[str, list[str]]:
    """The URL query parameters that spell a selection (the inverse of :func:`parse_selection`).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> g = SimpleNamespace(letters="AB", labels=["∅", "A", "B", "AB"], slices=["all"])
    >>> selection_params(g, Selection(cells=((3, 0),), layer=1))
    {'cell': ['AB:all'], 'layer': ['1']}
    """
    params = {
        "cell": [f"{grid.labels[m]}:{grid.slices[j]}" for m, j in selection.cells],
        "row": [grid.labels[m] for m in selection.rows],
        "col": [grid.slices[j] for j in selection.columns],
    }
    if selection.layer is not None:
        params["layer"] = [str(selection.layer)]
    return {k: v for k, v in params.items() if v}


# ---------------------------------------------------------------------- focus


@dataclass
class Focus:
    """What the questions are asked about, derived from a selection and parameters.

    Attributes
    ----------
    train : int
        The current training set S (mask).
    column : int
        The current evaluation slice E (index).
    other_column : int or None
        A second slice E' in the same row (for the evaluation move).
    unit : int or None
        The focus unit i (leave-one-out, unlearning audit, the semivalue shown).
    pair : tuple of int, or None
        The units (i, j) of the pair interaction; by default i and another unit of S.
    coalition : int
        The coalition C of a data strike (mask).
    k : int
        The layer size for the scaling law and the budgeted subset scan.

    Examples
    --------
    >>> Focus(train=3, column=0, other_column=None, unit=1, pair=(1, 0), coalition=3, k=2).alpha
    16.0
    """

    train: int
    column: int
    other_column: int | None
    unit: int | None
    pair: tuple[int, int] | None
    coalition: int
    k: int
    alpha: float = DEFAULT_ALPHA
    beta: float = DEFAULT_BETA
    tolerance: float = DEFAULT_TOLERANCE


def _unit_index(grid: GridLike, text) -> int | None:
    if text is None or str(text).strip() == "":
        return None
    text = str(text).strip()
    if text not in grid.letters:
        raise NotFound(f"unknown unit {text[:20]!r} (units: {', '.join(grid.letters)})")
    return list(grid.letters).index(text)


def resolve(grid: GridLike, selection: Selection, *, unit=None, pair=None, coalition=None, k=None,
            alpha=None, beta=None, tolerance=None) -> Focus:
    """Derive the focus of the questions from a selection and optional parameters.

    The current cell (S, E) is the first selected cell, else the first
    selected row and column, else the full training set on the first slice.
    Two selected cells in one column whose training sets differ by one unit
    give the leave-one-out unit (the larger set becomes S); by several units,
    the strike coalition. Two cells in one row give the evaluation move.
    Parameters given explicitly win over what the selection suggests.

    Parameters
    ----------
    unit : str, optional
        The focus unit's letter.
    pair : str, optional
        Two unit letters for the pair interaction, e.g. ``"CD"``.
    coalition : str, optional
        A training-set label naming the striking coalition.
    k : int or str, optional
        Layer size, 0..n.
    alpha, beta : float, optional
        Beta Shapley's parameters (> 0); 16 and 1 by default.
    tolerance : float, optional
        The unlearning audit's tolerance (> 0); 0.15 by default.

    Raises
    ------
    CfgraphError
        On a parameter out of range.
    NotFound
        On an unknown unit.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> g = SimpleNamespace(letters="AB", labels=["∅", "A", "B", "AB"], slices=["all"], slice_masks=[None])
    >>> focus = resolve(g, parse_selection(g, cells=["A:all", "AB:all"]))
    >>> focus.train, focus.unit, focus.k
    (3, 1, 2)
    """
    n = len(grid.letters)
    full = (1 << n) - 1
    m = len(grid.slices)
    if m == 0:
        raise CfgraphError("this world has no evaluation slices")
    cells = list(selection.cells)
    if cells:
        train, column = cells[0]
    else:
        train = selection.rows[0] if selection.rows else full
        column = selection.columns[0] if selection.columns else 0
    loo_unit = strike = None
    # A pair of cells in one column, one training set inside the other: LOO or strike.
    for a, b in ((a, b) for a in cells for b in cells if a != b and a[1] == b[1]):
        big, small = (a, b) if a[0] & b[0] == b[0] else (b, a) if a[0] & b[0] == a[0] else (None, None)
        if big is None:
            continue
        train, column = big
        gone = big[0] & ~small[0]
        if gone.bit_count() == 1:
            loo_unit = gone.bit_length() - 1
        else:
            strike = gone
        break
    other_column = None
    for mask, j in cells:
        if mask == train and j != column:
            other_column = j
            break
    if other_column is None:
        other_column = next((j for j in selection.columns if j != column), None)
    i = _unit_index(grid, unit)
    if i is None:
        i = loo_unit
    if i is None:
        inside = lattice.members(train, n)
        i = inside[0] if inside else 0
    units_pair = None
    if pair:
        text = str(pair).strip()
        letters = [c for c in text if c not in "+, "]
        if len(letters) != 2 or letters[0] == letters[1]:
            raise CfgraphError(f"pair takes two different unit letters, e.g. CD, not {text[:20]!r}")
        units_pair = (_unit_index(grid, letters[0]), _unit_index(grid, letters[1]))
    elif n > 1:
        rest = [u for u in lattice.members(train, n) if u != i] or [u for u in range(n) if u != i]
        units_pair = (i, rest[0])
    if coalition:
        c = _mask(grid, coalition)
        if c == 0:
            raise CfgraphError("the coalition of a data strike must not be empty")
    elif strike is not None:
        c = strike
    else:
        inside = [u for u in lattice.members(train, n) if u != i]
        c = (1 << i) | ((1 << inside[0]) if inside else 0)
    layer_k = parse_int(k, "k", 0, n)
    if layer_k is None:
        layer_k = selection.layer if selection.layer is not None else train.bit_count()
    return Focus(
        train=int(train), column=int(column), other_column=other_column, unit=i, pair=units_pair,
        coalition=int(c), k=int(layer_k),
        alpha=parse_float(alpha, "alpha", DEFAULT_ALPHA), beta=parse_float(beta, "beta", DEFAULT_BETA),
        tolerance=parse_float(tolerance, "tolerance", DEFAULT_TOLERANCE),
    )
