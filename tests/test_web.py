"""The web explorer through Flask's test client: every page and API route, bad parameters,
escaping, the read-only SQL page, and the known values of the seed's toy grid.

Every test that takes ``client``, ``app``, ``any_web_db``, ``iris_table``, ``seeds_db`` or ``seeds_client``
runs on SQLite and on PostgreSQL (each world built once per backend). SQLite-only, on ``web_db``:
``test_sql_attacks_are_refused_and_the_file_is_unchanged`` (the file's digest and its WAL file, and
SQLite's ATTACH, PRAGMA, VACUUM INTO and load_extension; test_sql.py refuses PostgreSQL's own attacks)
and ``test_missing_database_is_a_clear_error`` (a path with no file).
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cfgraph import lattice
from cfgraph import values as V
from cfgraph.errors import CfgraphError
from cfgraph.grids import import_grid
from cfgraph.resources import resource_dir
from cfgraph.store import cells, open_store
from cfgraph.web import create_app
from cfgraph.web.glossary import load_glossary
from cfgraph.worlds import build_world, make_spec

EVIL = '<img src=x onerror="alert(1)">'


def _add_web_worlds(db, folder: Path) -> None:
    """Add iris-pow (3 units, powerset slices) and an 'evil' world whose slice and unit names are
    markup to the toy + iris store at ``db``."""
    store = open_store(db)
    build_world(store, "iris-pow", make_spec(dataset="iris", units=3, model="gnb", eval_slices="powerset",
                                             test_size=0.4), progress=False)
    grid = folder / "evil.csv"
    with open(grid, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["train_set", "eval_slice", "value"])
        for label in ("AB", "A", "B", "∅"):
            writer.writerow([label, EVIL, 0.5])
            writer.writerow([label, "javascript:alert(1)", 0.25])
    import_grid(store, grid, "evil", description=EVIL)
    store.close()


@pytest.fixture(scope="module")
def web_db(iris_db, tmp_path_factory):
    """A SQLite file: toy + iris (4 units, complete) + iris-pow + evil (see :func:`_add_web_worlds`)."""
    path = tmp_path_factory.mktemp("web") / "web.db"
    shutil.copy(iris_db, path)
    _add_web_worlds(path, path.parent)
    return path


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def any_web_db(request, tmp_path_factory):
    """``web_db`` on each backend in turn: its SQLite path, or the URL of a PostgreSQL copy of the
    toy + iris template with the same two worlds added (built once per module, dropped after)."""
    if request.param == "sqlite":
        yield request.getfixturevalue("web_db")
        return
    server = request.getfixturevalue("pg_server")
    name = server.create_database(template=request.getfixturevalue("pg_iris_template"))
    _add_web_worlds(server.url(name), tmp_path_factory.mktemp("web-pg"))
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture
def app(any_web_db):
    app = create_app({"DATABASE_URL": str(any_web_db), "TESTING": True, "SQL_TIMEOUT_MS": 300})
    yield app
    app.extensions["cfgraph.store"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def iris_table(any_web_db):
    store = open_store(any_web_db, create=False)
    with store.session() as session:
        tables = {name: cells.lattice_table(session, name) for name in ("iris", "iris-pow", "toy")}
    store.close()
    return tables


def text(response) -> str:
    return response.get_data(as_text=True)


def answer(client, world, key, **params):
    """One question's answer from the JSON API."""
    params = {k: v for k, v in params.items()}
    response = client.get(f"/api/worlds/{world}/questions", query_string={**params, "q": key})
    assert response.status_code == 200, response.json
    return response.json["answers"][0]


# ------------------------------------------------------------------- factory


def test_config_precedence_defaults_env_then_test_config(any_web_db, monkeypatch):
    monkeypatch.setenv("CFGRAPH_SQL_MAX_ROWS", "7")
    monkeypatch.setenv("CFGRAPH_DATABASE_URL", str(any_web_db))
    from_env = create_app()
    assert from_env.config["SQL_MAX_ROWS"] == 7
    assert from_env.config["SQL_TIMEOUT_MS"] == 1000  # a default
    assert from_env.debug is False
    overridden = create_app({"SQL_MAX_ROWS": 3})
    assert overridden.config["SQL_MAX_ROWS"] == 3
    for a in (from_env, overridden):
        a.extensions["cfgraph.store"].close()


def test_missing_database_is_a_clear_error(tmp_path):
    with pytest.raises(CfgraphError, match="no database"):
        create_app({"DATABASE_URL": str(tmp_path / "absent.db")})


def test_every_response_carries_a_strict_content_security_policy(client):
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy


# ---------------------------------------------------------------------- home


def test_home_lists_worlds_with_size_model_metric_and_completeness(client):
    body = text(client.get("/"))
    assert "data counterfactual" in body
    row = re.search(r'<td class="name"><a href="/world/toy/grid">toy</a></td>.*?</tr>', body, re.S).group(0)
    assert "25.0%" in row and "16 / 64" in row
    row = re.search(r'<td class="name"><a href="/world/iris/grid">iris</a></td>.*?</tr>', body, re.S).group(0)
    assert "100.0%" in row and "gnb" in row and "accuracy" in row


def test_question_and_lens_links_open_the_first_complete_world(client):
    response = client.get("/question/shapley")
    assert response.status_code == 302 and "/world/iris/grid?q=shapley#q-shapley" in response.location
    assert "/world/iris/graph?lens=sweep" in client.get("/lens/sweep").location
    assert "/world/iris/values" in client.get("/open/values").location
    assert client.get("/question/nope").status_code == 404
    assert client.get("/lens/nope").status_code == 404


# ---------------------------------------------------------------------- grid


def test_grid_rows_sorted_by_size_then_label_and_missing_cells_marked(client):
    body = text(client.get("/world/toy/grid"))
    rows = re.findall(r'<th scope="row" data-t="([^"]+)"', body)
    assert rows[:6] == ["∅", "A", "B", "C", "D", "AB"]
    assert rows[-1] == "ABCD" and len(rows) == 16
    assert rows.index("ABC") < rows.index("ABD") < rows.index("ACD")
    abcd = re.search(r'data-t="ABCD"[^>]*>ABCD</th>(.*?)</tr>', body).group(1)
    assert re.findall(r">([0-9.]+)</td>", abcd) == ["0.920", "0.880", "0.850", "0.820"]
    acd = re.search(r'data-t="AC"[^>]*>AC</th>(.*?)</tr>', body).group(1)
    assert acd.count('class="m"') == 4  # AC is not one of the four known rows


