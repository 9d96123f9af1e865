"""The lab page, its JSON API, and export / import of its state (Flask test client)."""

from __future__ import annotations

from html import escape
import json
import re
import shutil
from urllib.parse import parse_qsl, urlencode, urlparse

import pytest

from cfgraph import compare as C
from cfgraph.grids import import_grid
from cfgraph.lab_state import CellRef, LabState
from cfgraph.store import open_store
from cfgraph.variants.build import build_variant
from cfgraph.web import create_app

EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def lab_db(iris_db, tmp_path_factory):
    """iris (seed 0), a label-corruption variant of it, and an imported world with HTML in its names."""
    path = tmp_path_factory.mktemp("lab") / "cfgraph.db"
    shutil.copy(iris_db, path)
    store = open_store(path)
    build_variant(store, "iris", {"kind": "corrupt", "units": ["B"], "labels": 0.5}, name="iris-noisy",
                  progress=False)
    build_variant(store, "iris", {"kind": "poison", "unit": "A", "method": "flip"}, name="iris-poison",
                  progress=False)
    grid = path.parent / "evil.csv"
    grid.write_text('train_set,eval_slice,value\nA,"<em>X",0.5\nAB,"<em>X",0.75\n')
    import_grid(store, grid, EVIL)
    store.close()
    return path


@pytest.fixture(scope="module")
def app(lab_db):
    app = create_app({"DATABASE_URL": str(lab_db), "TESTING": True})
    yield app
    app.extensions["cfgraph.store"].close()


@pytest.fixture
def client(app):
    return app.test_client()


VARIANT = LabState(a=(CellRef("iris", "*", "*"),), b=(CellRef("iris-noisy", "*", "*"),))
LOO = LabState(a=(CellRef("iris", "ABCD", "all"),),
               b=tuple(CellRef("iris", t, "all") for t in ("BCD", "ACD", "ABD", "ABC")))


def error_line(response) -> str:
    html = response.get_data(as_text=True)
    found = re.findall(r'<p class="error"[^>]*>(.*?)</p>', html, re.S)
    assert len(found) == 1, html[:2000]
    assert "\n" not in found[0]
    return found[0]


def test_empty_page_offers_a_grid_and_presets(client):
    r = client.get("/lab")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Counterfactual lab" in html and 'id="pick-grid"' in html and 'id="lab-empty"' in html
    assert "<script>" not in html and ' style="' not in html  # CSP: no inline script or style
    assert "each leave-one-out set" in html


def test_clicks_edit_the_state_by_redirect(client):
    r = client.get("/lab?p.side=b&add=iris|AB|all")
    assert r.status_code == 303
    state = LabState.from_query(parse_qsl(urlparse(r.headers["Location"]).query))
    assert state.b == (CellRef("iris", "AB", "all"),) and state.param("side") == "b"
    again = client.get(state.url() + "&add=iris|AB|all")  # a second click takes it out
    assert LabState.from_query(parse_qsl(urlparse(again.headers["Location"]).query)).b == ()
    swapped = client.get(LOO.url() + "&swap=1")
    s = LabState.from_query(parse_qsl(urlparse(swapped.headers["Location"]).query))
    assert (s.a, s.b) == (LOO.b, LOO.a)
    dropped = client.get(LOO.url() + "&drop=b:iris|BCD|all&clear=a")
    s = LabState.from_query(parse_qsl(urlparse(dropped.headers["Location"]).query))
    assert s.a == () and s.b == LOO.b[1:]
    typed = client.get(LOO.url() + "&cell=iris|A|all&to=a")
    assert LabState.from_query(parse_qsl(urlparse(typed.headers["Location"]).query)).a[-1] == CellRef("iris", "A", "all")


def test_page_and_api_show_the_core_comparison(client, app):
    r = client.get(LOO.url())
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'id="lab-counts"' in html and 'data-class="training removal"' in html
    api = client.get("/api/lab" + LOO.url()[len("/lab"):]).get_json()
    with app.app_context():
        from cfgraph.web.db import get_session

        core = C.compare_refs(get_session(), LOO.a, LOO.b)
    assert api["totals"] == core.totals()
    assert api["n_pairs"] == 4 and [c["class"] for c in api["classes"]] == ["training removal"]
    assert [(p["b"]["train"], p["delta"]) for p in api["top"]] == [(p["b"]["train"], p["delta"]) for p in core.top()]
    assert api["top"][0]["a"]["url"].startswith("/world/iris/grid?cell=ABCD:all")
    assert api["state"] == LOO.to_document()
    for p in api["top"]:
        assert f'href="{p["b"]["url"]}"'.replace("&", "&amp;") in html


