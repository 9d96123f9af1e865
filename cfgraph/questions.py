"""The twelve questions a selection of grid cells can answer.

A selection and its :class:`~cfgraph.selection.Focus` (current cell, units,
coalition, layer k, alpha/beta, tolerance) come from :mod:`cfgraph.selection`. Each question then
says which cells it needs, and either answers (value, formula with the numbers
filled in, the cells used) or lists the cells still missing.

Everything here works on a *grid*: any object with the attributes of
:class:`cfgraph.tables.LatticeTable` (``values`` of shape (2^n, m) with
NaN for a missing cell, ``labels`` by mask, ``letters``, ``slices`` and
``slice_masks``). It builds on :mod:`cfgraph.values` and knows nothing of SQL
or Flask.

The answer types live in :mod:`cfgraph.answers` and the value tables
(:func:`unit_values`, :func:`scaling_table`) in :mod:`cfgraph.value_tables`;
both are re-exported here, with the selection API of :mod:`cfgraph.selection`,
so the grid panel and the Values page need only this module.
"""

from __future__ import annotations

import math

import numpy as np

from cfgraph import lattice
from cfgraph import values as V
from cfgraph.display import fixed
from cfgraph.answers import LIST_LIMIT, Answer, CellRef, fill_cells, gather_cells, jsonable  # noqa: F401
from cfgraph.errors import CfgraphError, MissingCells
from cfgraph.selection import (  # noqa: F401  (the grid panel's API: selection, then questions)
    DEFAULT_ALPHA,
    DEFAULT_BETA,
    DEFAULT_TOLERANCE,
    Focus,
    GridLike,
    Selection,
    parse_float,
    parse_int,
    parse_selection,
    resolve,
    selection_params,
)
from cfgraph.value_tables import scaling_table, unit_values  # noqa: F401  (the Values page's tables)

QUESTIONS = (
    ("loo", "Leave-one-out"),
    ("eval_move", "Evaluation move"),
    ("group_loo", "Group leave-one-out (data strike)"),
    ("interaction", "Pair interaction"),
    ("shapley", "Shapley value"),
    ("banzhaf", "Banzhaf value"),
    ("beta", "Beta Shapley"),
    ("scaling", "Scaling law"),
    ("eval_scaling", "Evaluation scaling"),
    ("diagonal", "Diagonal scaling"),
    ("subset_scan", "Budgeted subset scan"),
    ("unlearning", "Unlearning audit"),
)
TITLES = dict(QUESTIONS)


def _fmt(x: float | None) -> str:
    return fixed(x, 4, missing="?")


def _na(key: str, formula: str, reason: str) -> Answer:
    return Answer(key, TITLES[key], formula, status="not applicable", reason=reason)


def _f(grid: GridLike, mask: int, j: int) -> str:
    return f"f({grid.labels[mask]}, {grid.slices[j]})"


def _v(grid: GridLike, mask: int, j: int) -> float:
    return float(grid.values[mask, j])


def leave_one_out(grid: GridLike, focus: Focus) -> Answer:
    """Leave-one-out: ``f(S, E) - f(S \\ {i}, E)``, what unit i adds to S on slice E.

    References
    ----------
    Cook (1977), "Detection of influential observation in linear regression".

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> g = SimpleNamespace(values=np.array([[0.2, 0.3], [0.6, 0.5], [0.5, 0.4], [0.9, 0.7]]),
    ...                     labels=["∅", "A", "B", "AB"], letters="AB", slices=["A", "B"], slice_masks=[1, 2])
    >>> a = leave_one_out(g, resolve(g, parse_selection(g, cells=["AB:A", "B:A"])))
    >>> round(a.value, 4), a.worked
    (0.4, 'f(AB, A) − f(B, A) = 0.9000 − 0.5000 = 0.4000  (unit A)')
    """
    key, formula = "loo", "LOO_i(S, E) = f(S, E) − f(S \\ {i}, E)"
    S, E, i = focus.train, focus.column, focus.unit
    if i is None or not S >> i & 1:
        return _na(key, formula, f"the focus unit is not in {grid.labels[S]}: pick a cell whose training set holds it")
    T = S & ~(1 << i)
    answer = Answer(key, TITLES[key], formula)
    answer.worked = f"{_f(grid, S, E)} − {_f(grid, T, E)}"
    if fill_cells(grid, answer, [S, T], E):
        a, b = _v(grid, S, E), _v(grid, T, E)
        answer.value = float(V.leave_one_out(grid.values[:, E], base=S, units=[i])[i])
        answer.worked += f" = {_fmt(a)} − {_fmt(b)} = {_fmt(answer.value)}  (unit {grid.letters[i]})"
    return answer