def test_grid_loo_pair_answers_0_33_with_formula_and_cells(client):
    body = text(client.get("/world/toy/grid?cell=ABCD:B&cell=ACD:B"))
    loo = re.search(r'<li id="q-loo".*?</li>', body, re.S).group(0)
    assert "answered" in loo and "0.3300" in loo
    assert "f(ABCD, B) − f(ACD, B) = 0.8800 − 0.5500 = 0.3300" in loo
    assert "LOO_i(S, E) = f(S, E) − f(S \\ {i}, E)" in loo
    related = re.search(r'<p class="related"><a href="([^"]+)"', loo)
    assert related, "the Related Work page has a shelf for LOO, so the answer links to it"
    assert related.group(1) == "/related?topic=loo" and client.get(related.group(1)).status_code == 200
    a = answer(client, "toy", "loo", cell=["ACD:B", "ABCD:B"])  # order does not matter
    assert a["value"] == pytest.approx(0.33)
    assert {(c["train"], c["slice"]) for c in a["cells"]} == {("ABCD", "B"), ("ACD", "B")}


def test_grid_marks_the_selection_and_panel_fragment_matches(client):
    body = text(client.get("/world/toy/grid?cell=ABCD:B&row=AB&col=C"))
    assert re.search(r'data-t="AB" class="k0 sel"', body)
    assert '<th scope="col" data-s="C" class="sel">' in body
    assert '<td class="c9 sel">0.880</td>' in body  # the largest toy score on B sits in the top bucket
    panel = text(client.get("/world/toy/grid/panel?cell=ABCD:B&cell=ACD:B"))
    assert "<html" not in panel and 'id="q-loo"' in panel and "0.3300" in panel
    bad = client.get("/world/toy/grid/panel?cell=nonsense")
    assert bad.status_code == 400 and "malformed cell" in text(bad) and "<html" not in text(bad)


def test_evaluation_move_same_row_two_columns(client):
    # the last cell added is the current one (as on the grid page): the move is from ABCD:B to ABCD:A
    a = answer(client, "toy", "eval_move", cell=["ABCD:A", "ABCD:B"])
    assert a["value"] == pytest.approx(0.92 - 0.88)
    assert answer(client, "toy", "eval_move", cell=["ABCD:B", "ABCD:A"])["value"] == pytest.approx(0.88 - 0.92)
    assert answer(client, "toy", "eval_move", cell=["ABCD:A"])["status"] == "not applicable"


def test_group_leave_one_out_is_the_strike_of_the_missing_coalition(client):
    a = answer(client, "toy", "group_loo", cell=["ABCD:A", "AB:A"])
    assert a["value"] == pytest.approx(0.92 - 0.85)
    assert "coalition CD" in a["worked"]
    a = answer(client, "toy", "group_loo", cell="ABCD:D", coalition="BD")
    assert a["status"] == "missing" and [c["train"] for c in a["missing"]] == ["AC"]


def test_pair_interaction_names_its_missing_corner(client):
    a = answer(client, "toy", "interaction", cell="ABCD:A", pair="CD")
    assert a["status"] == "missing" and a["n_missing"] == 1 and a["missing"][0]["train"] == "ABD"
    # The pair does not move the focus unit of the other questions.
    both = client.get("/api/worlds/toy/questions?cell=ABCD:B&unit=B&pair=CD&q=loo&q=interaction").json
    assert both["focus"]["unit"] == "B" and both["focus"]["pair"] == "CD"
    assert both["answers"][0]["value"] == pytest.approx(0.33) 
    assert both["answers"][1]["worked"] == "f(ABCD, B) − f(ABC, B) − f(ABD, B) + f(AB, B)"


def test_semivalues_match_the_library_and_efficiency(client, iris_table):
    table = iris_table["iris"]
    column = table.column("all")
    a = answer(client, "iris", "shapley", col="all")
    got = {row[0]: row[1] for row in a["table"]}
    assert got == pytest.approx(dict(zip(table.letters, V.shapley(column))))
    assert sum(got.values()) == pytest.approx(column[-1] - column[0])
    b = answer(client, "iris", "banzhaf", col="all")
    assert [r[1] for r in b["table"]] == pytest.approx(V.banzhaf(column).tolist())
    beta11 = answer(client, "iris", "beta", col="all", alpha=1, beta=1)
    assert [r[1] for r in beta11["table"]] == pytest.approx(list(got.values()))
    beta16 = answer(client, "iris", "beta", col="all", alpha=16, beta=1)
    assert [r[1] for r in beta16["table"]] == pytest.approx(V.beta_shapley(column, 16, 1).tolist())
    assert answer(client, "toy", "shapley", col="B")["n_missing"] == 12


def test_scaling_law_on_the_toy_column_uses_the_cells_present(client):
    a = answer(client, "toy", "scaling", col="B", k=3)
    assert a["status"] == "partial" and a["n_missing"] == 12
    rows = {r[0]: r for r in a["table"]}
    assert rows[3][1] == pytest.approx((0.80 + 0.55) / 2) and rows[3][2:] == [2, 4]
    assert rows[2][1] == pytest.approx(0.72) and a["value"] == pytest.approx(0.675)


def test_evaluation_scaling_and_diagonal(client, iris_table):
    a = answer(client, "toy", "eval_scaling", cell="ABCD:A")
    assert a["value"] == pytest.approx((0.92 + 0.88 + 0.85 + 0.82) / 4)
    pow_ = iris_table["iris-pow"]
    masks = np.array(pow_.slice_masks)
    idx = [pow_.slices.index(s) for s in pow_.slices]
    diag = pow_.values[masks, idx]
    sizes = np.bitwise_count(masks.astype(np.uint64))
    d = answer(client, "iris-pow", "diagonal", k=2)
    assert d["status"] == "answered" and d["n_used"] == 7
    assert d["value"] == pytest.approx(diag[sizes == 2].mean())
    e = answer(client, "iris-pow", "eval_scaling", row="AB", k=2)
    assert e["value"] == pytest.approx(pow_.values[3, sizes == 2].mean())
    assert answer(client, "iris", "diagonal")["status"] == "answered"  # unit slices are unions too


def test_budgeted_subset_scan_best_of_size_k(client, iris_table):
    a = answer(client, "toy", "subset_scan", col="B", k=3)
    assert a["status"] == "partial" and a["value"] == pytest.approx(0.80)
    assert a["table"][0][1] == "ABC" and {c["train"] for c in a["missing"]} == {"ABD", "BCD"}
    col = iris_table["iris"].column("A")
    layer = lattice.layer(4, 2)
    assert answer(client, "iris", "subset_scan", col="A", k=2)["value"] == pytest.approx(col[layer].max())


