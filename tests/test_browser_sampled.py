"""A sampled world in real headless Chromium (Playwright, Debian's /usr/bin/chromium).

The same app-in-a-thread as tests/test_browser.py, over the sampled database of
tests/test_web_sampled.py. A script error, a console error or a request to
another host fails the test. Screenshots at 1280 and 390 px wide are saved
under each test's tmp_path.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect
from test_browser import Watched, browser, live_server  # noqa: F401  (browser: the shared Chromium fixture)
from test_web_sampled import HOSTILE, build_sampled_db


pytestmark = pytest.mark.browser

WIDTHS = (1280, 390)


@pytest.fixture(scope="module")
def sampled_browser_db(iris_db, tmp_path_factory):
    return build_sampled_db(iris_db, tmp_path_factory.mktemp("sampled-browser") / "cfgraph.db")


@pytest.fixture(scope="module")
def base_url(sampled_browser_db):
    yield from live_server(sampled_browser_db)


@pytest.fixture(params=WIDTHS, ids=[f"{w}px" for w in WIDTHS])
def watched(request, browser, base_url, tmp_path):
    width = request.param
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    w = Watched(page, base_url, tmp_path)
    w.width = width
    yield w
    context.close()
    w.check()


def _values(page) -> list[float | None]:
    cells = page.locator("#estimates tbody tr[data-unit] td.value").all_inner_texts()
    return [float(c) if c.strip() else None for c in cells]


def test_values_sort_and_convergence_chart(watched):
    page = watched.page
    watched.goto("/world/points/values?method=shapley")
    expect(page.locator("#world-bar")).to_contain_text("sampled lattice")
    values = [v for v in _values(page) if v is not None]
    assert len(values) == 45 and values == sorted(values, reverse=True)
    assert page.locator("#estimates svg.ibar").count() == 45
    sources = [page.locator("script").nth(i).get_attribute("src") for i in range(page.locator("script").count())]
    assert sources == ["/static/layout.js"] and HOSTILE in page.locator("#estimates").text_content()
    assert page.evaluate("window.__xss") is None  # the hostile unit name stayed text
    watched.shot(f"values-{watched.width}")
    # Sort by value ascending (a click on the value head toggles the order), then by unit.
    page.locator("#sort-value").click()
    expect(page).to_have_url(re.compile(r"order=asc"))
    ascending = [v for v in _values(page) if v is not None]
    assert ascending == sorted(ascending)
    page.locator("#sort-stderr").click()
    expect(page.locator("#head-stderr")).to_have_attribute("aria-sort", "descending")
    # Open one unit's convergence chart from its row.
    label = page.locator("#estimates tbody tr[data-unit]").first.get_attribute("data-unit")
    page.locator(f'#estimates tbody tr[data-unit="{label}"] td.unit a').click()
    expect(page.locator("#convergence h2")).to_contain_text(f"Convergence of unit {label}")
    chart = page.locator("#convergence-chart")
    expect(chart).to_be_visible()
    assert chart.locator("polygon.band").count() == 1 and chart.locator("polyline.estimate").count() == 1
    assert parse_qs(urlparse(page.url).query)["unit"] == [label]
    with page.expect_download() as download:
        page.locator("#download-svg").click()
    assert download.value.suggested_filename.endswith(".svg")
    # The chart keeps its natural size (11 px text) and scrolls sideways inside its box on a phone.
    assert chart.evaluate("c => c.getBoundingClientRect().width / c.viewBox.baseVal.width * 11") >= 10
    assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
    expect(page.locator("#convergence-caption")).to_contain_text("(the target)")
    watched.shot(f"convergence-{watched.width}")


def test_filter_training_sets_follow_a_node_and_walk_to_a_stored_neighbour(watched):
    page = watched.page
    watched.goto("/world/points/training-sets")
    expect(page.locator("#counts")).to_contain_text("2^45 training sets exist")
    assert page.locator("#training-sets tbody tr").count() == 50
    page.locator('input[name="min_size"]').fill("2")
    page.locator('input[name="max_size"]').fill("4")
    page.locator("#filters button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"min_size=2"))
    sizes = [int(s) for s in page.locator("#training-sets tbody tr td:nth-child(2)").all_inner_texts()]
    assert sizes and all(2 <= s <= 4 for s in sizes)
    expect(page.locator("#counts")).to_contain_text(re.compile(r"\d+ match(es)? the filters"))
    watched.shot(f"training-sets-{watched.width}")
    # Follow the first training set to its page, then walk to a stored neighbour.
    first = page.locator("#training-sets tbody tr td.label a").first
    label = first.inner_text()
    first.click()
    expect(page.locator("#node-label")).to_have_text(label)
    expect(page.locator("#members-count")).to_contain_text(f"{sizes[0]} unit")
    neighbours = page.locator("#neighbours a.neighbour")
    assert neighbours.count() >= 1
    target = neighbours.first.inner_text()
    neighbours.first.click()
    expect(page.locator("#node-label")).to_have_text(target)
    watched.shot(f"node-{watched.width}")
    # And the same walk in the lattice drawing: the focus node's stored neighbours are links.
    page.locator("a", has_text="see its stored neighbourhood in the lattice").click()
    expect(page.locator("#hood-note")).to_contain_text("2^45 training sets exist")
    nodes = page.locator("#lattice a.node-link")
    assert nodes.count() >= 2
    other = [nodes.nth(i).get_attribute("data-label") for i in range(nodes.count())]
    step = next(x for x in other if x != target)
    page.locator(f'#lattice a.node-link[data-label="{step}"]').click()
    expect(page.locator("#node-label")).to_have_text(step)
    watched.shot(f"graph-{watched.width}")


def test_home_grid_refusal_and_exhaustive_estimates(watched):
    page = watched.page
    watched.goto("/")
    row = page.locator("#worlds tbody tr.sampled")
    expect(row).to_contain_text("sampled")
    row.locator("a", has_text="sets").click()
    expect(page.locator("h1")).to_contain_text("Stored training sets: points")
    watched.goto("/world/points/grid")
    expect(page.locator("#sampled-only")).to_contain_text("is sampled")
    page.locator("#to-values").click()
    expect(page.locator("h1")).to_contain_text("Values: points")
    watched.goto("/world/iris/values")
    section = page.locator("#sampled-estimates")
    expect(section).to_contain_text("Stored valuations beside the exact values")
    assert section.locator("table.sampled-vs-exact").count() == 3
    watched.shot(f"iris-values-{watched.width}")
    watched.goto("/")
    watched.shot(f"home-{watched.width}")


def _fits(page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")


@pytest.mark.parametrize("path", [
    "/world/points/values?method=shapley", "/world/points/values?method=shapley&unit={unit}",
    "/world/iris/values", "/world/iris/values?alpha=1e6&beta=0.5", "/world/toy/values",
    "/world/points/training-sets", "/world/points/graph", "/world/points/node/{node}",
    "/sql?q=SELECT+*+FROM+node+LIMIT+5",
])
def test_pages_fit_the_window_at_390_px(watched, path):
    page = watched.page
    if "{node}" in path:
        watched.goto("/world/points/graph")
        path = path.format(node=page.locator("#node-label").inner_text())
    if "{unit}" in path:
        watched.goto("/world/points/values?method=shapley")
        path = path.format(unit=page.locator("#estimates tbody tr[data-unit]").first.get_attribute("data-unit"))
    watched.goto(path)
    assert _fits(page), (path, page.evaluate("document.scrollingElement.scrollWidth"))
    if path.startswith("/sql"):  # the results use the page's width, not a box of 62% of it
        main = page.locator("main").bounding_box()["width"]
        assert page.locator(".sql-results").bounding_box()["width"] >= main - 60
    for i in range(page.locator(".table-wrap").count()):  # a table wider than its box says it scrolls
        wrap = page.locator(".table-wrap").nth(i)
        if wrap.evaluate("w => w.scrollWidth > w.clientWidth + 1"):
            assert wrap.evaluate("w => w.previousElementSibling.classList.contains('scroll-hint')"), path


@pytest.mark.parametrize("path", ["/world/points/training-sets?contains=" + "a" * 300,
                                  "/world/points/node/" + "t" * 300,
                                  "/world/points/training-sets?max_size=99999999999999999999999"])
def test_error_pages_fit_the_window(watched, path):
    page = watched.page
    response = page.goto(watched.base + path)
    assert response.status in (400, 404)
    expect(page.locator(".error")).to_be_visible()
    assert _fits(page), path
    assert page.locator(".error").inner_text().count("…") == 1  # the quoted input is cut short
    watched.problems = [p for p in watched.problems if "status of 40" not in p]  # the refusal itself


def test_estimates_keep_stderr_and_samples_in_view(watched):
    page = watched.page
    watched.goto("/world/points/values?method=shapley")
    wrap = page.locator("#estimates").locator("xpath=..").bounding_box()
    for head in ("#head-stderr", "#head-n_samples", "#head-value"):
        box = page.locator(head).bounding_box()
        assert box["x"] + box["width"] <= wrap["x"] + wrap["width"] + 0.5, head
    bars = page.locator("#estimates tbody svg.ibar").first
    assert bars.is_visible() == (watched.width > 600)  # on a phone the bar column gives way


def test_the_lattice_drawing_opens_centred_on_its_focus_node(watched):
    page = watched.page
    watched.goto("/world/points/graph")
    box = page.locator("#lattice .node.current circle").bounding_box()
    centre = box["x"] + box["width"] / 2
    assert abs(centre - watched.width / 2) < watched.width / 4 or watched.width > 1000
    assert 0 <= box["x"] and box["x"] + box["width"] <= watched.width
