"""The lab's core (cfgraph.compare): every class of pair on hand-built grids, counts, missing cells,
top pairs, and a world against a real variant built by cfgraph.variants.build."""

from __future__ import annotations

import numpy as np
import pytest

from cfgraph import compare as C
from cfgraph.errors import CfgraphError, NotFound
from cfgraph.grids import import_grid
from cfgraph.lab_state import CellRef
from cfgraph.variants import variant_pair
from cfgraph.variants.build import build_variant

# Units A, B; slices X, Y; two seeds. (A, Y) is missing on purpose.
HAND = """train_set,eval_slice,value,seed
A,X,0.5,0
B,X,0.6,0
AB,X,0.8,0
AB,Y,0.7,0
A,X,0.4,1
AB,X,0.9,1
"""


@pytest.fixture
def hand(store, tmp_path):
    (tmp_path / "hand.csv").write_text(HAND)
    (tmp_path / "other.csv").write_text("train_set,eval_slice,value\nA,X,0.1\nAB,X,0.2\n")
    (tmp_path / "acc.csv").write_text("train_set,eval_slice,value,metric\nA,X,0.1,accuracy\n")
    import_grid(store, tmp_path / "hand.csv", "hand")
    import_grid(store, tmp_path / "other.csv", "other")
    import_grid(store, tmp_path / "acc.csv", "acc")
    with store.session() as session:
        yield session


def ref(text):
    return CellRef.from_text(text)


def one(session, a, b, **kw):
    c = C.compare_refs(session, [ref(a)], [ref(b)], **kw)
    return C.CLASSES[c.kind[0]], c.delta[0], C.OUTCOMES[c.outcome[0]]


@pytest.mark.parametrize("a, b, cls, delta, outcome", [
    ("hand|AB|X", "hand|A|X", "training removal", -0.3, "harm"),
    ("hand|A|X", "hand|AB|X", "training addition", 0.3, "improvement"),
    ("hand|A|X", "hand|B|X", "training substitution", 0.1, "improvement"),
    ("hand|AB|X", "hand|AB|Y", "evaluation shift", -0.1, "harm"),
    ("hand|AB|X", "hand|AB|X||1", "seed change", 0.1, "improvement"),
    ("hand|A|X", "hand|AB|Y", "joint shift", 0.2, "improvement"),
    ("hand|A|X||1", "hand|AB|Y", "joint shift", 0.3, "improvement"),  # addition + seed + slice
    ("hand|AB|X", "hand|AB|X", "same cell", 0.0, "no change"),
    ("hand|AB|X", "other|AB|X", "world change", -0.6, "harm"),
])
def test_every_class_of_pair(hand, a, b, cls, delta, outcome):
    got = one(hand, a, b)
    assert got[0] == cls and got[1] == pytest.approx(delta) and got[2] == outcome


def test_missing_cells_are_missing_never_zero(hand):
    # (A, Y) is not stored; (∅, X) neither.
    c = C.compare_refs(hand, [ref("hand|AB|Y"), ref("hand|A|X")], [ref("hand|A|Y"), ref("hand|∅|X")])
    assert np.isnan(c.delta).all()
    assert c.totals() == {"improvement": 0, "harm": 0, "no change": 0, "missing": 4}
    assert [C.CLASSES[k] for k in c.kind.ravel()] == ["training removal", "joint shift", "evaluation shift",
                                                       "training removal"]
    assert c.top() == []


def test_counts_by_class_and_outcome(hand):
    a = [ref("hand|AB|X")]
    b = [ref(t) for t in ("hand|A|X", "hand|B|X", "hand|AB|Y", "hand|AB|X||1", "hand|∅|X")]
    c = C.compare_refs(hand, a, b)
    counts = c.counts()
    assert counts.sum() == 5 and counts.shape == (len(C.CLASSES), len(C.OUTCOMES))
    assert counts[C.REMOVAL].tolist() == [0, 2, 0, 1]  # A and B: harms; ∅: missing
    assert counts[C.EVALUATION].tolist() == [0, 1, 0, 0]
    assert counts[C.SEED].tolist() == [1, 0, 0, 0]
    assert c.totals() == {"improvement": 1, "harm": 3, "no change": 0, "missing": 1}


