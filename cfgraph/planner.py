"""The planner: which cells each question needs, which are stored, which are missing.

For a world (exhaustive, or sampled), a metric, its model seeds and the grid's focus (current
cell, unit, pair, coalition, k, alpha, beta, tolerance), :func:`plan_world` lists every question
of :mod:`cfgraph.questions` plus the neighbour (DP) sensitivity, each with the exact cells
it needs and ``ready``, ``needs N more cells``, ``not applicable`` or ``not computable``.
A world of several seeds is planned across all of them by default (a cell is one training
set x slice x seed, and the missing ones are counted per seed); ``seed=N`` narrows to one.
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
from cfgraph.errors import CfgraphError, NotFound

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
    missing : list of (str, str, int)
        (training-set label, slice name, seed) of the missing cells, at most :data:`LIST_LIMIT`.
    missing_sets : list of str
        Labels of the training sets to fit for them (each fit scores every slice).
    missing_by_seed : dict of int to int
        Missing cells per seed, for the seeds that miss some.
    name_seeds : bool
        Whether the summary names the seeds (the world has several).
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
    missing_by_seed: dict = field(default_factory=dict)
    name_seeds: bool = False

    @property
    def summary(self) -> str:
        """``ready``, ``needs 3 more cells``, ``needs 2 more cells (seed 1)`` ... as a line.

        Examples
        --------
        >>> PlanItem("loo", "LOO", "needs", n_missing=3, missing_by_seed={0: 1, 1: 2}, name_seeds=True).summary
        'needs 3 more cells (seed 0: 1, seed 1: 2)'
        """
        if self.status != "needs":
            return self.status
        line = f"needs {self.n_missing} more cell{'s' * (self.n_missing != 1)}"
        if self.name_seeds and len(self.missing_by_seed) == 1:
            return f"{line} (seed {next(iter(self.missing_by_seed))})"
        if self.name_seeds:
            return f"{line} ({', '.join(f'seed {s}: {k}' for s, k in self.missing_by_seed.items())})"
        return line

    @property
    def missing_seeds(self) -> list[int]:
        """The seeds with a missing cell, ascending."""
        return sorted(self.missing_by_seed)

    def to_dict(self) -> dict:
        out = dict(vars(self))
        out["missing"] = [{"train": t, "slice": s, "seed": seed} for t, s, seed in self.missing]
        out["missing_by_seed"] = {str(seed): k for seed, k in self.missing_by_seed.items()}
        out["summary"] = self.summary
        return out


@dataclass
class Plan:
    """A world's plan for one metric, its seeds and a focus: its size and every question's item.

    ``seed`` is the one seed planned (None when the plan is across ``seeds``); ``stored_sets``
    counts the training sets with a cell on every planned seed, ``stored_by_seed`` per seed.
    """

    world: str
    lattice: str
    n: int
    metric: str
    seed: int | None
    possible: str
    stored_sets: int
    focus: dict
    items: list[PlanItem]
    seeds: list[int] = field(default_factory=list)
    stored_by_seed: dict = field(default_factory=dict)
    world_seeds: list[int] = field(default_factory=list)

    @property
    def across(self) -> bool:
        """Whether the plan spans several seeds."""
        return len(self.seeds) > 1

    def missing_sets(self) -> list[str]:
        """Labels of every training set some question still lacks, in first-needed order."""
        return list(dict.fromkeys(t for item in self.items for t in item.missing_sets))

    def missing_seeds(self) -> list[int]:
        """The seeds on which some question still lacks a cell, ascending."""
        return sorted({s for item in self.items for s in item.missing_by_seed})

    def to_dict(self) -> dict:
        head = {k: getattr(self, k) for k in ("world", "lattice", "n", "metric", "seed", "seeds", "world_seeds",
                                              "possible", "stored_sets", "focus")}
        head["stored_by_seed"] = {str(s): k for s, k in self.stored_by_seed.items()}
        return {**head, "questions": [item.to_dict() for item in self.items]}


def _item(grids, seeds, key: str, title: str, answer, cells: np.ndarray, name_seeds: bool) -> PlanItem:
    """One question's item from the cells it needs, looked up in each seed's grid (same lattice)."""
    if answer.status == "not applicable":
        return PlanItem(key, title, "not applicable", reason=answer.reason, name_seeds=name_seeds)
    masks, cols = cells[:, 0], cells[:, 1]
    # (seeds, cells): "" where a cell is not stored, NaN value where it failed
    status = np.stack([np.asarray(g.status, dtype=object)[masks, cols] for g in grids]) if len(cells) \
        else np.empty((len(grids), 0), dtype=object)
    values = np.stack([np.asarray(g.values, dtype=float)[masks, cols] for g in grids]) if len(cells) \
        else np.empty((len(grids), 0))
    absent = status == ""
    failed = ~absent & np.isnan(values)
    by_seed, which = np.nonzero(absent)  # seed-major: every missing cell of the first seed first
    sets = list(dict.fromkeys(masks[np.flatnonzero(absent.any(axis=0))].tolist()))
    labels = grids[0].labels
    item = PlanItem(key, title, "ready", n_needed=absent.size, n_stored=int((~absent).sum()),
                    n_missing=len(which), n_failed=int(failed.sum()), n_missing_sets=len(sets),
                    missing=[(labels[masks[c]], grids[0].slices[cols[c]], seeds[s])
                             for s, c in zip(by_seed[:LIST_LIMIT].tolist(), which[:LIST_LIMIT].tolist())],
                    missing_sets=[labels[m] for m in sets[:LIST_LIMIT]],
                    missing_by_seed={seeds[s]: int(k) for s, k in enumerate(absent.sum(axis=1)) if k},
                    name_seeds=name_seeds)
    if item.n_missing:
        item.status = "needs"
    elif item.n_failed:
        item.status, item.reason = "failed", f"{item.n_failed} of its cells failed to fit or score"
    return item


def _needed(grids, focus, key):
    """A question's answer on the first grid and the union of the cells it reads on every grid."""
    answer, cells = Q.needed_cells(grids[0], focus, key)
    for g in grids[1:]:
        cells = np.unique(np.concatenate([cells, Q.needed_cells(g, focus, key)[1]]), axis=0)
    return answer, cells


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


