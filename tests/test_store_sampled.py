"""Sampled worlds in the store: migration 0006, nodes found by digest, derived edges, the sampled
sink, stored estimates, and get_bit in SQL."""

from __future__ import annotations

import itertools
import sqlite3

import numpy as np
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from cfgraph import bitsets
from cfgraph.errors import CfgraphError, NotFound
from cfgraph.sql import run_query
from cfgraph.store import open_store
from cfgraph.store.catalog import create_world, delete_world, get_world, list_worlds
from cfgraph.store.cells import cells_at, cells_of_nodes, lattice_table, node_ids, slice_column, stored_cells, \
    write_cells
from cfgraph.store.db import make_engine, migrate
from cfgraph.store.graph import hasse_diagram, node_neighbourhood
from cfgraph.store.estimates import latest_estimates, list_valuations, valuation_trace, write_valuation
from cfgraph.store.models import Cell, Edge, Node, Unit
from cfgraph.store.nodes import count_nodes, ensure_nodes, find_nodes, stored_members
from cfgraph.store.sink import SampledSink, StoreSink
from cfgraph.tables import SliceSpec, UnitSpec


@pytest.fixture
def store(any_store):
    """Every test that takes ``store`` runs on SQLite and on PostgreSQL."""
    return any_store


def sampled_world(store, name="big", n=70, slices=("all",), labels=None):
    with store.transaction() as session:
        create_world(session, name, kind="trained", units=[UnitSpec(f"row {i}") for i in range(n)],
                     slices=[SliceSpec(s) for s in slices], metric="accuracy", eval_slices="units",
                     lattice="sampled", labels=labels)


def edges_of(session, world) -> set[tuple[int, int, int]]:
    rows = session.execute(select(Edge.src_node_id, Edge.dst_node_id, Unit.idx)
                           .join(Unit, Unit.id == Edge.unit_id).where(Edge.world_id == world.id)).all()
    assert len(rows) == len(set(rows))  # no edge twice
    return {tuple(r) for r in rows}


def brute_force_edges(members: np.ndarray, ids: np.ndarray) -> set[tuple[int, int, int]]:
    """Every pair of training sets that differ by exactly one unit, smaller set first."""
    expected = set()
    for a, b in itertools.combinations(range(len(members)), 2):
        differ = np.flatnonzero(members[a] != members[b])
        if len(differ) == 1:
            small, large = (a, b) if members[b, differ[0]] else (b, a)
            expected.add((int(ids[small]), int(ids[large]), int(differ[0])))
    return expected


def random_sets(n: int, count: int, seed: int) -> np.ndarray:
    """Random training sets and many of their one-unit neighbours (so that edges exist)."""
    rng = np.random.default_rng(seed)
    base = rng.random((count, n)) < 0.5
    toggled = base.copy()
    toggled[np.arange(count), rng.integers(0, n, count)] ^= True
    twice = toggled.copy()
    twice[np.arange(count), rng.integers(0, n, count)] ^= True
    return np.concatenate([base, toggled, twice])


# --- migration ------------------------------------------------------------------------------