def test_tolerance_turns_small_deltas_into_no_change(hand):
    assert one(hand, "hand|A|X", "hand|B|X", tolerance=0.15)[2] == "no change"
    assert one(hand, "hand|A|X", "hand|B|X", tolerance=0.05)[2] == "improvement"
    with pytest.raises(CfgraphError, match="tolerance"):
        one(hand, "hand|A|X", "hand|B|X", tolerance=-1)


def test_top_pairs_by_absolute_delta_ties_in_set_order(hand):
    a = [ref("hand|AB|X")]
    b = [ref(t) for t in ("hand|AB|Y", "hand|A|X", "hand|B|X", "hand|AB|X||1", "hand|∅|X")]
    top = C.compare_refs(hand, a, b).top(10)
    assert [(p["b"]["train"], round(p["delta"], 6)) for p in top] == [
        ("A", -0.3), ("B", -0.2), ("AB", -0.1), ("AB", 0.1)]  # the NaN pair is left out
    assert top[2]["b"]["slice"] == "Y" and top[3]["b"]["seed"] == 1  # equal |delta|: B's order
    assert top[0]["a"] == {"world": "hand", "train": "AB", "slice": "X", "metric": "score", "seed": 0, "value": 0.8}
    assert len(C.compare_refs(hand, a, b).top(2)) == 2


def test_wildcards_expand_and_repeats_drop(hand):
    cells = C.resolve(hand, [ref("hand|*|*"), ref("hand|AB|X")])
    assert len(cells) == 4 * 2
    assert sorted(zip(cells.label, cells.slice))[:2] == [("A", "X"), ("A", "Y")]
    assert np.isnan(cells.value).sum() == 4  # ∅ on both slices, A and B on Y


def test_seed_against_seed_difference_grid(hand):
    c = C.compare_refs(hand, [ref("hand|*|X||0")], [ref("hand|*|X||1")])
    grids = c.diff_grids()
    assert len(grids) == 1
    g = grids[0]
    assert (g.kind, g.seed_a, g.seed_b, g.slices) == ("seed change", 0, 1, ["X", "Y"])
    assert g.paired[:, 0].all() and not g.paired[:, 1].any()
    np.testing.assert_allclose(g.delta[:, 0], [np.nan, -0.1, np.nan, 0.1])  # B's seed 1 is missing


@pytest.mark.parametrize("a, b, message", [
    ("nowhere|A|X", "hand|A|X", "no world named 'nowhere'"),
    ("hand|AZ|X", "hand|A|X", "unknown unit 'Z'"),
    ("hand|A|Q", "hand|A|X", "no evaluation slice 'Q'"),
    ("hand|A|X", "acc|A|X", "metric"),
    ("hand|A|X|accuracy", "hand|A|X", "accuracy"),
    ("hand|A|X||7", "hand|A|X", "seed"),
])
def test_bad_input_one_line_error(hand, a, b, message):
    with pytest.raises(CfgraphError, match=message) as info:
        C.compare_refs(hand, [ref(a)], [ref(b)])
    assert "\n" not in str(info.value)


def test_empty_set_and_too_many_pairs(hand, monkeypatch):
    with pytest.raises(CfgraphError, match="set B is empty"):
        C.compare_refs(hand, [ref("hand|A|X")], [])
    monkeypatch.setattr(C, "MAX_PAIRS", 10)
    with pytest.raises(CfgraphError, match="8 x 8 = 64 pairs"):
        C.compare_refs(hand, [ref("hand|*|*")], [ref("hand|*|*")])


def test_unknown_world_is_not_found(hand):
    with pytest.raises(NotFound):
        C.resolve(hand, [ref("nowhere|A|X")])


