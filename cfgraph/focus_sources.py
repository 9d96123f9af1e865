"""Where each part of the questions' focus came from: the user's selection, or a default.

:func:`cfgraph.selection.resolve` fills every part of a :class:`~cfgraph.selection.Focus`
(current cell, unit, pair, coalition, layer k, alpha and beta, tolerance); the
panel must not present an answer built on a default as if the user had asked
for it. :func:`focus_defaults` names each default part; :func:`answer_groups`
sorts the answers:

* *from your selection*: the training set and slice the question reads came from
  the selection (a cell gives both; a row gives the training set and its size k;
  a column gives the slice; a layer gives k; two nested cells of one column give
  the unit or the coalition). A parameter no such selection gives and the user did
  not type (unit, pair, coalition, k, alpha and beta, tolerance) is listed under
  the answer as "with default ...", and nothing else is.
* *from defaults*: the training set or the slice it reads is a default (nothing
  selected gives it); the defaults are listed.
* *not posed*: the question does not apply to this selection.

:func:`current_first` makes the last cell added the current cell.
Knows nothing of SQL or Flask.
"""

from __future__ import annotations

from dataclasses import replace

from cfgraph.selection import DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_TOLERANCE, Focus, GridLike, Selection

__all__ = ["QUESTION_FIELDS", "CELL_PARTS", "current_first", "focus_defaults", "answer_groups"]

#: The parts of the focus each question reads.
QUESTION_FIELDS = {
    "loo": ("train", "column", "unit"),
    "eval_move": ("train", "column"),
    "group_loo": ("train", "column", "coalition"),
    "interaction": ("train", "column", "pair"),
    "shapley": ("column", "unit"),
    "banzhaf": ("column", "unit"),
    "beta": ("column", "unit", "alpha_beta"),
    "scaling": ("column", "k"),
    "eval_scaling": ("train", "k"),
    "diagonal": ("train", "k"),
    "subset_scan": ("column", "k"),
    "unlearning": ("train", "column", "unit", "tolerance"),
}
#: The parts that say which cells a question reads: an answer is "from your selection" only when
#: every one of these it needs came from the selection.
CELL_PARTS = ("train", "column")


def current_first(selection: Selection) -> Selection:
    """The selection with its last cell (the one added last: the URL keeps the order) moved to the
    front, where :func:`cfgraph.selection.resolve` takes the current cell from.

    Examples
    --------
    >>> current_first(Selection(cells=((3, 0), (1, 0), (2, 1)))).cells
    ((2, 1), (3, 0), (1, 0))
    """
    cells = selection.cells
    return replace(selection, cells=cells[-1:] + cells[:-1]) if len(cells) > 1 else selection


def _nested_pair(cells) -> int | None:
    """The units between two selected cells of one column, one training set inside the other
    (what :func:`~cfgraph.selection.resolve` reads as a LOO unit or a strike), or None."""
    for a in cells:
        for b in cells:
            if a != b and a[1] == b[1] and (a[0] & b[0] in (a[0], b[0])):
                return (a[0] | b[0]) & ~(a[0] & b[0])
    return None


def _given(value) -> bool:
    return value is not None and str(value).strip() != ""


def focus_defaults(grid: GridLike, selection: Selection, focus: Focus, given: dict) -> dict[str, str]:
    """The parts of a focus that are defaults, each with the default it took, as text.

    Parameters
    ----------
    grid : GridLike
    selection : Selection
    focus : Focus
        ``resolve(grid, selection, **given)``.
    given : dict
        The parameters as typed (``unit``, ``pair``, ``coalition``, ``k``, ``alpha``, ``beta``,
        ``tol``); empty or None for those left out.

    Returns
    -------
    dict of str to str
        Part (``train``, ``column``, ``unit``, ``pair``, ``coalition``, ``k``, ``alpha_beta``,
        ``tolerance``) -> what was used, for each part not set by the selection or a parameter.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from cfgraph.selection import parse_selection, resolve
    >>> g = SimpleNamespace(letters="AB", labels=["∅", "A", "B", "AB"], slices=["all"], slice_masks=[None])
    >>> s = parse_selection(g, cells=["AB:all", "B:all"])
    >>> sorted(focus_defaults(g, s, resolve(g, s), {}))
    ['alpha_beta', 'coalition', 'pair', 'tolerance']
    >>> focus_defaults(g, Selection(), resolve(g, Selection()), {})["train"]
    'the full training set AB'
    """
    out = {}
    cells = selection.cells
    if not cells and not selection.rows:
        out["train"] = f"the full training set {grid.labels[focus.train]}"
    if not cells and not selection.columns:
        out["column"] = f"the first slice {grid.slices[focus.column]}"
    nested = _nested_pair(cells)
    if not _given(given.get("unit")) and not (nested is not None and nested.bit_count() == 1):
        if focus.unit is not None:
            out["unit"] = f"unit {grid.letters[focus.unit]} (the first unit of {grid.labels[focus.train]})"
    if not _given(given.get("pair")) and focus.pair is not None:
        out["pair"] = "pair " + "".join(grid.letters[u] for u in focus.pair) + " (the focus unit and another)"
    if not _given(given.get("coalition")) and not (nested is not None and nested.bit_count() > 1):
        out["coalition"] = f"coalition {grid.labels[focus.coalition]} (the focus unit and another)"
    # k is the selection's when a layer is selected, or when the training set is (k = |S|)
    if not _given(given.get("k")) and selection.layer is None and "train" in out:
        out["k"] = f"k = {focus.k} (the size of {grid.labels[focus.train]})"
    if not (_given(given.get("alpha")) or _given(given.get("beta"))):
        out["alpha_beta"] = f"α = {DEFAULT_ALPHA:g}, β = {DEFAULT_BETA:g}"
    if not _given(given.get("tol")):
        out["tolerance"] = f"tolerance {DEFAULT_TOLERANCE:g}"
    return out


def answer_groups(grid: GridLike, selection: Selection, focus: Focus, answers, given: dict) -> dict:
    """The answers in three groups: from the selection, from defaults, not posed.

    Returns
    -------
    dict
        ``selection``: (answer, defaults) pairs whose training set and slice came from the
        selection, ``defaults`` naming the other parameters it took by default (often empty);
        ``defaults``: (answer, defaults) pairs whose training set or slice is a default;
        ``not_posed``: answers whose status is "not applicable". Defaults are text.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from cfgraph.selection import parse_selection, resolve
    >>> from cfgraph.questions import ask_all
    >>> import numpy as np
    >>> g = SimpleNamespace(letters="AB", labels=["∅", "A", "B", "AB"], slices=["all"], slice_masks=[None],
    ...                     values=np.array([[0.1], [0.5], [0.6], [0.9]]))
    >>> s = parse_selection(g, cells=["AB:all", "B:all"])
    >>> groups = answer_groups(g, s, resolve(g, s), ask_all(g, resolve(g, s)), {})
    >>> [(a.key, used) for a, used in groups["selection"]][:3]
    [('loo', []), ('group_loo', ['coalition AB (the focus unit and another)']), ('interaction', ['pair AB (the focus unit and another)'])]
    >>> groups["defaults"]
    []
    """
    defaults = focus_defaults(grid, selection, focus, given)
    out = {"selection": [], "defaults": [], "not_posed": []}
    for answer in answers:
        if answer.status == "not applicable":
            out["not_posed"].append(answer)
            continue
        parts = QUESTION_FIELDS.get(answer.key, ())
        used = [defaults[part] for part in parts if part in defaults]
        own = not any(part in defaults for part in parts if part in CELL_PARTS)
        out["selection" if own else "defaults"].append((answer, used))
    return out
