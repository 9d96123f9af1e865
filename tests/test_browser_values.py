"""The values page's charts in real headless Chromium (Playwright, Debian's /usr/bin/chromium), on the
demo's digits world: the heatmap and the scaling chart render, their downloads work, the page fits
1280 and 390 px without sideways scrolling, and no console error. Screenshots go under tmp_path.
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import pytest
from playwright.sync_api import expect
from test_browser import Watched, browser, live_server  # noqa: F401  (browser: the shared Chromium fixture)

pytestmark = pytest.mark.browser

WIDTHS = (1280, 390)


@pytest.fixture(scope="module")
def base_url(demo_db):
    yield from live_server(demo_db)


@pytest.fixture(params=WIDTHS, ids=[f"{w}px" for w in WIDTHS])
def watched(request, browser, base_url, tmp_path):
    width = request.param
    context = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    w = Watched(page, base_url, tmp_path)
    w.width = width
    yield w
    context.close()
    w.check()


def _no_sideways_scroll(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_heatmap_and_scaling_chart_render_and_fit(watched):
    page = watched.page
    watched.goto("/world/digits/values?slice=all")
    heatmap = page.locator("svg#heatmap")
    expect(heatmap).to_be_visible()
    assert heatmap.locator("g.cells rect").count() == 4 * 5  # 4 units x 5 slices
    assert heatmap.locator("text.row").all_text_contents()[0].startswith("1. ")
    scaling = page.locator("svg#scaling-line")
    expect(scaling).to_be_visible()
    assert scaling.locator("circle.point").count() == 15
    expect(scaling.locator("text.formula")).to_contain_text("score ≈")
    expect(page.locator("#scaling-fit")).to_contain_text("Fitted power law")
    expect(page.locator("svg#interval-chart g.units > g")).to_have_count(4)
    # The heatmap keeps its natural size (values at >= 10 px, as the lattice page's drawing) and scrolls
    # in its own box on a phone; the 560 px charts scale down to the screen.
    for chart in (".chart-wide:has(#heatmap)", "#scaling-line", "#interval-chart", "#value-bars"):
        box = page.locator(chart).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= watched.width + 0.5, chart
    sizes = heatmap.locator("g.cell-text text").evaluate_all(
        "ts => ts.map(t => t.getScreenCTM().a * parseFloat(getComputedStyle(t).fontSize))")
    assert len(sizes) == 4 * 5 and min(sizes) >= 10, sizes
    texts = heatmap.locator("g.cell-text text").all_text_contents()
    assert len(set(texts[4::5])) == 4  # slice all: four distinct numbers for four ranks (0.204, 0.201 ...)
    _no_sideways_scroll(page, watched.width)
    watched.shot(f"values-{watched.width}")


def test_chart_downloads_work(watched):
    page = watched.page
    watched.goto("/world/digits/values?slice=A")
    links = page.locator('p.downloads[data-chart="heatmap"]')
    with page.expect_download() as info:
        links.locator("a.download-svg").click()
    download = info.value
    assert download.suggested_filename == "digits-heatmap.svg"
    root = ET.parse(download.path()).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    href = page.locator('p.downloads[data-chart="scaling"] a.download-csv').get_attribute("href")
    response = page.request.get(watched.base + href)
    assert response.ok and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text())))
    assert rows[0] == ["training_rows", "mean_score", "training_sets", "fitted"] and len(rows) == 16
    href = page.locator('p.downloads[data-chart="intervals"] a.download-json').get_attribute("href")
    data = page.request.get(watched.base + href).json()
    assert data["chart"] == "intervals" and data["slice"] == "A" and len(data["rows"]) == 4