def test_upgrade_from_0005_backfills_members_and_digest(tmp_path):
    path = tmp_path / "old.db"
    migrate(make_engine(f"sqlite:///{path}"), "0005")
    con = sqlite3.connect(path)
    con.execute("INSERT INTO world (id, name, kind, metric, eval_slices, n_units, created_at) "
                "VALUES (1, 'old', 'trained', 'accuracy', 'units', 3, '2026-11-30 00:00:00')")
    con.executemany("INSERT INTO unit (id, world_id, idx, label, name) VALUES (?, 1, ?, ?, ?)",
                    [(i + 1, i, "ABC"[i], f"u{i}") for i in range(3)])
    labels = ["∅", "A", "B", "AB", "C", "AC", "BC", "ABC"]
    con.executemany("INSERT INTO node (id, world_id, mask, label, size) VALUES (?, 1, ?, ?, ?)",
                    [(m + 1, m, labels[m], m.bit_count()) for m in range(8)])
    con.executemany("INSERT INTO edge (world_id, src_node_id, dst_node_id, unit_id) VALUES (1, ?, ?, ?)",
                    [(m + 1, (m | 1 << i) + 1, i + 1) for m in range(8) for i in range(3) if not m >> i & 1])
    con.execute("INSERT INTO eval_slice (id, world_id, name, position) VALUES (1, 1, 'all', 0)")
    con.executemany("INSERT INTO cell (node_id, slice_id, metric, seed, value, status) "
                    "VALUES (?, 1, 'accuracy', 0, ?, 'ok')", [(m + 1, m / 10) for m in range(8)])
    con.commit()
    con.close()
    store = open_store(path)  # upgrades to head
    with store.session() as session:
        disagree = session.scalar(text(
            "SELECT count(*) FROM node n JOIN unit u ON u.world_id = n.world_id "
            "WHERE get_bit(n.members, u.idx) != ((n.mask >> u.idx) & 1)"))
        pairs = session.scalar(text("SELECT count(*) FROM node n JOIN unit u ON u.world_id = n.world_id"))
        assert (disagree, pairs) == (0, 24)
        rows = session.execute(select(Node.mask, Node.digest, Node.members).order_by(Node.mask)).all()
        members = ((np.arange(8)[:, None] >> np.arange(3)) & 1).astype(bool)
        assert [r.digest for r in rows] == bitsets.digest(members).tolist()
        assert [bytes(r.members) for r in rows] == bitsets.pack(members)
        assert session.scalar(text("SELECT lattice FROM world")) == "exhaustive"
        assert session.scalar(text("SELECT count(*) FROM marginal WHERE world = 'old'")) == 12
        assert session.scalar(text("SELECT count(*) FROM grid_summary WHERE world = 'old'")) == 8
        world = get_world(session, "old")
        assert list_worlds(session)[0]["training_sets"] == 8
        assert find_nodes(session, world, members).tolist() == list(range(1, 9))
    store.close()


# --- creating worlds ------------------------------------------------------------------------

def test_sampled_world_has_units_and_slices_but_no_nodes(store):
    sampled_world(store, n=30)
    sampled_world(store, "named", n=3, labels=["r12", "r7", "r300"])
    with store.session() as session:
        world = get_world(session, "big")
        assert world.lattice == "sampled"
        assert [u.label for u in world.units][:2] == ["U1", "U2"] and world.units[26].label == "U27"
        assert [u.label for u in get_world(session, "named").units] == ["r12", "r7", "r300"]
        assert count_nodes(session, world) == 0
        listed = {w["name"]: w for w in list_worlds(session)}
    assert (listed["big"]["lattice"], listed["big"]["training_sets"]) == ("sampled", 0)


def test_create_world_checks_sizes_and_labels(store):
    units = [UnitSpec(f"u{i}") for i in range(17)]
    common = dict(kind="trained", slices=[SliceSpec("all")], metric="accuracy", eval_slices="units")
    with pytest.raises(CfgraphError, match="exhaustive lattice needs 1 to 16"), store.transaction() as s:
        create_world(s, "x", units=units, **common)
    with pytest.raises(CfgraphError, match="sampled world needs 1 to"), store.transaction() as s:
        create_world(s, "x", units=[UnitSpec(f"u{i}") for i in range(bitsets.MAX_SAMPLED_UNITS + 1)],
                     lattice="sampled", **common)
    with pytest.raises(CfgraphError, match="single characters"), store.transaction() as s:
        create_world(s, "x", units=units[:2], labels=["r1", "r2"], **common)
    with pytest.raises(CfgraphError, match="distinct"), store.transaction() as s:
        create_world(s, "x", units=units[:2], labels=["r1", "r1"], lattice="sampled", **common)
    with pytest.raises(CfgraphError, match="lattice is one of"), store.transaction() as s:
        create_world(s, "x", units=units[:2], lattice="partial", **common)