def test_unlearning_audit_against_the_tolerance(client):
    a = answer(client, "toy", "unlearning", cell="ABCD:B", unit="B")
    assert a["value"] == pytest.approx(0.33) and "detectable" in a["worked"]
    b = answer(client, "toy", "unlearning", cell="ABCD:C", unit="B", tol=0.15)
    assert b["value"] == pytest.approx(0.03) and "within tolerance" in b["worked"]
    c = answer(client, "toy", "unlearning", cell="ABCD:C", unit="B", tol=0.01)
    assert "detectable" in c["worked"]


def test_presets_and_share_link_keep_the_view(client):
    body = text(client.get("/world/toy/grid?cell=ABCD:B&unit=B&alpha=2&palette=heat"))
    presets = {name: href for href, name in re.findall(r'<a class="button" href="([^"]+)">([^<]+)</a>', body)}
    loo = presets["LOO pair (unit B)"].replace("&amp;", "&")
    assert "cell=ABCD%3AB" in loo and "cell=ACD%3AB" in loo and "alpha=2" in loo
    assert "layer=4" in presets["layer k=4"]
    share = re.search(r'id="share" class="button" href="([^"]+)"', body).group(1).replace("&amp;", "&")
    again = text(client.get(share))
    assert "pal-heat" in again and '<td class="c9 sel">0.880</td>' in again
    assert 'value="2.0"' in again  # alpha survived the round trip


def test_layer_selection_marks_rows_of_size_k(client):
    body = text(client.get("/world/toy/grid?layer=2&col=B"))
    marked = re.findall(r'data-t="([^"]+)" class="k\d sel"', body)
    assert sorted(marked) == sorted(["AB", "AC", "AD", "BC", "BD", "CD"])


def test_beta_parameters_that_overflow_are_refused_not_blank(client):
    response = client.get("/api/worlds/iris/questions?alpha=1e-320&q=beta")
    assert response.status_code == 400 and "overflow" in response.json["error"]
    assert client.get("/world/iris/values?alpha=1e-320").status_code == 400


@pytest.mark.parametrize("query, status, message", [
    ("cell=ABCD", 400, "malformed cell"),
    ("cell=ABZ:B", 404, "unknown unit"),
    ("cell=AAB:B", 404, "appears twice"),
    ("cell=ABCD:nope", 404, "no evaluation slice"),
    ("row=Q", 404, "unknown unit"),
    ("k=9", 400, "out of range"),
    ("k=x", 400, "must be an integer"),
    ("layer=-1", 400, "out of range"),
    ("alpha=-1", 400, "alpha must be"),
    ("beta=nan", 400, "beta must be"),
    ("unit=Z", 404, "unknown unit"),
    ("pair=AA", 400, "two different"),
    ("q=nope", 400, "unknown question"),
    ("page=3", 400, "out of range"),
    ("metric=f1", 404, "no cells for metric"),
    ("seed=9", 404, "no cells for seed"),
    ("seed=abc", 400, "seed must be an integer"),
    ("col=" + "A" * 5000, 404, "no evaluation slice"),
])
def test_grid_bad_parameters_give_one_line_messages(client, query, status, message):
    # the page names the parameter inline (always 400: the world exists) and keeps its grid;
    # the JSON API refuses with the parameter's own status
    response = client.get(f"/world/toy/grid?{query}")
    assert response.status_code == 400
    body = text(response)
    assert message in body and "Traceback" not in body and 'id="grid"' in body
    errors = re.findall(r'<p class="error" role="alert" data-param="([^"]+)">(.*?)</p>', body, re.S)
    assert [p for p, _ in errors] == [query.split("=")[0]]
    assert message in html.unescape(errors[0][1]) and len(errors[0][1]) < 400
    api = client.get(f"/api/worlds/toy/questions?{query}")
    if query.startswith("page="):
        return  # the API has no grid page
    assert api.status_code == status and message in api.json["error"] and "\n" not in api.json["error"]


