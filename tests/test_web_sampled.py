"""The web pages of sampled worlds (Flask test client): estimates, convergence, stored training sets,
stored neighbourhoods, and the exhaustive world's sampled estimates beside its exact values.

Known values come from the store itself (the estimate and edge tables read with SQL), so each
test checks that a page shows what is stored, in the order and page asked for.
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from sqlalchemy import text

from cfgraph import values
from cfgraph.display import fixed
from cfgraph.store import catalog, estimates, open_store
from cfgraph.valuation import estimate
from cfgraph.web import create_app
from cfgraph.web import estimates as web_estimates
from cfgraph.world import World
from cfgraph.worlds import build_world, make_spec

#: A small sampled world: every training row of iris a unit (45 of them at test_size 0.7), naive Bayes.
POINTS = dict(dataset="iris", group_by="point", units=None, model="gnb", test_size=0.7, lattice="sampled")
#: A unit name a page must escape.
HOSTILE = "<script>window.__xss = 1</script>"


def build_sampled_db(iris_db, path):
    """Copy the session's iris database (toy + exhaustive iris) and add: a sampled world of points
    with a TMC and an MSR valuation, and three sampled valuations of the exhaustive iris world.
    The points world's unit 0 gets a hostile name."""
    shutil.copy(iris_db, path)
    store = open_store(path)
    build_world(store, "points", make_spec(**POINTS), progress=False)
    estimate(store, "points", "tmc", budget=150)
    # 150 training sets end no permutation of 16 in lockstep over 45 units: a second, longer TMC run
    # of 4 permutations at a time gives every unit a value (the page shows the latest run).
    estimate(store, "points", "tmc", budget=300, batch=4, seed=1)
    estimate(store, "points", "msr", budget=100)
    # On the exhaustive world (2^4 = 16 training sets) the budgets stay within the lattice.
    estimate(store, "iris", "loo")
    estimate(store, "iris", "msr", budget=14)
    estimate(store, "iris", "tmc", budget=14)
    with store.transaction() as session:
        session.execute(text("UPDATE unit SET name = :name WHERE idx = 0 AND world_id = "
                             "(SELECT id FROM world WHERE name = 'points')"), {"name": HOSTILE})
    store.close()
    return path


@pytest.fixture(scope="module")
def sampled_db(iris_db, tmp_path_factory):
    return build_sampled_db(iris_db, tmp_path_factory.mktemp("sampled") / "cfgraph.db")


