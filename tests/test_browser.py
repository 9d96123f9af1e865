"""The explorer in real headless Chromium (Playwright for Python, Debian's /usr/bin/chromium).

The app runs in a thread on 127.0.0.1 (port 0). A script error, a console error
or a request to another host fails the test. Each test saves screenshots under
its tmp_path. Without Chromium the tests fail when $CI is set and skip otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect
from werkzeug.serving import WSGIRequestHandler, make_server

from cfgraph.store import cells, open_store
from cfgraph.web import create_app

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


@pytest.fixture(scope="module")
def browser_db(iris_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("browser") / "cfgraph.db"
    shutil.copy(iris_db, path)
    return path


def live_server(db_path, config=None):
    """Serve the app (``config``: more settings) on a free loopback port in a thread: yields its
    base URL, then stops it."""
    app = create_app({"DATABASE_URL": str(db_path), **(config or {})})
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    app.extensions["cfgraph.store"].close()


@pytest.fixture(scope="module")
def base_url(browser_db):
    yield from live_server(browser_db)


def require_chromium(path: str = CHROMIUM) -> None:
    """Fail when Chromium is missing under CI (the tests must run there); skip elsewhere."""
    if not Path(path).exists():
        reason = f"{path} is missing (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Watched:
    """A page whose script errors, console errors and off-host requests are recorded."""

    def __init__(self, page, base_url: str, shots: Path):
        self.page, self.base, self.shots, self.problems = page, base_url, shots, []
        host = urlparse(base_url).netloc
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("console", lambda msg: self.problems.append(f"console {msg.type}: {msg.text}")
                if msg.type == "error" else None)
        page.on("request", lambda req: self.problems.append(f"request to another host: {req.url}")
                if urlparse(req.url).scheme in ("http", "https") and urlparse(req.url).netloc != host else None)

    def goto(self, path: str):
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == 200, path
        return response

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000
        return path

    def check(self):
        assert not self.problems, self.problems


@pytest.fixture
def watched(browser, base_url, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15000)
    w = Watched(page, base_url, tmp_path)
    yield w
    context.close()
    w.check()


def _cell(page, train: str, column: int):
    """The grid cell of a training set in the column-th slice (1-based)."""
    return page.locator(f'#grid tbody tr:has(th[data-t="{train}"]) td:nth-of-type({column})')


def test_grid_loo_pair_by_clicking_two_cells(watched):
    page = watched.page
    watched.goto("/world/toy/grid")
    _cell(page, "ABCD", 2).click()
    expect(page.locator("#current-cell")).to_contain_text("ABCD, B")
    _cell(page, "ACD", 2).click()
    loo = page.locator("#q-loo")
    expect(loo.locator(".q-value")).to_have_text("0.3300")
    assert "f(ABCD, B) − f(ACD, B) = 0.8800 − 0.5500 = 0.3300" in loo.inner_text()
    assert "answered" in loo.locator(".badge").inner_text()
    query = parse_qs(urlparse(page.url).query)
    assert query["cell"] == ["ABCD:B", "ACD:B"]
    assert "sel" in (_cell(page, "ACD", 2).get_attribute("class") or "")
    # Clicking a selected cell again drops it from the selection.
    _cell(page, "ACD", 2).click()
    expect(page).not_to_have_url(re.compile("ACD"))
    expect(page.locator("#selection-summary")).to_have_text("ABCD : B")
    watched.shot("grid-loo")
    watched.check()


def test_reloading_a_shared_url_shows_the_same_view(watched, browser):
    page = watched.page
    watched.goto("/world/toy/grid?palette=heat")
    _cell(page, "ABCD", 1).click()
    expect(page.locator("#current-cell")).to_contain_text("ABCD, A")
    _cell(page, "AB", 1).click()
    strike = "0.0700"  # f(ABCD, A) − f(AB, A) = 0.92 − 0.85
    # The panel is fetched after the click: wait until it answers for the new selection.
    expect(page.locator("#q-group_loo .q-value")).to_have_text(strike)
    share = page.locator("#share").get_attribute("href")
    assert "cell=ABCD%3AA" in share and "cell=AB%3AA" in share and "palette=heat" in share
    page.reload()
    assert page.locator("#q-group_loo .q-value").inner_text() == strike
    other = Watched(browser.new_page(), watched.base, watched.shots)
    other.goto(share)
    assert other.page.locator("#q-group_loo .q-value").inner_text() == strike
    assert other.page.locator("#grid.pal-heat").count() == 1
    assert "sel" in (_cell(other.page, "AB", 1).get_attribute("class") or "")
    other.shot("grid-shared")
    other.check()
    other.page.close()
    watched.check()


def test_column_header_asks_for_the_shapley_column(watched, browser_db):
    page = watched.page
    store = open_store(browser_db, create=False)
    with store.session() as session:
        table = cells.lattice_table(session, "iris")
    store.close()
    from cfgraph.values import shapley

    expected = shapley(table.column("all"))[0]
    watched.goto("/world/iris/grid")
    page.locator('#grid thead th[data-s="all"]').click()
    # The panel is fetched after the click: wait for it (the page first shows slice A's answer).
    expect(page).to_have_url(re.compile(r"col=all"))
    expect(page.locator("#q-shapley .q-value")).to_have_text(f"{expected:.4f}")
    watched.shot("grid-shapley-column")


def test_walking_the_lattice_with_add_and_remove_buttons(watched, browser_db):
    page = watched.page
    watched.goto("/world/iris/graph?slice=all")
    assert page.locator("#node-label").inner_text() == "∅"
    assert page.locator("#lattice a.node-link").count() == 16
    for button, expected in (("#move-A", "A"), ("#move-B", "AB"), ("#move-A", "B"), ("#move-D", "BD")):
        page.locator(button).click()
        expect(page.locator("#node-label")).to_have_text(expected)
    query = parse_qs(urlparse(page.url).query)
    assert query["node"] == ["BD"] and query["path"] == ["∅,A,AB,B,BD"]
    assert page.locator("#path tbody tr").count() == 5
    store = open_store(browser_db, create=False)
    with store.session() as session:
        column = cells.lattice_table(session, "iris").column("all")
    store.close()
    assert page.locator("#node-value").inner_text() == f"{column[0b1010]:.4f}"
    # Clicking a node moves there too; a lens draws its edges.
    page.locator('#lattice a.node-link[data-label="ABCD"]').click()
    expect(page.locator("#node-label")).to_have_text("ABCD")
    page.locator("#lens-strike").click()
    expect(page.locator("#lens-summary")).to_contain_text("withdraws from ABCD")
    expect(page.locator("#lattice line.edge.hi")).to_have_count(4)
    watched.shot("graph-walk")


def test_sql_query_shows_rows_and_refusals(watched):
    page = watched.page
    watched.goto("/sql")
    page.locator("#q").fill("SELECT train_set, value FROM grid WHERE world = 'toy' AND eval_slice = 'B' "
                            "ORDER BY value DESC")
    page.locator("#run").click()
    page.wait_for_selector("#sql-results")
    rows = page.locator("#sql-results tbody tr")
    assert rows.count() == 4
    assert rows.first.inner_text().split() == ["ABCD", "0.88"]
    watched.shot("sql-rows")
    # A refused write is a 400 page; Chromium logs the status as a console error, which is expected here.
    page.locator("#q").fill("DELETE FROM cell")
    page.locator("#run").click()
    page.wait_for_selector("#sql-error")
    assert "only read-only queries" in page.locator("#sql-error").inner_text()
    watched.problems = [p for p in watched.problems if "status of 400" not in p]
    watched.shot("sql-refused")


@pytest.mark.parametrize("name, path", [
    ("home", "/"),
    ("grid-iris", "/world/iris/grid?cell=ABCD:all&cell=ABC:all"),
    ("graph-sweep", "/world/iris/graph?slice=all&lens=sweep&unit=B"),
    ("graph-permutation", "/world/iris/graph?slice=A&lens=permutation&order=DCBA"),
    ("node", "/world/toy/node/ABCD"),
    ("values", "/world/iris/values?slice=all"),
    ("glossary", "/glossary"),
    ("sql-example", "/sql?q=SELECT+*+FROM+world"),
])
def test_every_page_renders_without_script_errors(watched, name, path):
    watched.goto(path)
    assert watched.page.locator("h1").count() == 1
    if path.startswith("/world/"):  # every world page carries the unit legend, rendered by the browser
        legend = watched.page.locator("#unit-legend")
        expect(legend).to_be_visible()
        expect(legend.locator("tbody tr")).to_have_count(4)
    watched.shot(name)


def test_missing_chromium_fails_under_ci_and_skips_elsewhere(monkeypatch, tmp_path):
    absent = str(tmp_path / "no-chromium")
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="must run in CI"):
        require_chromium(absent)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="is missing"):
        require_chromium(absent)


def test_view_links_keep_a_selection_made_in_place(watched):
    """Palette and raw-values links follow the selection after clicks (no stale targets)."""
    page = watched.page
    watched.goto("/world/toy/grid?palette=greys")
    _cell(page, "ABCD", 2).click()
    _cell(page, "ACD", 2).click()
    expect(page).to_have_url(re.compile("ACD"))
    page.locator('a[data-param="palette"][data-value="heat"]').click()
    expect(page).to_have_url(re.compile("palette=heat"))
    query = parse_qs(urlparse(page.url).query)
    assert query["cell"] == ["ABCD:B", "ACD:B"]
    expect(page.locator("#q-loo .q-value")).to_have_text("0.3300")
    watched.check()


def test_panel_inputs_accept_their_defaults(watched):
    """The panel's number inputs must accept the values the server puts in them."""
    page = watched.page
    watched.goto("/world/iris/grid")
    valid = page.evaluate(
        "Array.from(document.querySelectorAll('#panel input[type=number]')).map(i => [i.name, i.checkValidity()])")
    assert valid and all(ok for _, ok in valid), valid
    watched.check()