def plan_grid(grid, focus: Q.Focus, seeds=None) -> list[PlanItem]:
    """Every question's plan on a grid, or on the grids of several seeds of one world.

    Parameters
    ----------
    grid : GridLike with ``status``, or a sequence of them
        A :class:`cfgraph.tables.LatticeTable` (``status`` shape (2^n, m), "" for a cell not
        stored), or one per seed (same lattice and slices).
    focus : Focus
    seeds : sequence of int, optional
        The seed of each grid (default: each grid's ``seed``, else 0, 1, ...). With more than
        one grid the items count missing cells per seed and name the seeds.

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
    ([('loo', 'needs 1 more cell'), ('eval_move', 'not applicable')], [('B', 'all', 0)])

    Across two seeds, where seed 1 also lacks A:

    >>> v1 = np.array([[0.2], [np.nan], [np.nan], [0.9]])
    >>> g1 = SimpleNamespace(**{**vars(g), "values": v1, "status": np.where(np.isnan(v1), "", "ok")})
    >>> items = plan_grid([g, g1], Q.resolve(g, Q.parse_selection(g, cells=["AB:all"]), unit="A"), seeds=[0, 1])
    >>> items[4].summary, items[4].missing
    ('needs 3 more cells (seed 0: 1, seed 1: 2)', [('B', 'all', 0), ('A', 'all', 1), ('B', 'all', 1)])
    """
    grids = list(grid) if isinstance(grid, (list, tuple)) else [grid]
    if seeds is None:
        seeds = [getattr(g, "seed", i) if getattr(g, "seed", None) is not None else i for i, g in enumerate(grids)]
    seeds, name_seeds = [int(s) for s in seeds], len(grids) > 1
    items = []
    for key, title in Q.QUESTIONS:
        answer, cells = _needed(grids, focus, key)
        items.append(_item(grids, seeds, key, title, answer, cells, name_seeds))
    key, title = EXTRA_QUESTIONS[0]
    items.append(_item(grids, seeds, key, title, SimpleNamespace(status="ready"), neighbour_cells(grids[0], focus),
                       name_seeds))
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


