"""The store: migrations, schema, views, keys, the Hasse diagram (on SQLite and PostgreSQL)."""

import networkx as nx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import IntegrityError

from cfgraph.errors import CfgraphError, NotFound
from cfgraph.grids import import_grid
from cfgraph.resources import seed_file
from cfgraph.store import open_store, resolve_url
from cfgraph.store.catalog import delete_world, get_world, list_worlds
from cfgraph.store.cells import lattice_table, node_ids, slice_ids, write_cells
from cfgraph.store.db import make_engine, migrate
from cfgraph.store.graph import hasse_diagram, node_neighbourhood
from cfgraph.store.models import Base, Cell, Edge, Node


@pytest.fixture
def store(any_store):
    """Every test that takes ``store`` (or ``toy_store``) runs on SQLite and on PostgreSQL."""
    return any_store


@pytest.fixture
def iris_store(any_iris_store):
    return any_iris_store


def test_models_and_migrations_agree(store):
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_toy_grid_view_query_returns_0_55(toy_store):
    with toy_store.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT value FROM grid WHERE world='toy' AND train_set='ACD' AND eval_slice='B'")).all()
    assert [tuple(r) for r in rows] == [(0.55,)]


def test_toy_world_has_sixteen_nodes_and_only_four_known_rows(toy_store):
    with toy_store.session() as s:
        table = lattice_table(s, "toy")
        assert s.scalar(select(Node.id).where(Node.mask == 0)) is not None
    known = [table.labels[m] for m in range(16) if not all(map(lambda x: x != x, table.values[m]))]
    assert sorted(known) == ["AB", "ABC", "ABCD", "ACD"]
    assert table.complete == pytest.approx(0.25)


def test_nodes_and_edges_cover_the_lattice(iris_store):
    with iris_store.session() as s:
        world = get_world(s, "iris")
        n = world.n_units
        assert s.scalar(select(func.count()).select_from(Node).where(Node.world_id == world.id)) == 2 ** n
        edges = s.execute(select(Edge.src_node_id, Edge.dst_node_id).where(Edge.world_id == world.id)).all()
        assert len(edges) == n * 2 ** (n - 1)
        masks = dict(s.execute(select(Node.id, Node.mask).where(Node.world_id == world.id)).all())
        for src, dst in edges:  # every stored edge adds exactly one unit
            a, b = masks[src], masks[dst]
            assert a & b == a and (b ^ a).bit_count() == 1


def test_second_write_of_a_cell_is_impossible(toy_store):
    with toy_store.session() as s:
        world = get_world(s, "toy")
        ids, sids = node_ids(s, world), slice_ids(s, world)
    row = {"node_id": int(ids[0b1101]), "slice_id": sids["B"], "metric": "score", "seed": 0,
           "value": 0.1, "fit_seconds": None, "status": "ok", "error": None}
    with pytest.raises(IntegrityError):
        with toy_store.transaction() as s:
            write_cells(s, [row])
    with toy_store.session() as s:  # the stored value is intact
        assert lattice_table(s, "toy").column("B")[0b1101] == 0.55


def test_failed_cells_carry_no_value(toy_store):
    with toy_store.session() as s:
        world = get_world(s, "toy")
        ids, sids = node_ids(s, world), slice_ids(s, world)
    with pytest.raises(IntegrityError):
        with toy_store.transaction() as s:
            write_cells(s, [{"node_id": int(ids[0]), "slice_id": sids["A"], "metric": "score", "seed": 0,
                                     "value": None, "fit_seconds": None, "status": "ok", "error": None}])


def test_hasse_diagram_from_the_store(iris_store):
    with iris_store.session() as s:
        g = hasse_diagram(s, "iris", slice_name="all")
        table = lattice_table(s, "iris")
    assert isinstance(g, nx.DiGraph) and g.number_of_nodes() == 16 and g.number_of_edges() == 32
    full = 15
    path = nx.shortest_path(g, 0, full)
    deltas = [g.edges[a, b]["delta"] for a, b in zip(path, path[1:])]
    column = table.column("all")
    assert sum(deltas) == pytest.approx(column[full] - column[0])
    assert g.nodes[full]["label"] == "ABCD"


