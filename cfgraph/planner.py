"""The planner: which cells each question needs, which are stored, which are missing.

For a world (exhaustive, or sampled), a metric, a seed and the grid's focus (current cell,
unit, pair, coalition, k, alpha, beta, tolerance), :func:`plan_world` lists every question
of :mod:`cfgraph.questions` plus the neighbour (DP) sensitivity, each with the exact cells
it needs and ``ready``, ``needs N more cells``, ``not applicable`` or ``not computable``.
The cells a question needs come from the question itself
(:func:`cfgraph.questions.needed_cells`), never from a second list here.

A sampled world of more than :data:`cfgraph.lattice.MAX_UNITS` units has no table of 2^n
rows: its local questions (leave-one-out, strike, interaction, evaluation move, unlearning
audit, neighbour sensitivity) are asked on the small sub-lattice through the current
training set spanned by the focus units, and the questions that need the whole lattice say
so ("needs 2^n cells: not computable exactly; use a sampler"): nothing is sampled silently.
Nothing here knows of Flask; the store is read through :class:`cfgraph.world.World`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from cfgraph import lattice
from cfgraph import questions as Q
from cfgraph.errors import CfgraphError

__all__ = ["PlanItem", "Plan", "plan_grid", "plan_world", "EXTRA_QUESTIONS", "WHOLE_LATTICE", "LIST_LIMIT"]

#: Questions the planner adds to :data:`cfgraph.questions.QUESTIONS`.
EXTRA_QUESTIONS = (("dp_sensitivity", "DP sensitivity (neighbour sensitivity)"),)
#: Questions that read every training set of a column (or a whole layer).
WHOLE_LATTICE = ("shapley", "banzhaf", "beta", "scaling", "subset_scan")
#: Missing cells named per question (the counts are always exact).
LIST_LIMIT = 256


@dataclass
class PlanItem:
    """One question's plan.

    Attributes
    ----------
    status : str
        ``ready`` (every cell it needs is stored), ``needs`` (``n_missing`` cells not stored),
        ``failed`` (every cell stored, some failed: computing again changes nothing),
        ``not applicable`` (the focus does not pose it: ``reason``) or ``not computable``
        (a whole lattice of a sampled world: ``reason``).
    n_needed, n_stored, n_missing, n_failed : int
        Exact counts of cells.
    missing : list of (str, str)
        (training-set label, slice name) of the missing cells, at most :data:`LIST_LIMIT`.
    missing_sets : list of str
        Labels of the training sets to fit for them (each fit scores every slice).
    """

    key: str
    title: str
    status: str
    n_needed: int = 0
    n_stored: int = 0
    n_missing: int = 0
    n_failed: int = 0
    reason: str = ""
    missing: list = field(default_factory=list)
    missing_sets: list = field(default_factory=list)
    n_missing_sets: int = 0

    @property
    def summary(self) -> str:
        """``ready``, ``needs 3 more cells`` ... as a line."""
        if self.status == "needs":
            return f"needs {self.n_missing} more cell{'s' * (self.n_missing != 1)}"
        return self.status

    def to_dict(self) -> dict:
        out = dict(vars(self))
        out["missing"] = [{"train": t, "slice": s} for t, s in self.missing]
        out["summary"] = self.summary
        return out


@dataclass
class Plan:
    """A world's plan for one metric, seed and focus: its size and every question's item."""

    world: str
    lattice: str
    n: int
    metric: str
    seed: int
    possible: str
    stored_sets: int
    focus: dict
    items: list[PlanItem]

    def missing_sets(self) -> list[str]:
        """Labels of every training set some question still lacks, in first-needed order."""
        return list(dict.fromkeys(t for item in self.items for t in item.missing_sets))

    def to_dict(self) -> dict:
        head = {k: getattr(self, k) for k in ("world", "lattice", "n", "metric", "seed", "possible",
                                              "stored_sets", "focus")}
        return {**head, "questions": [item.to_dict() for item in self.items]}


def _item(grid, key: str, title: str, answer, cells: np.ndarray) -> PlanItem:
    if answer.status == "not applicable":
        return PlanItem(key, title, "not applicable", reason=answer.reason)
    masks, cols = cells[:, 0], cells[:, 1]
    status = np.asarray(grid.status)[masks, cols] if len(cells) else np.empty(0, dtype=object)
    absent = status == ""
    failed = ~absent & np.isnan(np.asarray(grid.values)[masks, cols])
    gone = np.flatnonzero(absent)
    sets = list(dict.fromkeys(masks[gone].tolist()))
    item = PlanItem(key, title, "ready", n_needed=len(cells), n_stored=int((~absent).sum()),
                    n_missing=len(gone), n_failed=int(failed.sum()), n_missing_sets=len(sets),
                    missing=[(grid.labels[masks[t]], grid.slices[cols[t]]) for t in gone[:LIST_LIMIT]],
                    missing_sets=[grid.labels[m] for m in sets[:LIST_LIMIT]])
    if item.n_missing:
        item.status = "needs"
    elif item.n_failed:
        item.status, item.reason = "failed", f"{item.n_failed} of its cells failed to fit or score"
    return item


def neighbour_cells(grid, focus: Q.Focus) -> np.ndarray:
    """The cells of the neighbour (local DP) sensitivity at the focus: S and every S xor {i}.

    References
    ----------
    Nissim, Raskhodnikova & Smith (2007), "Smooth sensitivity and sampling in private data analysis".

    Examples
    --------
    >>> g = SimpleNamespace(letters="AB")
    >>> neighbour_cells(g, Q.Focus(train=3, column=0, other_column=None, unit=0, pair=None, coalition=1, k=2)).tolist()
    [[1, 0], [2, 0], [3, 0]]
    """
    S, n = focus.train, len(grid.letters)
    masks = sorted({S} | {S ^ (1 << i) for i in range(n)})
    return np.array([[m, focus.column] for m in masks], dtype=np.int64)


def plan_grid(grid, focus: Q.Focus) -> list[PlanItem]:
    """Every question's plan on a grid (values NaN where missing, ``status`` "" where not stored).

    Parameters
    ----------
    grid : GridLike with ``status``
        A :class:`cfgraph.tables.LatticeTable` (``status`` shape (2^n, m), "" for a cell not stored).
    focus : Focus

    Returns
    -------
    list of PlanItem
        In the order of :data:`cfgraph.questions.QUESTIONS`, then :data:`EXTRA_QUESTIONS`.

    Examples
    --------
    >>> v = np.array([[0.2], [0.6], [np.nan], [0.9]])
    >>> g = SimpleNamespace(values=v, status=np.where(np.isnan(v), "", "ok"), labels=["∅", "A", "B", "AB"],
    ...                     letters="AB", slices=["all"], slice_masks=[3])
    >>> items = plan_grid(g, Q.resolve(g, Q.parse_selection(g, cells=["AB:all"]), unit="A"))
    >>> [(i.key, i.summary) for i in items][:2], items[4].missing
    ([('loo', 'needs 1 more cell'), ('eval_move', 'not applicable')], [('B', 'all')])
    """
    items = []
    for key, title in Q.QUESTIONS:
        answer, cells = Q.needed_cells(grid, focus, key)
        items.append(_item(grid, key, title, answer, cells))
    key, title = EXTRA_QUESTIONS[0]
    items.append(_item(grid, key, title, SimpleNamespace(status="ready"), neighbour_cells(grid, focus)))
    return items


# --------------------------------------------------------------- worlds too large for a table


def _projected(world, metric: str, seed: int, train: int, units: list[int], column: int):
    """The sub-lattice of a sampled world through ``train`` spanned by ``units``, as a small grid.

    Projected mask m stands for the training set ``(train minus units) | expand(m)``; its
    label is the real training set's label (unit labels joined by "+").
    """
    from cfgraph.store import cells, nodes

    k = len(units)
    base = train & ~sum(1 << u for u in units)
    real = [base | sum(1 << units[b] for b in range(k) if m >> b & 1) for m in range(1 << k)]
    letters = world.letters
    labels = [" + ".join(letters[i] for i in range(world.n) if r >> i & 1) or lattice.EMPTY_LABEL
              if r.bit_count() <= 8 else f"{r.bit_count()} units" for r in real]
    values = np.full((1 << k, len(world.slices)), np.nan)
    status = np.full(values.shape, "", dtype=object)
    ids = nodes.find_nodes(world.session, world.record, nodes.masks_to_members(real, world.n))
    have = ids >= 0
    if have.any():
        v, present = cells.cells_of_nodes(world.session, world.record, ids[have], [metric], [seed])
        values[have] = v[:, 0, :, 0]
        status[have] = np.where(present[:, 0, :, 0], "stored", "")
    return SimpleNamespace(values=values, status=status, labels=labels, letters=[letters[u] for u in units],
                           slices=[s.name for s in world.slices], slice_masks=[None] * len(world.slices),
                           real=real)


def _plan_large(world, metric: str, seed: int, params: dict) -> tuple[dict, list[PlanItem]]:
    """Plans on a sampled world of more units than a table holds (see the module's note)."""
    n = world.n
    cells = params.get("cells") or ()
    train, column = (1 << n) - 1, 0
    if cells:
        label, _, slice_name = str(cells[0]).partition(":")
        train = world.mask_of(label.replace(" ", ""))
        column = [s.name for s in world.slices].index(world.find_slice(slice_name).name)
    unit = world.unit_index(params["unit"]) if params.get("unit") else next(
        (i for i in range(n) if train >> i & 1), 0)
    pair = [world.unit_index(p) for p in str(params.get("pair") or "").replace(",", "+").split("+") if p.strip()]
    coalition = world.mask_of(params["coalition"]) if params.get("coalition") else 0
    units = list(dict.fromkeys([unit] + pair + lattice.members(coalition, n)))
    if len(units) > 12:
        raise CfgraphError(f"the focus spans {len(units)} units; the planner of a sampled world asks about at most 12")
    small = _projected(world, metric, seed, train, units, column)
    idx = {u: b for b, u in enumerate(units)}
    focus = Q.Focus(train=sum(1 << b for u, b in idx.items() if train >> u & 1), column=column, other_column=None,
                    unit=0, pair=(idx[pair[0]], idx[pair[1]]) if len(pair) == 2 else None,
                    coalition=sum(1 << idx[u] for u in lattice.members(coalition, n)) or 1,
                    k=Q.parse_int(params.get("k"), "k", 0, n) or train.bit_count())
    focus.tolerance = Q.parse_float(params.get("tolerance"), "tolerance", Q.DEFAULT_TOLERANCE)
    if len(world.slices) > 1:
        focus.other_column = (column + 1) % len(world.slices)
    items = []
    exponent = f"2^{n}" if n > 20 else f"{1 << n:,}"
    for key, title in Q.QUESTIONS + EXTRA_QUESTIONS:
        if key in WHOLE_LATTICE:
            need = (f"C({n}, {focus.k}) = {math.comb(n, focus.k):,}" if key == "subset_scan"
                    else exponent)
            items.append(PlanItem(key, title, "not computable",
                                  reason=f"needs {need} cells: not computable exactly; use a sampler"))
        elif key == "dp_sensitivity":
            items.append(PlanItem(key, title, "not computable",
                                  reason=f"needs {n + 1} training sets (S and its {n} neighbours): ask it of a "
                                         "world of at most 16 units, or use a sampler"))
        elif key == "unlearning" and train.bit_count() > len(units):
            answer, cells_ = Q.needed_cells(small, focus, key)
            item = _item(small, key, title, answer, cells_)
            item.reason = f"audits the focus unit only; the whole table needs {train.bit_count() + 1} training sets"
            items.append(item)
        else:
            answer, cells_ = Q.needed_cells(small, focus, key)
            items.append(_item(small, key, title, answer, cells_))
    return {"train": lattice.EMPTY_LABEL if not train else f"{train.bit_count()} units",
            "slice": small.slices[column], "unit": world.letters[unit]}, items


def plan_world(world, *, metric: str | None = None, seed=None, cells=(), rows=(), columns=(), layer=None,
               **focus) -> Plan:
    """Plan every question of a stored world for one metric, seed and grid focus.

    Parameters
    ----------
    world : cfgraph.world.World
    metric, seed : optional
        Default: the world's metric and its lowest seed (a world with no cells yet: its recipe's).
    cells, rows, columns, layer
        The grid's selection in URL form (``cells=["ACD:B"]``).
    **focus
        unit, pair, coalition, k, alpha, beta, tolerance (see :func:`cfgraph.selection.resolve`).

    Returns
    -------
    Plan

    Raises
    ------
    CfgraphError, NotFound
        On a bad selection or focus parameter.

    Examples
    --------
    >>> from cfgraph.store import open_store
    >>> from cfgraph.worlds import build_world, make_spec
    >>> from cfgraph.world import World
    >>> store = open_store("sqlite://")
    >>> _ = build_world(store, "iris", make_spec(dataset="iris", units=3, model="gnb"), progress=False)
    >>> with World.open(store, "iris") as w:
    ...     p = plan_world(w, cells=["ABC:all"])
    >>> p.stored_sets, {i.status for i in p.items if i.key != "eval_move"}  # one slice selected: no move
    (8, {'ready'})
    """
    from cfgraph.store import cells as C

    metric, seed = _metric_seed(world, metric, seed)
    if world.sampled and world.n > lattice.MAX_UNITS:
        head, items = _plan_large(world, metric, seed, {"cells": cells, **focus})
        stored = world.stored_count()
    else:
        table = (C.lattice_table(world.session, world.record, metric, seed) if world.seeds
                 else _empty_table(world, metric, seed))
        selection = Q.parse_selection(table, cells, rows, columns, layer)
        chosen = Q.resolve(table, selection, **focus)
        items = plan_grid(table, chosen)
        stored = int((table.status != "").any(axis=1).sum())  # training sets with a cell of this metric and seed
        head = {"train": table.labels[chosen.train], "slice": table.slices[chosen.column],
                "unit": None if chosen.unit is None else table.letters[chosen.unit], "k": chosen.k}
    return Plan(world=world.name, lattice=world.lattice, n=world.n, metric=metric, seed=seed,
                possible=world.possible, stored_sets=stored, focus=head, items=items)


def _metric_seed(world, metric, seed) -> tuple[str, int]:
    if world.seeds:
        return world.choose(metric, seed)
    spec = world.record.spec or {}
    metric = metric or (spec.get("metrics") or [world.record.metric])[0]
    seeds = spec.get("seeds") or [0]
    chosen = int(seed) if seed not in (None, "") else seeds[0]
    if chosen not in seeds:
        raise CfgraphError(f"world {world.name!r} has no seed {chosen} in its recipe")
    return metric, chosen


def _empty_table(world, metric: str, seed: int):
    """A world's table with no cell stored (a sampled world before any fit)."""
    from cfgraph.tables import LatticeTable

    n, m = world.n, len(world.slices)
    values = np.full((1 << n, m), np.nan)
    return LatticeTable(world=world.name, letters=world.letters, labels=lattice.all_labels(world.letters),
                        slices=[s.name for s in world.slices], slice_masks=[s.mask for s in world.slices],
                        metric=metric, seed=seed, values=values, status=np.full(values.shape, "", dtype=object))