def test_world_against_variant_draws_a_signed_difference_grid(client):
    api = client.get("/api/lab" + VARIANT.url()[len("/lab"):]).get_json()
    [grid] = api["grids"]
    assert grid["kind"] == "variant change" and grid["world_b"] == "iris-noisy"
    assert len(grid["rows"]) == 16 and grid["rows"][0]["train"] == "∅"
    flat = [c for row in grid["rows"] for c in row["cells"]]
    assert grid["up"] + grid["down"] + grid["same"] + grid["missing"] == len(flat)
    assert all(c["css"].split()[0] == ("up" if c["delta"] > 0 else "down" if c["delta"] < 0 else "same")
               for c in flat if c["delta"] is not None)
    html = client.get(VARIANT.url()).get_data(as_text=True)
    assert 'class="diff" data-kind="variant change"' in html


def test_seed_parameters_and_bad_state_are_one_line_errors(client):
    r = client.get("/lab?a=iris|AB|all&b=iris|AB|nowhere")  # the query is the page's input: 400, not 404
    assert r.status_code == 400 and "no evaluation slice" in error_line(r)
    r = client.get("/api/lab?a=iris|AB|all&b=iris|A|all&lens=sideways")
    assert r.status_code == 400 and "unknown lens" in r.get_json()["error"]
    r = client.get("/api/lab?a=iris|AB|all&b=iris|A|all&p.tol=-1")
    assert r.status_code == 400 and "tolerance" in r.get_json()["error"]
    r = client.get("/api/lab?a=iris|AB")
    assert r.status_code == 400 and "world|train|slice" in r.get_json()["error"]


def test_export_then_import_round_trip(client):
    state = VARIANT.with_params(tol="0.01", top="5")
    r = client.get("/lab/state.json" + state.url()[len("/lab"):])
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.headers["Content-Disposition"].startswith("attachment;")
    doc = json.loads(r.data)
    assert doc["cfgraph_lab"] == 1 and doc["a"] == ["iris|*|*"]
    back = upload(client, r.data, "cfgraph-lab.json")
    assert back.status_code == 303
    assert back.headers["Location"] == state.url()
    assert LabState.from_query(parse_qsl(urlparse(back.headers["Location"]).query)) == state


def upload(client, body: bytes, name: str = "state.json", fields=None, **kw):
    """POST ``body`` as the multipart field ``file`` (and text ``fields``), encoded here: Werkzeug's test client
    spools a body over 500 KB to a temporary file it never closes (an unraisable ResourceWarning under
    filterwarnings=error)."""
    boundary = "cfgraph-lab-boundary"
    data = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                    for k, v in (fields or {}).items())
    data += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
             f"Content-Type: application/json\r\n\r\n").encode() + body + f"\r\n--{boundary}--\r\n".encode()
    return client.post("/lab/import", data=data, content_type=f"multipart/form-data; boundary={boundary}", **kw)


def _nested(depth):
    return "[" * depth + "]" * depth


