"""The variants page and its JSON twin: a world's variant moves from a node, and a variant's deltas."""

import shutil

import pytest

from cfgraph.store import open_store
from cfgraph.variants import build_variant

RECIPES = [
    {"kind": "corrupt", "units": ["B"], "labels": 0.3},
    {"kind": "poison", "unit": "B"},
    {"kind": "dp", "epsilon": 1.0},
    {"kind": "weight", "unit": "C", "weight": 0.5},
    {"kind": "unlearn", "unit": "A", "method": "sisa"},
]


@pytest.fixture(scope="module")
def client(iris_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("variants-web") / "web.db"
    shutil.copy(iris_db, path)
    store = open_store(path)
    for recipe in RECIPES:
        build_variant(store, "iris", recipe)
    store.close()
    from cfgraph.web import create_app

    return create_app({"DATABASE_URL": str(path), "TESTING": True}).test_client()


def test_parent_page_lists_each_variant_move_from_a_node(client):
    page = client.get("/world/iris/variants?node=AB")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for move in ("corrupt B labels 30%", "add poison E (flipped copies of B)", "train with epsilon 1",
                 "weight C 0.5", "unlearn A (sisa)"):
        assert move in html
    data = client.get("/api/worlds/iris/variants?node=AB").get_json()
    targets = {m["move"]: m["target"] for m in data["moves"]}
    assert targets["add poison E (flipped copies of B)"] == "ABE"
    assert targets["weight C 0.5"] == "ABC"
    assert targets["unlearn A (sisa)"] == "B"
    assert targets["corrupt B labels 30%"] == "AB"
    assert len(data["parent_scores"]) == len(data["slices"]) == 5
    # unlearning A is no move from a set without A
    from_c = client.get("/api/worlds/iris/variants?node=C").get_json()["moves"]
    assert "unlearn A (sisa)" not in {m["move"] for m in from_c}


def test_variant_pages_show_recipe_deltas_and_the_kinds_summary(client):
    corrupt = client.get("/api/worlds/iris~corrupt-B-labels0.3/variants").get_json()
    assert corrupt["parent"] == "iris" and corrupt["recipe"]["labels"] == 0.3
    assert len(corrupt["delta_rows"]) == 16
    assert all(r["B"] == 0.0 for r in corrupt["delta_rows"] if "B" not in r["train_set"])
    poison = client.get("/world/iris~poison-flip-B-x1/variants")
    assert poison.status_code == 200 and "Attack delta f(S + E)" in poison.get_data(as_text=True)
    for name in ("iris~dp-eps1", "iris~weight-C-0.5", "iris~unlearn-A-sisa"):
        response = client.get(f"/world/{name}/variants")
        assert response.status_code == 200, name
        assert 'id="summary"' in response.get_data(as_text=True)


def test_bad_node_and_tolerance_answer_in_one_line(client):
    missing = client.get("/api/worlds/iris/variants?node=XZ")
    assert missing.status_code == 404 and "unknown unit" in missing.get_json()["error"]
    bad = client.get("/world/iris~unlearn-A-sisa/variants?tol=-1")
    assert bad.status_code == 400
    toy = client.get("/world/toy/variants")
    assert toy.status_code == 200 and "variants derive from trained worlds" in toy.get_data(as_text=True)
