"""The grid's twelve questions, asked directly (no Flask): known values from the seed's toy grid,
hand-computed small lattices, and agreement with :mod:`cfgraph.values`."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from cfgraph import lattice
from cfgraph import questions as Q
from cfgraph import values as V
from cfgraph.errors import CfgraphError
from cfgraph.resources import seed_file
from cfgraph.tables import LatticeTable


def make_table(letters, slices, slice_masks, values, world="w") -> LatticeTable:
    values = np.asarray(values, dtype=float)
    status = np.where(np.isnan(values), "", "ok").astype(object)
    return LatticeTable(world=world, letters=list(letters), labels=lattice.all_labels(letters), slices=list(slices),
                        slice_masks=list(slice_masks), metric="accuracy", seed=0, values=values, status=status)


@pytest.fixture
def toy() -> LatticeTable:
    """The seed's toy grid (seed_data/toy_grid.csv): 4 of 16 rows known, slices A..D = the units."""
    v = np.full((16, 4), np.nan)
    with open(seed_file("toy_grid.csv"), newline="") as fh:
        for rec in csv.DictReader(fh):
            v[lattice.parse_label(rec["train_set"], "ABCD"), "ABCD".index(rec["eval_slice"])] = float(rec["value"])
    return make_table("ABCD", "ABCD", [1, 2, 4, 8], v, world="toy")


def glove_values() -> np.ndarray:
    """A left glove (A) and two right gloves (B, C); a pair is worth 1."""
    return np.array([1.0 if (m & 1) and (m & 6) else 0.0 for m in range(8)])


@pytest.fixture
def glove() -> LatticeTable:
    """Complete n = 3 lattice. Slice "all" is the glove game; slices A, B, C (the units' own rows)
    score f(S, {u}) = 0.5 + 0.1 |S| + 0.3 [u in S], so every diagonal cell is known by hand."""
    size = np.array([bin(m).count("1") for m in range(8)])
    own = [0.5 + 0.1 * size + 0.3 * ((np.arange(8) >> u) & 1) for u in range(3)]
    return make_table("ABC", ["all", "A", "B", "C"], [None, 1, 2, 4], np.column_stack([glove_values()] + own))


def ask(grid, key, cells=(), rows=(), columns=(), layer=None, **focus):
    selection = Q.parse_selection(grid, cells, rows, columns, layer)
    return Q.ask(grid, Q.resolve(grid, selection, **focus), key)


# ------------------------------------------------------------------ local questions


def test_loo_of_b_on_slice_b_is_0_33_from_the_toy_grid(toy):
    a = ask(toy, "loo", cells=["ABCD:B", "ACD:B"])
    assert a.status == "answered" and a.value == pytest.approx(0.88 - 0.55, abs=1e-12)
    assert (a.n_used, a.n_missing) == (2, 0)
    assert [(c.train, c.slice, c.value) for c in a.cells] == [("ABCD", "B", 0.88), ("ACD", "B", 0.55)]
    assert "0.8800 − 0.5500 = 0.3300" in a.worked and "unit B" in a.worked
    assert a.value == pytest.approx(float(V.leave_one_out(toy.values[:, 1], units=[1])[1]), abs=0)


def test_loo_names_the_missing_cell_and_refuses_a_unit_outside_the_set(toy):
    a = ask(toy, "loo", cells=["ABC:A"], unit="B")  # needs AC, which is not stored
    assert a.status == "missing" and a.value is None
    assert [(c.train, c.slice) for c in a.missing] == [("AC", "A")] and a.n_missing == 1
    a = ask(toy, "loo", cells=["ABC:A"], unit="C")
    assert a.value == pytest.approx(0.88 - 0.85)
    a = ask(toy, "loo", cells=["AB:A"], unit="D")
    assert a.status == "not applicable" and "not in AB" in a.reason


def test_evaluation_move_along_a_row(toy):
    a = ask(toy, "eval_move", cells=["ABCD:A", "ABCD:D"])
    assert a.value == pytest.approx(0.82 - 0.92)
    assert ask(toy, "eval_move", cells=["ABCD:A"]).status == "not applicable"


def test_group_loo_is_the_strike_of_c_and_d(toy):
    a = ask(toy, "group_loo", cells=["ABCD:C", "AB:C"])
    assert a.value == pytest.approx(0.85 - 0.45) and "coalition CD" in a.worked
    assert ask(toy, "group_loo", cells=["AB:C"], coalition="CD").status == "not applicable"


def test_pair_interaction_known_and_missing(toy, glove):
    a = ask(glove, "interaction", cells=["ABC:all"], pair="BC")  # B and C substitute: 1 - 1 - 1 + 0
    assert a.value == -1.0 and a.n_used == 4
    a = ask(toy, "interaction", cells=["ABCD:A"], pair="CD")  # needs ABD, not stored
    assert a.status == "missing" and [c.train for c in a.missing] == ["ABD"]


def test_unlearning_audit_table_and_verdict(toy):
    a = ask(toy, "unlearning", cells=["ABCD:B"], unit="B")
    assert a.value == pytest.approx(0.33) and "detectable" in a.worked and "would fail" in a.worked
    assert a.status == "partial"  # BCD and ABD are missing for the other units' rows
    table = {row[0]: row for row in a.table}
    assert math.isnan(table["A"][2]) and table["A"][3] == "?"
    assert table["D"][2] == pytest.approx(0.88 - 0.80) and table["D"][3] == "within tolerance"
    a = ask(toy, "unlearning", cells=["ABCD:B"], unit="B", tolerance="0.5")
    assert "within tolerance" in a.worked and "would pass" in a.worked


