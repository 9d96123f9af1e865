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

Which pairs are compared is the *pairing*: ``"all"`` pairs every cell of A with
every cell of B; ``"matched"`` pairs each cell of A only with the cells of B (in
any world of its lineage, any seed) whose training set is A's plus the units named
by ``add`` (none: the same training set) and, with ``match="train+slice"``, whose
slice is A's too (``match="train"``: any slice, for comparing slices). An A cell
whose training set already holds an added unit has no partner.

Everything over pairs is vectorised numpy over the flat list of pairs (sorted keys
and ``searchsorted`` for matched pairing, never a Python loop over A x B). This module
reads the store through :class:`cfgraph.world.World` and knows nothing of Flask.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cfgraph.errors import CfgraphError
from cfgraph import lattice
from cfgraph.lab_state import ANY, MATCHES, PAIRINGS, CellRef
from cfgraph.world import World

__all__ = ["CLASSES", "OUTCOMES", "PAIRINGS", "MATCHES", "DEFAULT_TOLERANCE", "MAX_SET_CELLS", "MAX_PAIRS", "CellSet",
           "Comparison", "DiffGrid", "resolve", "compare", "compare_refs", "outcome_codes", "unit_letters", "add_mask"]

CLASSES = ("training removal", "training addition", "training substitution", "evaluation shift",
           "variant change", "seed change", "joint shift", "world change", "same cell")
