"""Lenses on the lattice graph, computed directly (no Flask): known values, brute force, sparse columns."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from cfgraph import lattice
from cfgraph import values as V
from cfgraph.errors import CfgraphError
from cfgraph.web import lenses as L

LETTERS = "ABC"
LABELS = lattice.all_labels(LETTERS)


def glove() -> np.ndarray:
    """A left glove (A) and two right gloves (B, C); a pair is worth 1."""
    return np.array([1.0 if (m & 1) and (m & 6) else 0.0 for m in range(8)])


def params(node=7, unit=0, other=1, coalition=0b110, k=2, order=(2, 0, 1)):
    return L.LensParams(node=node, unit=unit, other_unit=other, coalition=coalition, k=k, order=list(order))


class Sparse:
    """Like the graph page's SparseColumn: a few cells, NaN for any other."""

    def __init__(self, v, masks):
        self.cells = {int(m): float(v[m]) for m in masks}

    def __getitem__(self, mask):
        return self.cells.get(int(mask), math.nan)


def compute(key, v, p, n=3, labels=LABELS, letters=LETTERS):
    return L.compute(key, n, v, labels, letters, p)


def test_parse_order():
    assert L.parse_order(None, "ABC") == [0, 1, 2] and L.parse_order("C+A+B", "ABC") == [2, 0, 1]
    for bad in ("AB", "AAB", "ABD", "ABCA"):
        with pytest.raises(CfgraphError, match="every unit once"):
            L.parse_order(bad, "ABC")


def test_needed_cells_of_each_lens():
    p = params(node=0b011, unit=0, other=2, coalition=0b110)
    assert L.needed("ablation", 3, p) == [0b011, 0b010]
    assert L.needed("strike", 3, p) == [0b111, 0b101, 0b001]  # C&B leave ABC (B first, then C)
    assert L.needed("square", 3, p) == [0b010, 0b011, 0b110, 0b111]
    assert L.needed("permutation", 3, p) == [0, 4, 5, 7]
    assert L.needed("sweep", 3, p) is None and L.needed("layer", 3, p) is None


def test_ablation_edge_is_leave_one_out():
    v = glove()
    view = compute("ablation", v, params(node=0b110, unit=0))  # A added to BC: 1 - 0
    assert view.value == 1.0 and view.nodes == {0b110, 0b111} and view.edges == {(0b110, 0b111): "+1.0000"}
    assert "removing A from ABC gives BC" in view.summary


def test_strike_path_drops_sum_to_the_group_leave_one_out():
    v = np.random.default_rng(1).random(8)
    view = compute("strike", v, params(node=0b001, coalition=0b110))
    assert [row[1] for row in view.steps] == ["B", "C"]
    drops = [row[4] for row in view.steps]
    assert drops == pytest.approx([v[7] - v[5], v[5] - v[1]])
    assert view.value == pytest.approx(sum(drops)) and view.value == pytest.approx(v[7] - v[1])
    with pytest.raises(CfgraphError, match="non-empty coalition"):
        compute("strike", v, params(coalition=0))


def brute_shapley(v, i, n):
    total = 0.0
    for order in itertools.permutations(range(n)):
        before = 0
        for u in order:
            if u == i:
                total += v[before | 1 << i] - v[before]
                break
            before |= 1 << u
    return total / math.factorial(n)


def test_sweep_gives_shapley_by_brute_force_and_the_banzhaf_value():
    v = np.random.default_rng(2).random(8)
    view = compute("sweep", v, params(unit=1))
    assert view.value == pytest.approx(brute_shapley(v, 1, 3), abs=1e-12)
    assert f"Banzhaf {float(V.banzhaf(v)[1]):.4f}" in view.summary
    assert view.total_steps == 4 and len(view.edges) == 4
    assert sum(row[3] * row[2] for row in view.steps) == pytest.approx(view.value)
    v[0] = np.nan
    view = compute("sweep", v, params(unit=1))
    assert view.value is None and "1 lack a cell" in view.summary


def test_layer_lens_mean_and_best():
    v = np.arange(8, dtype=float) / 10
    v[6] = np.nan  # BC missing
    view = compute("layer", v, params(k=2))
    assert view.value == pytest.approx((0.3 + 0.5) / 2) and "2 of 3 training sets" in view.summary
    assert "best AC (0.5000)" in view.summary
    assert [row[0] for row in view.steps] == ["AC", "AB", "BC"]
    view = compute("layer", np.full(8, np.nan), params(k=1))
    assert view.value is None and "no training set of size 1" in view.summary


def test_interaction_square_of_the_glove_game():
    view = compute("square", glove(), params(node=0b001, unit=1, other=2))  # B, C over A: 1 - 1 - 1 + 0
    assert view.value == -1.0 and "(substitutes)" in view.summary
    assert view.edges[(0b001, 0b011)] == "+1.0000" and view.edges[(0b011, 0b111)] == "+0.0000"
    with pytest.raises(CfgraphError, match="two different units"):
        compute("square", glove(), params(unit=1, other=1))


def test_permutation_path_sums_to_the_full_minus_the_empty_set():
    v = np.random.default_rng(3).random(8)
    view = compute("permutation", v, params(order=(2, 0, 1)))
    steps = [row[4] for row in view.steps]
    assert steps == pytest.approx([v[4] - v[0], v[5] - v[4], v[7] - v[5]])
    assert view.value == pytest.approx(v[7] - v[0]) and view.nodes == {0, 4, 5, 7}


@pytest.mark.parametrize("key", ["ablation", "strike", "square", "permutation"])
def test_a_sparse_column_with_only_the_needed_cells_gives_the_same_view(key):
    v = np.random.default_rng(4).random(8)
    p = params(node=0b011, unit=0, other=2, coalition=0b110)
    dense = compute(key, v, p)
    sparse = compute(key, Sparse(v, L.needed(key, 3, p)), p)
    assert sparse.to_dict(LABELS) == dense.to_dict(LABELS)
    assert dense.value is not None and not math.isnan(dense.value)


def test_missing_cells_show_as_question_marks_and_none():
    v = glove()
    v[0b110] = np.nan
    view = compute("ablation", v, params(node=0b110, unit=0))
    assert math.isnan(view.value) and view.edges == {(0b110, 0b111): "?"}
    d = view.to_dict(LABELS)
    assert d["value"] is None and d["edges"] == [{"from": "BC", "to": "ABC", "label": "?"}]


def test_unknown_lens():
    with pytest.raises(CfgraphError, match="unknown lens"):
        compute("bogus", glove(), params())


def test_layouts():
    placed, width, height = L.whole_layout(3, LABELS)
    assert sorted(p.mask for p in placed) == list(range(8)) and width >= 360
    y = {p.mask: p.y for p in placed}
    assert y[0] > y[1] == y[2] == y[4] > y[3] > y[7]  # the empty set at the bottom, layers by size
    placed, width, height = L.local_layout(5, [7], [1, 4])
    assert [(p.mask, p.y) for p in placed] == [(5, height / 2), (7, 50), (1, height - 50), (4, height - 50)]