# ----------------------------------------------------------------- semivalues


def test_semivalues_of_the_glove_game_by_hand(glove):
    a = ask(glove, "shapley", cells=["ABC:all"], unit="A")
    assert a.value == pytest.approx(2 / 3) and a.n_used == 8
    assert [row[0] for row in a.table] == ["A", "B", "C"]
    np.testing.assert_allclose([row[1] for row in a.table], [2 / 3, 1 / 6, 1 / 6], atol=1e-12)
    assert "efficiency: Σ φ = 1.0000 = f(N) − f(∅) = 1.0000" in a.worked
    a = ask(glove, "banzhaf", cells=["ABC:all"], unit="B")
    assert a.value == pytest.approx(1 / 4)
    a = ask(glove, "beta", cells=["ABC:all"], unit="A", alpha="1", beta="1")  # Beta(1, 1) is Shapley
    assert a.value == pytest.approx(2 / 3) and a.columns == ["unit", "Beta(1, 1)"]
    a = ask(glove, "beta", cells=["ABC:all"], alpha="4", beta="2")
    np.testing.assert_allclose([row[1] for row in a.table], V.beta_shapley(glove.values[:, 0], 4, 2), atol=0)


def test_semivalues_need_the_whole_column(toy):
    a = ask(toy, "shapley", cells=["ABCD:A"])
    assert a.status == "missing" and a.n_missing == 12 and a.n_used == 4 and a.value is None


# ------------------------------------------------------------- curves and scans


def test_scaling_law_skips_and_counts_missing_cells(toy):
    a = ask(toy, "scaling", cells=["ABC:A"])
    assert a.status == "partial" and a.value == pytest.approx((0.88 + 0.78) / 2)
    assert [row[0] for row in a.table] == [0, 1, 2, 3, 4] and a.columns[0] == "k"
    rows = {row[0]: row for row in a.table}
    assert rows[2][1:] == [pytest.approx(0.85), 1, 6] and rows[4][1:] == [pytest.approx(0.92), 1, 1]
    assert math.isnan(rows[0][1]) and rows[0][2:] == [0, 1]
    assert Q.scaling_table(toy, 0)["present"] == [0, 0, 1, 2, 1]


def test_evaluation_and_diagonal_scaling(toy, glove):
    a = ask(toy, "eval_scaling", cells=["ABCD:A"])
    assert a.value == pytest.approx(np.mean([0.92, 0.88, 0.85, 0.82])) and a.n_used == 4
    a = ask(glove, "diagonal", cells=["A:A"], k="1")
    # f({u}, {u}) = 0.5 + 0.1 + 0.3 for each unit
    assert a.value == pytest.approx(0.9) and "f(A, A) = 0.9000" in a.worked
    assert ask(toy, "diagonal", cells=["A:A"]).status == "missing"  # no diagonal cell of the toy grid is known
    world_without_unions = make_table("AB", ["all"], [None], np.zeros((4, 1)))
    assert ask(world_without_unions, "diagonal").status == "not applicable"


def test_subset_scan_best_of_size_three_on_slice_d(toy):
    a = ask(toy, "subset_scan", cells=["ABC:D"])
    assert a.value == pytest.approx(0.80) and "ACD" in a.worked and a.status == "partial"
    assert [row[1] for row in a.table] == ["ACD", "ABC"]
    assert ask(toy, "subset_scan", cells=["ABC:D"], k="1").status == "missing"


# ------------------------------------------------------------------- the API


def test_ask_all_in_order_and_unknown_keys(toy):
    focus = Q.resolve(toy, Q.parse_selection(toy, cells=["ABCD:B", "ACD:B"]))
    answers = Q.ask_all(toy, focus)
    assert [a.key for a in answers] == [k for k, _ in Q.QUESTIONS]
    with pytest.raises(CfgraphError, match="unknown question"):
        Q.ask(toy, focus, "bogus")


def test_answer_to_dict_turns_nan_into_none(toy):
    a = ask(toy, "unlearning", cells=["ABCD:B"], unit="B")
    d = a.to_dict()
    assert d["value"] == pytest.approx(0.33)
    assert [row[2] for row in d["table"]][0] is None
    assert Q.jsonable(np.float64("nan")) is None and Q.jsonable(np.int64(3)) == 3


def test_unit_values_table(glove, toy):
    table = Q.unit_values(glove, alpha=1.0, beta=1.0)
    assert table["methods"] == ["loo", "shapley", "banzhaf", "beta(1,1)"] and table["missing"] == []
    np.testing.assert_allclose(table["values"]["shapley"][:, 0], [2 / 3, 1 / 6, 1 / 6], atol=1e-12)
    np.testing.assert_allclose(table["values"]["loo"][:, 0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(table["values"]["beta(1,1)"], table["values"]["shapley"], atol=1e-12)
    lacking = Q.unit_values(toy)["missing"]
    assert {"method": "shapley", "slice": "A", "count": 12} in lacking