HOSTILE = [
    (b"this is not json", "not JSON"),
    (b"\xff\xfe\x00junk", "not UTF-8"),
    (b'{"cfgraph_lab": 2, "a": [], "b": []}', "version 1"),
    (b'{"cfgraph_lab": true}', "version 1"),
    (b'{"a": ["iris|A|all"]}', "version 1"),
    (b'[1, 2, 3]', "JSON object"),
    (b'{"cfgraph_lab": 1, "a": [], "b": [], "extra": 1}', "unknown key 'extra'"),
    (b'{"cfgraph_lab": 1, "a": "iris|A|all"}', "'a' must be a list"),
    (b'{"cfgraph_lab": 1, "a": [1, 2]}', "a[0] must be a cell as text"),
    (b'{"cfgraph_lab": 1, "a": ["iris|A"]}', "world|train|slice"),
    (json.dumps({"cfgraph_lab": 1, "a": ["iris|A|all"] * 501}).encode(), "at most 500"),
    (json.dumps({"cfgraph_lab": 1, "a": ["x" * 1000 + "|A|all"]}).encode(), "characters long"),
    (json.dumps({"cfgraph_lab": 1, "params": {"tol": {"deep": [1]}}}).encode(), "must be text"),
    (json.dumps({"cfgraph_lab": 1, "params": {"tol": 0.1}}).encode(), "must be text (as exported), not the number 0.1"),
    (json.dumps({"cfgraph_lab": 1, "params": {"evil": "1"}}).encode(), "unknown parameter 'evil'"),
    (json.dumps({"cfgraph_lab": 1, "lens": "evil"}).encode(), "unknown lens 'evil'"),
    (json.dumps({"cfgraph_lab": 1, "lens": 5}).encode(), "'lens' must be text"),
    (json.dumps({"cfgraph_lab": 1, "params": {"tol": "-5"}}).encode(), "finite number >= 0"),
    (json.dumps({"cfgraph_lab": 1, "params": {"tol": "nan"}}).encode(), "finite number >= 0"),
    (json.dumps({"cfgraph_lab": 1, "params": {"tol": "lots"}}).encode(), "must be a number"),
    (json.dumps({"cfgraph_lab": 1, "params": {"top": "9999"}}).encode(), "top must be a whole number from 1 to 200"),
    (json.dumps({"cfgraph_lab": 1, "params": {"pairing": "diagonal"}}).encode(), "unknown pairing 'diagonal'"),
    (json.dumps({"cfgraph_lab": 1, "params": {"match": "world"}}).encode(), "unknown match 'world'"),
    (json.dumps({"cfgraph_lab": 1, "a": ["iris|*|*"], "b": ["iris-poison|*|*"],
                 "params": {"pairing": "matched", "add": "Z"}}).encode(), "no world of A or B has"),
    (b'{"cfgraph_lab": "1", "a": []}', "must be the integer 1, not the string '1'"),
    (json.dumps({"cfgraph_lab": 1, "params": {"<b>": "1"}}).encode(), "parameter name"),
    (_nested(100000).encode(), "not JSON"),
    (b" " * (10 * 1024 * 1024), "over 512 KB"),
    (json.dumps({"cfgraph_lab": 1, "a": [f"{EVIL}x|A|all"], "b": ["iris|A|all"]}).encode(), "no world named"),
    (json.dumps({"cfgraph_lab": 1, "a": ["iris|A|all", "iris|Q|all"]}).encode(), "unknown unit 'Q'"),
]


@pytest.mark.parametrize("body, message", HOSTILE, ids=range(len(HOSTILE)))
def test_malformed_documents_are_refused_whole(client, body, message):
    r = upload(client, body)
    assert r.status_code == 400
    assert "Location" not in r.headers
    line = error_line(r)
    assert line.startswith("import refused: ")
    assert escape(message).replace("&#x27;", "&#39;") in line
    assert "<img" not in r.get_data(as_text=True)


def test_refused_import_is_shown_on_the_lab_page_with_the_state_kept(client):
    """The form sends its page's URL as ``back``: the refusal is rendered there, inline, nothing applied."""
    state = LOO.with_params(tol="0.01", pairing="all")
    bad = json.dumps({"cfgraph_lab": 1, "a": ["iris|A|all"], "lens": "evil"}).encode()
    r = upload(client, bad, fields={"back": state.url()})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "Location" not in r.headers
    assert "unknown lens" in error_line(r) and 'id="import-problem"' in html
    assert "Counterfactual lab" in html and 'id="lab-counts"' in html  # the lab page, its comparison kept
    assert html.count('<li><span class="cell-ref">') == len(state.a) + len(state.b)
    assert f'name="back" value="{state.url()}"'.replace("&", "&amp;").replace("|", "%7C") in html.replace("|", "%7C")
    # A ``back`` that is not a lab state falls back to the empty lab, still inline.
    r = upload(client, bad, fields={"back": "/lab?a=nonsense"})
    assert r.status_code == 400 and 'id="lab-empty"' in r.get_data(as_text=True)


def test_import_without_a_file_or_from_another_host(client):
    r = client.post("/lab/import", data={}, content_type="multipart/form-data")
    assert r.status_code == 400 and "choose a lab document" in error_line(r)
    r = upload(client, b"{}", headers={"Host": "evil.example"})
    assert r.status_code == 400 and "unknown host" in error_line(r)


def test_html_in_names_is_escaped(client):
    state = LabState(a=(CellRef(EVIL, "AB", "<em>X"),), b=(CellRef(EVIL, "A", "<em>X"),),
                     params=(("world", EVIL),))
    r = client.get(state.url())
    html = r.get_data(as_text=True)
    assert r.status_code == 200, html[:3000]
    assert "<img" not in html and "<em>X" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;em&gt;X" in html
    api = client.get("/api/lab" + state.url()[len("/lab"):]).get_json()
    assert api["totals"]["harm"] == 1 and api["top"][0]["delta"] == pytest.approx(-0.25)
    bad = client.get("/lab?a=" + EVIL + "|A|X&b=iris|A|all")
    assert "<img" not in bad.get_data(as_text=True)


def location_state(response) -> LabState:
    return LabState.from_query(parse_qsl(urlparse(response.headers["Location"]).query))