def evaluation_move(grid: GridLike, focus: Focus) -> Answer:
    """Evaluation move: ``f(S, E') - f(S, E)``, the same model scored on another slice.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> g = SimpleNamespace(values=np.array([[0.2, 0.3], [0.6, 0.5], [0.5, 0.4], [0.9, 0.7]]),
    ...                     labels=["∅", "A", "B", "AB"], letters="AB", slices=["A", "B"], slice_masks=[1, 2])
    >>> round(evaluation_move(g, resolve(g, parse_selection(g, cells=["AB:A", "AB:B"]))).value, 4)
    -0.2
    """
    key, formula = "eval_move", "Δ = f(S, E′) − f(S, E)"
    S, E, E2 = focus.train, focus.column, focus.other_column
    if E2 is None:
        return _na(key, formula, "select a second cell in the same row (or a second column)")
    answer = Answer(key, TITLES[key], formula, worked=f"{_f(grid, S, E2)} − {_f(grid, S, E)}")
    if fill_cells(grid, answer, [S, S], [E, E2]):
        a, b = _v(grid, S, E2), _v(grid, S, E)
        answer.value = a - b
        answer.worked += f" = {_fmt(a)} − {_fmt(b)} = {_fmt(answer.value)}"
    return answer


def group_leave_one_out(grid: GridLike, focus: Focus) -> Answer:
    """Group leave-one-out (a data strike): ``f(S, E) - f(S \\ C, E)`` for a coalition C.

    References
    ----------
    Vincent et al. (2021), "Data leverage"; Koh et al. (2019) on group influence.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> g = SimpleNamespace(values=np.array([[0.2, 0.3], [0.6, 0.5], [0.5, 0.4], [0.9, 0.7]]),
    ...                     labels=["∅", "A", "B", "AB"], letters="AB", slices=["A", "B"], slice_masks=[1, 2])
    >>> round(group_leave_one_out(g, resolve(g, parse_selection(g, cells=["AB:A", "∅:A"]))).value, 4)
    0.7
    """
    key, formula = "group_loo", "strike_C(S, E) = f(S, E) − f(S \\ C, E)"
    S, E, C = focus.train, focus.column, focus.coalition
    if C == 0 or C & ~S:
        return _na(key, formula, f"the coalition {grid.labels[C]} is not part of {grid.labels[S]}")
    T = S & ~C
    answer = Answer(key, TITLES[key], formula, worked=f"{_f(grid, S, E)} − {_f(grid, T, E)}")
    if fill_cells(grid, answer, [S, T], E):
        a, b = _v(grid, S, E), _v(grid, T, E)
        answer.value = float(V.group_leave_one_out(grid.values[:, E], C, base=S))
        answer.worked += f" = {_fmt(a)} − {_fmt(b)} = {_fmt(answer.value)}  (coalition {grid.labels[C]})"
    return answer


