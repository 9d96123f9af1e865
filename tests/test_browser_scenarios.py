"""The guided scenarios in real headless Chromium, on the demo's worlds.

Each scenario page is opened at 1280 and 390 px (screenshots under the test's
tmp_path); its "Open in the grid" link must land on the grid with the
scenario's cells selected. One scenario is walked by keyboard only. A console
error, a script error or a request to another host fails the test.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from cfgraph.scenarios import SCENARIOS
from test_browser import Watched, browser, live_server  # noqa: F401  (the shared Chromium fixture)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_url(demo_db):
    yield from live_server(demo_db)


@pytest.fixture(scope="module")
def changes(demo_db):
    """Each scenario's "What changes" as its page shows it: computed from the data where the answer says."""
    from cfgraph.store import open_store

    store = open_store(demo_db, create=False)
    out = {s.key: getattr(s.answer(store), "changes", "") or s.changes for s in SCENARIOS}
    store.close()
    return out


@pytest.fixture
def open_page(browser, demo_url, tmp_path):  # noqa: F811  (browser is the imported fixture)
    contexts = []

    def make(width: int) -> Watched:
        context = browser.new_context(viewport={"width": width, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        return Watched(page, demo_url, tmp_path)

    yield make
    for context in contexts:
        context.close()


def _no_horizontal_overflow(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] + 1, width


@pytest.mark.parametrize("width", [1280, 390])
def test_every_scenario_opens_and_its_grid_link_keeps_the_selection(open_page, changes, width):
    w = open_page(width)
    page = w.page
    w.goto("/scenarios")
    expect(page.locator("#scenarios li")).to_have_count(len(SCENARIOS))
    _no_horizontal_overflow(page)
    w.shot(f"scenarios-{width}")
    for s in SCENARIOS:
        w.goto(f"/scenarios/{s.key}")
        expect(page.locator("h1")).to_have_text(s.title)
        expect(page.locator("#fixed")).to_have_text(s.fixed)
        expect(page.locator("#changes")).to_have_text(changes[s.key])
        if s.key == "strike":  # the drop before the first step is not applicable, not a missing cell
            expect(page.locator("#changes")).to_contain_text("then D leaves ACD")
            na = page.locator("#detail tbody tr").first.locator("td.na")
            expect(na).to_have_count(2)
            expect(na.last).to_have_attribute("title", "not applicable")
            expect(page.locator("#detail td.missing")).to_have_count(0)
        expect(page.locator("#limit")).to_have_text(s.limit)
        expect(page.locator("#answer-value")).not_to_be_empty()
        _no_horizontal_overflow(page)
        w.shot(f"scenario-{s.key}-{width}")
        page.locator("#open-grid").click()
        page.wait_for_load_state()
        assert urlparse(page.url).path == f"/world/{s.grid_world or s.world}/grid"
        cells = [v for k, v in s.grid if k == "cell"]
        assert parse_qs(urlparse(page.url).query)["cell"] == cells
        summary = page.locator("#selection-summary")
        for cell in cells:
            train, slice_ = cell.split(":")
            expect(summary).to_contain_text(f"{train} : {slice_}")
        expect(page.locator("#grid td.sel")).to_have_count(len(cells))
        if width == 1280:
            w.shot(f"scenario-{s.key}-grid")
    w.check()


def test_a_scenario_by_keyboard(open_page):
    w = open_page(1280)
    page = w.page
    w.goto("/scenarios")
    link = page.locator('a[href="/scenarios/toy-missing"]')
    for _ in range(60):  # Tab until the scenario's link has the focus
        page.keyboard.press("Tab")
        if link.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("the scenario link never took the keyboard focus")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("toy grid")
    expect(page.locator("#missing li.missing")).to_have_count(12)
    expect(page.locator("#detail")).to_contain_text("missing")
    grid = page.locator("#open-grid")
    for _ in range(80):
        page.keyboard.press("Tab")
        if grid.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("the grid link never took the keyboard focus")
    outline = grid.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none"
    w.shot("scenario-keyboard-focus")
    page.keyboard.press("Enter")
    page.wait_for_url("**/world/toy/grid?**")
    expect(page.locator("#grid td.sel")).to_have_count(2)
    w.check()