def test_exhaustive_world_nodes_carry_members_and_digest(iris_store):
    with iris_store.session() as session:
        world = get_world(session, "iris")
        rows = session.execute(select(Node.id, Node.mask, Node.members, Node.digest)
                               .where(Node.world_id == world.id).order_by(Node.mask)).all()
        members = bitsets.unpack([bytes(r.members) for r in rows], world.n_units)
        assert [bitsets.to_mask(m) for m in members] == [r.mask for r in rows]
        assert bitsets.digest(members).tolist() == [r.digest for r in rows]
        assert find_nodes(session, world, members).tolist() == [r.id for r in rows]
        # Every exhaustive node exists already: nothing new, no new edge.
        edges = session.scalar(select(func.count()).select_from(Edge).where(Edge.world_id == world.id))
        assert ensure_nodes(session, world, members).tolist() == [r.id for r in rows]
        assert session.scalar(select(func.count()).select_from(Edge).where(Edge.world_id == world.id)) == edges


# --- nodes and edges ------------------------------------------------------------------------

@pytest.mark.parametrize("n,seed", [(70, 0), (70, 1), (9, 2)])
def test_ensure_nodes_creates_exactly_the_edges_of_brute_force(store, n, seed):
    sampled_world(store, n=n)
    sets = random_sets(n, 25, seed)
    batches = np.array_split(np.random.default_rng(seed).permutation(len(sets)), 3)
    with store.transaction() as session:
        world = get_world(session, "big")
        ids = np.full(len(sets), -1)
        for batch in batches:  # later batches find the neighbours stored by earlier ones
            ids[batch] = ensure_nodes(session, world, sets[batch])
        unique, first = np.unique(sets, axis=0, return_index=True)
        assert count_nodes(session, world) == len(unique)
        assert len(set(ids.tolist())) == len(unique)
        expected = brute_force_edges(unique, ids[first])
        assert len(expected) > len(unique) // 2  # the test exercises many edges
        assert edges_of(session, world) == expected
        again = ensure_nodes(session, world, sets[::-1])  # idempotent, no new node or edge
        assert again.tolist() == ids[::-1].tolist()
        assert count_nodes(session, world) == len(unique) and edges_of(session, world) == expected


def test_a_writer_with_an_index_sees_nodes_another_writer_stored_meanwhile(store):
    from cfgraph.store.nodes import NodeIndex

    n = 70
    sampled_world(store, n=n)
    sets = random_sets(n, 20, 4)
    mine, theirs = sets[:30], sets[30:]
    index = NodeIndex()  # read by the first write, then asked before every insert
    with store.transaction() as session:
        world = get_world(session, "big")
        first = ensure_nodes(session, world, mine, index)
    with store.transaction() as session:  # another run, with no index, stores sets of both halves
        stored_by_them = ensure_nodes(session, world, np.concatenate([theirs[:10], mine[:5]]))
    assert stored_by_them[10:].tolist() == first[:5].tolist()
    with store.transaction() as session:  # this writer's index does not know their nodes yet
        ids = ensure_nodes(session, world, np.concatenate([theirs, mine]), index)
        assert ids[:10].tolist() == stored_by_them[:10].tolist() and ids[len(theirs):].tolist() == first.tolist()
        unique, at = np.unique(sets, axis=0, return_index=True)
        all_ids = np.concatenate([first, ids[:len(theirs)]])
        assert count_nodes(session, world) == len(unique) == len(set(all_ids.tolist()))
        assert edges_of(session, world) == brute_force_edges(unique, all_ids[at])
        assert sorted(index.stored[:, 1].tolist()) == sorted(set(all_ids.tolist()))


def test_a_digest_collision_with_a_node_stored_meanwhile_is_refused(store, monkeypatch):
    from cfgraph.store import nodes
    from cfgraph.store.nodes import NodeIndex

    sampled_world(store, n=70)
    one, other = np.eye(70, dtype=bool)[[0, 1]]
    index = NodeIndex()
    with store.transaction() as session:
        world = get_world(session, "big")
        ensure_nodes(session, world, np.eye(70, dtype=bool)[[2]], index)
    with store.transaction() as session:
        ensure_nodes(session, world, one[None])
    real = nodes.bitsets.digest
    monkeypatch.setattr(nodes.bitsets, "digest", lambda m: real(np.where(np.asarray(m)[:, [1]], one, m)))
    with pytest.raises(CfgraphError, match="hash collision"), store.transaction() as session:
        ensure_nodes(session, world, other[None], index)  # digest of `one`, stored after the index was read


