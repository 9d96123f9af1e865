"""Compare two sets of cells (World A, World B): classify every A x B pair and count its outcomes.

Each pair (a, b) differs from a to b along four axes: the training set (B's a
strict subset of A's: *training removal*; a strict superset: *training
addition*; neither: *training substitution*), the evaluation slice
(*evaluation shift*), the world (B's world a variant of A's, A's of B's, or both
variants of one parent: *variant change*) and the model seed (*seed change*).
A pair that differs along exactly one axis takes that axis's class; along two or
more, *joint shift*; along none, *same cell*. Worlds that share no lineage have
different units, so their training sets cannot be compared: *world change*.

``delta = f(b) - f(a)``. Every metric is a scikit-learn score (higher is better,
losses are negated), so ``delta > tolerance`` is an improvement and ``delta <
-tolerance`` a harm; a pair with a missing cell is *missing*, never zero.
The tolerance defaults to :data:`DEFAULT_TOLERANCE` (1e-9): float noise between
two copies of one score counts as no change, while any real change of a
test-set score (at least one test row, 1/n_test) does not.

Everything over pairs is vectorised numpy over an (|A|, |B|) array. This module
reads the store through :class:`cfgraph.world.World` and knows nothing of Flask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cfgraph.errors import CfgraphError
from cfgraph.lab_state import ANY, CellRef
from cfgraph.world import World

__all__ = ["CLASSES", "OUTCOMES", "DEFAULT_TOLERANCE", "MAX_SET_CELLS", "MAX_PAIRS", "CellSet", "Comparison",
           "DiffGrid", "resolve", "compare", "compare_refs", "outcome_codes"]

CLASSES = ("training removal", "training addition", "training substitution", "evaluation shift",
           "variant change", "seed change", "joint shift", "world change", "same cell")
REMOVAL, ADDITION, SUBSTITUTION, EVALUATION, VARIANT, SEED, JOINT, WORLD, SAME = range(len(CLASSES))
OUTCOMES = ("improvement", "harm", "no change", "missing")
IMPROVEMENT, HARM, NO_CHANGE, MISSING = range(len(OUTCOMES))
DEFAULT_TOLERANCE = 1e-9
#: Cells per set once ``*`` is expanded, and A x B pairs compared at once.
MAX_SET_CELLS = 5000
MAX_PAIRS = 1_000_000


@dataclass
class CellSet:
    """Resolved cells of one set, in the order given (``*`` expanded, repeats dropped).

    Attributes
    ----------
    worlds : list of World
        Distinct worlds of the set; ``world`` indexes into it.
    world : ndarray of int, shape (k,)
    mask : ndarray of int64, shape (k,)
        Training-set bitmask in its world (unit letters in bit order).
    label, slice : list of str, length k
    seed : ndarray of int64, shape (k,)
    value : ndarray of float, shape (k,)
        NaN where the cell is missing or failed.
    metric : str
        The one metric of every cell.
    """

    worlds: list
    world: np.ndarray
    mask: np.ndarray
    label: list
    slice: list
    seed: np.ndarray
    value: np.ndarray
    metric: str

    def __len__(self) -> int:
        return len(self.mask)

    def ref(self, i: int) -> CellRef:
        return CellRef(self.worlds[self.world[i]].name, self.label[i], self.slice[i], self.metric,
                       int(self.seed[i]))

    def cell(self, i: int) -> dict:
        """One cell as a dict: world, train, slice, metric, seed, value (None when missing)."""
        v = float(self.value[i])
        return {"world": self.worlds[self.world[i]].name, "train": self.label[i], "slice": self.slice[i],
                "metric": self.metric, "seed": int(self.seed[i]), "value": None if np.isnan(v) else v}


def resolve(session, refs, side: str = "A", metric: str | None = None) -> CellSet:
    """Read the cells named by ``refs`` (every cell of a ``*``), one table per (world, metric, seed).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    refs : sequence of CellRef
    side : str
        "A" or "B", for messages.
    metric : str, optional
        The metric every cell must have (default: that of the first cell).

    Returns
    -------
    CellSet

    Raises
    ------
    CfgraphError
        On an empty set, a metric mismatch, a sampled world, or more than :data:`MAX_SET_CELLS` cells.
    NotFound
        On an unknown world, training-set label, slice, metric or seed.
    """
    if not refs:
        raise CfgraphError(f"set {side} is empty: add cells from a world's grid or pick a preset")
    worlds, index, tables = [], {}, {}
    w_idx, masks, labels, slices, seeds, values, seen = [], [], [], [], [], [], set()
    for ref in refs:
        if ref.world not in index:
            world = World.open(session, ref.world)
            world.require_exhaustive("the lab (it reads cells by training-set label)")
            index[ref.world] = len(worlds)
            worlds.append(world)
        wi = index[ref.world]
        world = worlds[wi]
        chosen_metric, seed = world.choose(ref.metric or metric, ref.seed)
        metric = metric or chosen_metric
        if chosen_metric != metric:
            raise CfgraphError(f"cell {ref.to_text()[:80]!r} of set {side} is on metric {chosen_metric}, "
                               f"not {metric}: compare cells of one metric")
        key = (wi, metric, seed)
        if key not in tables:
            tables[key] = world.table(metric, seed)
        table = tables[key]
        rows = np.arange(1 << world.n) if ref.train == ANY else [world.mask_of(ref.train)]
        cols = range(len(table.slices)) if ref.slice == ANY else [table.slices.index(world.find_slice(ref.slice).name)]
        for m in rows:
            for j in cols:
                if (wi, int(m), j, seed) in seen:
                    continue
                seen.add((wi, int(m), j, seed))
                if len(seen) > MAX_SET_CELLS:
                    raise CfgraphError(f"set {side} names more than {MAX_SET_CELLS} cells; narrow its '*'")
                w_idx.append(wi), masks.append(int(m)), labels.append(table.labels[m])
                slices.append(table.slices[j]), seeds.append(seed), values.append(table.values[m, j])
    return CellSet(worlds, np.asarray(w_idx), np.asarray(masks, dtype=np.int64), labels, slices,
                   np.asarray(seeds, dtype=np.int64), np.asarray(values, dtype=float), metric)


def _lineage(a: CellSet, b: CellSet) -> tuple[np.ndarray, np.ndarray]:
    """(same, related): (len(a.worlds), len(b.worlds)) booleans, the same world or a variant relation."""
    ra = [(w.record.id, w.record.parent_world_id) for w in a.worlds]
    rb = [(w.record.id, w.record.parent_world_id) for w in b.worlds]
    same = np.array([[i == j for j, _ in rb] for i, _ in ra], dtype=bool).reshape(len(ra), len(rb))
    related = np.array([[pi == j or pj == i or (pi is not None and pi == pj) for j, pj in rb] for i, pi in ra],
                       dtype=bool).reshape(len(ra), len(rb))
    return same, related & ~same


def outcome_codes(delta: np.ndarray, tolerance: float = DEFAULT_TOLERANCE) -> np.ndarray:
    """Outcome of each delta: 0 improvement, 1 harm, 2 no change, 3 missing (NaN).

    Examples
    --------
    >>> outcome_codes(np.array([0.1, -0.1, 0.0, np.nan]), 0.0).tolist()
    [0, 1, 2, 3]
    >>> outcome_codes(np.array([0.005]), 0.01).tolist()
    [2]
    """
    delta = np.asarray(delta, dtype=float)
    out = np.full(delta.shape, NO_CHANGE, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        out[delta > tolerance] = IMPROVEMENT
        out[delta < -tolerance] = HARM
    out[np.isnan(delta)] = MISSING
    return out


@dataclass
class DiffGrid:
    """B - A over a whole lattice for the pairs that differ only by world (a variant) or only by seed.

    Attributes
    ----------
    world_a, world_b : str
    seed_a, seed_b : int
    kind : str
        "variant change" or "seed change".
    letters, labels, slices : list of str
        A's world: unit letters, the 2**n training-set labels in mask order, its slice names.
    delta : ndarray, shape (2**n, m)
        ``f(b) - f(a)``; NaN where a cell is missing or not paired.
    paired : ndarray of bool, shape (2**n, m)
        Whether the (training set, slice) is a compared pair.
    """

    world_a: str
    world_b: str
    seed_a: int
    seed_b: int
    kind: str
    letters: list
    labels: list
    slices: list
    delta: np.ndarray
    paired: np.ndarray


@dataclass
class Comparison:
    """Every A x B pair, classified.

    Attributes
    ----------
    a, b : CellSet
    kind : ndarray of int, shape (|A|, |B|)
        Index into :data:`CLASSES`.
    delta : ndarray of float, shape (|A|, |B|)
        ``f(b) - f(a)``, NaN when either is missing.
    outcome : ndarray of int, shape (|A|, |B|)
        Index into :data:`OUTCOMES`.
    tolerance : float
    """

    a: CellSet
    b: CellSet
    kind: np.ndarray
    delta: np.ndarray
    outcome: np.ndarray
    tolerance: float
    axes: np.ndarray  # (4, |A|, |B|) bool: training set, slice, world, seed differ

    @property
    def n_pairs(self) -> int:
        return int(self.kind.size)

    def counts(self) -> np.ndarray:
        """Pairs per class and outcome, shape (len(CLASSES), len(OUTCOMES))."""
        flat = self.kind.ravel() * len(OUTCOMES) + self.outcome.ravel()
        return np.bincount(flat, minlength=len(CLASSES) * len(OUTCOMES)).reshape(len(CLASSES), len(OUTCOMES))

    def totals(self) -> dict[str, int]:
        """Pairs per outcome over every class."""
        return dict(zip(OUTCOMES, self.counts().sum(axis=0).tolist()))

    def changed(self, i: int, j: int) -> list[str]:
        """What differs between a[i] and b[j]: "training set", "slice", "world", "seed"."""
        return [name for name, d in zip(("training set", "slice", "world", "seed"), self.axes[:, i, j]) if d]

    def top(self, k: int = 10) -> list[dict]:
        """The ``k`` present pairs with the largest |delta|, largest first (ties: A's order, then B's)."""
        flat = np.abs(self.delta).ravel()
        present = np.flatnonzero(~np.isnan(flat))
        order = present[np.argsort(-flat[present], kind="stable")][:max(0, int(k))]
        out = []
        for p in order.tolist():
            i, j = divmod(p, self.delta.shape[1])
            out.append({"a": self.a.cell(i), "b": self.b.cell(j), "class": CLASSES[self.kind[i, j]],
                        "changed": self.changed(i, j), "delta": float(self.delta[i, j]),
                        "outcome": OUTCOMES[self.outcome[i, j]]})
        return out

    def diff_grids(self) -> list[DiffGrid]:
        """One grid per (world A, world B, seed A, seed B) among variant-change and seed-change pairs."""
        i, j = np.nonzero((self.kind == VARIANT) | (self.kind == SEED))
        if i.size == 0:
            return []
        keys = np.stack([self.a.world[i], self.b.world[j], self.a.seed[i], self.b.seed[j]], axis=1)
        groups, inverse = np.unique(keys, axis=0, return_inverse=True)
        grids = []
        for g, (wa, wb, sa, sb) in enumerate(groups.tolist()):
            pick = inverse.ravel() == g
            gi, gj = i[pick], j[pick]
            world = self.a.worlds[wa]
            slices = [s.name for s in world.slices]
            col = {name: c for c, name in enumerate(slices)}
            size = 1 << world.n
            delta = np.full((size, len(slices)), np.nan)
            paired = np.zeros((size, len(slices)), dtype=bool)
            cols = np.array([col[self.a.slice[t]] for t in gi.tolist()], dtype=np.int64)
            delta[self.a.mask[gi], cols] = self.delta[gi, gj]
            paired[self.a.mask[gi], cols] = True
            labels = [world.label_of(m) for m in range(size)]
            grids.append(DiffGrid(world.name, self.b.worlds[wb].name, sa, sb, CLASSES[self.kind[gi[0], gj[0]]],
                                  world.letters, labels, slices, delta, paired))
        return grids


def compare(a: CellSet, b: CellSet, tolerance: float = DEFAULT_TOLERANCE) -> Comparison:
    """Classify every pair of ``a`` x ``b`` and its outcome.

    Parameters
    ----------
    a, b : CellSet
        Resolved cells (:func:`resolve`) of one metric.
    tolerance : float
        |delta| at or below this is no change (default :data:`DEFAULT_TOLERANCE`).

    Returns
    -------
    Comparison

    Raises
    ------
    CfgraphError
        On sets of different metrics, a negative or non-finite tolerance, or more than :data:`MAX_PAIRS` pairs.

    Examples
    --------
    See :func:`compare_refs`, which resolves references first.
    """
    if a.metric != b.metric:
        raise CfgraphError(f"set A is on metric {a.metric} and set B on {b.metric}: compare cells of one metric")
    if not np.isfinite(tolerance) or tolerance < 0:
        raise CfgraphError(f"the tolerance must be a finite number >= 0, not {tolerance!r}")
    if len(a) * len(b) > MAX_PAIRS:
        raise CfgraphError(f"A x B is {len(a)} x {len(b)} = {len(a) * len(b):,} pairs (at most {MAX_PAIRS:,}); "
                           "narrow a set")
    same_world, related = _lineage(a, b)
    sw = same_world[a.world[:, None], b.world[None, :]]
    rel = related[a.world[:, None], b.world[None, :]]
    ma, mb = a.mask[:, None], b.mask[None, :]
    common = ma & mb
    train = ma != mb
    removal = train & (common == mb)
    addition = train & (common == ma)
    sa = np.asarray(a.slice, dtype=object)[:, None]
    sb = np.asarray(b.slice, dtype=object)[None, :]
    shifted = sa != sb
    reseeded = a.seed[:, None] != b.seed[None, :]
    axes = np.stack(np.broadcast_arrays(train, shifted, rel, reseeded))
    count = axes.sum(axis=0)
    kind = np.select(
        [~sw & ~rel, count == 0, count > 1, removal, addition, train, shifted, rel, reseeded],
        [WORLD, SAME, JOINT, REMOVAL, ADDITION, SUBSTITUTION, EVALUATION, VARIANT, SEED])
    axes = axes & (sw | rel)[None]  # unrelated worlds: no axis is comparable
    delta = b.value[None, :] - a.value[:, None]
    return Comparison(a, b, kind.astype(np.int64), delta, outcome_codes(delta, tolerance), float(tolerance), axes)


def compare_refs(session, a_refs, b_refs, tolerance: float = DEFAULT_TOLERANCE) -> Comparison:
    """Resolve two lists of :class:`~cfgraph.lab_state.CellRef` and compare them.

    Raises
    ------
    CfgraphError, NotFound
        As :func:`resolve` and :func:`compare`.

    Examples
    --------
    The seed's toy grid: ABCD against its leave-one-out set ACD on slice B, and ABCD on slice A.

    >>> from cfgraph.store import open_store
    >>> from cfgraph.resources import seed_file
    >>> from cfgraph.grids import import_grid
    >>> store = open_store("sqlite://")
    >>> _ = import_grid(store, seed_file("toy_grid.csv"), "toy")
    >>> with store.session() as session:
    ...     c = compare_refs(session, [CellRef("toy", "ABCD", "B")],
    ...                      [CellRef("toy", "ACD", "B"), CellRef("toy", "ABCD", "A"), CellRef("toy", "BCD", "B")])
    >>> [CLASSES[k] for k in c.kind[0]], c.delta[0].round(2).tolist(), c.totals()
    (['training removal', 'evaluation shift', 'training removal'], [-0.33, 0.04, nan], \
{'improvement': 1, 'harm': 1, 'no change': 0, 'missing': 1})
    """
    a = resolve(session, a_refs, "A")
    b = resolve(session, b_refs, "B", metric=a.metric)
    return compare(a, b, tolerance)