#: Three seeds of a 3-unit regression grid (neg_mean_squared_error) on slice "all": v(mask), masks 0..7.
MSE_SEEDS = {0: [-100000.0, -60000, -70000, -40000, -80000, -50000, -55000, -30000],
             1: [-100000.0, -62000, -70000, -42000, -80000, -52000, -56000, -31000],
             2: [-100000.0, -64000, -71000, -44000, -81000, -54000, -57000, -32000]}
LONG_CSV = "/data/some/quite/long/directory/name/for/datasets/iris_measurements_2024_cleaned_v2.csv"
#: World names the home table must wrap: a variant's and one of 60 characters with no break opportunity.
LONG_NAMES = ("seedt~corrupt-B-labels0.3-seed100~poison-C-flip0.25-seed7", "w" * 60)


@pytest.fixture(scope="module")
def seeds_url(iris_db, tmp_path_factory):
    """A server over iris plus "mse": a 3-seed regression world read from a long CSV path, and
    two empty worlds with long names (LONG_NAMES)."""
    from cfgraph.store import catalog
    from cfgraph.tables import SliceSpec, UnitSpec

    path = tmp_path_factory.mktemp("browser-seeds") / "cfgraph.db"
    shutil.copy(iris_db, path)
    store = open_store(path)
    with store.transaction() as session:
        world = catalog.create_world(session, "mse", kind="trained", task="regression",
                                     units=[UnitSpec(u) for u in "ABC"], slices=[SliceSpec("all")],
                                     metric="neg_mean_squared_error", eval_slices="units", dataset=LONG_CSV,
                                     model_spec="sklearn.linear_model.Ridge",
                                     spec={"metrics": ["neg_mean_squared_error"], "seeds": [0, 1, 2]})
        ids, sids = cells.node_ids(session, world), cells.slice_ids(session, world)
        cells.write_cells(session, [
            {"node_id": int(ids[m]), "slice_id": sids["all"], "metric": "neg_mean_squared_error", "seed": seed,
             "value": v, "fit_seconds": 0.0, "status": "ok"}
            for seed, grid in MSE_SEEDS.items() for m, v in enumerate(grid)])
        for name in LONG_NAMES:  # no cells: only the home table's width matters
            catalog.create_world(session, name, kind="trained", units=[UnitSpec(u) for u in "ABC"],
                                 slices=[SliceSpec("all")], metric="accuracy", eval_slices="units")
    store.close()
    app = create_app({"DATABASE_URL": str(path)})
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    app.extensions["cfgraph.store"].close()