def test_small_world_visited_in_random_batches_gets_the_whole_hasse_diagram(store):
    n = 5
    sampled_world(store, n=n)
    all_sets = ((np.arange(1 << n)[:, None] >> np.arange(n)) & 1).astype(bool)
    order = np.random.default_rng(3).permutation(1 << n)
    with store.transaction() as session:
        world = get_world(session, "big")
        for batch in np.array_split(order, 4):
            ensure_nodes(session, world, np.concatenate([all_sets[batch], all_sets[batch[:2]]]))  # repeats too
        ids = find_nodes(session, world, all_sets)
        labels = dict(session.execute(select(Node.id, Node.label)).all())
        masks = dict(session.execute(select(Node.id, Node.mask)).all())
        assert edges_of(session, world) == {
            (int(ids[m]), int(ids[m | 1 << i]), i) for m in range(1 << n) for i in range(n) if not m >> i & 1}
    assert len(brute_force_edges(all_sets, ids)) == n * 2 ** (n - 1)
    assert labels[int(ids[0b10110])] == "BCE" and labels[int(ids[0])] == "∅"
    assert masks[int(ids[0b10110])] == 0b10110


def test_find_nodes_is_minus_one_for_training_sets_not_stored(store):
    sampled_world(store)
    sets = random_sets(70, 4, 5)
    with store.transaction() as session:
        world = get_world(session, "big")
        ids = ensure_nodes(session, world, sets[:4])
        found = find_nodes(session, world, sets)
        assert found[:4].tolist() == ids.tolist()
        assert (found[4:][~np.isin(found[4:], ids)] == -1).all()
        assert find_nodes(session, world, np.zeros((0, 70), bool)).shape == (0,)
        with pytest.raises(CfgraphError, match="70 units"):
            find_nodes(session, world, np.zeros((1, 69), bool))
        label = session.scalar(select(Node.label).where(Node.id == int(ids[0])))
        assert label == f"t{int(bitsets.digest(sets[:1])[0]):016x}"
        assert session.scalar(select(Node.mask).where(Node.id == int(ids[0]))) is None  # 70 units: no mask


def test_stored_members_filters_and_pages_in_sql(store):
    sampled_world(store)
    sets = random_sets(70, 20, 7)
    with store.transaction() as session:
        world = get_world(session, "big")
        ids = ensure_nodes(session, world, sets)
        unique, first = np.unique(sets, axis=0, return_index=True)
        by_id = {int(ids[k]): unique[j] for j, k in enumerate(first)}
        all_ids, members = stored_members(session, world)
        assert sorted(by_id) == all_ids.tolist()
        assert all((members[j] == by_id[i]).all() for j, i in enumerate(all_ids.tolist()))
        sizes = members.sum(axis=1)
        low, high = int(np.percentile(sizes, 25)), int(np.percentile(sizes, 75))
        want = all_ids[members[:, 3] & (sizes >= low) & (sizes <= high)]
        got, got_members = stored_members(session, world, contains=3, min_size=low, max_size=high)
        assert got.tolist() == want.tolist() and got_members[:, 3].all()
        assert count_nodes(session, world, contains=3, min_size=low, max_size=high) == len(want)
        page = stored_members(session, world, contains=3, limit=5, offset=5)[0]
        assert page.tolist() == all_ids[members[:, 3]][5:10].tolist()
        with pytest.raises(CfgraphError, match="units 0 to 69"):
            count_nodes(session, world, contains=70)


def test_marginal_view_reads_derived_edges_once_cells_exist(store):
    sampled_world(store)
    base = np.zeros(70, bool)
    base[[1, 5, 64]] = True
    plus = base.copy()
    plus[66] = True
    far = plus.copy()
    far[[2, 3]] = True  # two units from plus: no edge
    with store.transaction() as session:
        world = get_world(session, "big")
        ids = ensure_nodes(session, world, np.array([base, plus, far]))
        write_cells(session, [{"node_id": int(i), "slice_id": world.slices[0].id, "metric": "accuracy", "seed": 0,
                               "value": v, "fit_seconds": None, "status": "ok", "error": None}
                              for i, v in zip(ids, (0.5, 0.75, 0.9))])
        rows = session.execute(text("SELECT unit, train_size, delta FROM marginal WHERE world = 'big'")).all()
    assert rows == [("U67", 3, 0.25)]


