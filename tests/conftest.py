"""Shared fixtures: a fresh store per test, and a small real world built once per session."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from cfgraph.grids import import_grid
from cfgraph.resources import seed_file
from cfgraph.store import open_store
from cfgraph.worlds import build_world, make_spec

# In CI the property tests draw the same examples every run, so a red build is reproducible.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

#: A small real world: iris in 4 KMeans units, Gaussian naive Bayes, 16 fits.
IRIS_SPEC = dict(dataset="iris", group_by="kmeans", units=4, model="gnb", metrics=["accuracy"],
                 seeds=[0], seed=0, test_size=0.4, eval_slices="units")


@pytest.fixture
def store(tmp_path):
    """An empty store (migrations applied) in a temporary SQLite file."""
    s = open_store(tmp_path / "cfgraph.db")
    yield s
    s.close()


@pytest.fixture
def toy_store(store):
    """A store holding the seed's toy world (4 of 16 rows known)."""
    import_grid(store, seed_file("toy_grid.csv"), "toy")
    return store


@pytest.fixture(scope="session")
def iris_db(tmp_path_factory):
    """Path of a database with the toy world and a complete iris world (built once)."""
    path = tmp_path_factory.mktemp("iris") / "cfgraph.db"
    s = open_store(path)
    import_grid(s, seed_file("toy_grid.csv"), "toy")
    build_world(s, "iris", make_spec(**IRIS_SPEC), progress=False)
    s.close()
    return path


#: The issue-13 big grid: digits in 8 KMeans units, every union of units a slice (256 x 255 cells).
N8_SPEC = dict(dataset="digits", group_by="kmeans", units=8, model="gnb", metrics=["accuracy"],
               seeds=[0], seed=0, test_size=0.3, eval_slices="powerset")


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory):
    """Path of a database holding what ``make demo`` builds (``cfgraph.demo.build_demo``), built once:
    ``toy``, ``digits`` (seeds 0 and 1), ``digits-poison`` and ``digits-unlearn``. Copy it before writing."""
    from cfgraph.demo import build_demo

    path = tmp_path_factory.mktemp("demo") / "cfgraph.db"
    s = open_store(path)
    build_demo(s, jobs=1, progress=False)
    s.close()
    return path


@pytest.fixture(scope="session")
def n8_db(tmp_path_factory):
    """Path of a database with the world ``n8``: 8 units of digits, all 255 unions of units as
    evaluation slices (the 256 x 255 grid), built once."""
    path = tmp_path_factory.mktemp("n8") / "cfgraph.db"
    s = open_store(path)
    build_world(s, "n8", make_spec(**N8_SPEC), progress=False)
    s.close()
    return path


@pytest.fixture
def iris_store(iris_db, tmp_path):
    """A private copy of the iris database, safe to write to."""
    import shutil

    target = tmp_path / "iris.db"
    shutil.copy(iris_db, target)
    s = open_store(target)
    yield s
    s.close()


# ------------------------------------------------------------------ PostgreSQL (issue 12)
# A real server in a temporary directory (tests/pg.py), started once per session on a free
# loopback port, with a fresh database per test. Without the server binaries or psycopg the
# PostgreSQL tests skip, naming the package; under CI=true they fail instead.


@pytest.fixture(scope="session")
def pg_server():
    """The session's PostgreSQL server (tests/pg.py's PostgresServer), stopped at the end."""
    from pg import PostgresServer, missing_requirement

    reason = missing_requirement()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"PostgreSQL tests must run in CI: {reason}")
        pytest.skip(reason)
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_url(pg_server):
    """URL of the server's maintenance database (``postgres``): for admin statements only."""
    return pg_server.url()


@pytest.fixture
def pg_database_url(pg_server):
    """URL of a fresh, empty database (``t_<uuid>``, no schema), dropped after the test."""
    name = pg_server.create_database()
    yield pg_server.url(name)
    pg_server.drop_database(name)


@pytest.fixture(scope="session")
def pg_schema_template(pg_server):
    """Name of a PostgreSQL database with the migrations applied and nothing else (built once)."""
    name = pg_server.create_database()
    open_store(pg_server.url(name)).close()  # a template database must have no open connections
    return name


@pytest.fixture
def pg_store(pg_server, pg_schema_template):
    """An empty store (migrations applied) in a fresh PostgreSQL database, dropped after the test."""
    name = pg_server.create_database(template=pg_schema_template)
    s = open_store(pg_server.url(name))
    yield s
    s.close()
    pg_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path):
    """An empty store on each backend in turn: a test module that overrides ``store`` with
    this fixture runs every test (and ``toy_store``) on SQLite and on PostgreSQL."""
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_store")
        return
    s = open_store(tmp_path / "cfgraph.db")
    yield s
    s.close()


@pytest.fixture(scope="session")
def pg_iris_template(pg_server):
    """Name of a PostgreSQL database holding the toy and iris worlds (as ``iris_db``), built once;
    tests get copies of it (``CREATE DATABASE ... TEMPLATE``)."""
    name = pg_server.create_database()
    s = open_store(pg_server.url(name))
    import_grid(s, seed_file("toy_grid.csv"), "toy")
    build_world(s, "iris", make_spec(**IRIS_SPEC), progress=False)
    s.close()  # a template database must have no open connections
    return name


@pytest.fixture(params=["sqlite", "postgresql"])
def any_iris_store(request, tmp_path):
    """``iris_store`` on each backend in turn (a private copy, safe to write to)."""
    if request.param == "postgresql":
        server = request.getfixturevalue("pg_server")
        name = server.create_database(template=request.getfixturevalue("pg_iris_template"))
        s = open_store(server.url(name))
        yield s
        s.close()
        server.drop_database(name)
        return
    yield request.getfixturevalue("iris_store")


# ------------------------------------------ databases as --db takes them, on both backends
# The CLI and web tests hand a database to `cfgraph --db` or create_app as a SQLite path or a
# PostgreSQL URL; these fixtures give either in turn, so a test that takes one runs on both.


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request, tmp_path):
    """Where a new store goes, on each backend in turn: a SQLite path with no file yet, or the
    URL of a fresh, empty PostgreSQL database (no schema: the command under test creates it)."""
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_database_url")
        return
    yield tmp_path / "cfgraph.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_iris_db(request, tmp_path):
    """A private copy of ``iris_db`` (toy + iris), safe to write to, on each backend in turn: a
    SQLite file's path, or the URL of a copy of ``pg_iris_template`` (dropped after the test)."""
    if request.param == "postgresql":
        server = request.getfixturevalue("pg_server")
        name = server.create_database(template=request.getfixturevalue("pg_iris_template"))
        yield server.url(name)
        server.drop_database(name)
        return
    import shutil

    target = tmp_path / "iris.db"
    shutil.copy(request.getfixturevalue("iris_db"), target)
    yield target