def test_neighbourhood_uses_stored_edges(iris_store):
    with iris_store.session() as s:
        world = get_world(s, "iris")
        hood = node_neighbourhood(s, world, 0b0101)
        with pytest.raises(NotFound):
            node_neighbourhood(s, world, 99)
    assert hood["node"][2] == "AC"
    assert [(u, m) for u, m, _ in hood["up"]] == [("B", 0b0111), ("D", 0b1101)]
    assert [(u, m) for u, m, _ in hood["down"]] == [("A", 0b0100), ("C", 0b0001)]


def test_deleting_a_world_cascades(iris_store):
    with iris_store.transaction() as s:
        delete_world(s, "iris")
    with iris_store.session() as s:
        assert s.scalar(select(func.count()).select_from(Cell)) == 16  # only the toy world's cells remain
        assert [w["name"] for w in list_worlds(s)] == ["toy"]


def test_sqlite_gets_wal_and_foreign_keys(tmp_path):
    store = open_store(tmp_path / "pragmas.db")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()


def test_upgrade_from_first_revision_keeps_data(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    migrate(engine, "0001")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO world (id, name, kind, metric, eval_slices, n_units, created_at) "
            "VALUES (1, 'w', 'imported', 'score', 'imported', 1, '2026-01-01')")
        conn.exec_driver_sql("INSERT INTO unit (world_id, idx, label, name) VALUES (1, 0, 'A', 'A')")
    engine.dispose()
    s = open_store(tmp_path / "old.db")  # upgrades to head
    with s.session() as session:
        world = get_world(session, "w")
        assert [u.label for u in world.units] == ["A"] and world.parent_world_id is None


def test_database_location_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("CFGRAPH_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    assert resolve_url() == f"sqlite:///{tmp_path / 'cfgraph.db'}"
    monkeypatch.setenv("CFGRAPH_DATABASE_URL", "sqlite:////tmp/elsewhere.db")
    assert resolve_url() == "sqlite:////tmp/elsewhere.db"
    assert resolve_url(tmp_path / "x.db") == f"sqlite:///{tmp_path / 'x.db'}"


def test_read_only_open_refuses_missing_database(tmp_path):
    with pytest.raises(CfgraphError, match="no database"):
        open_store(tmp_path / "nope.db", create=False)


def test_existing_world_name_is_refused(toy_store):
    with pytest.raises(CfgraphError, match="already exists"):
        import_grid(toy_store, seed_file("toy_grid.csv"), "toy")


def test_plain_engine_without_pragmas_still_reads_the_view(toy_store):
    engine = create_engine(toy_store.url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM grid").scalar() == 16
    engine.dispose()


def test_marginal_view_averages_to_banzhaf(iris_store):
    from cfgraph import values

    with iris_store.session() as s:
        table = lattice_table(s, "iris")
    with iris_store.engine.connect() as conn:
        rows = conn.execute(text("SELECT unit, avg(delta), count(*) FROM marginal WHERE world='iris' "
                                 "AND eval_slice='all' GROUP BY unit ORDER BY unit")).all()
        toy = conn.execute(text("SELECT train_set, with_unit, delta FROM marginal WHERE world='toy' "
                                "AND eval_slice='B' ORDER BY train_set")).all()
    rows = [(unit, float(mean), count) for unit, mean, count in rows]
    toy = [tuple(r) for r in toy]
    banzhaf = values.banzhaf(table.column("all"))
    assert [r[0] for r in rows] == ["A", "B", "C", "D"] and all(r[2] == 8 for r in rows)
    assert [r[1] for r in rows] == pytest.approx(banzhaf.tolist())
    # Only edges with both cells stored: AB -> ABC, ABC -> ABCD and ACD -> ABCD in the toy world.
    assert toy == [("AB", "ABC", pytest.approx(0.80 - 0.72)), ("ABC", "ABCD", pytest.approx(0.88 - 0.80)),
                   ("ACD", "ABCD", pytest.approx(0.88 - 0.55))]