def test_neighbourhood_and_hasse_diagram_of_a_sampled_world_use_stored_neighbours(store):
    sampled_world(store)
    big = (1 << 69) | (1 << 3)
    SampledSink.open(store, "big", ["accuracy"], [0]).write(fit_rows([big, 1 << 69, 1 << 3, big | 1], slices=1))
    with store.session() as session:
        world = get_world(session, "big")
        hood = node_neighbourhood(session, world, big)
        assert hood["node"][1] == big and hood["node"][2].startswith("t")
        assert [(u, m) for u, m, _ in hood["up"]] == [("U1", big | 1)]
        assert [(u, m) for u, m, _ in hood["down"]] == [("U4", 1 << 69), ("U70", 1 << 3)]
        for missing in (big | 2, 1 << 70, -1):
            with pytest.raises(NotFound):
                node_neighbourhood(session, world, missing)
        graph = hasse_diagram(session, world)
    assert set(graph.nodes) == {big, 1 << 69, 1 << 3, big | 1} and graph.number_of_edges() == 3


# --- cells of sampled worlds ----------------------------------------------------------------

def fit_rows(masks, slices=2, seed=0, fail=()):
    return [{"mask": m, "slice": p, "metric": "accuracy", "seed": seed,
             "value": None if m in fail else (m % 1000) / 1000 + p, "fit_seconds": 0.01,
             "status": "failed" if m in fail else "ok", "error": "boom" if m in fail else None}
            for m in masks for p in range(slices)]


def test_sampled_sink_round_trip_with_masks_beyond_2_to_the_63(store):
    sampled_world(store, slices=("all", "half"))
    masks = [0, 1 << 69, (1 << 69) | (1 << 64) | 7, (1 << 63) | 1, 5]
    sink = SampledSink.open(store, "big", ["accuracy"], [0, 1])
    assert sink.stored == 0
    sink.write(fit_rows(masks[:4], fail={5}) + fit_rows(masks[3:], seed=1, fail={5}))
    assert SampledSink.open(store, "big", ["accuracy"], [0]).stored == 4 * 2 + 2 * 2
    members = np.array([bitsets.from_mask(m, 70) for m in masks + [1 << 68]])
    present = sink.present_for(members)
    assert present.shape == (6, 2, 2, 1)
    assert present[:, 0, :, 0].all(axis=1).tolist() == [True, True, True, True, False, False]
    assert present[:, 1, :, 0].all(axis=1).tolist() == [False, False, False, True, True, False]
    with store.session() as session:
        world = get_world(session, "big")
        ids = find_nodes(session, world, members)
        assert (ids[:5] > 0).all() and ids[5] == -1
        values, stored = cells_of_nodes(session, world, np.r_[ids, ids[:1]], ["accuracy"], [1, 0])
        assert values.shape == (7, 2, 2, 1)
        expected = [(m % 1000) / 1000 for m in masks[:4]]
        assert values[:4, 1, :, 0].tolist() == [[e, e + 1] for e in expected]
        assert np.isnan(values[4, :, :, 0]).all() and stored[4, 0].all()  # failed: stored, no value
        assert np.isnan(values[5]).all() and not stored[5].any()
        np.testing.assert_array_equal(values[6], values[0])
        # The stored sets 0 and {69} differ by one unit: an edge.
        assert (int(ids[0]), int(ids[1]), 69) in edges_of(session, world)
        at = cells_at(session, world, [masks[2], 1 << 68], "accuracy", 0)
        assert at[0].tolist() == [expected[2], 1 + expected[2]] and np.isnan(at[1]).all()


def test_the_exhaustive_sink_refuses_a_sampled_world(store):
    sampled_world(store, n=4)
    with pytest.raises(CfgraphError, match="sampled world: its cells are written through SampledSink"):
        StoreSink.open(store, "big", ["accuracy"], [0])