def pair_interaction(grid: GridLike, focus: Focus) -> Answer:
    """Pair interaction of units i and j on the square through S.

    With T = S ∪ {i, j} and B = S \\ {i, j}:
    ``f(T) - f(T \\ {j}) - f(T \\ {i}) + f(B)``; positive when i and j
    complement each other, negative when they substitute.

    References
    ----------
    Grabisch & Roubens (1999), "An axiomatic approach to the concept of interaction among players".

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> g = SimpleNamespace(values=np.array([[0.2, 0.3], [0.6, 0.5], [0.5, 0.4], [0.9, 0.7]]),
    ...                     labels=["∅", "A", "B", "AB"], letters="AB", slices=["A", "B"], slice_masks=[1, 2])
    >>> round(pair_interaction(g, resolve(g, parse_selection(g, cells=["AB:B"]))).value, 4)
    0.1
    """
    key, formula = "interaction", "I_ij(B, E) = f(B+i+j, E) − f(B+i, E) − f(B+j, E) + f(B, E)"
    if focus.pair is None:
        return _na(key, formula, "needs two different units")
    (i, j), E = focus.pair, focus.column
    B = focus.train & ~((1 << i) | (1 << j))
    corners = [B | 1 << i | 1 << j, B | 1 << i, B | 1 << j, B]
    answer = Answer(key, TITLES[key], formula,
                    worked=" − ".join(_f(grid, m, E) for m in corners[:3]) + f" + {_f(grid, B, E)}")
    if fill_cells(grid, answer, corners, E):
        v = [_v(grid, m, E) for m in corners]
        answer.value = float(V.pair_interaction(grid.values[:, E], i, j, base=B))
        answer.worked += (f" = {_fmt(v[0])} − {_fmt(v[1])} − {_fmt(v[2])} + {_fmt(v[3])} = {_fmt(answer.value)}"
                          f"  (units {grid.letters[i]}, {grid.letters[j]})")
    return answer


_SEMIVALUE_FORMULAS = {
    "shapley": "φ_i(E) = Σ_{S ∌ i} |S|! (n−|S|−1)! / n! · [f(S+i, E) − f(S, E)]",
    "banzhaf": "β_i(E) = 1/2^(n−1) · Σ_{S ∌ i} [f(S+i, E) − f(S, E)]",
    "beta": "ψ_i(E) = Σ_{S ∌ i} w_{α,β}(|S|) · [f(S+i, E) − f(S, E)],  w = B(|S|+β, n−1−|S|+α) / B(α, β)",
}


def semivalue_answer(grid: GridLike, focus: Focus, kind: str) -> Answer:
    """Shapley, Banzhaf or Beta Shapley value of every unit on the current slice.

    All three are weighted sums of the same marginal contributions over all 2^n
    cells of the column (see :func:`cfgraph.values.semivalue_weights`).

    References
    ----------
    Shapley (1953); Ghorbani & Zou (2019), "Data Shapley"; Banzhaf (1965);
    Wang & Jia (2023), "Data Banzhaf"; Kwon & Zou (2022), "Beta Shapley".

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> g = SimpleNamespace(values=np.array([[0.2, 0.3], [0.6, 0.5], [0.5, 0.4], [0.9, 0.7]]),
    ...                     labels=["∅", "A", "B", "AB"], letters="AB", slices=["A", "B"], slice_masks=[1, 2])
    >>> a = semivalue_answer(g, resolve(g, parse_selection(g, cells=["AB:A"])), "shapley")
    >>> [(unit, round(value, 4)) for unit, value in a.table]
    [('A', 0.4), ('B', 0.3)]
    """
    key = kind
    answer = Answer(key, TITLES[key], _SEMIVALUE_FORMULAS[kind])
    n, E = len(grid.letters), focus.column
    if not fill_cells(grid, answer, np.arange(1 << n), E):
        answer.worked = f"needs every cell of column {grid.slices[E]}"
        return answer
    column = grid.values[:, E]
    weights = V.semivalue_weights(n, kind, focus.alpha, focus.beta)
    phi = V.semivalue(column, weights)
    name = {"shapley": "Shapley", "banzhaf": "Banzhaf", "beta": f"Beta({focus.alpha:g}, {focus.beta:g})"}[kind]
    answer.columns = ["unit", name]
    answer.table = [[grid.letters[u], float(phi[u])] for u in range(n)]
    i = focus.unit if focus.unit is not None else 0
    answer.value = float(phi[i])
    answer.worked = f"{name} value of unit {grid.letters[i]} on slice {grid.slices[E]} = {_fmt(answer.value)}"
    if kind == "shapley":
        answer.worked += (f"; efficiency: Σ φ = {_fmt(float(phi.sum()))} = f(N) − f(∅) = "
                          f"{_fmt(column[-1] - column[0])}")
    return answer


