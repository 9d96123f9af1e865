"""The command line on a real PostgreSQL server (tests/pg.py): the same worlds, cells and values
as on SQLite, bit for bit."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from cfgraph.cli import main
from cfgraph.resources import seed_file
from cfgraph.sql import run_query
from cfgraph.store import open_store

#: Four KMeans groups of iris, naive Bayes: 16 fits.
EXHAUSTIVE = ["run", "--dataset", "iris", "--group-by", "kmeans", "--units", "4", "--model", "gnb",
              "--test-size", "0.4", "--world", "iris", "--no-progress"]
#: Every training row of iris a unit (45), sampled by TMC-Shapley.
SAMPLED = ["run", "--dataset", "iris", "--group-by", "point", "--model", "gnb", "--test-size", "0.7",
           "--world", "p", "--no-progress", "--sampler", "tmc", "--budget", "150", "--sampler-seed", "3"]


def cli(db, *args):
    result = CliRunner().invoke(main, ["--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return result.output


def cells(db) -> list[tuple]:
    """Every cell, keyed by world, training set, slice, metric and seed (not by row ids)."""
    store = open_store(db, create=False)
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT w.name, n.mask, n.members, s.name, c.metric, c.seed, c.value, c.status "
                "FROM cell c JOIN node n ON n.id = c.node_id JOIN eval_slice s ON s.id = c.slice_id "
                "JOIN world w ON w.id = n.world_id ORDER BY 1, 3, 4, 5, 6")).all()
    finally:
        store.close()
    return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in rows]


def test_toy_grid_values_and_worlds_on_postgresql(pg_database_url):
    cli(pg_database_url, "init")
    assert "16 cells" in cli(pg_database_url, "import-grid", str(seed_file("toy_grid.csv")), "--world", "toy")
    listed = json.loads(cli(pg_database_url, "worlds", "--format", "json"))
    assert listed[0]["name"] == "toy" and listed[0]["complete"] == 0.25
    grid = cli(pg_database_url, "grid", "toy", "--format", "csv").splitlines()
    assert grid[0] == "train_set,A,B,C,D" and "ACD,0.78,0.55,0.82,0.8" in grid
    loo = json.loads(cli(pg_database_url, "values", "toy", "--method", "loo", "--slice", "B", "--format", "json"))
    # LOO on slice B from the full set: f(ABCD) - f(ABCD \ i); only B (ACD is known) has both cells.
    assert {v["unit"]: v["value"] for v in loo["values"]}["B"] == pytest.approx(0.88 - 0.55)
    assert {p["unit"] for p in loo["missing"]} == {"A", "C"}


def test_an_exhaustive_and_a_sampled_run_store_the_same_cells_as_on_sqlite(pg_database_url, tmp_path):
    lite = tmp_path / "lite.db"
    for db in (lite, pg_database_url):
        cli(db, *EXHAUSTIVE)
        cli(db, *SAMPLED)
    on_pg = cells(pg_database_url)
    assert on_pg == cells(lite) and len(on_pg) > 16
    for method in ("shapley", "banzhaf"):
        values = [json.loads(cli(db, "values", "iris", "--method", method, "--format", "json"))
                  for db in (lite, pg_database_url)]
        assert values[0] == values[1]
    estimates = [[{k: v for k, v in row.items() if k != "created_at"}
                  for row in json.loads(cli(db, "values", "p", "--format", "json"))] for db in (lite, pg_database_url)]
    assert estimates[0] == estimates[1] and len({r["unit"] for r in estimates[0]}) == 45
    assert sum(r["value"] is not None for r in estimates[0]) > 0
    # The same world a second time fits nothing new (cells are keyed, so resume works on PostgreSQL too).
    cli(pg_database_url, *EXHAUSTIVE)
    assert cells(pg_database_url) == on_pg


def test_read_only_sql_on_the_postgresql_store(pg_database_url):
    cli(pg_database_url, "import-grid", str(seed_file("toy_grid.csv")), "--world", "toy")
    result = run_query(pg_database_url, "SELECT train_set, value FROM grid WHERE world = 'toy' "
                                        "AND eval_slice = 'B' ORDER BY train_set")
    assert result.rows == [("AB", 0.72), ("ABC", 0.80), ("ABCD", 0.88), ("ACD", 0.55)]


def test_cli_sql_on_the_postgresql_store(pg_database_url):
    cli(pg_database_url, "import-grid", str(seed_file("toy_grid.csv")), "--world", "toy")
    rows = json.loads(cli(pg_database_url, "sql", "SELECT count(*) AS n FROM grid", "--format", "json"))
    assert rows == [{"n": 16}]


def test_web_pages_and_the_sql_page_on_postgresql(pg_database_url):
    from cfgraph.web import create_app

    cli(pg_database_url, "import-grid", str(seed_file("toy_grid.csv")), "--world", "toy")
    client = create_app({"DATABASE_URL": pg_database_url, "TESTING": True}).test_client()
    for url in ("/", "/world/toy/grid", "/world/toy/values", "/world/toy/graph", "/sql"):
        assert client.get(url).status_code == 200, url
    page = client.get("/sql?q=SELECT+count(*)+AS+n+FROM+grid").get_data(as_text=True)
    assert ">16<" in page.replace(" ", "")
    schema = client.get("/sql").get_data(as_text=True)
    assert "estimate" in schema and "grid" in schema  # the listing comes from information_schema
    refused = client.get("/sql?q=SELECT+pg_read_file('/etc/passwd')")
    assert refused.status_code == 400 and "root:" not in refused.get_data(as_text=True)


def test_a_store_that_stops_answering_is_a_503_in_one_line(pg_database_url):
    import sqlalchemy as sa

    from cfgraph.web import create_app

    cli(pg_database_url, "import-grid", str(seed_file("toy_grid.csv")), "--world", "toy")
    client = create_app({"DATABASE_URL": pg_database_url, "TESTING": True}).test_client()
    assert client.get("/api/worlds").status_code == 200
    url = sa.engine.make_url(pg_database_url)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # the store's database goes away under the running app
        conn.exec_driver_sql(f'DROP DATABASE "{url.database}" WITH (FORCE)')
    admin.dispose()
    for path in ("/api/worlds", "/world/toy/grid", "/api/sql?q=SELECT+1"):
        response = client.get(path, headers={"Accept": "application/json"})
        assert response.status_code == 503, (path, response.status_code, response.get_data(as_text=True)[:200])
        assert "Traceback" not in response.get_data(as_text=True)