def test_a_failed_write_leaves_no_node_edge_or_cell(store):
    sampled_world(store)
    sink = SampledSink.open(store, "big", ["accuracy"], [0])
    rows = fit_rows([3, 1 << 65, 2], slices=1)
    rows[-1]["value"] = None  # status ok without a value: the database refuses the whole batch
    with pytest.raises(IntegrityError):
        sink.write(rows)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Node)) == 0
        assert session.scalar(select(func.count()).select_from(Edge)) == 0
        assert session.scalar(select(func.count()).select_from(Cell)) == 0


def test_small_sampled_world_reads_as_a_lattice_with_missing_rows(store):
    sampled_world(store, n=4, slices=("all",))
    SampledSink.open(store, "big", ["accuracy"], [0]).write(fit_rows([0, 0b0101, 0b1111], slices=1))
    with store.session() as session:
        world = get_world(session, "big")
        table = lattice_table(session, world)
        assert table.labels[0b0101] == "AC"
        column = table.column("all")
        assert np.flatnonzero(~np.isnan(column)).tolist() == [0, 0b0101, 0b1111]
        assert (node_ids(session, world) >= 0).sum() == 3
        assert stored_cells(session, world, ["accuracy"], [0])[0, :, 0, 0].sum() == 3
        assert np.isnan(slice_column(session, world, world.slices[0].id, "accuracy", 0)).sum() == 13
        assert cells_at(session, world, [0b0101, 0b0011], "accuracy", 0)[:, 0].tolist()[0] == 0.005


def test_large_sampled_world_refuses_a_table_of_2_to_the_n_rows(store):
    sampled_world(store, n=17)
    with store.session() as session:
        world = get_world(session, "big")
        for read in (lambda: lattice_table(session, world), lambda: node_ids(session, world),
                     lambda: stored_cells(session, world, ["accuracy"], [0]),
                     lambda: slice_column(session, world, world.slices[0].id, "accuracy", 0)):
            with pytest.raises(CfgraphError, match="sampled world of 17 units; its training sets are read with"):
                read()


# --- estimates ------------------------------------------------------------------------------

def estimate_rows(values, seed=None):
    return [{"unit_idx": i, "slice": "all", "metric": "accuracy", "seed": seed, "value": v, "stderr": 0.01 * (i + 1),
             "n_samples": 10 + i, "ci_low": v - 0.02, "ci_high": v + 0.02} for i, v in enumerate(values)]


def test_valuations_keep_history_and_latest_is_per_method(store):
    sampled_world(store, n=3)
    trace = [{"evaluations": 10, "fits": 8, "value": [0.1, 0.2, 0.3], "stderr": [0.1, 0.1, 0.1]}]
    common = dict(sampler_seed=0, reused=2, seconds=1.5, stopped_by="MaxEvaluations(10)")
    with store.transaction() as session:
        world = get_world(session, "big")
        first = write_valuation(session, world, method="shapley", params={"sampler": "tmc", "tol": 0.01},
                                evaluations=10, fits=8, trace=trace, rows=estimate_rows([0.1, 0.2, 0.3]), **common)
        second = write_valuation(session, world, method="shapley", params={"sampler": "permutation"},
                                 evaluations=20, fits=4, trace=[], rows=estimate_rows([0.15, 0.25, float("nan")]),
                                 **common)
        banzhaf = write_valuation(session, world, method="banzhaf", params={"sampler": "msr"}, evaluations=30,
                                  fits=0, trace=None, rows=estimate_rows([1.0, 2.0, 3.0], seed=4), **common)
        with pytest.raises(CfgraphError, match="no evaluation slice"):
            write_valuation(session, world, method="loo", params={}, evaluations=4, fits=4, trace=[],
                            rows=[dict(estimate_rows([0.0])[0], slice="nope")], **common)
    with store.session() as session:
        world = get_world(session, "big")
        latest = latest_estimates(session, world)
        assert {(r["method"], r["valuation_id"]) for r in latest} == {("shapley", second), ("banzhaf", banzhaf)}
        shapley = [r for r in latest if r["method"] == "shapley"]
        assert [r["value"] for r in shapley][:2] == [0.15, 0.25] and shapley[2]["value"] is None
        assert [r["unit"] for r in shapley] == ["A", "B", "C"] and shapley[0]["fits"] == 4
        assert shapley[1]["stderr"] == 0.02 and shapley[1]["n_samples"] == 11 and shapley[1]["ci_low"] == 0.23
        assert [r["seed"] for r in latest_estimates(session, world, "banzhaf")] == [4, 4, 4]
        assert latest_estimates(session, world, "loo") == []
        listed = list_valuations(session, world)
        assert [(v["id"], v["method"], v["evaluations"], v["fits"]) for v in listed] == [
            (first, "shapley", 10, 8), (second, "shapley", 20, 4), (banzhaf, "banzhaf", 30, 0)]
        assert listed[0]["params"] == {"sampler": "tmc", "tol": 0.01}
        got = valuation_trace(session, first)
        assert got["trace"] == trace and got["world"] == "big" and got["stopped_by"] == "MaxEvaluations(10)"
        assert valuation_trace(session, banzhaf)["trace"] == []
        with pytest.raises(NotFound):
            valuation_trace(session, 999)
        assert session.scalar(text("SELECT count(*) FROM estimate WHERE method = 'shapley'")) == 6