@pytest.fixture
def app(sampled_db):
    app = create_app({"DATABASE_URL": str(sampled_db), "TESTING": True})
    yield app
    app.extensions["cfgraph.store"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(sampled_db):
    store = open_store(sampled_db, create=False)
    with store.session() as session:
        yield session
    store.close()


def stored(db, world: str, method: str, slice_name: str = "all") -> dict[str, dict]:
    """The latest valuation's estimates of one method on one slice, by unit label, read with SQL."""
    rows = db.execute(text(
        "SELECT u.label, e.value, e.stderr, e.n_samples, e.ci_low, e.ci_high FROM estimate e "
        "JOIN unit u ON u.id = e.unit_id JOIN eval_slice s ON s.id = e.slice_id "
        "WHERE e.valuation_id = (SELECT max(v.id) FROM valuation v JOIN world w ON w.id = v.world_id "
        "                        WHERE w.name = :w AND v.method = :m) AND s.name = :s"),
        {"w": world, "m": method, "s": slice_name}).all()
    return {r[0]: dict(zip(("value", "stderr", "n_samples", "ci_low", "ci_high"), r[1:])) for r in rows}


def page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    body = response.get_data(as_text=True)
    assert response.status_code == status, (url, body[:500])
    return body


def error_line(client, url: str) -> str:
    """A 400 answer's one-line message (JSON under /api/, HTML elsewhere); never a traceback."""
    response = client.get(url)
    assert response.status_code == 400, (url, response.status_code)
    body = response.get_data(as_text=True)
    assert "Traceback" not in body
    if url.startswith("/api/"):
        message = response.get_json()["error"]
    else:
        message = re.search(r'role="alert"[^>]*>(.*?)</p>', body, re.S).group(1)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------------------------------------- values


def test_sampled_values_page_shows_the_stored_estimates(client, db):
    body = page(client, "/world/points/values?method=shapley")
    truth = stored(db, "points", "shapley")
    assert len(truth) == 45
    data = client.get("/api/worlds/points/values?method=shapley").get_json()
    assert data["lattice"] == "sampled" and data["column"] == {"slice": "all", "metric": "accuracy", "seed": 0}
    assert {u["label"] for u in data["units"]} == set(truth)
    for u in data["units"]:
        want = truth[u["label"]]
        for key in ("value", "stderr", "n_samples", "ci_low", "ci_high"):
            assert u[key] == pytest.approx(want[key], abs=1e-12) if want[key] is not None else u[key] is None
        row = re.search(rf'<tr data-unit="{re.escape(u["label"])}".*?</tr>', body, re.S).group(0)
        assert f">{want['n_samples']}<" in row
        if want["value"] is None:  # a unit no sampled permutation reached yet: a blank, not a number
            assert '<td class="num value"></td>' in row and '<svg class="ibar"' not in row
            continue
        assert f">{fixed(want['value'])}<" in row
        assert f"[{fixed(want['ci_low'])}, {fixed(want['ci_high'])}]" in row
        assert '<svg class="ibar"' in row
    # Ranks follow the values, 1 for the highest; units without a value rank last.
    ranked = [u["value"] for u in sorted(data["units"], key=lambda u: u["rank"])]
    present = [v for v in ranked if v is not None]
    assert ranked == present + [None] * (len(ranked) - len(present)) and len(present) >= 10
    assert present == sorted(present, reverse=True)
    assert "2^45 training sets exist" in body


def test_valuations_table_lists_every_run_with_its_cost(client, db):
    body = page(client, "/world/points/values")
    runs = db.execute(text("SELECT v.method, v.evaluations, v.fits, v.reused, v.stopped_by FROM valuation v "
                           "JOIN world w ON w.id = v.world_id WHERE w.name = 'points' ORDER BY v.id DESC")).all()
    table = re.search(r'<table class="data small" id="valuations">.*?</table>', body, re.S).group(0)
    rows = re.findall(r"<tr(?: class=\"current\")?>\s*<td>(.*?)</td>.*?</tr>", table.split("<tbody>")[1], re.S)
    assert rows == [r.method for r in runs]
    for r in runs:
        assert f">{r.evaluations}<" in table and f">{r.fits}<" in table and r.stopped_by in table
    # Newest first: the page opens on the newest run's method (MSR: Banzhaf).
    assert re.search(r'<option selected>banzhaf</option>', body)


@pytest.mark.parametrize("sort, order", [("value", "desc"), ("value", "asc"), ("stderr", "desc"),
                                         ("stderr", "asc"), ("unit", "asc"), ("unit", "desc"), ("n_samples", "desc")])
def test_sorting_is_server_side(client, sort, order):
    body = page(client, f"/world/points/values?method=shapley&sort={sort}&order={order}")
    data = client.get(f"/api/worlds/points/values?method=shapley&sort={sort}&order={order}").get_json()
    labels = re.findall(r'<tr data-unit="([^"]+)"', body)
    assert labels == [u["label"] for u in data["units"]]
    if sort == "unit":
        names = [u["name"] for u in data["units"]]
        numbers = [int(re.sub(r"\D", "", n)) for n in names if n != HOSTILE]
        assert numbers == sorted(numbers, reverse=order == "desc")
    else:
        keys = [u[sort] for u in data["units"] if u[sort] is not None]
        assert keys == sorted(keys, reverse=order == "desc")
    assert f'id="sort-{sort}"' in body and ("▼" if order == "desc" else "▲") in body


def test_large_worlds_open_on_the_top_and_bottom_then_page_through_all(client, monkeypatch):
    # 45 units: shrink the thresholds so the same world is "large" (the logic, not the numbers).
    monkeypatch.setattr(web_estimates, "FOLDED_ABOVE", 20)
    monkeypatch.setattr(web_estimates, "EACH_END", 5)
    monkeypatch.setattr(web_estimates, "PER_PAGE", 10)
    full = client.get("/api/worlds/points/values?method=shapley&view=all&page=1").get_json()
    assert full["pages"] == 5 and len(full["units"]) == 10
    everything = []
    for p in range(1, 6):
        everything += client.get(f"/api/worlds/points/values?method=shapley&view=all&page={p}").get_json()["units"]
    assert len(everything) == 45 and len({u["label"] for u in everything}) == 45
    values_desc = [u["value"] for u in everything]
    assert values_desc == sorted(values_desc, reverse=True)
    body = page(client, "/world/points/values?method=shapley")
    labels = re.findall(r'<tr data-unit="([^"]+)"', body)
    assert labels == [u["label"] for u in everything[:5] + everything[-5:]]
    assert "… 35 more units …" in body and 'id="see-all"' in body
    second = page(client, "/world/points/values?method=shapley&view=all&page=2")
    assert re.findall(r'<tr data-unit="([^"]+)"', second) == [u["label"] for u in everything[10:20]]
    assert 'id="next-page"' in second and 'id="prev-page"' in second


@pytest.mark.parametrize("query, words", [
    ("method=magic", "no estimates of method"), ("sort=colour", "sort must be"), ("order=up", "order must be"),
    ("view=all&page=9", "out of range"), ("view=all&page=x", "must be a whole number"),
    ("slice=nowhere", "no estimates on slice"),
    ("seed=7", "no estimates for seed"), ("seed=abc", "whole number"), ("unit=nobody", "has no unit"),
    ("view=middle", "view must be"),
])
def test_bad_values_arguments_are_one_line_400s(client, query, words):
    for url in (f"/world/points/values?{query}", f"/api/worlds/points/values?{query}"):
        assert words in error_line(client, url)


def test_unit_names_are_escaped(client):
    for url in ("/world/points/values", "/world/points/values?sort=unit", "/world/points/training-sets?contains=r52",
                "/world/points/values?unit=" + "r" + "52"):
        body = page(client, url) if "contains" not in url else client.get(url).get_data(as_text=True)
        assert "<script>window.__xss" not in body
    body = page(client, "/world/points/values")
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in body
    hostile = client.get("/api/worlds/points").get_json()["units"][0]
    node_label = page(client, f"/world/points/values?unit={hostile['label']}")
    assert "<script>window.__xss" not in node_label


# ---------------------------------------------------------------------------------------------- convergence


def test_convergence_chart_draws_the_trace_with_its_band(client, db, sampled_db):
    data = client.get("/api/worlds/points/values?method=shapley").get_json()
    unit = data["units"][0]["label"]
    body = page(client, f"/world/points/values?method=shapley&unit={unit}")
    assert 'id="convergence-chart"' in body and '<polygon class="band"' in body
    store = open_store(sampled_db, create=False)
    with store.session() as session:
        trace = estimates.valuation_trace(session, data["valuation"]["id"])["trace"]
    with World.open(store, "points") as w:
        i = w.unit_index(unit)
    store.close()
    api = client.get(f"/api/worlds/points/convergence?method=shapley&unit={unit}").get_json()
    trace = [p for p in trace if p["value"][i] is not None]  # checkpoints before the unit's first sample
    assert api["evaluations"] == [p["evaluations"] for p in trace]
    assert api["value"] == pytest.approx([p["value"][i] for p in trace])
    for p, high in zip(trace, api["high"]):  # no band before the unit's second sample
        assert high is None if p["stderr"][i] is None else high == pytest.approx(p["value"][i] + 1.959963984540054
                                                                                 * p["stderr"][i])
    dots = re.findall(r'<circle cx="[\d.]+" cy="[\d.]+" r="2.5"', body)
    assert len(dots) == len(trace) >= 2
    svg = client.get(f"/world/points/values/convergence.svg?method=shapley&unit={unit}")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert "attachment" in svg.headers["Content-Disposition"]
    root = ET.fromstring(svg.get_data(as_text=True))  # a well-formed standalone SVG
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(root.findall(".//{http://www.w3.org/2000/svg}circle")) == len(trace)


def test_a_trace_of_one_point_is_an_honest_empty_state(client, sampled_db):
    store = open_store(sampled_db, create=False)
    with store.transaction() as session:
        record = catalog.get_world(session, "iris")
        vid = estimates.write_valuation(
            session, record, method="shapley", params={"sampler": "hand"}, sampler_seed=0, evaluations=3, fits=0,
            reused=3, seconds=0.0, stopped_by="by hand", trace=[{"evaluations": 3, "fits": 0, "value": [0.1] * 4,
                                                                  "stderr": [0.01] * 4}],
            rows=[{"unit_idx": i, "slice": "all", "metric": "accuracy", "seed": 0, "value": 0.1,
                   "stderr": 0.01, "n_samples": 3, "ci_low": 0.0, "ci_high": 0.2} for i in range(4)])
    try:
        body = page(client, "/world/iris/estimates?method=shapley&unit=A")
        assert 'id="no-trace"' in body and "1 checkpoint(s)" in body and "convergence-chart" not in body
        assert "at least 2" in error_line(client, "/world/iris/values/convergence.svg?method=shapley&unit=A")
    finally:
        with store.transaction() as session:
            session.execute(text("DELETE FROM valuation WHERE id = :v"), {"v": vid})
        store.close()


# ---------------------------------------------------------------------------------------------- training sets


def test_training_set_list_counts_pages_and_cells(client, db):
    total = db.execute(text("SELECT count(*) FROM node JOIN world w ON w.id = node.world_id "
                            "WHERE w.name = 'points'")).scalar()
    body = page(client, "/world/points/training-sets")
    assert (f"2^45 training sets exist; {total} stored; showing 1..50, in the order they were stored"
            in " ".join(body.split()))
    data = client.get("/api/worlds/points/training-sets").get_json()
    assert data["stored"] == data["matched"] == total and data["pages"] == -(-total // 50)
    assert len(data["rows"]) == 50
    cells = {label: (value, status) for label, value, status in db.execute(text(
        "SELECT n.label, c.value, c.status FROM cell c JOIN node n ON n.id = c.node_id "
        "JOIN eval_slice s ON s.id = c.slice_id "
        "JOIN world w ON w.id = n.world_id WHERE w.name = 'points' AND s.name = 'all'")).all()}
    for row in data["rows"]:
        assert row["value"] == pytest.approx(cells[row["label"]][0]) and row["status"] == cells[row["label"]][1]
        assert f'>{row["label"]}</a>' in body
    last = client.get(f"/api/worlds/points/training-sets?page={data['pages']}").get_json()
    assert last["last"] == total and len(last["rows"]) == total - 50 * (data["pages"] - 1)
    every = set()
    for p in range(1, data["pages"] + 1):
        every |= {r["label"] for r in client.get(f"/api/worlds/points/training-sets?page={p}").get_json()["rows"]}
    assert len(every) == total


def test_training_set_filters_by_unit_and_size(client, db):
    unit = db.execute(text("SELECT unit.label, unit.name, unit.idx FROM unit JOIN world w ON w.id = unit.world_id "
                           "WHERE w.name = 'points' AND unit.idx = 3")).one()
    want = db.execute(text(
        "SELECT count(*) FROM node JOIN world w ON w.id = node.world_id WHERE w.name = 'points' "
        "AND get_bit(node.members, 3) = 1 AND node.size BETWEEN 2 AND 10")).scalar()
    assert want > 0
    for contains in (unit.label, unit.name):
        data = client.get(f"/api/worlds/points/training-sets?contains={contains}&min_size=2&max_size=10").get_json()
        assert data["matched"] == want and data["filters"]["contains"] == unit.label
        for row in data["rows"]:
            assert 2 <= row["size"] <= 10
            members = client.get(f"/api/worlds/points/nodes/{row['label']}").get_json()
            assert members["members_total"] == row["size"]
    body = page(client, f"/world/points/training-sets?contains={unit.label}&min_size=2&max_size=10")
    assert f"{want} {'matches' if want == 1 else 'match'} the filters" in " ".join(body.split())


@pytest.mark.parametrize("query, words", [
    ("contains=nobody", "has no unit"), ("min_size=abc", "whole number"), ("max_size=1.5", "whole number"),
    ("min_size=46", "out of range"), ("min_size=5&max_size=2", "above max_size"), ("page=999", "out of range"),
    ("page=0", "out of range"), ("slice=nowhere", "no evaluation slice"),
])
def test_bad_training_set_filters_are_one_line_400s(client, query, words):
    for url in (f"/world/points/training-sets?{query}", f"/api/worlds/points/training-sets?{query}"):
        if words == "no evaluation slice":  # an unknown name is a 404, as everywhere
            assert client.get(url).status_code == 404
            continue
        assert words in error_line(client, url)


# ---------------------------------------------------------------------------------------------- nodes and graph


def test_node_page_shows_members_cells_and_stored_neighbours(client, db):
    # The stored training set with the most stored neighbours.
    label, node_id = db.execute(text(
        "SELECT n.label, n.id FROM node n JOIN world w ON w.id = n.world_id JOIN edge e "
        "ON e.src_node_id = n.id OR e.dst_node_id = n.id WHERE w.name = 'points' "
        "GROUP BY n.id ORDER BY count(*) DESC, n.id LIMIT 1")).one()
    up = db.execute(text("SELECT d.label FROM edge e JOIN node d ON d.id = e.dst_node_id WHERE e.src_node_id = :n"),
                    {"n": node_id}).scalars().all()
    down = db.execute(text("SELECT s.label FROM edge e JOIN node s ON s.id = e.src_node_id "
                           "WHERE e.dst_node_id = :n"), {"n": node_id}).scalars().all()
    body = page(client, f"/world/points/node/{label}")
    linked = re.findall(r'<a class="neighbour" href="[^"]+">([^<]+)</a>', body)
    assert sorted(linked) == sorted(up + down) and len(linked) > 0
    data = client.get(f"/api/worlds/points/nodes/{label}/neighbours").get_json()
    mine = client.get(f"/api/worlds/points/nodes/{label}").get_json()
    delta = db.execute(text("SELECT delta FROM marginal WHERE world = 'points' AND eval_slice = 'all' AND "
                            "train_set = :s AND with_unit = :t"), {"s": label, "t": (up or [None])[0]}).scalar()
    for nb in data["neighbours"]:
        if up and nb["train_set"] == up[0]:
            assert nb["deltas"][0] == pytest.approx(delta)
        assert nb["deltas"][0] == pytest.approx(nb["scores"][0] - mine["scores"]["all"])
    for nb in up + down:  # walking to a stored neighbour opens its page
        assert client.get(f"/world/points/node/{nb}").status_code == 200


def test_big_member_lists_are_cut_with_a_link_to_all(client, db, monkeypatch):
    from cfgraph.web import training_set

    monkeypatch.setattr(training_set, "MEMBERS_SHOWN", 5)
    label = db.execute(text("SELECT n.label FROM node n JOIN world w ON w.id = n.world_id WHERE w.name = 'points' "
                            "AND n.size = 45")).scalar()
    body = page(client, f"/world/points/node/{label}")
    assert "45 units; the first 5 are listed" in body and 'id="all-members"' in body
    assert body.count('<span class="chip"') == 5
    assert page(client, f"/world/points/node/{label}?members=all").count('<span class="chip"') == 45
    assert "stores no training set" in client.get("/world/points/node/tnope").get_data(as_text=True)
    assert client.get("/world/points/node/tnope").status_code == 404


def test_graph_of_a_sampled_world_draws_the_stored_neighbourhood(client, db):
    total = db.execute(text("SELECT count(*) FROM node JOIN world w ON w.id = node.world_id "
                            "WHERE w.name = 'points'")).scalar()
    body = page(client, "/world/points/graph")
    data = client.get("/api/worlds/points/graph").get_json()
    shown = 1 + len(data["up"]) + len(data["down"])
    assert f"2^45 training sets exist, {total} stored, showing {shown}" in " ".join(body.split())
    assert shown > 1 and len(data["up"]) <= 12 and len(data["down"]) <= 12
    drawn = re.findall(r'<a class="node-link" href="([^"]+)" data-label="([^"]+)"', body)
    assert len(drawn) == shown
    href = next(h for h, lab in drawn if lab == data["up"][0]["label"]).replace("&amp;", "&")
    walked = page(client, href)
    assert f'<strong id="node-label">{data["up"][0]["label"]}</strong>' in walked


def test_exhaustive_only_pages_on_a_sampled_world_are_clear(client):
    for url in ("/world/points/grid", "/world/points/variants"):
        body = page(client, url)
        assert 'id="sampled-only"' in body and 'id="to-values"' in body and 'id="to-training-sets"' in body
    for url in ("/api/worlds/points/grid", "/api/worlds/points/questions", "/api/worlds/points/scaling",
                "/api/worlds/points/path", "/world/points/grid/panel", "/api/worlds/points/variants"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "sampled" in response.get_data(as_text=True) and "Traceback" not in response.get_data(as_text=True)


def test_home_and_world_bar_show_the_lattice_and_stored_sets(client, db):
    total = db.execute(text("SELECT count(*) FROM node JOIN world w ON w.id = node.world_id "
                            "WHERE w.name = 'points'")).scalar()
    body = page(client, "/")
    row = re.search(r'<tr class="sampled">.*?</tr>', body, re.S).group(0)
    assert ">points<" in row and 'class="chip lattice"' in row and ">sampled</span>" in row and f"{total} / 2^45" in row
    assert "/world/points/values" in row and "/world/points/training-sets" in row
    listed = {w["name"]: w for w in client.get("/api/worlds").get_json()["worlds"]}
    assert listed["points"]["lattice"] == "sampled" and listed["points"]["training_sets"] == total
    bar = re.search(r'<p class="world-bar".*?</p>', page(client, "/world/points/training-sets"), re.S).group(0)
    assert "sampled lattice" in bar and f"{total} of 2^45 training sets stored" in bar
    bar = re.search(r'<p class="world-bar".*?</p>', page(client, "/world/iris/grid"), re.S).group(0)
    assert "exhaustive lattice" in bar and "all 16 training sets" in bar


# ---------------------------------------------------------------------------------------------- exhaustive


def test_exhaustive_values_page_lists_sampled_estimates_beside_the_exact_values(client, db, sampled_db):
    body = page(client, "/world/iris/values")
    section = re.search(r'<section id="sampled-estimates">.*?</section>', body, re.S).group(0)
    store = open_store(sampled_db, create=False)
    with World.open(store, "iris") as w:
        column = w.table().column("all")
    store.close()
    exact = {"loo": values.leave_one_out(column), "shapley": values.shapley(column), "banzhaf": values.banzhaf(column)}
    data = client.get("/api/worlds/iris/values").get_json()["sampled"]
    assert {m["method"] for m in data} == {"loo", "shapley", "banzhaf"}
    for m in data:
        truth = stored(db, "iris", m["method"])
        assert m["column"]["slice"] == "all"
        table = re.search(rf'<table class="data small sampled-vs-exact" data-method="{m["method"]}">.*?</table>',
                          section, re.S).group(0)
        for r in m["rows"]:
            assert r["exact"] == pytest.approx(exact[m["method"]][r["idx"]], abs=1e-12)
            assert r["value"] == pytest.approx(truth[r["label"]]["value"], abs=1e-12)
            assert f"<td>{r['label']}</td><td class=\"num\">{fixed(r['exact'])}</td>" in table
    loo = next(m for m in data if m["method"] == "loo")
    assert all(r["covered"] for r in loo["rows"])  # exact LOO: the degenerate interval is the value
    np.testing.assert_allclose([r["value"] for r in loo["rows"]], exact["loo"], atol=1e-12)
    estimates_page = page(client, "/world/iris/estimates?method=banzhaf")
    assert "Sampled estimates: iris" in estimates_page and "exact values</a>" in estimates_page


def test_a_sampled_world_before_any_valuation(store, tmp_path):
    build_world(store, "fresh", make_spec(**POINTS), progress=False)
    app = create_app({"DATABASE_URL": str(tmp_path / "cfgraph.db"), "TESTING": True})
    client = app.test_client()
    try:
        body = page(client, "/world/fresh/values")
        assert 'id="no-estimates"' in body and 'estimate(store, "fresh", "tmc", budget=1000)' in body
        assert client.get("/api/worlds/fresh/values").get_json()["units"] == []
        listed = page(client, "/world/fresh/training-sets")
        assert "2^45 training sets exist; 0 stored; showing none." in " ".join(listed.split())
        graph = client.get("/world/fresh/graph")
        assert graph.status_code == 404 and "stores no training set yet" in graph.get_data(as_text=True)
        assert page(client, "/").count('class="sampled"') == 1
    finally:
        app.extensions["cfgraph.store"].close()



def test_units_without_an_estimate_are_blank_and_counted(store, tmp_path):
    build_world(store, "short", make_spec(**POINTS), progress=False)
    estimate(store, "short", "tmc", budget=150)  # may stop before every unit has a sample
    with store.session() as session:
        blank = session.execute(text(
            "SELECT count(*) FROM estimate e JOIN eval_slice s ON s.id = e.slice_id "
            "WHERE s.name = 'all' AND e.value IS NULL")).scalar()
    app = create_app({"DATABASE_URL": str(tmp_path / "cfgraph.db"), "TESTING": True})
    try:
        body = app.test_client().get("/world/short/values").get_data(as_text=True)
    finally:
        app.extensions["cfgraph.store"].close()
    assert body.count('<td class="num value"></td>') == blank
    note = " ".join(body.split())
    assert (f"{blank} of 45 units have no estimate on this column yet" in note) == (blank > 0)


# ---------------------------------------------------------------------------------------------- probe fixes


def test_statuses_of_stored_training_sets_are_the_stored_ones(client, db):
    # The empty set is stored as ``baseline``, one-class sets as ``constant``: a page must not call them ``ok``.
    rows = db.execute(text(
        "SELECT n.label, s.name, c.status FROM cell c JOIN node n ON n.id = c.node_id "
        "JOIN eval_slice s ON s.id = c.slice_id JOIN world w ON w.id = n.world_id "
        "WHERE w.name = 'points' AND n.size <= 1")).all()
    truth = {(label, s): status for label, s, status in rows}
    assert {"baseline", "constant"} <= set(truth.values())
    listed = client.get("/api/worlds/points/training-sets?max_size=1").get_json()["rows"]
    assert listed and all(r["status"] == truth[r["label"], "all"] for r in listed)
    body = page(client, "/world/points/training-sets?max_size=1")
    assert "<td>baseline</td>" in body and "<td>constant</td>" in body
    for label in {label for label, _ in truth}:
        statuses = client.get(f"/api/worlds/points/nodes/{label}").get_json()["status"]
        assert statuses == {s: truth[label, s] for s in statuses}
        assert f"<td>{truth[label, 'all']}</td>" in page(client, f"/world/points/node/{label}")


def test_convergence_caption_names_the_target_column_the_trace_follows(client, db):
    slices = [s for s in client.get("/api/worlds/points/values?method=shapley").get_json()["columns"]
              if s["slice"] != "all"]
    other = slices[0]["slice"]
    unit = client.get("/api/worlds/points/values?method=shapley").get_json()["units"][0]["label"]
    vid = db.execute(text("SELECT max(v.id) FROM valuation v JOIN world w ON w.id = v.world_id "
                          "WHERE w.name = 'points' AND v.method = 'shapley'")).scalar()
    want = f"points · unit {unit} · shapley · valuation {vid} · slice all (the target) · accuracy · seed 0"
    body = page(client, f"/world/points/values?method=shapley&slice={other}&unit={unit}")
    assert f'<p class="caption" id="convergence-caption"><strong>{want}</strong>' in body
    assert f"Estimates on slice {other}" in body  # the table shows another slice than the chart
    svg = client.get(f"/world/points/values/convergence.svg?method=shapley&slice={other}&unit={unit}")
    root = ET.fromstring(svg.get_data(as_text=True))
    ns = "{http://www.w3.org/2000/svg}"
    assert want in root.find(f"{ns}title").text and root.find(f"{ns}text").text == want
    api = client.get(f"/api/worlds/points/convergence?method=shapley&slice={other}&unit={unit}").get_json()
    assert api["target"] == {"slice": "all", "metric": "accuracy", "seed": 0} and api["caption"] == want


def test_a_valuation_that_evaluated_the_whole_lattice_says_so(client, sampled_db):
    store = open_store(sampled_db, create=False)
    with store.transaction() as session:
        record = catalog.get_world(session, "iris")
        vid = estimates.write_valuation(
            session, record, method="shapley", params={"sampler": "hand"}, sampler_seed=0, evaluations=16, fits=0,
            reused=16, seconds=0.0, stopped_by="every one of the 2^4 training sets evaluated",
            trace=[{"evaluations": 16, "fits": 0, "value": [0.1] * 4, "stderr": [0.01] * 4}],
            rows=[{"unit_idx": i, "slice": "all", "metric": "accuracy", "seed": 0, "value": 0.1,
                   "stderr": 0.01, "n_samples": 16, "ci_low": 0.0, "ci_high": 0.2} for i in range(4)])
    try:
        body = " ".join(page(client, "/world/iris/estimates?method=shapley&unit=A").split())
        note = re.search(r'id="no-trace">(.*?)</p>', body).group(1)
        assert "evaluated every training set of the lattice" in note and "no larger budget" in note
        assert "Run a longer valuation" not in note and 'id="to-exact"' in note
    finally:
        with store.transaction() as session:
            session.execute(text("DELETE FROM valuation WHERE id = :v"), {"v": vid})
        store.close()


def test_beta_shapley_parameters_are_bounded_and_printed_short(client):
    for url in ("/world/iris/values?alpha=1e308&beta=1", "/api/worlds/iris/values?beta=1e7"):
        message = error_line(client, url)
        assert "(0, 1e6]" in message and len(message) < 120
    body = page(client, "/world/iris/values?alpha=1e6&beta=0.5")
    assert "α=1e+06, β=0.5" in body and "1000000.00" not in body


def test_every_table_of_the_exact_values_page_scrolls_in_its_wrapper(client):
    body = page(client, "/world/iris/values")
    tables = body.count("<table")
    assert tables >= 5  # scaling, values, three sampled-vs-exact, the unit legend
    assert len(re.findall(r'<div class="table-wrap[^"]*">\s*<table', body)) == tables


def test_long_bad_labels_are_cut_with_an_ellipsis_and_huge_sizes_are_too_large(client):
    message = error_line(client, "/world/points/training-sets?contains=" + "a" * 200)
    assert message.endswith("…&#39;") and len(message) < 120
    assert "too large" in error_line(client, "/world/points/training-sets?max_size=99999999999999999999999")
    assert "too small" in error_line(client, "/api/worlds/points/training-sets?min_size=-99999999999999")
    assert "would need all of them" in client.get("/api/worlds/points/variants").get_data(as_text=True)
    css = client.get("/static/cfgraph.css")
    assert ".error, .note { overflow-wrap: anywhere; }" in css.get_data(as_text=True)
    css.close()


def test_sort_state_is_on_the_column_head(client):
    body = page(client, "/world/points/values?sort=stderr&order=asc")
    assert re.search(r'<th class="num" id="head-stderr" aria-sort="ascending"><a class="sort on"', body)
    assert body.count("aria-sort") == 1 and not re.search(r"<a [^>]*aria-sort", body)


def test_a_page_number_opens_the_paged_list(client, monkeypatch):
    monkeypatch.setattr(web_estimates, "FOLDED_ABOVE", 20)
    monkeypatch.setattr(web_estimates, "EACH_END", 5)
    monkeypatch.setattr(web_estimates, "PER_PAGE", 10)
    paged = client.get("/api/worlds/points/values?method=shapley&page=2").get_json()
    full = client.get("/api/worlds/points/values?method=shapley&view=all&page=2").get_json()
    assert paged["view"] == "all" and paged["units"] == full["units"] and len(paged["units"]) == 10
    assert "no pages" in error_line(client, "/world/points/values?method=shapley&view=ends&page=2")


def test_a_capped_lattice_drawing_points_to_every_stored_neighbour(client, monkeypatch):
    from cfgraph.web import stored_graph

    monkeypatch.setattr(stored_graph, "SHOWN_EACH_WAY", 1)
    data = client.get("/api/worlds/points/graph").get_json()
    assert data["up_count"] > 1 or data["down_count"] > 1
    body = " ".join(page(client, "/world/points/graph").split())
    note = re.search(r'id="capped">(.*?)</p>', body).group(1)
    count = data["up_count"] if data["up_count"] > 1 else data["down_count"]
    assert f"1 of its {count} stored" in note and "all of them are on the training-set page" in note
    assert f'/world/points/node/{data["node"]["label"]}#neighbours' in note


def test_sql_blobs_are_hex_on_the_page_and_in_both_downloads(client, db):
    members = db.execute(text("SELECT members FROM node ORDER BY id LIMIT 1")).scalar()
    query = "SELECT members FROM node ORDER BY id LIMIT 1"
    body = page(client, "/sql?q=" + query)
    assert f"<td>{members.hex()}</td>" in body and "b&#39;" not in body
    csv_text = client.get("/sql.csv?q=" + query).get_data(as_text=True)
    assert csv_text.splitlines()[1] == members.hex()
    assert client.get("/sql.json?q=" + query).get_json()["rows"] == [[members.hex()]]
    assert 'class="table-wrap sql-results"' in body and "grid-wrap" not in body
    from cfgraph.web.sql_page import EXAMPLES

    for title, text_ in EXAMPLES:  # every example runs, the estimate and get_bit ones among them
        assert client.get("/sql.json", query_string={"q": text_}).status_code == 200, title
    assert any("estimate" in q for _, q in EXAMPLES) and any("get_bit" in q for _, q in EXAMPLES)
