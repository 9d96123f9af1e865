"""The grid explorer's window on a big grid: page size, the JSON window, sort and filter, the panel's groups.

The n = 8 all-unions world (``n8_db``: 256 training sets x 255 slices) is drawn as a
window; its JSON window must hold the stored values, and its row orders must equal a
brute-force Python order over every training set.
"""

from __future__ import annotations

import csv
import html
import math
import re
import shutil
from urllib.parse import parse_qsl, urlparse

import numpy as np
import pytest

from cfgraph.grids import import_grid
from cfgraph.resources import seed_file
from cfgraph.store import cells, open_store
from cfgraph.web import create_app
from cfgraph.world import World

EVIL = '<img src=x onerror="alert(1)">'


@pytest.fixture(scope="module")
def n8_app(n8_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("grid-window") / "cfgraph.db"
    shutil.copy(n8_db, path)
    store = open_store(path)
    import_grid(store, seed_file("toy_grid.csv"), "toy")
    evil = path.parent / "evil.csv"
    with open(evil, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["train_set", "eval_slice", "value"])
        for label in ("AB", "A", "B", "∅"):
            writer.writerow([label, EVIL, 0.5])
    import_grid(store, evil, "evil", description=EVIL)
    store.close()
    app = create_app({"DATABASE_URL": str(path), "TESTING": True})
    yield app
    app.extensions["cfgraph.store"].close()


@pytest.fixture
def client(n8_app):
    return n8_app.test_client()


@pytest.fixture(scope="module")
def n8_table(n8_db):
    store = open_store(n8_db, create=False)
    with World.open(store, "n8") as world:
        table = world.grid().table
    store.close()
    return table


def window(client, **args):
    response = client.get("/api/worlds/n8/grid/window", query_string=args)
    assert response.status_code == 200, response.json
    return response.json


def test_n8_page_is_a_window_under_300_kb_that_says_its_size(client):
    response = client.get("/world/n8/grid")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and len(response.data) < 300 * 1024, len(response.data)
    assert "256 training sets exist, 256 have stored cells" in body
    assert 'showing rows <span id="win-rows">1–64</span> of 256 and slices <span id="win-cols">1–32</span> of 255' in body
    assert len(re.findall(r'<th scope="row" data-t=', body)) == 64 and len(re.findall(r'<th scope="col" data-s=', body)) == 32
    assert "nothing is sampled" in body
    later = client.get("/world/n8/grid?page=4&cpage=8").get_data(as_text=True)
    assert '<span id="win-rows">193–256</span>' in later and '<span id="win-cols">225–255</span>' in later


def test_small_grids_are_drawn_whole(client):
    body = client.get("/world/toy/grid").get_data(as_text=True)
    assert len(re.findall(r'<th scope="row" data-t=', body)) == 16 and "grid-wrap windowed" not in body
    assert "16 training sets exist, 4 have stored cells" in body


def test_window_json_holds_the_stored_values(client, n8_table):
    data = window(client, r0=100, r1=140, c0=200, c1=255)
    assert (data["r0"], data["r1"], data["c0"], data["c1"]) == (100, 140, 200, 255)
    assert data["n_training_sets"] == 256 and data["n_rows"] == 256 and data["n_slices"] == 255
    masks = [n8_table.labels.index(label) for label in data["labels"]]
    assert data["slices"] == n8_table.slices[200:255]
    want = n8_table.values[np.array(masks)][:, 200:255]
    got = np.array([[np.nan if v is None else v for v in row] for row in data["values"]])
    np.testing.assert_array_equal(got, want)
    assert data["sizes"] == [m.bit_count() for m in masks]
    assert {c for row in data["status"] for c in row} == {0}
    clipped = window(client, r0=250, r1=400)
    assert clipped["r1"] == 256 and len(clipped["labels"]) == 6 and clipped["c1"] == 32


def brute_order(table, sort="size", desc=False, vslice=0, size=None, has=0, lacks=0, vmin=None, vmax=None):
    """The row order, one training set at a time (the reference for the vectorised one)."""
    col = table.values[:, vslice]
    label = lambda m: "" if m == 0 else table.labels[m]  # noqa: E731
    keep = [m for m in range(len(table.labels))
            if (size is None or m.bit_count() == size) and m & has == has and not m & lacks
            and (vmin is None or (not math.isnan(col[m]) and col[m] >= vmin))
            and (vmax is None or (not math.isnan(col[m]) and col[m] <= vmax))]
    base = sorted(keep, key=lambda m: (m.bit_count(), label(m)))
    if sort == "size":
        return sorted(base, key=lambda m: -m.bit_count() if desc else m.bit_count())
    if sort == "label":
        return sorted(keep, key=label, reverse=desc)
    present = [m for m in base if not math.isnan(col[m])]
    return sorted(present, key=lambda m: col[m], reverse=desc) + [m for m in base if math.isnan(col[m])]


@pytest.mark.parametrize("args, expect", [
    ({}, {}),
    ({"sort": "label"}, {"sort": "label"}),
    ({"sort": "label", "dir": "desc"}, {"sort": "label", "desc": True}),
    ({"sort": "size", "dir": "desc"}, {"sort": "size", "desc": True}),
    ({"sort": "value", "vslice": "all"}, {"sort": "value", "vslice": "all"}),
    ({"sort": "value", "dir": "desc", "vslice": "C"}, {"sort": "value", "desc": True, "vslice": "C"}),
    ({"size": 3}, {"size": 3}),
    ({"has": "AC", "lacks": "H"}, {"has": 0b101, "lacks": 0b10000000}),
    ({"vslice": "B", "vmin": 0.5, "vmax": 0.8, "sort": "value"}, {"vslice": "B", "vmin": 0.5, "vmax": 0.8, "sort": "value"}),
])
def test_sort_and_filter_equal_a_brute_force_order(client, n8_table, args, expect):
    if "vslice" in expect:
        expect = {**expect, "vslice": n8_table.slices.index(expect["vslice"])}
    want = [n8_table.labels[m] for m in brute_order(n8_table, **expect)]
    data = window(client, r0=0, r1=256, c0=0, c1=8, **args)
    assert data["labels"] == want and data["n_rows"] == len(want)
    page = client.get("/world/n8/grid", query_string={**args, "page": 1}).get_data(as_text=True)
    assert re.findall(r'<th scope="row" data-t="([^"]+)"', page) == want[:64]


def test_values_range_drops_missing_cells_and_sort_puts_them_last(client):
    data = client.get("/api/worlds/toy/grid/window?sort=value&dir=desc&vslice=B&c1=4").json
    assert data["labels"][:4] == ["ABCD", "ABC", "AB", "ACD"] and data["labels"][4:] == [
        "∅", "A", "B", "C", "D", "AC", "AD", "BC", "BD", "CD", "ABD", "BCD"]
    assert data["status"][-1] == [1, 1, 1, 1] and data["values"][-1] == [None] * 4
    ranged = client.get("/api/worlds/toy/grid/window?vslice=B&vmin=0.6").json
    assert ranged["labels"] == ["AB", "ABC", "ABCD"] and ranged["n_rows"] == 3


@pytest.mark.parametrize("query, status, message", [
    ("r0=-1", 400, "out of range"),
    ("r0=x", 400, "must be an integer"),
    ("r0=10&r1=5", 400, "is below"),
    ("r0=300", 400, "out of range"),
    ("r1=256&c1=255", 400, "at most 16384 cells"),
    ("sort=bogus", 400, "sort must be one of"),
    ("dir=up", 400, "dir must be asc or desc"),
    ("size=9", 400, "out of range"),
    ("has=Z", 400, "has:"),
    ("vmin=abc", 400, "vmin must be a number"),
    ("vmin=inf", 400, "finite"),
    ("vmin=0.9&vmax=0.1", 400, "is above"),
    ("vslice=nope", 404, "no evaluation slice"),
    ("seed=7", 404, "no cells for seed"),
])
def test_bad_window_parameters_give_one_line_messages(client, query, status, message):
    response = client.get(f"/api/worlds/n8/grid/window?{query}")
    assert response.status_code == status and message in response.json["error"]
    assert "\n" not in response.json["error"]
    if not query.startswith(("r0", "r1")):
        # the page keeps its grid: the message inline beside the controls (400), the default in its place
        page = client.get(f"/world/n8/grid?{query}")
        body = page.get_data(as_text=True)
        assert page.status_code == 400 and 'id="grid"' in body and "<tbody>" in body
        found = _inline_errors(body)
        assert query.split("=")[0] in found or "vmax" in found, found
        assert any(message in m for m in found.values())
        assert body.index('id="param-errors"') < body.index('id="rows-query"')


def _inline_errors(body: str) -> dict[str, str]:
    """parameter -> message of each inline refusal on a grid page or panel."""
    return {p: html.unescape(m) for p, m in
            re.findall(r'<p class="error" role="alert" data-param="([^"]+)">([^<]+)</p>', body)}


@pytest.mark.parametrize("query, param, message, kept", [
    ("has=Z", "has", "has: ", "256 training sets exist"),
    ("vmin=0.9&vmax=0.1", "vmax", "vmin=0.9 is above vmax=0.1", 'id="q-vmin" type="number" step="any" value="0.9"'),
    ("size=99", "size", "size=99 is out of range 0..8", 'id="q-size" type="number" min="0" max="8" value=""'),
    ("coalition=QQ", "coalition", "unknown training set", '<input name="coalition" size="5" value=""'),
    ("pair=ZZ", "pair", "pair takes two different unit letters", '<input name="pair" size="3" value=""'),
    ("palette=evil", "palette", "palette must be one of viridis, heat, greys, not 'evil'", "pal-viridis"),
    ("raw=2", "raw", "raw must be one of 0, 1", 'id="raw-toggle"'),
    ("q=nope", "q", "unknown question", 'id="from-selection"'),
    ("cell=AB:nope&cell=AB:A", "cell", "no evaluation slice 'nope'", "f(AB, A)"),
])
def test_a_bad_parameter_is_named_inline_and_the_grid_stays(client, query, param, message, kept):
    response = client.get(f"/world/n8/grid?{query}")
    body = response.get_data(as_text=True)
    found = _inline_errors(body)
    assert response.status_code == 400 and list(found) == [param] and message in found[param]
    assert kept in body and "<tbody>" in body and body.count("<tr><th scope=\"row\"") > 0
    # no link or form of the page carries the refused value on; the script drops it from the address
    clean = re.search(r'data-clean-url="([^"]+)"', body).group(1).replace("&amp;", "&")
    share = re.search(r'id="share" class="button" href="([^"]+)"', body).group(1).replace("&amp;", "&")
    bad = next(part for part in query.split("&") if part.startswith(param + "="))
    for url in (clean, share):
        assert bad.replace(":", "%3A") not in url, url
    assert client.get(clean).status_code == 200


def test_panel_form_errors_sit_in_the_panel_and_the_json_api_stays_strict(client):
    body = client.get("/world/n8/grid?pair=ZZ&cell=AB:A").get_data(as_text=True)
    panel = re.search(r'<aside id="panel".*?</aside>', body, re.S).group(0)
    assert 'id="panel-errors"' in panel and "pair takes two different" in panel
    assert panel.index('id="panel-errors"') < panel.index('class="params"')
    assert 'id="param-errors"' not in body  # the page's own controls had nothing to say
    alone = client.get("/world/n8/grid/panel?pair=ZZ&cell=AB:A")
    assert alone.status_code == 400 and "pair takes two different" in alone.get_data(as_text=True)
    api = client.get("/api/worlds/n8/questions?pair=ZZ")
    assert api.status_code == 400 and "\n" not in api.json["error"]
    assert client.get("/api/worlds/n8/grid/window?palette=evil").status_code == 200  # the API has no palette
    fine = client.get("/world/n8/grid?palette=heat")
    assert fine.status_code == 200 and 'role="alert"' not in fine.get_data(as_text=True)


def test_an_empty_filter_says_why(client):
    response = client.get("/world/n8/grid?has=A&lacks=A")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "no training set passes the filter (has A and lacks A)" in body
    assert "showing rows 0" not in body
    assert "No training set passes the filter (has A and lacks A)." in body


def test_markup_in_names_is_escaped(client):
    body = client.get("/world/evil/grid").get_data(as_text=True)
    assert EVIL not in body and "&lt;img src=x onerror=" in body
    data = client.get("/api/worlds/evil/grid/window").json
    assert data["slices"] == [EVIL]  # JSON carries the name as text; grid.js only sets it with textContent
    body = client.get("/world/evil/grid", query_string={"vslice": EVIL, "sort": "value"}).get_data(as_text=True)
    assert EVIL not in body


def test_panel_separates_the_selection_from_defaults(client):
    empty = client.get("/world/toy/grid/panel").get_data(as_text=True)
    chosen, defaults = (re.search(rf'<section id="{s}".*?</section>', empty, re.S).group(0)
                        for s in ("from-selection", "from-defaults"))
    assert 'id="q-loo"' in defaults and "the full training set ABCD" in defaults and "the first slice A" in defaults
    assert "From your selection (0)" in chosen
    pair = client.get("/world/toy/grid/panel?cell=ABCD:B&cell=ACD:B").get_data(as_text=True)
    chosen, defaults = (re.search(rf'<section id="{s}".*?</section>', pair, re.S).group(0)
                        for s in ("from-selection", "from-defaults"))
    assert 'id="q-loo"' in chosen and "0.3300" in chosen
    # the strike reads the selected cell; only its coalition is a default, named under it
    assert 'id="q-group_loo"' in chosen and "with default: coalition" in chosen
    assert "From defaults (0)" in defaults
    lab = re.search(r'id="to-lab" class="button" href="([^"]+)"', pair).group(1).replace("&amp;", "&")
    from cfgraph.lab_state import LabState

    state = LabState.from_query(parse_qsl(urlparse(lab).query))
    assert [c.to_text() for c in state.a] == ["toy|ABCD|B||0"] and [c.to_text() for c in state.b] == ["toy|ACD|B||0"]
    assert client.get(lab).status_code == 200
    typed = client.get("/world/toy/grid/panel?cell=ABCD:B&cell=ACD:B&coalition=BD&pair=BC&k=2&alpha=2&beta=3&tol=0.1")
    chosen = re.search(r'<section id="from-selection".*?</section>', typed.get_data(as_text=True), re.S).group(0)
    for key in ("loo", "group_loo", "interaction", "shapley", "beta", "unlearning", "scaling"):
        assert f'id="q-{key}"' in chosen, key


def _panel_groups(client, query: str) -> tuple[str, dict[str, tuple[str, str]]]:
    """The panel's current cell, and question -> (group, the defaults named under it)."""
    body = client.get(f"/world/toy/grid/panel?{query}").get_data(as_text=True)
    out = {}
    for section in ("from-selection", "from-defaults", "not-posed"):
        found = re.search(rf'<section id="{section}".*?</section>', body, re.S)
        for key, rest in re.findall(r'<li id="q-(\w+)"(.*?)</li>', found.group(0) if found else "", re.S):
            used = re.search(r'<p class="defaults">(.*?)</p>', rest)
            out[key] = (section, html.unescape(used.group(1)) if used else "")
    return html.unescape(re.search(r'id="current-cell">(.*?)<', body).group(1)), out


SEVEN = "cell=AB:A&cell=ABCD:B&cell=ACD:C&cell=BCD:D&cell=A:B&cell=BC:C&cell=ABC:A"
ALL_KEYS = {"loo", "eval_move", "group_loo", "interaction", "shapley", "banzhaf", "beta", "scaling",
            "eval_scaling", "diagonal", "subset_scan", "unlearning"}


@pytest.mark.parametrize("query, mine, posed_defaults", [
    # a column gives the slice: the column questions are the selection's, their unit a named default
    ("col=A", {"shapley": "with default: unit A (the first unit of ABCD)",
               "banzhaf": "with default: unit A (the first unit of ABCD)",
               "beta": "with defaults: unit A (the first unit of ABCD); α = 16, β = 1",
               "scaling": "with default: k = 4 (the size of ABCD)",
               "subset_scan": "with default: k = 4 (the size of ABCD)"},
     {"loo", "group_loo", "interaction", "eval_scaling", "diagonal", "unlearning"}),
    # a row gives the training set and k: evaluation scaling names no default
    ("row=ABCD", {"eval_scaling": "", "diagonal": ""},
     {"loo", "group_loo", "interaction", "shapley", "banzhaf", "beta", "scaling", "subset_scan", "unlearning"}),
    # seven cells: every question reads the current cell (the last added, ABC:A, whose LOO pair with
    # AB:A gives the unit C); only what no selection gives stays a default
    (SEVEN, {"loo": "", "group_loo": "with default: coalition AC (the focus unit and another)",
             "interaction": "with default: pair CA (the focus unit and another)", "shapley": "", "banzhaf": "",
             "beta": "with default: α = 16, β = 1", "scaling": "", "eval_scaling": "", "diagonal": "",
             "subset_scan": "", "unlearning": "with default: tolerance 0.15"}, set()),
    ("", {}, ALL_KEYS - {"eval_move"}),
    ("cell=ABCD:A&cell=ABCD:B", {"eval_move": ""}, set()),
    ("row=AB&col=B", {"loo": "with default: unit A (the first unit of AB)"}, set()),
    ("layer=2&col=B", {"scaling": "", "subset_scan": ""}, set()),
])
def test_each_answer_is_grouped_by_where_its_inputs_came_from(client, query, mine, posed_defaults):
    _, groups = _panel_groups(client, query)
    assert set(groups) == ALL_KEYS
    for key, used in mine.items():
        assert groups[key] == ("from-selection", used), key
    for key in posed_defaults:
        assert groups[key][0] == "from-defaults", key
        assert "the full training set" in groups[key][1] or "the first slice" in groups[key][1], key
    if query in ("row=ABCD", SEVEN):  # k comes from the selected training set, never a default here
        assert not any("k = " in used for _, used in groups.values())


@pytest.mark.parametrize("query, current", [
    ("cell=AB:A", "f(AB, A)"),
    ("cell=AB:A&cell=ABCD:B", "f(ABCD, B)"),
    ("cell=ABCD:B&cell=AB:A", "f(AB, A)"),
    ("cell=AB:A&cell=ABCD:B&cell=BC:C", "f(BC, C)"),
    ("cell=ABCD:B&cell=AB:A&cell=ACD:B", "f(ABCD, B)"),  # the last cell makes a LOO pair: S is its larger set
])
def test_the_current_cell_is_the_last_cell_added(client, query, current):
    got, groups = _panel_groups(client, query)
    assert got == current
    page = client.get(f"/world/toy/grid?{query}").get_data(as_text=True)
    assert f'id="current-cell">{current}<' in page
    # the chips keep the order of the clicks
    chips = re.findall(r'<span class="chip">([^<]+)</span>', page.split('id="selection-summary"')[1].split("</p>")[0])
    assert chips == [c.replace(":", " : ") for c in re.findall(r"cell=([^&]+)", query)]


def test_a_new_cell_shows_at_once_despite_the_cache(tmp_path, iris_db):
    path = tmp_path / "cfgraph.db"
    shutil.copy(iris_db, path)
    app = create_app({"DATABASE_URL": str(path), "TESTING": True})
    client = app.test_client()
    before = client.get("/api/worlds/toy/grid/window?sort=label&c1=4").json
    assert before["values"][before["labels"].index("AC")] == [None] * 4
    assert client.get("/api/worlds/toy/grid/window?sort=label&c1=4").json == before  # served from the cache
    store = open_store(path)
    with store.session() as session:
        world = World.open(session, "toy")
        node = int(cells.node_ids(session, world.record)[0b0101])
        slice_id = world.record.slices[0].id
        cells.write_cells(session, [{"node_id": node, "slice_id": slice_id, "metric": world.record.metric,
                                     "seed": 0, "value": 0.61, "fit_seconds": None, "status": "ok", "error": None}])
        session.commit()
    store.close()
    after = client.get("/api/worlds/toy/grid/window?sort=label&c1=4").json
    assert after["values"][after["labels"].index("AC")] == [0.61, None, None, None]
    app.extensions["cfgraph.store"].close()


#: Three seeds of a 2-unit grid on slice "all", v(mask) for masks 0..3; seed 2 failed on AB.
SEEDS = {0: [0.1, 0.5, 0.4, 0.7], 1: [0.1, 0.6, 0.4, 0.8], 2: [0.1, 0.7, 0.5, None]}


def test_window_across_seeds_gives_half_widths_and_failed_cells(tmp_path):
    from scipy import stats

    from cfgraph.store import catalog
    from cfgraph.tables import SliceSpec, UnitSpec

    store = open_store(tmp_path / "seeds.db")
    with store.transaction() as session:
        world = catalog.create_world(session, "s", kind="trained", units=[UnitSpec(u) for u in "AB"],
                                     slices=[SliceSpec("all")], metric="r2", eval_slices="units",
                                     spec={"metrics": ["r2"], "seeds": sorted(SEEDS)})
        ids, sids = cells.node_ids(session, world), cells.slice_ids(session, world)
        cells.write_cells(session, [
            {"node_id": int(ids[m]), "slice_id": sids["all"], "metric": "r2", "seed": seed, "value": v,
             "fit_seconds": 0.0, "status": "ok" if v is not None else "failed", "error": None if v else "boom"}
            for seed, grid in SEEDS.items() for m, v in enumerate(grid)])
    store.close()
    app = create_app({"DATABASE_URL": str(tmp_path / "seeds.db"), "TESTING": True})
    client = app.test_client()
    data = client.get("/api/worlds/s/grid/window").json
    assert data["labels"] == ["∅", "A", "B", "AB"] and data["seed"] is None and data["seeds"] == [0, 1, 2]
    a = data["labels"].index("A")
    assert data["values"][a][0] == pytest.approx(0.6) and data["n"][a] == [3]
    assert data["half_width"][a][0] == pytest.approx(stats.t.ppf(0.975, 2) * np.std([0.5, 0.6, 0.7], ddof=1) / 3 ** 0.5)
    assert data["values"][3] == [None] and data["n"][3] == [2]  # the mean needs every seed
    one = client.get("/api/worlds/s/grid/window?seed=2").json
    assert one["status"][3] == [2] and one["values"][3] == [None] and "half_width" not in one
    page = client.get("/world/s/grid?seed=2").get_data(as_text=True)
    assert '<td class="f">fail</td>' in page and "4 training sets exist, 3 have stored cells" in page  # AB only failed
    app.extensions["cfgraph.store"].close()