def preset_links(client, world) -> dict[str, str]:
    html = client.get(f"/lab?p.world={world}").get_data(as_text=True)
    block = html.split('id="lab-presets"')[1].split("</ul>")[0]
    return {title.replace("&amp;", "&"): url.replace("&amp;", "&")
            for url, title in re.findall(r'<a href="([^"]+)">([^<]+)</a>', block)}


def test_pairing_round_trips_through_url_and_document():
    state = VARIANT.with_params(pairing="matched", add="E", match="train")
    assert "p.pairing=matched" in state.url() and "p.add=E" in state.url() and "p.match=train" in state.url()
    assert LabState.from_query(parse_qsl(urlparse(state.url()).query)) == state
    doc = state.to_document()
    assert doc["params"] == {"add": "E", "match": "train", "pairing": "matched"}
    assert LabState.from_document(json.dumps(doc)) == state


def test_poisoning_presets_show_the_attack_as_a_training_addition(client, app):
    links = preset_links(client, "iris")
    world_variant = next(u for t, u in links.items() if "its variant iris-poison" in t and "against the same" in t)
    api = client.get("/api" + world_variant).get_json()
    assert api["pairing"] == "matched" and api["n_pairs"] == 16 * len(api["grids"][0]["slices"])
    assert [c["class"] for c in api["classes"]] == ["variant change"]  # no joint shifts drown the effect
    assert api["totals"]["no change"] == api["n_pairs"]  # without E the poisoned world trains the same
    control = next(t for t in links if "its variant iris-poison" in t and "against the same" in t)
    assert "control: without E the variant trains the same sets, expect no change" in control
    inside = next(u for t, u in links.items() if t.startswith("In iris-poison: each training set T against T + E"))
    state = LabState.from_query(parse_qsl(urlparse(inside).query))
    assert state.param("pairing") == "matched" and state.param("add") == "E"
    api = client.get("/api" + inside).get_json()
    assert [c["class"] for c in api["classes"]] == ["training addition"] and api["unpaired"] == api["n_pairs"]
    with app.app_context():
        from cfgraph.web.db import get_session
        from cfgraph.world import World

        table = World.open(get_session(), "iris-poison").table()
    stored = table.values[16:32] - table.values[:16]
    [grid] = api["grids"]
    assert grid["kind"] == "training addition" and grid["add"] == "E" and len(grid["rows"]) == 16
    by_label = {label: row for label, row in zip(table.labels[:16], stored)}
    for row in grid["rows"]:
        got = [c["delta"] for c in row["cells"]]
        want = [by_label[row["train"]][table.slices.index(s)] for s in grid["slices"]]
        assert got == pytest.approx(want)
    assert max(abs(p["delta"]) for p in api["top"]) == pytest.approx(abs(stored).max())
    html = client.get(inside).get_data(as_text=True)
    assert "Training addition: iris-poison, T + E − iris-poison, T" in html and 'data-add="E"' in html
    assert 'id="lab-unpaired"' in html
    across = next(u for t, u in links.items() if t.startswith("A = iris T, B = iris-poison T + E"))
    api = client.get("/api" + across).get_json()
    assert [c["class"] for c in api["classes"]] == ["joint shift"] and api["unpaired"] == 0
    assert api["top"][0]["changed"] == ["training set", "world"]
    assert abs(api["top"][0]["delta"]) == pytest.approx(abs(stored).max())


def test_seed_and_slice_presets_pair_each_cell_with_itself(client):
    links = preset_links(client, "iris")
    slices = next(u for t, u in links.items() if t.startswith("A = slice"))
    state = LabState.from_query(parse_qsl(urlparse(slices).query))
    assert state.param("match") == "train" and state.param("pairing") == "matched"
    api = client.get("/api" + slices).get_json()
    assert api["n_pairs"] == 16 and [c["class"] for c in api["classes"]] == ["evaluation shift"]
    loo = next(u for t, u in links.items() if "leave-one-out" in t)
    assert "p.pairing" not in loo  # one A cell against four: every pair is meaningful


def test_bad_pairing_on_the_page_is_an_inline_message(client):
    r = client.get(VARIANT.with_params(pairing="matched", add="Z").url())
    assert r.status_code == 400 and "no world of A or B has" in error_line(r)
    assert 'id="pick-grid"' in r.get_data(as_text=True)
    r = client.get(VARIANT.with_params(pairing="sideways").url())
    assert r.status_code == 400 and "unknown pairing" in error_line(r)


def page_text(response) -> str:
    """The page's text as a reader sees it: tags dropped, runs of white space one space."""
    html = re.sub(r"<[^>]+>", "", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html)