def test_unknown_world_is_404_everywhere(client):
    for url in ("/world/nope/grid", "/world/nope/graph", "/world/nope/values", "/world/nope/node/A",
                "/api/worlds/nope", "/api/worlds/nope/grid", "/api/worlds/nope/values"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "no world named 'nope'" in (response.json["error"] if response.is_json else
                                           text(response).replace("&#39;", "'"))


def test_unknown_route_is_404_json_under_api(client):
    assert client.get("/api/nothing").json["status"] == 404
    assert client.get("/nothing").status_code == 404


def test_data_is_escaped_everywhere(client):
    for url in ("/world/evil/grid", "/world/evil/grid?col=" + EVIL, "/world/evil/values", "/world/evil/node/AB",
                "/world/evil/graph?slice=" + EVIL, "/sql?q=SELECT+name,+description+FROM+world"):
        body = text(client.get(url))
        assert "<img src=x" not in body, url
        assert "&lt;img src=x onerror=" in body, url
        assert 'href="javascript:' not in body


# ----------------------------------------------------------------- the graph


def _circles(body):
    return re.findall(r'<a class="node-link" href="([^"]+)" data-label="([^"]+)"', body)


def test_graph_draws_the_whole_hasse_diagram_for_small_n(client):
    body = text(client.get("/world/iris/graph?slice=all"))
    nodes = _circles(body)
    assert len(nodes) == 16 and {label for _, label in nodes} == set(lattice.all_labels("ABCD"))
    assert body.count('<line class="edge') == 4 * 8  # n 2^(n-1) edges
    assert 'id="node-label">∅<' in body


def test_graph_walk_buttons_move_and_extend_the_path(client, iris_table):
    body = text(client.get("/world/iris/graph?slice=all&node=AB"))
    add_c = re.search(r'id="move-C" class="button add" href="([^"]+)"', body).group(1).replace("&amp;", "&")
    remove_a = re.search(r'id="move-A" class="button remove" href="([^"]+)"', body).group(1).replace("&amp;", "&")
    assert "node=ABC" in add_c and "path=AB%2CABC" in add_c
    assert "node=B&" in remove_a + "&"
    walked = text(client.get(add_c))
    assert 'id="node-label">ABC<' in walked
    value = iris_table["iris"].column("all")[0b0111]
    assert f'id="node-value">{value:.4f}<' in walked
    steps = re.search(r'<section id="path">.*?</section>', walked, re.S).group(0)
    assert steps.count("<tr><td>") == 2


def test_graph_lenses_compute_along_the_lattice(client, iris_table):
    col = iris_table["iris"].column("all")
    strike = client.get("/api/worlds/iris/graph?slice=all&node=ABCD&lens=strike&coalition=CD").json["lens"]
    assert [s[2] for s in strike["steps"]] == ["ABD", "AB"]
    assert strike["value"] == pytest.approx(col[15] - col[3])
    assert sum(s[4] for s in strike["steps"]) == pytest.approx(strike["value"])
    sweep = client.get("/api/worlds/iris/graph?slice=all&lens=sweep&unit=B").json["lens"]
    assert sweep["value"] == pytest.approx(V.shapley(col)[1]) and len(sweep["steps"]) == 8
    square = client.get("/api/worlds/iris/graph?slice=all&node=AB&lens=square&unit=A&pair=B").json["lens"]
    assert square["value"] == pytest.approx(V.pair_interaction(col, 0, 1))
    layer = client.get("/api/worlds/iris/graph?slice=all&lens=layer&k=2").json["lens"]
    assert layer["value"] == pytest.approx(col[lattice.layer(4, 2)].mean())
    ablation = client.get("/api/worlds/iris/graph?slice=all&node=ABC&lens=ablation&unit=B").json["lens"]
    assert ablation["value"] == pytest.approx(col[0b0111] - col[0b0101])
    body = text(client.get("/world/iris/graph?slice=all&lens=permutation&order=DCBA"))
    assert body.count('<line class="edge hi"') == 4 and "Permutation path" in body


def test_path_api_permutation_sums_to_full_minus_empty(client, iris_table):
    col = iris_table["iris"].column("A")
    data = client.get("/api/worlds/iris/path?slice=A&order=CADB").json
    assert [s[1] for s in data["steps"]] == ["C", "A", "D", "B"]
    assert [s[2] for s in data["steps"]] == ["C", "AC", "ACD", "ABCD"]
    assert sum(s[4] for s in data["steps"]) == pytest.approx(col[15] - col[0])
    assert client.get("/api/worlds/iris/path?order=ABC").status_code == 400
    assert client.get("/api/worlds/iris/path?kind=zigzag").status_code == 400


@pytest.mark.parametrize("query, status", [
    ("node=XYZ", 404), ("slice=nope", 404), ("lens=nope", 400), ("k=7", 400), ("unit=Q", 404),
    ("order=AABC", 400), ("lens=strike&coalition=Q", 404), ("path=A,Q", 404),
])
def test_graph_bad_parameters(client, query, status):
    # the page names a bad parameter inline (400) and keeps its controls; the API answers 400 or 404
    assert client.get(f"/world/iris/graph?{query}").status_code == 400
    response = client.get(f"/api/worlds/iris/graph?{query}")
    assert response.status_code == status and response.json["error"]


def test_large_worlds_read_only_the_neighbourhood(any_web_db, monkeypatch):
    """Beyond the whole-diagram limit, the graph and node pages never read the whole lattice."""
    def refuse(*_a, **_k):
        raise AssertionError("read the whole lattice")

    monkeypatch.setattr(cells, "lattice_table", refuse)
    monkeypatch.setattr(cells, "slice_column", refuse)
    app = create_app({"DATABASE_URL": str(any_web_db), "TESTING": True, "WHOLE_LATTICE_MAX_UNITS": 2})
    client = app.test_client()
    body = text(client.get("/world/iris/graph?slice=all&node=AB&lens=strike&coalition=AB"))
    assert len(_circles(body)) == 1 + 4 + 1  # AB, two up, two down, and ∅ where the strike AB → B → ∅ ends
    assert "the current node with its add-one neighbours" in body
    assert client.get("/world/iris/node/AB").status_code == 200
    assert client.get("/api/worlds/iris/nodes/AB/neighbours").status_code == 200
    app.extensions["cfgraph.store"].close()


# ------------------------------------------------------- training set, values


def test_training_set_page_scores_and_neighbour_changes(client):
    body = text(client.get("/world/toy/node/ABCD"))
    scores = re.findall(r'<td class="num">([0-9.]+|missing)</td>', re.search(r'id="scores">.*?</table>', body, re.S).group(0))
    assert scores == ["0.9200", "0.8800", "0.8500", "0.8200"]
    data = client.get("/api/worlds/toy/nodes/ABCD/neighbours").json
    acd = next(nb for nb in data["neighbours"] if nb["train_set"] == "ACD")
    assert acd["direction"] == "remove" and acd["unit"] == "B"
    assert acd["deltas"] == pytest.approx([0.78 - 0.92, 0.55 - 0.88, 0.82 - 0.85, 0.80 - 0.82])
    assert len(data["neighbours"]) == 4
    empty = client.get("/api/worlds/toy/nodes/%E2%88%85").json
    assert empty["train_set"] == "∅" and set(empty["scores"].values()) == {None}
    assert client.get("/world/toy/node/XQ").status_code == 404


def test_values_page_and_api_match_the_library(client, iris_table):
    table = iris_table["iris"]
    data = client.get("/api/worlds/iris/values?alpha=4&beta=2").json
    assert data["methods"] == ["loo", "shapley", "banzhaf", "beta(4,2)"]
    for s in table.slices:
        col = table.column(s)
        rows = [r for r in data["values"] if r["slice"] == s]
        assert [r["shapley"] for r in rows] == pytest.approx(V.shapley(col).tolist())
        assert [r["beta(4,2)"] for r in rows] == pytest.approx(V.beta_shapley(col, 4, 2).tolist())
        assert [r["loo"] for r in rows] == pytest.approx(V.leave_one_out(col).tolist())
    body = text(client.get("/world/iris/values?slice=A"))
    assert body.count('class="chart"') == 4 and body.count('<rect class="s') >= 16
    assert "training rows (log scale)" in body and "mean score" in body
    toy = client.get("/api/worlds/toy/values").json
    assert {(m["method"], m["slice"]) for m in toy["missing"]} >= {("shapley", "B"), ("loo", "B")}
    assert client.get("/world/iris/values?alpha=0").status_code == 400
    # A bad parameter is named beside the controls (400) and the page drawn with the default in its place.
    bad = client.get("/world/iris/values?slice=nope")
    assert bad.status_code == 400 and 'data-param="slice"' in text(bad) and 'id="heatmap"' in text(bad)
    assert client.get("/api/worlds/iris/values/heatmap?slice=nope").status_code == 404


def _one_line_400(response, message):
    error = response.json["error"] if response.is_json else re.search(
        r'class="error[^"]*"[^>]*>(.*?)<', text(response), re.S).group(1)
    assert response.status_code == 400 and message in html.unescape(error)
    assert "\n" not in error.strip() and "Traceback" not in text(response)


@pytest.mark.parametrize("query, message", [
    ("tolerance=-5", "tolerance must be a finite number above 0"),
    ("tolerance=0", "tolerance must be a finite number above 0"),
    ("tolerance=inf", "tolerance must be a finite number above 0"),
    ("tolerance=abc", "tolerance must be a number"),
    ("tol=-1", "tolerance must be a finite number above 0"),
    ("tol=0.1&tolerance=0.2", "disagree"),
])
def test_a_bad_tolerance_is_refused_under_either_name(client, query, message):
    """The CLI's --tolerance refuses these; the grid (``tol`` or ``tolerance``) and the lattice page too."""
    for url in ("/world/toy/grid", "/api/worlds/toy/questions", "/world/iris/graph", "/api/worlds/iris/graph"):
        _one_line_400(client.get(f"{url}?{query}"), message)


def test_the_tolerance_under_its_long_name_is_used(client):
    assert client.get("/api/worlds/toy/questions?tolerance=0.3").json["focus"]["tolerance"] == 0.3
    assert client.get("/api/worlds/toy/questions?tol=0.3&tolerance=0.3").json["focus"]["tolerance"] == 0.3
    assert client.get("/api/worlds/toy/questions").json["focus"]["tolerance"] == 0.15


@pytest.mark.parametrize("query, message", [
    ("alpha=-1&beta=0", "alpha must be a finite number above 0"),
    ("beta=0", "beta must be a finite number above 0"),
    ("alpha=0", "alpha must be a finite number above 0"),
    ("beta=nan", "beta must be a finite number above 0"),
    ("alpha=x", "alpha must be a number"),
])
def test_graph_refuses_the_beta_parameters_the_grid_refuses(client, query, message):
    for url in ("/world/iris/graph", "/api/worlds/iris/graph", "/world/toy/grid"):
        _one_line_400(client.get(f"{url}?{query}"), message)
    assert client.get("/world/iris/graph?alpha=4&beta=2").status_code == 200


@pytest.mark.parametrize("method, message", [
    ("zzz", "unknown method 'zzz'"),
    ("loo+zzz", "unknown method 'zzz'"),
    ("shapley;bogus", "unknown method 'bogus'"),
    ("beta:-1,2", "alpha > 0 and beta > 0"),
    ("beta:x", "beta:ALPHA,BETA"),
])
def test_values_refuse_an_unknown_method(client, method, message):
    for url in ("/api/worlds/iris/values", "/world/iris/values"):
        _one_line_400(client.get(url, query_string={"method": method}), message)


def test_values_compute_the_methods_asked_for(client, iris_table):
    col = iris_table["iris"].column("all")
    for asked in ("loo+beta:4,2", "loo%2Bbeta:4,2", "loo;beta:4,2"):  # "+" in a URL arrives as a space
        data = client.get(f"/api/worlds/iris/values?method={asked}").json
        assert data["methods"] == ["loo", "beta(4,2)"], asked
        rows = [r for r in data["values"] if r["slice"] == "all"]
        assert [r["beta(4,2)"] for r in rows] == pytest.approx(V.beta_shapley(col, 4, 2).tolist())
        assert [r["loo"] for r in rows] == pytest.approx(V.leave_one_out(col).tolist())
    assert client.get("/world/iris/values?method=loo").status_code == 200
    assert client.get("/api/worlds/iris/values?method=loo").json["methods"] == ["loo"]


def test_scaling_and_grid_api(client):
    s = client.get("/api/worlds/toy/scaling?slice=B").json
    assert s["present"] == [0, 0, 1, 2, 1] and s["mean"][3] == pytest.approx(0.675) and s["mean"][0] is None
    g = client.get("/api/worlds/toy/grid").json
    assert g["slices"] == ["A", "B", "C", "D"] and g["rows"][-1]["train_set"] == "ABCD"
    assert g["rows"][-1]["values"] == [0.92, 0.88, 0.85, 0.82] and g["rows"][0]["values"] == [None] * 4
    paged = client.get("/api/worlds/toy/grid?per_page=5&page=2").json
    assert paged["pages"] == 4 and [r["train_set"] for r in paged["rows"]] == ["AB", "AC", "AD", "BC", "BD"]
    assert client.get("/api/worlds/toy/grid?page=9&per_page=5").status_code == 400
    w = client.get("/api/worlds/iris-pow").json
    assert len(w["slices"]) == 7 and w["slices"][-1]["mask"] == 7


def test_worlds_api(client):
    names = {w["name"]: w for w in client.get("/api/worlds").json["worlds"]}
    assert names["toy"]["complete"] == pytest.approx(0.25) and names["iris"]["complete"] == 1.0


# ------------------------------------------------------------------------ SQL


ATTACKS = [
    "INSERT INTO world (name, kind, metric, eval_slices, n_units, created_at) VALUES ('x', 'y', 'z', 'u', 1, '2020-01-01')",
    "UPDATE cell SET value = 0",
    "DELETE FROM cell",
    "DROP TABLE cell",
    "ATTACH DATABASE '{evil}' AS evil",
    "PRAGMA user_version = 7",
    "PRAGMA journal_mode = DELETE",
    "SELECT 1; DELETE FROM cell",
    "WITH doomed AS (SELECT id FROM cell) DELETE FROM cell WHERE id IN (SELECT id FROM doomed)",
    "VACUUM INTO '{evil}'",
    "SELECT load_extension('{evil}')",
    "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) FROM r",
]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sql_attacks_are_refused_and_the_file_is_unchanged(web_db, tmp_path):
    db = tmp_path / "copy.db"
    shutil.copy(web_db, db)
    evil = tmp_path / "evil.db"
    before = _digest(db)
    app = create_app({"DATABASE_URL": str(db), "TESTING": True, "SQL_TIMEOUT_MS": 300})
    client = app.test_client()
    for attack in ATTACKS:
        q = attack.format(evil=evil)
        page = client.get("/sql", query_string={"q": q})
        assert page.status_code == 400, q
        assert 'id="sql-error"' in text(page)
        api = client.get("/api/sql", query_string={"q": q})
        assert api.status_code == 400 and api.json["error"], q
        assert client.get("/sql.csv", query_string={"q": q}).status_code == 400
    runaway = client.get("/api/sql", query_string={"q": ATTACKS[-1]}).json["error"]
    assert "interrupted" in runaway and "300 ms" in runaway
    assert client.get("/api/sql?q=SELECT+count(*)+FROM+cell").json["rows"][0][0] > 0
    app.extensions["cfgraph.store"].close()
    assert _digest(db) == before
    assert not evil.exists()
    assert not Path(str(db) + "-wal").exists() or Path(str(db) + "-wal").stat().st_size == 0


def test_sql_page_runs_queries_with_downloads_and_a_row_cap(any_web_db):
    app = create_app({"DATABASE_URL": str(any_web_db), "TESTING": True, "SQL_MAX_ROWS": 5})
    client = app.test_client()
    q = "SELECT train_set, eval_slice, value FROM grid WHERE world = 'toy' ORDER BY train_size, train_set, eval_slice"
    body = text(client.get("/sql", query_string={"q": q}))
    assert 'id="truncated"' in body and body.count("<tr><td>") == 5
    data = client.get("/sql.json", query_string={"q": q}).json
    assert data["truncated"] is True and data["rows"][0] == ["AB", "A", 0.85]
    rows = list(csv.reader(io.StringIO(text(client.get("/sql.csv", query_string={"q": q})))))
    assert rows[0] == ["train_set", "eval_slice", "value"] and rows[1] == ["AB", "A", "0.85"] and len(rows) == 6
    loo = client.get("/api/sql", query_string={"q": (
        "SELECT a.value - b.value FROM grid a JOIN grid b ON b.world = a.world AND b.eval_slice = a.eval_slice "
        "WHERE a.world = 'toy' AND a.eval_slice = 'B' AND a.train_set = 'ABCD' AND b.train_set = 'ACD'")}).json
    assert loo["rows"][0][0] == pytest.approx(0.33) and loo["truncated"] is False
    app.extensions["cfgraph.store"].close()


def test_sql_examples_all_run(client):
    from cfgraph.web.sql_page import EXAMPLES

    body = text(client.get("/sql"))
    listed = re.search(r'<summary>table <code>cell</code></summary><pre class="schema">(.*?)</pre>', body, re.S).group(1)
    # SQLite shows the CREATE statement (a batch migration quotes the name), PostgreSQL the columns and types
    assert re.match(r'CREATE TABLE (&#34;|")?cell(&#34;|")? \(', listed) or listed.startswith("id integer,\n")
    assert re.search(r"\bseed\b", listed) and re.search(r"\bvalue\b", listed)
    assert "view <code>grid</code>" in body and "alembic_version" not in body
    for title, q in EXAMPLES:
        response = client.get("/api/sql", query_string={"q": q})
        assert response.status_code == 200, (title, response.json)
        assert response.json["columns"]


# ------------------------------------------------------------------- glossary

GUIDE_TERMS = [
    "Active learning", "Adversarial training", "Backdoor attack", "Bargaining", "Banzhaf value", "Beta Shapley",
    "Coreset", "Contribution campaign", "Curriculum learning", "Data augmentation", "Data cartography",
    "Data maps", "Data counterfactual", "Data dividends", "Data leverage", "Data poisoning", "Data Shapley",
    "Data strike", "Dataset distillation", "Dataset condensation", "Differential privacy", "Evaluation set",
    "Evaluation counterfactual", "Experimental design", "Forgetting event", "Governance or trust state",
    "Influence function", "Leave-one-out", "Machine unlearning", "Membership inference", "Memorization",
    "Representer point", "Reweighing", "Scaling law", "Secure holdout", "Training set", "TracIn", "Use rights",
    "Semivalue", "Marginal contribution", "Coalition", "Lattice", "Hasse diagram", "Layer", "Least core",
    "Datamodel", "Interaction index", "World", "Evaluation slice",
]


def test_glossary_has_every_guide_term_and_working_links(client):
    body = text(client.get("/glossary"))
    terms = re.findall(r'<dt id="([^"]+)">([^<]+)</dt>', body)
    names = {name for _, name in terms}
    assert set(GUIDE_TERMS) <= names
    hrefs = set(re.findall(r'<p class="links">(.*?)</p>', body, re.S))
    links = {h for block in hrefs for h in re.findall(r'href="([^"]+)"', block)}
    assert "/question/loo" in links and "/lens/sweep" in links
    anchors = {slug for slug, _ in terms}
    for href in links:
        if href.startswith("#"):
            assert href[1:] in anchors, href
        else:
            assert client.get(href).status_code in (200, 302), href
    computed = [t for t in load_glossary() if t["links"]]
    assert len(computed) >= 35


def test_glossary_refuses_links_that_are_not_http(tmp_path):
    bad = tmp_path / "g.yaml"
    bad.write_text("terms:\n  - term: X\n    definition: y\n    links: [{url: 'javascript:alert(1)'}]\n")
    with pytest.raises(CfgraphError, match="only http"):
        load_glossary(str(bad))
    bad.write_text("terms:\n  - term: X\n    definition: y\n    links: [{question: nope}]\n")
    with pytest.raises(CfgraphError, match="unknown question"):
        load_glossary(str(bad))


def test_glossary_api(client):
    terms = client.get("/api/glossary").json["terms"]
    assert any(t["slug"] == "data-shapley" for t in terms)


# -------------------------------------------------------------- templates, CLI


def test_templates_load_nothing_from_other_hosts_and_have_no_inline_handlers():
    folder = resource_dir("templates")
    mine = ["base.html", "home.html", "grid.html", "_panel.html", "_answer.html", "_panel_error.html",
            "graph.html", "node.html", "values.html", "_charts.html", "sql.html", "glossary.html", "error.html"]
    for name in mine:
        source = (folder / name).read_text(encoding="utf-8")
        assert not re.search(r"\son[a-z]+\s*=", source), name
        assert not re.search(r"(src|href)=\"(https?:)?//", source), name
        assert "<script>" not in source and "style=" not in source, name
    js = (folder / "static" / "grid.js").read_text(encoding="utf-8")
    assert "eval(" not in js and "http" not in js


def test_serve_binds_localhost_by_default_without_debug(any_web_db, monkeypatch):
    from flask import Flask

    from cfgraph.cli import main

    calls = []
    monkeypatch.setattr(Flask, "run", lambda self, **kw: calls.append(kw))
    result = CliRunner().invoke(main, ["--db", str(any_web_db), "serve"])
    assert result.exit_code == 0, result.output
    assert calls == [{"host": "127.0.0.1", "port": 5000, "debug": False, "use_reloader": False}]
    assert "http://127.0.0.1:5000/" in result.output
    result = CliRunner().invoke(main, ["--db", str(any_web_db), "serve", "--host", "0.0.0.0", "--port", "8123"])
    assert calls[-1]["host"] == "0.0.0.0" and calls[-1]["port"] == 8123
    missing = CliRunner().invoke(main, ["--db", "/nonexistent/x.db", "serve"])
    assert missing.exit_code == 2 and "no database" in missing.output


def test_internal_errors_show_no_traceback(app, monkeypatch):
    from cfgraph.store import catalog

    def boom(*_a):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(catalog, "list_worlds", boom)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/")
    assert response.status_code == 500
    assert "secret detail" not in text(response) and "Traceback" not in text(response)
    assert json.loads(app.test_client().get("/api/worlds").get_data())["status"] == 500


# ------------------------------------------------- seeds, slices, numbers, layout

#: Three seeds of a full 3-unit grid on slice "all": v(mask) for masks 0..7. The empty set
#: scores a tiny negative R^2 (as a regression baseline does), which must not print as -0.000.
SEEDS3 = {0: [-1e-5, 0.5, 0.4, 0.7, 0.3, 0.6, 0.5, 0.8],
          1: [-1e-5, 0.6, 0.4, 0.8, 0.3, 0.7, 0.5, 0.9],
          2: [-1e-5, 0.7, 0.5, 0.9, 0.3, 0.8, 0.6, 1.0]}
#: Student-t 97.5% quantile with 2 degrees of freedom (three seeds).
T_2 = 4.302652729911275
LONG_CSV = "/data/some/quite/long/directory/name/for/datasets/iris_measurements_2024_cleaned_v2.csv"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeds_db(request, tmp_path_factory):
    """"s3" (3 units, 3 seeds, metric r2), "named" (named units; slice code-bench holds cells only
    for another metric), "wide" (a CSV path and a dotted model), and the related-work snapshot: a
    SQLite path, or the URL of a PostgreSQL copy of the schema template (built once per module)."""
    from cfgraph.semble import service
    from cfgraph.store import catalog
    from cfgraph.tables import SliceSpec, UnitSpec

    folder = tmp_path_factory.mktemp("seeds")
    if request.param == "postgresql":
        server = request.getfixturevalue("pg_server")
        name = server.create_database(template=request.getfixturevalue("pg_schema_template"))
        path = server.url(name)
    else:
        path = folder / "seeds.db"
    store = open_store(path)
    with store.transaction() as session:
        for name, dataset, model in (("s3", "diabetes", "ridge"),
                                     ("wide", LONG_CSV, "sklearn.naive_bayes.GaussianNB")):
            world = catalog.create_world(session, name, kind="trained", units=[UnitSpec(u) for u in "ABC"],
                                         slices=[SliceSpec("all")], metric="r2", eval_slices="units",
                                         dataset=dataset, model_spec=model,
                                         spec={"metrics": ["r2"], "seeds": sorted(SEEDS3)})
            ids, sids = cells.node_ids(session, world), cells.slice_ids(session, world)
            cells.write_cells(session, [
                {"node_id": int(ids[m]), "slice_id": sids["all"], "metric": "r2", "seed": seed, "value": v,
                 "fit_seconds": 0.0, "status": "ok"}
                for seed, grid in SEEDS3.items() for m, v in enumerate(grid)])
    grid = folder / "named.csv"
    with open(grid, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["train_set", "eval_slice", "value", "metric"])
        for label, value in (("∅", 0.3), ("code", 0.4), ("math", 0.45), ("code+math", 0.6)):
            writer.writerow([label, "overall", value, "accuracy"])
            if label != "∅":
                writer.writerow([label, "code-bench", value / 2, "pass_rate"])
    import_grid(store, grid, "named")
    service.import_snapshot(store, resource_dir("seed_data") / "semble_snapshot.json")
    store.close()
    yield path
    if request.param == "postgresql":
        server.drop_database(name)


@pytest.fixture
def seeds_client(seeds_db):
    app = create_app({"DATABASE_URL": str(seeds_db), "TESTING": True})
    yield app.test_client()
    app.extensions["cfgraph.store"].close()


def _node_titles(body: str) -> dict[str, str]:
    return dict(re.findall(r'data-label="([^"]+)"[^>]*><g class="node[^"]*"><title>[^:]+: ([^<]*)</title>', body))


def test_lattice_shows_the_mean_over_seeds_with_intervals_and_seed_links(seeds_client):
    half = T_2 * 0.1 / np.sqrt(3)
    body = text(seeds_client.get("/world/s3/graph?node=A"))
    assert "mean over n = 3 seeds" in body and "seed 0 ·" not in body
    titles = _node_titles(body)
    assert titles["A"] == f"0.600 ± {half:.3f} (n=3)" and titles["AB"] == f"0.800 ± {half:.3f} (n=3)"
    assert titles["C"] == "0.300 ± 0.000 (n=3)" and len(titles) == 8
    assert re.search(r'id="node-value">0\.6000</strong>\s*<span id="node-interval">± ' + f"{half:.3f}", body)
    links = re.search(r'id="seed-links">(.*?)</p>', body, re.S).group(1)
    assert re.search(r'href="/world/s3/graph\?node=A"\s+aria-current="true">mean over seeds</a>', links)
    for s in (0, 1, 2):
        assert f'node=A&amp;seed={s}" >seed {s}</a>' in links
    api = seeds_client.get("/api/worlds/s3/graph?node=A").json
    assert api["seed"] is None and api["seeds"] == [0, 1, 2]
    assert api["value"] == pytest.approx(0.6) and api["half_width"] == pytest.approx(half) and api["n"] == 3
    assert {d["train_set"]: d["value"] for d in api["up"]} == pytest.approx({"AB": 0.8, "AC": 0.7})
    # one seed, named: that seed's cells and no interval
    one = text(seeds_client.get("/world/s3/graph?node=A&seed=2"))
    assert _node_titles(one)["A"] == "0.7000" and "mean over n =" not in one
    assert re.search(r'seed=2" aria-current="true">seed 2</a>', one)
    assert seeds_client.get("/api/worlds/s3/graph?node=A&seed=1").json["value"] == pytest.approx(0.6)
    assert seeds_client.get("/api/worlds/s3/graph?node=A&seed=0").json["value"] == pytest.approx(0.5)


def test_lattice_lens_tables_carry_the_interval_of_each_score(seeds_client):
    half = T_2 * 0.1 / np.sqrt(3)
    body = text(seeds_client.get("/world/s3/graph?lens=permutation&order=ABC"))
    lens = re.search(r'<section id="lens">.*?</section>', body, re.S).group(0)
    assert f'<td title="0.600 ± {half:.3f} (n=3)">0.6000</td>' in lens  # step 1 adds A
    assert f'<td title="0.800 ± {half:.3f} (n=3)">0.8000</td>' in lens  # step 2: AB
    path = re.search(r'<section id="path">.*?</section>', body, re.S).group(0)
    assert '<td title="0.000 ± 0.000 (n=3)">0.0000</td>' in path  # ∅: three equal seeds, no spread


def test_large_world_across_seeds_reads_only_the_shown_nodes(seeds_db, monkeypatch):
    """Beyond the whole-diagram limit the seed stack covers the neighbourhood, not 2^n masks."""
    import cfgraph.seeds
    import cfgraph.world

    def refuse(*_a, **_k):
        raise AssertionError("read the whole lattice")

    read = []
    seed_cells = cfgraph.world.seed_cells

    def record(session, world, metric, seeds=None, *, masks=None, slice_ids=None):
        read.append((list(seeds), None if masks is None else sorted(set(int(m) for m in masks)), slice_ids))
        return seed_cells(session, world, metric, seeds, masks=masks, slice_ids=slice_ids)

    for name in ("lattice_table", "slice_column", "cells_at"):
        monkeypatch.setattr(cells, name, refuse)
    monkeypatch.setattr(cfgraph.seeds, "load_seed_stack", refuse)
    monkeypatch.setattr(cfgraph.world, "seed_cells", record)
    app = create_app({"DATABASE_URL": str(seeds_db), "TESTING": True, "WHOLE_LATTICE_MAX_UNITS": 2})
    body = text(app.test_client().get("/world/s3/graph?node=A&path=∅,A"))
    assert len(_node_titles(body)) == 1 + 2 + 1  # A, AB and AC above, ∅ below
    assert _node_titles(body)["AB"].startswith("0.800 ± ")
    assert len(read) == 1 and read[0][:2] == ([0, 1, 2], [0, 1, 3, 5])  # one read for every seed
    assert len(read[0][2]) == 1  # of the slice shown only
    app.extensions["cfgraph.store"].close()


def test_grid_counts_the_cells_of_every_seed(seeds_client):
    across = text(seeds_client.get("/world/s3/grid"))
    assert '<span id="cell-count">24 of 24 cells stored over 3 seeds (8 per seed)</span>' in across
    one = text(seeds_client.get("/world/s3/grid?seed=1"))
    assert '<span id="cell-count">8 of 8 cells stored</span>' in one
    named = text(seeds_client.get("/world/named/grid"))
    assert '<span id="cell-count">4 of 8 cells stored</span>' in named  # the pass_rate cells are another metric


def test_panel_says_its_answers_use_the_mean_over_seeds(seeds_client):
    for path in ("/world/s3/grid", "/world/s3/grid/panel?cell=AB:all"):
        assert text(seeds_client.get(path)).count('id="panel-seeds"') == 1
    assert "mean over n = 3 seeds" in text(seeds_client.get("/world/s3/grid/panel"))
    assert 'id="panel-seeds"' not in text(seeds_client.get("/world/s3/grid/panel?seed=0"))


def test_values_charts_open_on_the_first_complete_slice_when_there_is_no_all(seeds_client):
    slices = [s["name"] for s in seeds_client.get("/api/worlds/named").json["slices"]]
    assert slices[-1] == "code-bench"  # the last slice has no cells for the world's metric
    named = text(seeds_client.get("/world/named/values"))
    assert re.search(r"<option selected>overall</option>", named) and "Scaling curve on slice overall" in named
    assert named.count("<rect class=\"s") >= 4 * 3  # the bars are drawn (code-bench has no accuracy cells)
    assert seeds_client.get("/api/worlds/named/scaling").json["present"] == [1, 2, 1]


def test_values_charts_open_on_all(client):
    iris = text(client.get("/world/iris/values"))  # slices A..D then all
    assert "<option selected>all</option>" in iris


def test_no_negative_zero_on_any_page(seeds_client):
    grid = text(seeds_client.get("/world/s3/grid"))
    row = re.search(r'data-t="∅"[^>]*>∅</th>(.*?)</tr>', grid).group(1)
    assert ">0.000</td>" in row and 'title="0.000 ± 0.000 (n=3)"' in row
    for path in ("/world/s3/grid?cell=∅:all", "/world/s3/graph", "/world/s3/graph?lens=layer&k=0",
                 "/world/s3/graph?lens=ablation&node=A", "/world/s3/values", "/world/s3/node/∅",
                 "/world/s3/grid?seed=0"):
        body = text(seeds_client.get(path))
        assert not re.search(r"-0\.0+(?![0-9])", body), path


def test_chart_ticks_stay_clear_of_the_axis_title():
    from cfgraph.web.charts import TICK_CHAR_PX, bar_chart, line_chart

    for chart in (bar_chart(["A", "B"], [("shapley", [-100000.0, -20000.0])]),
                  line_chart([0, 1, 2], [("mean", [-512345.0, -400000.0, -300000.0])])):
        labels = [t for _, t in chart["yticks"]]
        assert all(len(t) <= 8 for t in labels), labels
        widest = max(len(t) for t in labels)
        # tick labels end 6 px left of the axis; the rotated title is drawn around x = 12
        assert chart["frame"].x0 - 6 - TICK_CHAR_PX * widest >= 20
    assert [t for _, t in bar_chart(["A"], [("v", [-100000.0])])["yticks"]][:2] == ["-1e+05", "-8e+04"]
    assert [t for _, t in bar_chart(["A"], [("v", [0.25])])["yticks"]] == ["0", "0.05", "0.1", "0.15", "0.2",
                                                                          "0.25"]


def test_number_filter_never_prints_negative_zero(app):
    with app.app_context():
        num, signed = app.jinja_env.filters["num"], app.jinja_env.filters["signed"]
        assert (num(-0.00001, 3), num(-0.0), num(-0.0012, 3), num(float("nan")), num(7)) == \
               ("0.000", "0.0000", "-0.001", "", "7")
        assert (signed(-0.00001), signed(0.0125)) == ("+0.0000", "+0.0125")


def test_home_table_scrolls_in_its_wrapper_and_shortens_paths(seeds_client):
    body = text(seeds_client.get("/"))
    wrapped = re.search(r'<div class="table-wrap">\s*<table class="data worlds" id="worlds">.*?</table>\s*</div>',
                        body, re.S)
    assert wrapped
    assert f'<td class="long" title="{LONG_CSV}">iris_measurements_2024_cleaned_v2.csv</td>' in body
    css = (resource_dir("templates") / "static" / "cfgraph.css").read_text()
    assert re.search(r"\.table-wrap \{[^}]*overflow-x: auto", css)
    assert ' style="' not in body


def test_related_shelves_list_each_topic_once(seeds_client):
    data = seeds_client.get("/api/related").json
    assert data["shelves"]
    for shelf in data["shelves"]:
        labels = [t["label"].casefold() for t in shelf["topics"]]
        assert len(labels) == len(set(labels)), (shelf["title"], labels)
    valuation = next(s for s in data["shelves"] if s["title"] == "Data valuation")
    banzhaf = [t for t in valuation["topics"] if t["label"] == "Banzhaf value"]
    assert len(banzhaf) == 1 and banzhaf[0]["kind"] == "questions"  # the question's link is kept
    page = text(seeds_client.get("/related"))
    covers = re.search(r'id="shelf-data-valuation".*?<p class="meta">Covers:(.*?)</p>', page, re.S).group(1)
    assert covers.count(">Banzhaf value</a>") == 1
    # filtering by the glossary term still finds the shelf whose repeat was dropped
    by_term = seeds_client.get("/api/related?topic=banzhaf-value").json
    assert "Data valuation" in [s["title"] for s in by_term["shelves"]]