def _curve_answer(answer: Answer, mean, count, every, focus_k: int, label: str) -> Answer:
    answer.columns = ["k", "mean", "cells present", f"{label} of size k"]
    answer.table = [[k, float(mean[k]), int(count[k]), int(every[k])]
                    for k in range(len(mean)) if every[k]]
    if 0 <= focus_k < len(mean) and count[focus_k]:
        answer.value = float(mean[focus_k])
    if answer.n_missing:
        answer.status = "partial" if count.sum() else "missing"
    return answer


def scaling_law(grid: GridLike, focus: Focus) -> Answer:
    """Scaling law: the mean score of the training sets of each size k on the current slice.

    Missing cells are left out of each layer's mean and counted.

    References
    ----------
    Hestness et al. (2017); Kaplan et al. (2020), "Scaling laws for neural language models".

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> g = SimpleNamespace(values=np.array([[0.2, 0.3], [0.6, 0.5], [0.5, 0.4], [0.9, 0.7]]),
    ...                     labels=["∅", "A", "B", "AB"], letters="AB", slices=["A", "B"], slice_masks=[1, 2])
    >>> round(scaling_law(g, resolve(g, parse_selection(g, cells=["A:A"]))).value, 4)
    0.55
    """
    key = "scaling"
    answer = Answer(key, TITLES[key], "m(k, E) = mean over |S| = k of f(S, E)")
    n, E = len(grid.letters), focus.column
    answer.cells, answer.missing, answer.n_used, answer.n_missing = gather_cells(grid, np.arange(1 << n), E)
    mean, count, every = V.layer_means(grid.values[:, E])
    answer.worked = (f"m({focus.k}, {grid.slices[E]}) = {_fmt(mean[focus.k])} "
                     f"from {count[focus.k]} of {every[focus.k]} training sets of size {focus.k}")
    return _curve_answer(answer, mean, count, every, focus.k, "training sets")