def test_deleting_a_sampled_world_deletes_its_nodes_and_estimates(store):
    sampled_world(store, n=3)
    SampledSink.open(store, "big", ["accuracy"], [0]).write(fit_rows([1, 3], slices=1))
    with store.transaction() as session:
        write_valuation(session, get_world(session, "big"), method="shapley", params={}, sampler_seed=0,
                        evaluations=2, fits=2, reused=0, seconds=None, stopped_by=None, trace=[],
                        rows=estimate_rows([0.1, 0.2, 0.3]))
    with store.transaction() as session:
        delete_world(session, "big")
    with store.session() as session:
        for table in ("node", "edge", "cell", "valuation", "estimate", "unit"):
            assert session.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table


def test_list_worlds_counts_stored_training_sets_with_one_query_per_table(store, toy_store):
    sampled_world(store)
    SampledSink.open(store, "big", ["accuracy"], [0]).write(fit_rows([1, 2, 3], slices=1))
    with store.session() as session:
        listed = {w["name"]: w for w in list_worlds(session)}
    assert (listed["big"]["lattice"], listed["big"]["training_sets"], listed["big"]["cells"]) == ("sampled", 3, 3)
    assert listed["big"]["complete"] == 1.0
    assert (listed["toy"]["lattice"], listed["toy"]["training_sets"]) == ("exhaustive", 16)


# --- SQL ------------------------------------------------------------------------------------

def test_get_bit_in_the_read_only_sql_runner(store):
    sampled_world(store)
    SampledSink.open(store, "big", ["accuracy"], [0]).write(fit_rows([8, 9, 1, 1 << 69], slices=1))
    target = store.sqlite_path or store.url
    result = run_query(target, "SELECT count(*) FROM node WHERE get_bit(members, 3) = 1")
    assert result.rows == [(2,)]
    high = run_query(target, "SELECT count(*) FROM node n JOIN unit u ON u.world_id = n.world_id "
                                        "WHERE u.label = 'U70' AND get_bit(n.members, u.idx) = 1")
    assert high.rows == [(1,)]
    assert run_query(target, "SELECT get_bit(NULL, 1), get_bit(members, NULL) FROM node LIMIT 1").rows \
        == [(None, None)]
    with pytest.raises(CfgraphError, match="index 72 out of valid range, 0..71"):
        run_query(target, "SELECT get_bit(members, 72) FROM node")


def test_get_bit_on_store_connections_matches_postgresql_bit_order(store):
    if store.sqlite_path is None:  # PostgreSQL's own get_bit, on bytea (x'..' is a bit string there)
        with store.session() as session:
            assert session.execute(text("SELECT get_bit('\\x0100'::bytea, 0), get_bit('\\x0100'::bytea, 7), "
                                        "get_bit('\\x0080'::bytea, 15)")).one() == (1, 0, 1)
        return
    with store.session() as session:
        assert session.execute(text("SELECT get_bit(x'0100', 0), get_bit(x'0100', 7), get_bit(x'0080', 15)")).one() \
            == (1, 0, 1)
        with pytest.raises(Exception, match="user-defined function raised exception"):
            session.execute(text("SELECT get_bit(x'01', 8)"))
