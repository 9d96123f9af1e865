"""The web pages of the methods beyond sampling (KNN-Shapley, Data-OOB, least core, datamodels) beside the
samplers: what each page says a value is, which cells are exact, which units have a convergence chart,
and what the exhaustive values page compares (Flask test client).

Known values come from the store (valuation traces, estimates) and from cfgraph.values on the lattice.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from cfgraph import values
from cfgraph.display import fixed
from cfgraph.methods import METHODS, slice_facts
from cfgraph.methods import value as run_method
from cfgraph.store import catalog, estimates, open_store
from cfgraph.valuation import estimate
from cfgraph.web import create_app
from cfgraph.world import World
from cfgraph.worlds import build_world, make_spec

#: A sampled world of iris points (45 units at test_size 0.7), naive Bayes.
POINTS = dict(dataset="iris", group_by="point", units=None, model="gnb", test_size=0.7, lattice="sampled")


@pytest.fixture(scope="module")
def methods_db(iris_db, tmp_path_factory):
    """The session's iris database (toy + exhaustive iris) plus: a sampled points world valued by TMC and the
    four methods, and the exhaustive iris world valued by a permutation sampler, the least core and a datamodel."""
    path = tmp_path_factory.mktemp("methods") / "cfgraph.db"
    shutil.copy(iris_db, path)
    store = open_store(path)
    build_world(store, "points", make_spec(**POINTS), progress=False)
    estimate(store, "points", "tmc", budget=150)
    for method, params in (("knn-shapley", {}), ("data-oob", {"bags": 10}), ("least-core", {}), ("datamodel", {})):
        run_method(store, "points", method, progress=False, **params)
    estimate(store, "iris", "permutation", budget=16)
    run_method(store, "iris", "least-core", progress=False)
    run_method(store, "iris", "datamodel", progress=False)
    store.close()
    return path


@pytest.fixture
def app(methods_db):
    app = create_app({"DATABASE_URL": str(methods_db), "TESTING": True})
    yield app
    app.extensions["cfgraph.store"].close()


@pytest.fixture
def client(app):
    return app.test_client()


def page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    body = response.get_data(as_text=True)
    assert response.status_code == status, (url, body[:500])
    return " ".join(body.split())


def alert(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 400, (url, response.status_code)
    body = response.get_data(as_text=True)
    if url.startswith("/api/"):
        return response.get_json()["error"]
    return re.search(r'role="alert"[^>]*>(.*?)</p>', body, re.S).group(1)


def trace_of(methods_db, world: str, method: str) -> list:
    store = open_store(methods_db, create=False)
    with World.open(store, world) as w:
        vid = w.estimate_table(method)["valuation"]["id"]
        trace = estimates.valuation_trace(w.session, vid)["trace"]
    store.close()
    return trace


def estimates_table(body: str) -> str:
    return re.search(r'<table class="data small" id="estimates">.*?</table>', body).group(0)


# ---------------------------------------------------------------------------------------------- 1. flat units


def test_units_whose_samples_were_all_equal_are_counted_and_tmc_truncation_named(client):
    data = client.get("/api/worlds/points/estimates?method=shapley&view=all").get_json()
    rows = [r for p in range(1, data["pages"] + 1)
            for r in client.get(f"/api/worlds/points/estimates?method=shapley&view=all&page={p}").get_json()["units"]]
    flat = sum(1 for r in rows if r["stderr"] == 0 and r["n_samples"] >= 2)
    assert flat > 0  # TMC with its default truncation leaves late units at [0, 0]
    body = page(client, "/world/points/values?method=shapley")
    note = re.search(r'id="flat-units">(.*?)</p>', body).group(1)
    assert note.startswith(f"{flat} unit") and "TMC truncation" in note and "--truncation 0" in note
    # KNN-Shapley's stderr is 0 too, but its values are exact: no such note.
    assert 'id="flat-units"' not in page(client, "/world/points/values?method=knn-shapley")


# ---------------------------------------------------------------------------------------------- 2. wording


def test_each_method_says_where_its_values_come_from(client, methods_db):
    intro = {m: re.search(r'id="values-intro">(.*?)</p>', page(client, f"/world/points/values?method={m}")).group(1)
             for m in ("shapley", "knn-shapley", "least-core", "datamodel", "data-oob")}
    assert "an estimate from the" in intro["shapley"] and "tmc sampler" in intro["shapley"]
    for m in ("knn-shapley", "least-core", "datamodel", "data-oob"):
        assert "estimate from the" not in intro[m] and "sampler fitted" not in intro[m], m
    assert "exact (closed form)" in intro["knn-shapley"]
    core = slice_facts(trace_of(methods_db, "points", "least-core"), "all")
    assert f"linear program on {core['constraints']} stored training sets" in intro["least-core"]
    fit = slice_facts(trace_of(methods_db, "points", "datamodel"), "all")
    assert f"surrogate (alpha = 1.0) fitted on {fit['n_train']} stored training sets" in intro["datamodel"]
    assert "out-of-bag scores over 10 bags" in intro["data-oob"]
    # On an exhaustive world the estimates page of an exact least core is not "sampled estimates".
    exact_core = page(client, "/world/iris/estimates?method=least-core")
    assert "Sampled estimates" not in exact_core and "<h1>Stored values: iris</h1>" in exact_core
    assert "all 16 training sets of the lattice" in exact_core
    assert "<h1>Sampled estimates: iris</h1>" in page(client, "/world/iris/estimates?method=shapley")


def test_every_method_has_a_description_line_with_its_paper(client):
    about = re.search(r'id="method-about">(.*?)</p>', page(client, "/world/points/values?method=shapley")).group(1)
    assert "Shapley value estimated by tmc: truncated Monte Carlo (Ghorbani &amp; Zou 2019)" in about
    about = re.search(r'id="method-about">(.*?)</p>', page(client, "/world/iris/estimates?method=shapley")).group(1)
    assert "estimated by permutation" in about and "Mitchell et al. 2022" in about


# ---------------------------------------------------------------------------------------------- 3. exact cells


def test_exact_methods_show_exact_not_a_zero_width_interval(client):
    table = estimates_table(page(client, "/world/points/values?method=knn-shapley&view=all"))
    assert '<td class="num exact">exact</td>' in table
    assert not re.search(r"\[-?[\d.]+, -?[\d.]+\]", table) and "0.0000</td><td class=\"num\">" not in table
    sampled = estimates_table(page(client, "/world/points/values?method=shapley&view=all"))
    assert re.search(r"\[-?[\d.]+, -?[\d.]+\]", sampled) and "num exact" not in sampled


def test_the_samples_column_says_what_it_counts_per_method(client):
    meaning = {}
    for m in ("shapley", "knn-shapley", "data-oob", "least-core", "datamodel"):
        body = page(client, f"/world/points/values?method={m}")
        meaning[m] = re.search(r'id="samples-means">samples: (.*?)</caption>', body).group(1)
        assert f'id="sort-n_samples" title="{meaning[m].rstrip(".").split(";")[0]}' in body
    assert "permutations" in meaning["shapley"] and "test rows" in meaning["knn-shapley"]
    assert "bags" in meaning["data-oob"] and "stored training sets" in meaning["least-core"]
    assert len(set(meaning.values())) == 5


# ---------------------------------------------------------------------------------------------- 4. convergence


@pytest.mark.parametrize("method", ["knn-shapley", "least-core", "datamodel", "data-oob"])
def test_methods_without_checkpoints_offer_no_convergence(client, method):
    body = page(client, f"/world/points/values?method={method}")
    assert "#convergence" not in body and "Click a unit for its convergence chart" not in body
    assert ". Click a column head to sort." in body
    unit = client.get(f"/api/worlds/points/estimates?method={method}").get_json()["units"][0]["label"]
    note = re.search(r'id="no-trace">(.*?)</p>', page(client, f"/world/points/values?method={method}&unit={unit}"))
    assert note and f"{method} has no convergence trace" in note.group(1) and "longer valuation" not in note.group(1)
    assert "no convergence trace" in alert(client, f"/world/points/values/convergence.svg?method={method}&unit={unit}")
    api = client.get(f"/api/worlds/points/convergence?method={method}&unit={unit}").get_json()
    assert api["points"] == 0 and "no convergence trace" in api["untraced"]
    iris = page(client, "/world/iris/values")
    section = re.search(r'<section id="sampled-estimates">.*?</section>', iris).group(0)
    assert section.count("details and convergence") == 1  # the permutation sampler's only


def test_a_short_trace_says_so_with_a_space_before_close(client, methods_db):
    store = open_store(methods_db, create=False)
    with store.transaction() as session:
        record = catalog.get_world(session, "iris")
        vid = estimates.write_valuation(
            session, record, method="banzhaf", params={"sampler": "hand"}, sampler_seed=0, evaluations=3, fits=0,
            reused=3, seconds=0.0, stopped_by="by hand", trace=[{"evaluations": 3, "fits": 0, "value": [0.1] * 4,
                                                                  "stderr": [0.01] * 4}],
            rows=[{"unit_idx": i, "slice": "all", "metric": "accuracy", "seed": 0, "value": 0.1,
                   "stderr": 0.01, "n_samples": 3, "ci_low": 0.0, "ci_high": 0.2} for i in range(4)])
    try:
        raw = client.get("/world/iris/estimates?method=banzhaf&unit=A").get_data(as_text=True)
        assert "to see one. <a" in raw and "one.<a" not in raw
    finally:
        from sqlalchemy import text

        with store.transaction() as session:
            session.execute(text("DELETE FROM valuation WHERE id = :v"), {"v": vid})
        store.close()


def test_the_chart_caption_is_printed_once_and_the_band_stays_inside_the_frame(client):
    data = client.get("/api/worlds/points/estimates?method=shapley").get_json()
    unit = data["units"][0]["label"]
    body = client.get(f"/world/points/values?method=shapley&unit={unit}").get_data(as_text=True)
    caption = re.search(r'id="convergence-caption"><strong>(.*?)</strong>', body).group(1)
    svg = re.search(r'<svg[^>]*id="convergence-chart".*?</svg>', body, re.S).group(0)
    assert '<text class="caption"' not in svg and body.count(f">{caption}<") == 1
    band = re.search(r'<polygon class="band" points="([^"]+)"', svg).group(1)
    top = min(float(p.split(",")[1]) for p in band.split())
    frame_top = float(re.search(r'<line x1="[\d.]+" x2="[\d.]+" y1="([\d.]+)" y2="[\d.]+" stroke="#5b6775">',
                                svg).group(1))
    assert top > frame_top  # a margin above the widest band edge
    standalone = client.get(f"/world/points/values/convergence.svg?method=shapley&unit={unit}")
    assert standalone.get_data(as_text=True).count('<text class="caption"') == 1


# ---------------------------------------------------------------------------------------------- 5. beside exact


def test_the_exact_least_core_is_its_own_exact_column(client, methods_db):
    data = {m["method"]: m for m in client.get("/api/worlds/iris/values").get_json()["sampled"]}
    core = data["least-core"]
    assert core["exact"] is True and core["exact_label"] == "least core (exact)"
    assert all(r["exact"] == r["value"] is not None for r in core["rows"])
    body = page(client, "/world/iris/values")
    table = re.search(r'<table class="data small sampled-vs-exact" data-method="least-core">.*?</table>',
                      body).group(0)
    assert "<th class=\"num\">least core (exact)</th>" in table and "covers exact" not in table
    for r in core["rows"]:
        assert f"<td>{r['label']}</td><td class=\"num\">{fixed(r['value'])}</td>" in table
    assert "no other least core to compare" in body


def test_the_datamodel_comparison_names_both_fits_and_its_lds(client, methods_db):
    store = open_store(methods_db, create=False)
    with World.open(store, "iris") as w:
        least_squares = values.datamodel(w.table().column("all"))[0]
    store.close()
    fit = slice_facts(trace_of(methods_db, "iris", "datamodel"), "all")
    data = {m["method"]: m for m in client.get("/api/worlds/iris/values").get_json()["sampled"]}["datamodel"]
    assert data["exact_label"] == "least squares on all cells"
    assert data["estimate_label"] == f"ridge (alpha 1) on {fit['n_train']} training sets"
    np.testing.assert_allclose([r["exact"] for r in data["rows"]], least_squares, atol=1e-12)
    body = page(client, "/world/iris/values")
    notes = " ".join(re.findall(r'<p class="note beside-note" data-method="datamodel">(.*?)</p>', body))
    assert f"on {fit['n_heldout']} held-out training sets" in notes and f"{fit['lds']:.3f}" in notes
    assert fit["n_heldout"] < 10 and f"only {fit['n_heldout']} held-out" in notes


# ---------------------------------------------------------------------------------------------- 6. method switch


def test_switching_to_a_method_without_the_slice_falls_back_with_a_note(client):
    other = next(c["slice"] for c in client.get("/api/worlds/points/estimates?method=shapley").get_json()["columns"]
                 if c["slice"] != "all")
    body = page(client, f"/world/points/values?method=data-oob&slice={other}&metric=accuracy&seed=0")
    note = re.search(r'id="column-fallback">(.*?)</p>', body).group(1)
    assert "data-oob has no estimates on slice" in note and "slice all" in note
    assert "Estimates on slice all · oob_accuracy" in body
    api = client.get(f"/api/worlds/points/estimates?method=data-oob&slice={other}").get_json()
    assert api["column"]["slice"] == "all" and api["fallback"]
    assert "no estimates on slice" in alert(client, "/world/points/values?method=data-oob&slice=nowhere")
    assert "no estimates on slice" in alert(client, "/world/points/values?method=shapley&slice=nowhere")


# ---------------------------------------------------------------------------------------------- 7. order, axis


def test_the_shown_note_names_the_actual_order_and_the_bar_axis_stays(client, app, monkeypatch):
    from cfgraph.web import estimates as web_estimates

    monkeypatch.setattr(web_estimates, "FOLDED_ABOVE", 10)
    monkeypatch.setattr(web_estimates, "EACH_END", 3)
    by_value = page(client, "/world/points/values?method=shapley")
    by_stderr = page(client, "/world/points/values?method=shapley&sort=stderr&order=asc")
    assert "(by value, highest first); " in by_value and "</a>. Click a unit" in by_value
    note = re.search(r'id="shown-note">(.*?)</p>', by_stderr).group(1)
    assert "(by standard error, smallest first)" in note and "by value" not in note
    axis = [re.search(r'<th class="bar"><span class="more">(.*?)</span>', b).group(1) for b in (by_value, by_stderr)]
    assert axis[0] == axis[1]

    def bars(body):
        return dict(re.findall(r'<tr data-unit="([^"]+)".*?<td class="bar">(<svg.*?</svg>)', body))

    first, second = bars(by_value), bars(by_stderr)
    shared = set(first) & set(second)
    for label in shared:
        assert first[label] == second[label], label


# ---------------------------------------------------------------------------------------------- 8. valuations table


def test_valuations_table_says_result_and_names_the_seed_once(client):
    body = page(client, "/world/points/values?method=data-oob")
    assert "stopped by / result</th>" in body
    row = re.search(r"<tr[^>]*> ?<td>data-oob</td>(.*?)</tr>", body).group(1)
    assert "bags=10, seed=0" in row and row.count("seed") == 1
    row = re.search(r"<tr[^>]*> ?<td>shapley</td>(.*?)</tr>", body).group(1)
    assert row.count("seed") == 1 and "seed=0" in row


# ---------------------------------------------------------------------------------------------- 9. JSON


def test_estimates_json_carries_facts_exactness_and_about(client, methods_db):
    for method in ("least-core", "datamodel"):
        data = client.get(f"/api/worlds/points/estimates?method={method}").get_json()
        assert data["facts"] == slice_facts(trace_of(methods_db, "points", method), "all")
        assert data["exact"] is False and data["about"] == METHODS[method]
    core = client.get("/api/worlds/iris/estimates?method=least-core").get_json()
    assert core["exact"] is True and core["facts"]["exact"] is True and core["facts"]["subsidy"] is not None
    knn = client.get("/api/worlds/points/estimates?method=knn-shapley").get_json()
    assert knn["exact"] is True and knn["about"] == METHODS["knn-shapley"]
    tmc = client.get("/api/worlds/points/estimates?method=shapley").get_json()
    assert tmc["exact"] is False and tmc["facts"] is None and "Ghorbani" in tmc["about"]


# ---------------------------------------------------------------------------------------------- 10. KNN note


def test_knn_shapley_says_it_values_a_nearest_neighbour_utility_not_the_model(client):
    body = page(client, "/world/points/values?method=knn-shapley")
    caveat = re.search(r'<p class="note caveat">(.*?)</p>', body).group(1)
    assert "K-nearest-neighbour utility" in caveat and "Jia et al. 2019" in caveat and "K = 5" in caveat
    assert "not the world&#39;s own model (gnb)" in caveat
    assert 'class="note caveat"' not in page(client, "/world/points/values?method=shapley")


# ---------------------------------------------------------------------------------------------- 11. glossary


def test_glossary_has_the_new_methods_and_an_up_to_date_least_core(client):
    body = page(client, "/glossary")
    for slug in ("knn-shapley", "data-oob", "linear-datamodeling-score-lds", "datamodel"):
        assert f'<dt id="{slug}">' in body, slug
    core = re.search(r'<dt id="least-core">.*?<dd>(.*?)</dd>', body).group(1)
    assert "whole lattice" not in core and "exact on an exhaustive world" in core and "sampled constraints" in core


# ---------------------------------------------------------------------------------------------- 12. small


def test_small_wording(client):
    assert alert(client, "/world/points/values?page=abc").startswith("page must be a whole number")
    assert "out of range" in alert(client, "/world/points/values?page=999")
    counts = re.search(r'id="counts">(.*?)</p>', page(client, "/world/points/training-sets")).group(1)
    assert "Data-OOB" in counts and "least core" in counts
    one = re.search(r'id="counts">(.*?)</p>', page(client, "/world/points/training-sets?min_size=45")).group(1)
    assert "; 1 matches the filters;" in one
