"""The web app answers only to its own names, so a page that rebinds its host name to
127.0.0.1 (DNS rebinding) cannot read it through a visitor's browser (issue 9)."""

from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner

from cfgraph.grids import import_grid
from cfgraph.resources import seed_file
from cfgraph.store import open_store
from cfgraph.web import create_app


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "h.db"
    store = open_store(path)
    import_grid(store, seed_file("toy_grid.csv"), "toy")
    store.close()
    return path


def make(db, **config):
    return create_app({"DATABASE_URL": str(db), "TESTING": True, **config}).test_client()


LOCAL = ["localhost", "127.0.0.1", "127.0.0.1:5000", "localhost:8123", "[::1]", "[::1]:5000", "LocalHost:80"]
FOREIGN = ["evil.example", "evil.example:5000", "127.0.0.1.nip.io", "localhost.evil.example", "127.0.0.2",
           "[::2]:5000", "", "localhost:5000@evil.example", "0.0.0.0:5000"]
PATHS = ["/", "/api/sql?q=SELECT+1", "/sql?q=SELECT+1", "/api/worlds", "/world/toy/grid", "/static/cfgraph.css",
         "/world/toy", "/nope"]


@pytest.mark.parametrize("host", LOCAL)
def test_local_names_are_answered(db, host):
    response = make(db).get("/api/worlds", headers={"Host": host})
    assert response.status_code == 200 and response.get_json()["worlds"][0]["name"] == "toy"


@pytest.mark.parametrize("host", FOREIGN)
@pytest.mark.parametrize("path", PATHS)
def test_other_names_get_400_and_no_data(db, host, path):
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    response = make(db).get(path, headers={"Host": host})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "unknown host" in body and "0.55" not in body and "toy" not in body
    assert "Location" not in response.headers  # no redirect built from an unchecked Host
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_a_configured_name_is_answered(db, monkeypatch):
    assert make(db, ALLOWED_HOSTS=["lab.example"]).get("/api/worlds", headers={"Host": "lab.example:8000"}).status_code == 200
    monkeypatch.setenv("CFGRAPH_ALLOWED_HOSTS", "lab.example,10.0.0.5")
    client = make(db)
    assert client.get("/api/worlds", headers={"Host": "10.0.0.5:5000"}).status_code == 200
    assert client.get("/api/worlds", headers={"Host": "evil.example"}).status_code == 400


def test_serve_answers_to_the_host_it_binds(db, monkeypatch):
    from flask import Flask

    from cfgraph.cli import main

    apps = []
    monkeypatch.setattr(Flask, "run", lambda self, **kw: apps.append(self))
    result = CliRunner().invoke(main, ["--db", str(db), "serve", "--host", "192.0.2.7"])
    assert result.exit_code == 0, result.output
    client = apps[-1].test_client()
    assert client.get("/api/worlds", headers={"Host": "192.0.2.7:5000"}).status_code == 200
    assert client.get("/api/worlds", headers={"Host": "evil.example"}).status_code == 400
    everywhere = CliRunner().invoke(main, ["--db", str(db), "serve", "--host", "0.0.0.0"])
    assert "CFGRAPH_ALLOWED_HOSTS" in everywhere.output
