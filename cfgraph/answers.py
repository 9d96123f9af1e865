"""What a question returns: an :class:`Answer` with the cells it used or lacks, ready for JSON.

The twelve questions (:mod:`cfgraph.questions`) build their answers with these
types; :func:`gather_cells` and :func:`fill_cells` read a question's cells off
a grid (see :class:`~cfgraph.selection.GridLike`). Nothing here knows of SQL or
Flask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cfgraph.selection import GridLike

#: How many used / missing cells an answer lists by name (the counts are always exact).
LIST_LIMIT = 64


@dataclass
class CellRef:
    """One cell by name: training-set label, slice name, value (None when missing).

    Examples
    --------
    >>> CellRef("AB", "A", 0.9)
    CellRef(train='AB', slice='A', value=0.9)
    """

    train: str
    slice: str
    value: float | None = None


@dataclass
class Answer:
    """A question's answer, or why it has none yet.

    Attributes
    ----------
    status : str
        ``"answered"``; ``"partial"`` (computed from the cells present, some
        missing); ``"missing"`` (cells needed are missing); or ``"not
        applicable"`` (the selection does not pose it; ``reason`` says why).
    formula : str
        The general formula.
    worked : str
        The formula with this selection's cells and numbers filled in.
    cells, missing : list of CellRef
        At most :data:`LIST_LIMIT` each; ``n_used`` and ``n_missing`` are the exact counts.
    columns, table : list
        A detail table (e.g. the value of every unit), when there is one.

    Examples
    --------
    >>> Answer("loo", "Leave-one-out", "f(S) − f(S − i)", value=float("nan")).to_dict()["value"] is None
    True
    """

    key: str
    title: str
    formula: str
    status: str = "answered"
    value: float | None = None
    worked: str = ""
    reason: str = ""
    cells: list[CellRef] = field(default_factory=list)
    missing: list[CellRef] = field(default_factory=list)
    n_used: int = 0
    n_missing: int = 0
    columns: list[str] = field(default_factory=list)
    table: list[list] = field(default_factory=list)

    def to_dict(self) -> dict:
        """A JSON-ready dict (NaN becomes None)."""
        out = {k: getattr(self, k) for k in ("key", "title", "formula", "status", "worked", "reason",
                                             "n_used", "n_missing", "columns")}
        out["value"] = jsonable(self.value)
        out["cells"] = [vars(c) for c in self.cells]
        out["missing"] = [vars(c) for c in self.missing]
        out["table"] = [[jsonable(x) for x in row] for row in self.table]
        return out


def jsonable(x):
    """A JSON-ready scalar: NaN becomes None, numpy numbers become Python numbers.

    Examples
    --------
    >>> jsonable(np.float64("nan")), jsonable(np.int64(2)), jsonable("x")
    (None, 2, 'x')
    """
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def gather_cells(grid: GridLike, masks, cols) -> tuple[list[CellRef], list[CellRef], int, int]:
    """Used and missing cells among (masks[t], cols[t]); counts are exact, lists capped."""
    masks = np.atleast_1d(np.asarray(masks, dtype=np.int64))
    cols = np.broadcast_to(np.atleast_1d(np.asarray(cols, dtype=np.int64)), masks.shape)
    cells = grid.values[masks, cols]
    present = ~np.isnan(cells)
    used_idx = np.flatnonzero(present)
    miss_idx = np.flatnonzero(~present)
    used = [CellRef(grid.labels[masks[t]], grid.slices[cols[t]], float(cells[t])) for t in used_idx[:LIST_LIMIT]]
    missing = [CellRef(grid.labels[masks[t]], grid.slices[cols[t]]) for t in miss_idx[:LIST_LIMIT]]
    return used, missing, len(used_idx), len(miss_idx)


def fill_cells(grid: GridLike, answer: Answer, masks, cols) -> bool:
    """Fill the answer's cells; mark it missing and return False when any is absent."""
    answer.cells, answer.missing, answer.n_used, answer.n_missing = gather_cells(grid, masks, cols)
    if answer.n_missing:
        answer.status = "missing"
        return False
    return True