def _plan_large(world, metric: str, seeds: list[int], params: dict) -> tuple[dict, list[PlanItem]]:
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
    grids = [_projected(world, metric, seed, train, units, column) for seed in seeds]
    small, name_seeds = grids[0], len(seeds) > 1
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
            item = _item(grids, seeds, key, title, *_needed(grids, focus, key), name_seeds)
            item.reason = f"audits the focus unit only; the whole table needs {train.bit_count() + 1} training sets"
            items.append(item)
        else:
            items.append(_item(grids, seeds, key, title, *_needed(grids, focus, key), name_seeds))
    return {"train": lattice.EMPTY_LABEL if not train else f"{train.bit_count()} units",
            "slice": small.slices[column], "unit": world.letters[unit]}, items


def plan_world(world, *, metric: str | None = None, seed=None, cells=(), rows=(), columns=(), layer=None,
               **focus) -> Plan:
    """Plan every question of a stored world for one metric and grid focus, across its seeds or on one.

    Parameters
    ----------
    world : cfgraph.world.World
    metric : str, optional
        Default: the world's metric (a world with no cells yet: its recipe's).
    seed : int, optional
        One model seed. Default: every seed of the world (stored or in its recipe), each
        question's missing cells counted per seed.
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
    >>> p.seeds, p.seed
    ([0], 0)
    """
    from cfgraph.store import cells as C

    metric, seeds, known = _metric_seeds(world, metric, seed)
    if world.sampled and world.n > lattice.MAX_UNITS:
        head, items = _plan_large(world, metric, seeds, {"cells": cells, **focus})
        stored = world.stored_count()
        by_seed = {}
    else:
        tables = [C.lattice_table(world.session, world.record, metric, s) if s in world.seeds
                  else _empty_table(world, metric, s) for s in seeds]
        table = tables[0]
        selection = Q.parse_selection(table, cells, rows, columns, layer)
        chosen = Q.resolve(table, selection, **focus)
        items = plan_grid(tables, chosen, seeds)
        has = np.stack([(t.status != "").any(axis=1) for t in tables])  # (seeds, sets): a cell of this metric
        stored, by_seed = int(has.all(axis=0).sum()), {s: int(k) for s, k in zip(seeds, has.sum(axis=1))}
        head = {"train": table.labels[chosen.train], "slice": table.slices[chosen.column],
                "unit": None if chosen.unit is None else table.letters[chosen.unit], "k": chosen.k}
    for item in items:  # a world of several seeds names them, even when the plan is narrowed to one
        item.name_seeds = len(known) > 1
    return Plan(world=world.name, lattice=world.lattice, n=world.n, metric=metric,
                seed=seeds[0] if len(seeds) == 1 else None, possible=world.possible, stored_sets=stored,
                focus=head, items=items, seeds=seeds, stored_by_seed=by_seed, world_seeds=known)


def _metric_seeds(world, metric, seed) -> tuple[str, list[int], list[int]]:
    """The metric, the seeds to plan (all, or the one asked for) and every seed of the world.

    A world's seeds are those with cells and those of its recipe (a seed whose cells are all
    missing is still the world's).
    """
    spec = world.record.spec or {}
    known = sorted(set(world.seeds) | {int(s) for s in spec.get("seeds") or ()}) or [0]
    if world.seeds:
        metric = world.choose(metric)[0]
    else:
        metric = metric or (spec.get("metrics") or [world.record.metric])[0]
    if seed is None or str(seed).strip() == "":
        return metric, known, known
    chosen = _int(seed)
    if chosen not in known:
        raise NotFound(f"world {world.name!r} has no seed {chosen} (seeds: {', '.join(map(str, known))})")
    return metric, [chosen], known


def _int(value) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise CfgraphError(f"seed must be an integer, not {str(value)[:20]!r}") from None


def _empty_table(world, metric: str, seed: int):
    """A world's table with no cell stored (a sampled world before any fit)."""
    from cfgraph.tables import LatticeTable

    n, m = world.n, len(world.slices)
    values = np.full((1 << n, m), np.nan)
    return LatticeTable(world=world.name, letters=world.letters, labels=lattice.all_labels(world.letters),
                        slices=[s.name for s in world.slices], slice_masks=[s.mask for s in world.slices],
                        metric=metric, seed=seed, values=values, status=np.full(values.shape, "", dtype=object))