def test_world_against_real_variant(iris_store):
    name = build_variant(iris_store, "iris", {"kind": "corrupt", "units": ["B"], "labels": 0.5}, progress=False).name
    sibling = build_variant(iris_store, "iris", {"kind": "corrupt", "units": ["C"], "labels": 0.5},
                            progress=False).name
    with iris_store.session() as session:
        c = C.compare_refs(session, [ref("iris|*|*")], [ref(f"{name}|*|*")])
        pair = variant_pair(session, name)
        m = len(pair.parent.slices)
        counts = c.counts()
        assert counts[C.VARIANT].sum() == 16 * m  # the same (training set, slice): the matched pairs
        assert counts[C.JOINT].sum() == (16 * m) ** 2 - 16 * m
        [grid] = c.diff_grids()
        assert (grid.world_a, grid.world_b, grid.kind) == ("iris", name, "variant change")
        np.testing.assert_allclose(grid.delta, pair.delta)
        # Sets without B are copied from the parent: no change there, exactly.
        no_b = np.array([not m >> 1 & 1 for m in range(16)])
        assert (grid.delta[no_b] == 0).all()
        # Reversed (variant -> parent) and siblings are variant changes too; an unrelated world is not.
        assert one(session, f"{name}|AB|all", "iris|AB|all")[0] == "variant change"
        assert one(session, f"{name}|AB|all", f"{sibling}|AB|all")[0] == "variant change"
        assert one(session, f"{name}|AB|all", f"{sibling}|A|all")[0] == "joint shift"
        # toy's cells are on another metric: a mismatch of the two sets (400), named as one, not a 404
        with pytest.raises(CfgraphError, match="no cells on metric 'accuracy' .*compare cells of one metric") as info:
            one(session, "iris|AB|A", "toy|AB|A")
        assert not isinstance(info.value, NotFound)


def pairs(c):
    """(A cell, B cell, class, delta rounded) of every compared pair, in order."""
    return [(f"{c.a.label[i]}:{c.a.slice[i]}:{c.a.seed[i]}", f"{c.b.label[j]}:{c.b.slice[j]}:{c.b.seed[j]}",
             C.CLASSES[k], None if np.isnan(d) else round(float(d), 6))
            for i, j, k, d in zip(c.i.tolist(), c.j.tolist(), c.kind.tolist(), c.delta.tolist())]


def test_matched_pairing_adds_units_on_the_same_slice(hand):
    # Each training set T of A against T + B in B; T already holding B has no partner.
    c = C.compare_refs(hand, [ref("hand|*|*")], [ref("hand|*|*")], pairing="matched", add="B")
    assert pairs(c) == [("∅:X:0", "B:X:0", "training addition", None),
                        ("∅:Y:0", "B:Y:0", "training addition", None),
                        ("A:X:0", "AB:X:0", "training addition", 0.3),
                        ("A:Y:0", "AB:Y:0", "training addition", None)]  # (A, Y) is missing: missing, not zero
    assert c.unpaired == 4 and c.totals() == {"improvement": 1, "harm": 0, "no change": 0, "missing": 3}
    [grid] = c.diff_grids()
    assert (grid.kind, grid.add, grid.changed) == ("training addition", "B", ["training set"])
    assert grid.paired.sum() == 4 and grid.delta[1, 0] == pytest.approx(0.3)  # row A (mask 1), slice X


def test_matched_pairing_same_set_across_seeds_and_slices(hand):
    # No add: the same training set; seed 0 against seed 1 on slice X.
    c = C.compare_refs(hand, [ref("hand|*|X||0")], [ref("hand|*|*||1")], pairing="matched")
    assert [(p[0], p[1], p[2], p[3]) for p in pairs(c)] == [
        ("∅:X:0", "∅:X:1", "seed change", None), ("A:X:0", "A:X:1", "seed change", -0.1),
        ("B:X:0", "B:X:1", "seed change", None), ("AB:X:0", "AB:X:1", "seed change", 0.1)]
    # match=train: slice X against slice Y, each training set against itself.
    c = C.compare_refs(hand, [ref("hand|*|X")], [ref("hand|*|Y")], pairing="matched", match="train")
    assert [(p[0], p[1], p[3]) for p in pairs(c)] == [("∅:X:0", "∅:Y:0", None), ("A:X:0", "A:Y:0", None),
                                                      ("B:X:0", "B:Y:0", None), ("AB:X:0", "AB:Y:0", -0.1)]
    assert set(C.CLASSES[k] for k in c.kind) == {"evaluation shift"}
    [grid] = c.diff_grids()
    assert grid.slice_b == "Y" and grid.kind == "evaluation shift"
    # match=train+slice would pair nothing here: every A cell is unpaired.
    c = C.compare_refs(hand, [ref("hand|*|X")], [ref("hand|*|Y")], pairing="matched")
    assert c.n_pairs == 0 and c.unpaired == 4 and c.diff_grids() == []