REMOVAL, ADDITION, SUBSTITUTION, EVALUATION, VARIANT, SEED, JOINT, WORLD, SAME = range(len(CLASSES))
#: The four axes along which the two cells of a pair can differ.
AXES = ("training set", "slice", "world", "seed")
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
        On an empty set, a metric mismatch (a cell on another metric, or in a world without ``metric``),
        a sampled world, or more than :data:`MAX_SET_CELLS` cells.
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
        if ref.metric is None and metric is not None and metric not in world.metrics:
            # the metric came from the other set (or an earlier cell): say so, not just "no cells"
            raise CfgraphError(f"cell {ref.to_text()[:80]!r} of set {side} is in world {world.name!r}, which has "
                               f"no cells on metric {metric!r} (its metrics: {', '.join(world.metrics)}): "
                               "compare cells of one metric")
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
    """B - A over A's lattice, for one (world A, world B, seed A, seed B[, slice B]) group of pairs.

    With ``pairing="all"`` the groups are the pairs that differ only by world (a variant) or only by
    seed; with ``"matched"`` every pair belongs to one group (each A cell has at most one partner in it).

    Attributes
    ----------
    world_a, world_b : str
    seed_a, seed_b : int
    kind : str
        The class of the group's pairs ("variant change", "seed change", "training addition" ...;
        classes joined by " / " when they differ).
    letters, labels, slices : list of str
        A's world: unit letters, the 2**n training-set labels in mask order, its slice names.
    delta : ndarray, shape (2**n, m)
        ``f(b) - f(a)``; NaN where a cell is missing or not paired.
    paired : ndarray of bool, shape (2**n, m)
        Whether the (training set, slice) of A is a compared pair.
    changed : list of str
        What differs between the cells of each pair ("training set", "slice", "world", "seed").
    add : str
        The units B's training set adds to A's ("" for none).
    slice_b : str or None
        B's slice when the group compares A's slices against one slice of B (``match="train"``).
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
    changed: list = field(default_factory=list)
    add: str = ""
    slice_b: str | None = None


@dataclass
class Comparison:
    """The compared pairs of A x B, classified (flat arrays over pairs, A's order then B's).

    Attributes
    ----------
    a, b : CellSet
    i, j : ndarray of int, shape (n_pairs,)
        Each pair's cell in ``a`` and in ``b``.
    kind : ndarray of int, shape (n_pairs,)
        Index into :data:`CLASSES`.
    delta : ndarray of float, shape (n_pairs,)
        ``f(b) - f(a)``, NaN when either is missing.
    outcome : ndarray of int, shape (n_pairs,)
        Index into :data:`OUTCOMES`.
    tolerance : float
    axes : ndarray of bool, shape (4, n_pairs)
        Whether the training set, slice, world, seed differ.
    pairing, match, add : str
        How pairs were chosen (:func:`compare`).
    unpaired : int
        Cells of A with no partner in B.
    """

    a: CellSet
    b: CellSet
    i: np.ndarray
    j: np.ndarray
    kind: np.ndarray
    delta: np.ndarray
    outcome: np.ndarray
    tolerance: float
    axes: np.ndarray
    pairing: str = "all"
    match: str = "train+slice"
    add: str = ""
    unpaired: int = 0

    @property
    def n_pairs(self) -> int:
        return int(self.kind.size)

    def counts(self) -> np.ndarray:
        """Pairs per class and outcome, shape (len(CLASSES), len(OUTCOMES))."""
        flat = self.kind * len(OUTCOMES) + self.outcome
        return np.bincount(flat, minlength=len(CLASSES) * len(OUTCOMES)).reshape(len(CLASSES), len(OUTCOMES))

    def totals(self) -> dict[str, int]:
        """Pairs per outcome over every class."""
        return dict(zip(OUTCOMES, self.counts().sum(axis=0).tolist()))

    def changed(self, p: int) -> list[str]:
        """What differs within pair ``p``: "training set", "slice", "world", "seed"."""
        return [name for name, d in zip(AXES, self.axes[:, p]) if d]

    def top(self, k: int = 10) -> list[dict]:
        """The ``k`` present pairs with the largest |delta|, largest first (ties: A's order, then B's)."""
        flat = np.abs(self.delta)
        present = np.flatnonzero(~np.isnan(flat))
        order = present[np.argsort(-flat[present], kind="stable")][:max(0, int(k))]
        return [{"a": self.a.cell(self.i[p]), "b": self.b.cell(self.j[p]), "class": CLASSES[self.kind[p]],
                 "changed": self.changed(p), "delta": float(self.delta[p]), "outcome": OUTCOMES[self.outcome[p]]}
                for p in order.tolist()]

    def diff_grids(self) -> list[DiffGrid]:
        """One grid per (world A, world B, seed A, seed B[, slice B]) group of pairs (see :class:`DiffGrid`)."""
        if self.pairing == "all":
            picked = np.flatnonzero((self.kind == VARIANT) | (self.kind == SEED))
        else:
            picked = np.arange(self.n_pairs)
        if picked.size == 0:
            return []
        i, j = self.i[picked], self.j[picked]
        columns = [self.a.world[i], self.b.world[j], self.a.seed[i], self.b.seed[j]]
        by_slice = self.pairing == "matched" and self.match == "train"
        if by_slice:
            code = {s: c for c, s in enumerate(dict.fromkeys(self.b.slice))}
            columns.append(np.fromiter((code[s] for s in self.b.slice), np.int64, len(self.b))[j])
        groups, inverse = np.unique(np.stack(columns, axis=1), axis=0, return_inverse=True)
        grids = []
        for g, key in enumerate(groups.tolist()):
            pick = inverse.ravel() == g
            gp, gi, gj = picked[pick], i[pick], j[pick]
            world = self.a.worlds[key[0]]
            slices = [s.name for s in world.slices]
            col = {name: c for c, name in enumerate(slices)}
            size = 1 << world.n
            delta = np.full((size, len(slices)), np.nan)
            paired = np.zeros((size, len(slices)), dtype=bool)
            cols = np.fromiter((col[self.a.slice[t]] for t in gi.tolist()), np.int64, gi.size)
            delta[self.a.mask[gi], cols] = self.delta[gp]
            paired[self.a.mask[gi], cols] = True
            kinds = [CLASSES[k] for k in np.unique(self.kind[gp]).tolist()]
            changed = [name for name, d in zip(AXES, self.axes[:, gp].any(axis=1)) if d]
            grids.append(DiffGrid(world.name, self.b.worlds[key[1]].name, key[2], key[3], " / ".join(kinds),
                                  world.letters, [world.label_of(m) for m in range(size)], slices, delta, paired,
                                  changed, self.add, self.b.slice[gj[0]] if by_slice else None))
        return grids


def unit_letters(*cell_sets: CellSet) -> list[str]:
    """The unit letters of every world of the sets, in order of first appearance.

    Cells of different worlds of one lineage are compared by their units' letters, not by their bit
    positions: a variant with a poison unit E keeps its parent's A-D and adds E.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> unit_letters(NS(worlds=[NS(letters=["A", "B"])]), NS(worlds=[NS(letters=["A", "B", "E"])]))
    ['A', 'B', 'E']
    """
    return list(dict.fromkeys(letter for cells in cell_sets for w in cells.worlds for letter in w.letters))


def add_mask(add: str, letters) -> int:
    """The bitmask (over ``letters``) of the units ``add`` names; 0 for "".

    Raises
    ------
    CfgraphError
        When ``add`` names a unit not in ``letters`` (no world of A or B has it), or a unit twice.

    Examples
    --------
    >>> add_mask("E", ["A", "B", "C", "D", "E"]), add_mask("", ["A"])
    (16, 0)
    >>> add_mask("Z", ["A", "B"])
    Traceback (most recent call last):
    ...
    cfgraph.errors.CfgraphError: add 'Z' names units that no world of A or B has: unknown unit 'Z' in training set 'Z' (units: A, B)
    """
    add = (add or "").strip()
    if not add:
        return 0
    try:
        return lattice.parse_label(add, letters)
    except CfgraphError as exc:
        raise CfgraphError(f"add {add[:20]!r} names units that no world of A or B has: "
                           f"{str(exc).splitlines()[0]}") from None


def _global_masks(cells: CellSet, index: dict) -> np.ndarray:
    """Each cell's training set as a bitmask over ``index`` (letter -> bit), shape (len(cells),)."""
    out = np.zeros(len(cells), dtype=np.int64)
    for w, world in enumerate(cells.worlds):
        rows = cells.world == w
        local, mask = cells.mask[rows], np.zeros(int(rows.sum()), dtype=np.int64)
        for k, letter in enumerate(world.letters):  # a loop over units, not cells
            mask |= ((local >> k) & 1) << index[letter]
        out[rows] = mask
    return out