@pytest.fixture
def seeds_page(browser, seeds_url, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15000)
    w = Watched(page, seeds_url, tmp_path)
    yield w
    context.close()
    w.check()


def test_home_table_fits_the_window(seeds_page):
    page = seeds_page.page
    seeds_page.goto("/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    right = page.evaluate("document.getElementById('worlds').getBoundingClientRect().right")
    assert right <= page.evaluate("document.querySelector('.table-wrap').getBoundingClientRect().right") + 0.5
    row = page.locator("#worlds tbody tr:has(a:text-is('mse'))")
    cells = row.locator("td.num")
    line = cells.first.bounding_box()["height"]
    assert all(abs(cells.nth(i).bounding_box()["height"] - line) < 1 for i in range(cells.count()))
    stored = row.locator("td.num", has_text="24 / 24")
    assert page.evaluate("(td) => td.getClientRects().length === 1 && td.scrollWidth <= td.clientWidth",
                         stored.element_handle())
    for name in LONG_NAMES:  # the name wraps; the explore links stay whole and inside the table
        long_row = page.locator("#worlds tbody tr", has=page.locator(f"a:text-is('{name}')"))
        explore = long_row.locator("td").last
        assert explore.locator("a").count() == 3
        assert page.evaluate("(td) => td.scrollWidth <= td.clientWidth && td.getBoundingClientRect().right"
                             " <= document.getElementById('worlds').getBoundingClientRect().right + 0.5",
                             explore.element_handle())
    seeds_page.shot("home-wide")


def test_lattice_across_seeds_and_regression_chart_ticks(seeds_page):
    page = seeds_page.page
    seeds_page.goto("/world/mse/graph?node=A")
    expect(page.locator("#seed-summary")).to_contain_text("mean over n = 3 seeds")
    title = page.locator('#lattice a.node-link[data-label="A"] title').text_content()
    assert title.startswith("A: -62000.000 ± ") and title.endswith("(n=3)")
    assert page.locator("#node-value").inner_text() == "-62000.0000"
    page.locator("#seed-links a", has_text="seed 1").click()
    expect(page.locator("#node-value")).to_have_text("-62000.0000")
    page.locator("#seed-links a", has_text="seed 2").click()
    expect(page.locator("#node-value")).to_have_text("-64000.0000")
    seeds_page.shot("graph-seeds")
    seeds_page.goto("/world/mse/values")
    for chart in ("#value-bars", "#scaling-line"):
        boxes = page.evaluate(f"""Array.from(document.querySelectorAll('{chart} text.ylab')).map(t => {{
            const r = t.getBoundingClientRect(); return [t.textContent, r.left, r.right, r.top, r.bottom]; }})""")
        *ticks, title = boxes  # the axis title is the last y label
        for text, left, right, top, bottom in ticks:
            assert left > title[2] or bottom < title[3] or top > title[4], (text, title)
    seeds_page.shot("values-regression")
