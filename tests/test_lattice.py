"""Bitmask labels, layers, paths and the Hasse diagram."""

import networkx as nx
import numpy as np
import pytest

from cfgraph import lattice
from cfgraph.errors import CfgraphError


def test_labels_follow_unit_order_and_empty_set():
    assert lattice.mask_label(0b1101, "ABCD") == "ACD"
    assert lattice.mask_label(0, "ABCD") == "∅"
    labels = lattice.all_labels("ABC")
    assert labels == ["∅", "A", "B", "AB", "C", "AC", "BC", "ABC"]
    assert all(lattice.mask_label(m, "ABCD") == lab for m, lab in enumerate(lattice.all_labels("ABCD")))


@pytest.mark.parametrize("text,mask", [("ACD", 13), ("DCA", 13), ("A+C+D", 13), ("∅", 0), ("{}", 0), ("", 0)])
def test_parse_label_round_trips(text, mask):
    assert lattice.parse_label(text, "ABCD") == mask


def test_parse_label_accepts_unit_names_with_plus():
    assert lattice.parse_label("fiction+science", ["fiction", "science", "social"]) == 0b011


@pytest.mark.parametrize("text,needle", [("ABE", "unknown unit 'E'"), ("AA", "twice")])
def test_parse_label_refuses_bad_labels(text, needle):
    with pytest.raises(CfgraphError, match=needle):
        lattice.parse_label(text, "ABCD")


def test_sizes_and_layers():
    n = 5
    size = lattice.sizes(n)
    assert size.tolist() == [bin(m).count("1") for m in range(32)]
    for k in range(n + 1):
        assert len(lattice.layer(n, k)) == [1, 5, 10, 10, 5, 1][k]
    with pytest.raises(CfgraphError, match="out of range"):
        lattice.layer(n, 6)


def test_neighbours_of_a_node():
    up, down = lattice.neighbours(0b0101, 4)
    assert up == [(1, 0b0111), (3, 0b1101)]
    assert down == [(0, 0b0100), (2, 0b0001)]


def test_permutation_and_removal_paths():
    assert lattice.permutation_path([2, 0, 1]) == [0, 4, 5, 7]
    assert lattice.removal_path([1, 3], 0b1111) == [15, 13, 5]
    with pytest.raises(CfgraphError):
        lattice.permutation_path([0, 0])
    with pytest.raises(CfgraphError):
        lattice.removal_path([2], 0b0011)


def test_hasse_diagram_has_all_cover_relations():
    n = 4
    letters = lattice.unit_letters(n)
    labels = lattice.all_labels(letters)
    edges = [(m, m | 1 << i, letters[i]) for m in range(1 << n) for i in range(n) if not m >> i & 1]
    values = {m: float(bin(m).count("1")) for m in range(1 << n)}
    g = lattice.hasse_diagram(range(1 << n), labels, edges, values)
    assert g.number_of_nodes() == 16 and g.number_of_edges() == n * 2 ** (n - 1)
    # Every maximal chain is a permutation path: n! of them from the empty set to the full set.
    assert sum(1 for _ in nx.all_simple_paths(g, 0, 15)) == 24
    assert all(d["delta"] == 1.0 for _, _, d in g.edges(data=True))
    assert g.nodes[13]["label"] == "ACD" and g.nodes[13]["size"] == 3
    path = nx.shortest_path(g, 0, 15)
    assert len(path) == n + 1 and all(b & a == a for a, b in zip(path, path[1:]))


def test_unit_letters_bounds():
    assert lattice.unit_letters(3) == ["A", "B", "C"]
    with pytest.raises(CfgraphError):
        lattice.unit_letters(0)


def test_sizes_dtype_is_integer():
    assert lattice.sizes(3).dtype == np.int64


def test_layer_sums_of_the_glove_game_by_hand():
    # A holds a left glove, B and C right gloves; a pair is worth 1: v(AB) = v(AC) = v(ABC) = 1.
    v = np.array([1.0 if (m & 1) and (m & 6) else 0.0 for m in range(8)])
    with_unit, total = lattice.layer_sums(v)
    assert total.tolist() == [0.0, 0.0, 2.0, 1.0]
    assert with_unit.tolist() == [[0.0, 0.0, 2.0, 1.0],   # A is in AB, AC and ABC
                                  [0.0, 0.0, 1.0, 1.0],   # B is in AB (worth 1), BC (0) and ABC
                                  [0.0, 0.0, 1.0, 1.0]]
    two = lattice.layer_sums(np.column_stack([v, 2 * v]))
    assert two[0].shape == (3, 4, 2) and two[0][:, :, 1].tolist() == (2 * with_unit).tolist()


def test_layer_sums_split_at_large_n_matches_a_plain_matrix_product():
    # n = 14 takes the chunked path (6 low bits, recursion on the high 8); compare with the
    # membership-matrix product it replaces.
    n = 14
    v = np.random.default_rng(5).normal(size=1 << n)
    member = (np.arange(1 << n)[:, None] >> np.arange(n)) & 1
    onehot = lattice.sizes(n)[:, None] == np.arange(n + 1)
    with_unit, total = lattice.layer_sums(v)
    np.testing.assert_allclose(with_unit, member.T @ (onehot * v[:, None]), rtol=0, atol=1e-10)
    np.testing.assert_allclose(total, onehot.T @ v, rtol=0, atol=1e-10)