def _slice_codes(a: CellSet, b: CellSet) -> tuple[np.ndarray, np.ndarray, int]:
    code = {s: c for c, s in enumerate(dict.fromkeys(a.slice + b.slice))}
    return (np.fromiter((code[s] for s in a.slice), np.int64, len(a)),
            np.fromiter((code[s] for s in b.slice), np.int64, len(b)), len(code))


def _matched(ka: np.ndarray, kb: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) with ``ka[i] == kb[j]`` and ``valid[i]``, i ascending then j ascending.

    Examples
    --------
    >>> i, j = _matched(np.array([5, 7, 5]), np.array([5, 5, 9]), np.array([True, True, False]))
    >>> i.tolist(), j.tolist()
    ([0, 0], [0, 1])
    """
    order = np.argsort(kb, kind="stable")
    sorted_kb = kb[order]
    lo = np.searchsorted(sorted_kb, ka, side="left")
    n = np.where(valid, np.searchsorted(sorted_kb, ka, side="right") - lo, 0)
    total = int(n.sum())
    if total > MAX_PAIRS:
        raise CfgraphError(f"the matched pairs number {total:,} (at most {MAX_PAIRS:,}); narrow a set")
    i = np.repeat(np.arange(ka.size), n)
    offset = np.arange(total) - np.repeat(np.cumsum(n) - n, n)
    return i, order[np.repeat(lo, n) + offset]


def compare(a: CellSet, b: CellSet, tolerance: float = DEFAULT_TOLERANCE, pairing: str = "all", add: str = "",
            match: str = "train+slice") -> Comparison:
    """Classify the pairs of ``a`` x ``b`` chosen by ``pairing``, and their outcomes.

    Parameters
    ----------
    a, b : CellSet
        Resolved cells (:func:`resolve`) of one metric.
    tolerance : float
        |delta| at or below this is no change (default :data:`DEFAULT_TOLERANCE`).
    pairing : {"all", "matched"}
        Every A x B pair, or each A cell with the B cells of its training set plus ``add`` (same
        lineage, any world or seed).
    add : str
        Matched pairing: the units B's training set adds to A's, as a training-set label ("E",
        "A+E"); "" for the same training set.
    match : {"train+slice", "train"}
        Matched pairing: also on the slice, or on the training set only (slice against slice).

    Returns
    -------
    Comparison

    Raises
    ------
    CfgraphError
        On sets of different metrics, a negative or non-finite tolerance, an unknown pairing or match,
        ``add`` naming a unit no world of A or B has, or more than :data:`MAX_PAIRS` pairs.

    Examples
    --------
    See :func:`compare_refs`, which resolves references first.
    """
    if a.metric != b.metric:
        raise CfgraphError(f"set A is on metric {a.metric} and set B on {b.metric}: compare cells of one metric")
    if not np.isfinite(tolerance) or tolerance < 0:
        raise CfgraphError(f"the tolerance must be a finite number >= 0, not {tolerance!r}")
    if pairing not in PAIRINGS or match not in MATCHES:
        raise CfgraphError(f"pairing {str(pairing)[:20]!r}, match {str(match)[:20]!r}: the pairing is one of "
                           f"{', '.join(PAIRINGS)} and the match one of {', '.join(MATCHES)}")
    letters = unit_letters(a, b)
    if len(letters) > 40:
        raise CfgraphError(f"sets A and B hold {len(letters)} distinct units (at most 40)")
    index = {letter: k for k, letter in enumerate(letters)}
    ga, gb = _global_masks(a, index), _global_masks(b, index)
    add = (add or "").strip()
    added = add_mask(add, letters)
    same_world, related = _lineage(a, b)
    ca, cb, width = _slice_codes(a, b)
    if pairing == "all":
        if len(a) * len(b) > MAX_PAIRS:
            raise CfgraphError(f"A x B is {len(a)} x {len(b)} = {len(a) * len(b):,} pairs (at most {MAX_PAIRS:,}); "
                               "narrow a set or use matched pairing")
        i, j = np.repeat(np.arange(len(a)), len(b)), np.tile(np.arange(len(b)), len(a))
    else:
        on_slice = match == "train+slice"
        ka = (ga | added) * (width if on_slice else 1) + (ca if on_slice else 0)
        kb = gb * (width if on_slice else 1) + (cb if on_slice else 0)
        i, j = _matched(ka, kb, (ga & added) == 0)
        keep = (same_world | related)[a.world[i], b.world[j]]  # unrelated worlds: different units
        i, j = i[keep], j[keep]
    sw, rel = same_world[a.world[i], b.world[j]], related[a.world[i], b.world[j]]
    ma, mb = ga[i], gb[j]
    common = ma & mb
    train = ma != mb
    removal, addition = train & (common == mb), train & (common == ma)
    shifted = ca[i] != cb[j]
    reseeded = a.seed[i] != b.seed[j]
    axes = np.stack([train, shifted, rel, reseeded])
    count = axes.sum(axis=0)
    kind = np.select(
        [~sw & ~rel, count == 0, count > 1, removal, addition, train, shifted, rel, reseeded],
        [WORLD, SAME, JOINT, REMOVAL, ADDITION, SUBSTITUTION, EVALUATION, VARIANT, SEED], default=SAME)
    axes = axes & (sw | rel)[None]  # unrelated worlds: no axis is comparable
    delta = b.value[j] - a.value[i]
    unpaired = len(a) - int(np.unique(i).size)
    return Comparison(a, b, i, j, kind.astype(np.int64), delta, outcome_codes(delta, tolerance), float(tolerance),
                      axes, pairing, match, add, unpaired)


def compare_refs(session, a_refs, b_refs, tolerance: float = DEFAULT_TOLERANCE, **pairing) -> Comparison:
    """Resolve two lists of :class:`~cfgraph.lab_state.CellRef` and compare them.

    ``pairing`` holds :func:`compare`'s ``pairing``, ``add`` and ``match``.

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
    >>> [CLASSES[k] for k in c.kind], c.delta.round(2).tolist(), c.totals()
    (['training removal', 'evaluation shift', 'training removal'], [-0.33, 0.04, nan], \
{'improvement': 1, 'harm': 1, 'no change': 0, 'missing': 1})

    Matched pairing: every training set on slice B against the same training set on slice A.

    >>> with store.session() as session:
    ...     c = compare_refs(session, [CellRef("toy", "*", "B")], [CellRef("toy", "*", "A")],
    ...                      pairing="matched", match="train")
    >>> c.n_pairs, [CLASSES[k] for k in set(c.kind.tolist())], c.totals()["missing"]
    (16, ['evaluation shift'], 12)
    """
    a = resolve(session, a_refs, "A")
    b = resolve(session, b_refs, "B", metric=a.metric)
    return compare(a, b, tolerance, **pairing)