def share_state(response) -> LabState:
    html = response.get_data(as_text=True)
    url = re.search(r'id="lab-share" href="([^"]*)"', html).group(1).replace("&amp;", "&")
    return LabState.from_query(parse_qsl(urlparse(url).query))


START = LabState(a=(CellRef("iris", "ABCD", "all"),))


@pytest.mark.parametrize("cell, message", [
    ("iris|ABCD|Z", "no evaluation slice"),
    ("iris|ABCD|all||9", "no cells for seed 9"),
    ("iris|ABCD|all|nope", "no cells for metric 'nope'"),
    ("nowhere|ABCD|all", "nowhere"),
    ("iris|ABQ|all", "unknown unit 'Q'"),
    (f"{EVIL}|A|<em>X", "compare cells of one metric"),
])
def test_a_bad_cell_is_refused_at_the_add_step(client, cell, message):
    """Typed or clicked, a cell that does not resolve is not added: 400, one line, the state as it was."""
    for edit in ([("cell", cell), ("to", "b")], [("p.side", "b"), ("add", cell)]):
        r = client.get(START.url() + "&" + urlencode(edit))
        assert r.status_code == 400 and "Location" not in r.headers
        line = error_line(r)
        assert "not added to World B" in line and escape(message).replace("&#x27;", "&#39;") in line
        kept = share_state(r)
        assert (kept.a, kept.b) == (START.a, ())  # the bad cell is in neither set nor the page's links
        html = r.get_data(as_text=True)
        assert 'id="pick-grid"' in html and "<img" not in html


def test_a_refused_typed_cell_stays_in_its_field(client):
    r = client.get(START.url() + "&cell=iris%7CABCD%7CZ&to=b")
    assert r.status_code == 400 and 'id="type-cell" size="28" value="iris|ABCD|Z"' in r.get_data(as_text=True)
    ok = client.get(START.url() + "&cell=iris%7CBCD%7Call&to=b")  # a good cell still goes in by redirect
    assert ok.status_code == 303 and location_state(ok).b == (CellRef("iris", "BCD", "all"),)


@pytest.mark.parametrize("query, message", [
    ("p.seed=9", "no cells for seed 9"),
    ("p.seed=x", "must be an integer"),
    ("p.world=nope", "nope"),
    ("a=iris|A|all&b=" + EVIL + "|A|<em>X", "compare cells of one metric"),
    ("a=nowhere|A|all&b=iris|A|all", "nowhere"),
])
def test_unknown_names_in_the_lab_query_are_bad_input_shown_inline(client, query, message):
    """p.seed, p.world and the cells are the page's own input: 400 with the message on the lab page."""
    r = client.get("/lab?" + query)
    assert r.status_code == 400
    assert escape(message).replace("&#x27;", "&#39;") in error_line(r)
    html = r.get_data(as_text=True)
    assert "Counterfactual lab" in html and 'id="pick-grid"' in html  # the picker falls back to a world
    assert "<img" not in html


def test_api_calls_unknown_names_bad_input_too(client):
    r = client.get("/api/lab?a=iris|AB|all&b=iris|AB|nowhere")
    assert r.status_code == 400 and "no evaluation slice" in r.get_json()["error"]


def test_totals_read_as_sentences(client):
    matched = client.get(LOO.with_params(pairing="matched", match="train+slice").url())
    assert "training set T on the same slice" in page_text(matched)
    poisoned = LabState(a=(CellRef("iris-poison", "*", "all"),), b=(CellRef("iris-poison", "*", "all"),),
                        params=(("add", "E"), ("pairing", "matched")))
    r = client.get(poisoned.url())
    assert r.status_code == 200 and "training set T + E on the same slice" in page_text(r)
    one = client.get(LabState(a=LOO.a, b=LOO.b[:1]).url())
    assert "1 × 1 = 1 pair on" in page_text(one)
    assert "1 × 4 = 4 pairs on" in page_text(client.get(LOO.url()))
    pick = client.get("/lab?p.world=iris").get_data(as_text=True)
    assert 'title="every cell of iris">every cell</button>' in pick


@pytest.mark.parametrize("query, message", [("a=bad", "world|train|slice"), ("p.tol=-1", "tolerance"),
                                            ("lens=evil", "unknown lens")])
def test_export_of_a_bad_state_is_a_json_error(client, query, message):
    r = client.get("/lab/state.json?" + query)
    assert r.status_code == 400 and r.mimetype == "application/json"
    body = r.get_json()
    assert body["status"] == 400 and message in body["error"] and "\n" not in body["error"]
    assert "Content-Disposition" not in r.headers