def _slice_sizes(grid: GridLike) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the slices that are unions of units, and their sizes (units per slice)."""
    idx = np.array([j for j, m in enumerate(grid.slice_masks) if m], dtype=np.int64)
    sizes = np.array([int(grid.slice_masks[j]).bit_count() for j in idx], dtype=np.int64)
    return idx, sizes


def _nearest_layer(k: int, every: np.ndarray) -> int:
    """The size closest to k that some slice has (slices of k units may not all exist)."""
    sizes = np.flatnonzero(every)
    return int(sizes[np.argmin(np.abs(sizes - k))])


def evaluation_scaling(grid: GridLike, focus: Focus) -> Answer:
    """Evaluation scaling: for the current training set, the mean score over slices of k units.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> g = SimpleNamespace(values=np.array([[0.2, 0.3], [0.6, 0.5], [0.5, 0.4], [0.9, 0.7]]),
    ...                     labels=["∅", "A", "B", "AB"], letters="AB", slices=["A", "B"], slice_masks=[1, 2])
    >>> round(evaluation_scaling(g, resolve(g, parse_selection(g, cells=["AB:A"]), k=1)).value, 4)
    0.8
    """
    key = "eval_scaling"
    formula = "e(S, k) = mean over slices E with |E| = k of f(S, E)"
    idx, sizes = _slice_sizes(grid)
    if len(idx) == 0:
        return _na(key, formula, "this world's slices are not unions of units (it needs one slice per union of units: 'powerset' slices)")
    answer = Answer(key, TITLES[key], formula)
    S, n = focus.train, len(grid.letters)
    answer.cells, answer.missing, answer.n_used, answer.n_missing = gather_cells(grid, np.full(len(idx), S), idx)
    mean, count, every = V.layer_means(grid.values[S, idx], sizes, n + 1)
    k = _nearest_layer(focus.k, every)
    answer.worked = (f"e({grid.labels[S]}, {k}) = {_fmt(mean[k])} over {count[k]} of {every[k]} slices "
                     f"of {k} unit(s)")
    return _curve_answer(answer, mean, count, every, k, "slices")


def diagonal_scaling(grid: GridLike, focus: Focus) -> Answer:
    """Diagonal scaling: ``f(S, S)``, each training set scored on its own units' test rows,
    averaged by size.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> g = SimpleNamespace(values=np.array([[0.2, 0.3], [0.6, 0.5], [0.5, 0.4], [0.9, 0.7]]),
    ...                     labels=["∅", "A", "B", "AB"], letters="AB", slices=["A", "B"], slice_masks=[1, 2])
    >>> round(diagonal_scaling(g, resolve(g, parse_selection(g, cells=["A:A"]))).value, 4)
    0.5
    """
    key = "diagonal"
    formula = "d(k) = mean over |S| = k of f(S, S)"
    idx, sizes = _slice_sizes(grid)
    if len(idx) == 0:
        return _na(key, formula, "this world's slices are not unions of units (it needs one slice per union of units: 'powerset' slices)")
    answer = Answer(key, TITLES[key], formula)
    n = len(grid.letters)
    trains = np.array([grid.slice_masks[j] for j in idx], dtype=np.int64)
    answer.cells, answer.missing, answer.n_used, answer.n_missing = gather_cells(grid, trains, idx)
    mean, count, every = V.layer_means(grid.values[trains, idx], sizes, n + 1)
    k = _nearest_layer(focus.k, every)
    own = [j for j in idx if grid.slice_masks[j] == focus.train]
    here = f"f({grid.labels[focus.train]}, {grid.slices[own[0]]}) = {_fmt(_v(grid, focus.train, own[0]))}; " if own else ""
    answer.worked = f"{here}d({k}) = {_fmt(mean[k])} over {count[k]} of {every[k]} diagonal cells"
    return _curve_answer(answer, mean, count, every, k, "diagonal cells")


def subset_scan(grid: GridLike, focus: Focus) -> Answer:
    """Budgeted subset scan: the best training set of size k on the current slice.

    Exact when no cell of layer k is missing; otherwise the best of those present.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> g = SimpleNamespace(values=np.array([[0.2, 0.3], [0.6, 0.5], [0.5, 0.4], [0.9, 0.7]]),
    ...                     labels=["∅", "A", "B", "AB"], letters="AB", slices=["A", "B"], slice_masks=[1, 2])
    >>> subset_scan(g, resolve(g, parse_selection(g, cells=["A:A"]))).worked
    'best of size 1 on A: A with 0.6000'
    """
    key, formula = "subset_scan", "S* = argmax over |S| = k of f(S, E)"
    n, E, k = len(grid.letters), focus.column, focus.k
    masks = lattice.layer(n, k)
    answer = Answer(key, TITLES[key], formula)
    answer.cells, answer.missing, answer.n_used, answer.n_missing = gather_cells(grid, masks, E)
    try:
        best, value, missing = V.best_of_size(grid.values[:, E], k)
    except MissingCells:
        answer.status = "missing"
        answer.worked = f"no training set of size {k} has a score on {grid.slices[E]}"
        return answer
    answer.value = value
    answer.worked = (f"best of size {k} on {grid.slices[E]}: {grid.labels[best]} with {_fmt(value)}"
                     + (f" (among {answer.n_used} of {len(masks)} present)" if missing else ""))
    cells = grid.values[masks, E]
    order = np.argsort(-np.where(np.isnan(cells), -np.inf, cells), kind="stable")[:5]
    answer.columns = ["rank", "training set", "score"]
    answer.table = [[r + 1, grid.labels[masks[t]], float(cells[t])] for r, t in enumerate(order)
                    if not np.isnan(cells[t])]
    if missing:
        answer.status = "partial"
    return answer


def unlearning_audit(grid: GridLike, focus: Focus) -> Answer:
    """Unlearning audit: does deleting unit i move the cell by more than a tolerance?

    Exact retraining without i gives ``f(S \\ {i}, E)``. A model that ignored
    the deletion request keeps ``f(S, E)``; an audit with tolerance τ can tell
    the two apart only when ``|f(S, E) - f(S \\ {i}, E)| > τ``.

    References
    ----------
    Bourtoule et al. (2021), "Machine unlearning"; Cao & Yang (2015).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> g = SimpleNamespace(values=np.array([[0.2, 0.3], [0.6, 0.5], [0.5, 0.4], [0.9, 0.7]]),
    ...                     labels=["∅", "A", "B", "AB"], letters="AB", slices=["A", "B"], slice_masks=[1, 2])
    >>> a = unlearning_audit(g, resolve(g, parse_selection(g, cells=["AB:A"]), unit="A"))
    >>> round(a.value, 4), a.worked.split("; ")[1]
    (0.4, 'detectable: a model that kept unit A would fail the audit')
    """
    key = "unlearning"
    formula = "audit_i(S, E) = |f(S, E) − f(S \\ {i}, E)| > τ ?"
    S, E, i, tol = focus.train, focus.column, focus.unit, focus.tolerance
    if i is None or not S >> i & 1:
        return _na(key, formula, f"the focus unit is not in {grid.labels[S]}: pick a cell whose training set holds it")
    n = len(grid.letters)
    inside = lattice.members(S, n)
    others = [S & ~(1 << u) for u in inside]
    answer = Answer(key, TITLES[key], formula)
    answer.cells, answer.missing, answer.n_used, answer.n_missing = gather_cells(grid, [S] + others, E)
    answer.columns = ["unit", "f(S \\ {i}, E)", "|Δ|", "verdict"]
    base = _v(grid, S, E)
    gaps = np.abs(V.leave_one_out(grid.values[:, E], base=S, missing="nan"))
    for u, T in zip(inside, others):
        gap = float(gaps[u])
        verdict = "?" if math.isnan(gap) else ("detectable" if gap > tol else "within tolerance")
        answer.table.append([grid.letters[u], _v(grid, T, E), gap, verdict])
    T = S & ~(1 << i)
    gap = float(gaps[i])
    answer.worked = f"|{_f(grid, S, E)} − {_f(grid, T, E)}|"
    if math.isnan(gap):
        answer.status = "missing"
        return answer
    answer.value = gap
    verdict = ("detectable: a model that kept unit " if gap > tol else "within tolerance: a model that kept unit ")
    answer.worked += (f" = |{_fmt(base)} − {_fmt(_v(grid, T, E))}| = {_fmt(gap)} {'>' if gap > tol else '≤'} "
                      f"τ = {tol:g}; {verdict}{grid.letters[i]} "
                      + ("would fail the audit" if gap > tol else "would pass it"))
    if answer.n_missing:
        answer.status = "partial"
    return answer


_ASK = {
    "loo": leave_one_out,
    "eval_move": evaluation_move,
    "group_loo": group_leave_one_out,
    "interaction": pair_interaction,
    "shapley": lambda g, f: semivalue_answer(g, f, "shapley"),
    "banzhaf": lambda g, f: semivalue_answer(g, f, "banzhaf"),
    "beta": lambda g, f: semivalue_answer(g, f, "beta"),
    "scaling": scaling_law,
    "eval_scaling": evaluation_scaling,
    "diagonal": diagonal_scaling,
    "subset_scan": subset_scan,
    "unlearning": unlearning_audit,
}


def ask(grid: GridLike, focus: Focus, key: str) -> Answer:
    """Answer one question by key (see :data:`QUESTIONS`).

    Raises
    ------
    CfgraphError
        On an unknown key.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> g = SimpleNamespace(values=np.array([[0.2, 0.3], [0.6, 0.5], [0.5, 0.4], [0.9, 0.7]]),
    ...                     labels=["∅", "A", "B", "AB"], letters="AB", slices=["A", "B"], slice_masks=[1, 2])
    >>> ask(g, resolve(g, parse_selection(g, cells=["AB:A", "B:A"])), "loo").status
    'answered'
    """
    if key not in _ASK:
        raise CfgraphError(f"unknown question {key[:40]!r} (questions: {', '.join(_ASK)})")
    return _ASK[key](grid, focus)


def ask_all(grid: GridLike, focus: Focus) -> list[Answer]:
    """Every question, in the order of :data:`QUESTIONS`.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> v = np.full((4, 1), np.nan); v[3, 0], v[1, 0] = 0.9, 0.6
    >>> g = SimpleNamespace(values=v, labels=["∅", "A", "B", "AB"], letters="AB", slices=["all"],
    ...                     slice_masks=[3])
    >>> focus = resolve(g, parse_selection(g, cells=["AB:all", "A:all"]))
    >>> round(ask_all(g, focus)[0].value, 2)
    0.3
    """
    return [ask(grid, focus, key) for key, _ in QUESTIONS]


class _CellRecorder(np.ndarray):
    """A grid's values that note every (training set, slice) pair gathered by fancy indexing.

    Every question reads its cells through :func:`cfgraph.answers.gather_cells`, which indexes
    ``values[masks, cols]`` with two integer arrays; recording those reads gives a question's
    cells from the question itself, so the planner keeps no second list of them.
    Views (a column ``values[:, E]``) do not record.
    """

    def __getitem__(self, key):
        log = self.__dict__.get("log")
        if (log is not None and isinstance(key, tuple) and len(key) == 2
                and all(isinstance(k, np.ndarray) and k.dtype.kind in "iu" for k in key)):
            masks, cols = np.broadcast_arrays(*key)
            log.append(np.stack([masks.ravel(), cols.ravel()], axis=1).astype(np.int64))
        return np.asarray(self).__getitem__(key)


def needed_cells(grid: GridLike, focus: Focus, key: str) -> tuple[Answer, np.ndarray]:
    """Answer one question and list every cell it needs (present or not).

    Parameters
    ----------
    grid : GridLike
    focus : Focus
    key : str
        A question key (see :data:`QUESTIONS`).

    Returns
    -------
    answer : Answer
        As :func:`ask` gives it.
    cells : ndarray of int, shape (c, 2)
        Distinct (training-set mask, slice index) pairs the question reads, sorted; empty when
        the question does not apply to the focus.

    Raises
    ------
    CfgraphError
        On an unknown key.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> g = SimpleNamespace(values=np.array([[0.2, 0.3], [0.6, 0.5], [0.5, 0.4], [0.9, 0.7]]),
    ...                     labels=["∅", "A", "B", "AB"], letters="AB", slices=["A", "B"], slice_masks=[1, 2])
    >>> answer, cells = needed_cells(g, resolve(g, parse_selection(g, cells=["AB:A", "B:A"])), "loo")
    >>> answer.status, cells.tolist()
    ('answered', [[2, 0], [3, 0]])
    """
    from types import SimpleNamespace

    recorder = np.asarray(grid.values).view(_CellRecorder)
    recorder.__dict__["log"] = log = []
    probe = SimpleNamespace(values=recorder, labels=grid.labels, letters=grid.letters, slices=grid.slices,
                            slice_masks=grid.slice_masks)
    answer = ask(probe, focus, key)
    cells = np.unique(np.concatenate(log), axis=0) if log else np.empty((0, 2), dtype=np.int64)
    return answer, cells
