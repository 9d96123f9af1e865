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


@pytest.fixture
def iris_store(iris_db, tmp_path):
    """A private copy of the iris database, safe to write to."""
    import shutil

    target = tmp_path / "iris.db"
    shutil.copy(iris_db, target)
    s = open_store(target)
    yield s
    s.close()