def test_matched_pairing_is_the_diagonal_of_all_pairs(hand):
    """Brute force: the matched pairs are exactly the pairs of 'all' whose sets and slices match."""
    a, b = [ref("hand|*|*||0"), ref("hand|*|X||1")], [ref("hand|*|*||0"), ref("hand|*|X||1")]
    everything = C.compare_refs(hand, a, b)
    for add, match in (("", "train+slice"), ("A", "train+slice"), ("B", "train"), ("A+B", "train")):
        m = C.compare_refs(hand, a, b, pairing="matched", add=add, match=match)
        want = C.add_mask(add, ["A", "B"])
        expected = [p for p, (i, j) in enumerate(zip(everything.i, everything.j))
                    if everything.a.mask[i] & want == 0 and everything.a.mask[i] | want == everything.b.mask[j]
                    and (match == "train" or everything.a.slice[i] == everything.b.slice[j])]
        assert list(zip(m.i.tolist(), m.j.tolist())) == [(everything.i[p], everything.j[p]) for p in expected]
        np.testing.assert_array_equal(m.kind, everything.kind[expected])
        np.testing.assert_array_equal(m.delta, everything.delta[expected])


def test_matched_pairing_refuses_bad_arguments_and_unrelated_worlds(hand):
    with pytest.raises(CfgraphError, match="no world of A or B has"):
        C.compare_refs(hand, [ref("hand|A|X")], [ref("hand|AB|X")], pairing="matched", add="Z")
    with pytest.raises(CfgraphError, match="pairing"):
        C.compare_refs(hand, [ref("hand|A|X")], [ref("hand|AB|X")], pairing="diagonal")
    # other|A|X has the same label but other units: never a matched pair.
    c = C.compare_refs(hand, [ref("hand|A|X")], [ref("other|A|X"), ref("hand|A|X||1")], pairing="matched")
    assert [p[1] for p in pairs(c)] == ["A:X:1"]


def test_poison_unit_joining_is_a_training_addition(iris_store):
    """A poisoning variant adds unit E: matched on T -> T + E, the stored deltas of the attack."""
    name = build_variant(iris_store, "iris", {"kind": "poison", "unit": "A", "method": "flip"}, progress=False).name
    with iris_store.session() as session:
        from cfgraph.world import World

        poisoned = World.open(session, name).table()
        inside = C.compare_refs(session, [ref(f"{name}|*|*")], [ref(f"{name}|*|*")], pairing="matched", add="E")
        across = C.compare_refs(session, [ref("iris|*|*")], [ref(f"{name}|*|*")], pairing="matched", add="E")
        m = len(poisoned.slices)
        assert inside.n_pairs == across.n_pairs == 16 * m and inside.unpaired == 16 * m and across.unpaired == 0
        assert set(inside.kind.tolist()) == {C.ADDITION}
        assert set(across.kind.tolist()) == {C.JOINT} and across.top(1)[0]["changed"] == ["training set", "world"]
        stored = poisoned.values[16:32] - poisoned.values[:16]  # T + E minus T, T over A-D (E is bit 4)
        [grid] = inside.diff_grids()
        np.testing.assert_allclose(grid.delta[:16], stored)
        assert np.isnan(grid.delta[16:]).all() and not grid.paired[16:].any()
        [grid_across] = across.diff_grids()
        np.testing.assert_allclose(grid_across.delta, stored)  # T without E in the variant is iris's own cell
        # The same worlds under matched pairing without add: only the 16 shared sets, all unchanged.
        same = C.compare_refs(session, [ref("iris|*|*")], [ref(f"{name}|*|*")], pairing="matched")
        assert same.n_pairs == 16 * m and set(same.kind.tolist()) == {C.VARIANT}
        assert np.nanmax(np.abs(same.delta)) == 0
