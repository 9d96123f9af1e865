"""The lab in real headless Chromium on the demo worlds: digits against digits-poison, seed 0 against
seed 1, cells added by click and by keyboard, export then import of the state, 1280 and 390 px."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlparse

import pytest
from playwright.sync_api import expect
from test_browser import Watched, browser, live_server  # noqa: F401  (browser: the shared Chromium fixture)

from cfgraph.lab_state import LabState

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def base_url(demo_db):
    yield from live_server(demo_db)  # read only: the lab writes nothing


def open_page(browser, base_url, tmp_path, width):
    context = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    return context, Watched(page, base_url, tmp_path)


def state_of(page) -> LabState:
    return LabState.from_query(parse_qsl(urlparse(page.url).query))


def counts(page) -> dict[str, int]:
    rows = page.locator("#lab-counts tbody tr")
    return {rows.nth(i).get_attribute("data-class"): int(rows.nth(i).locator("td").first.inner_text())
            for i in range(rows.count())}


def test_compare_world_with_its_poisoned_variant_and_seeds(browser, base_url, tmp_path):
    context, w = open_page(browser, base_url, tmp_path, 1280)
    page = w.page
    try:
        w.goto("/lab?p.world=digits")
        page.get_by_role("link", name="B = its variant digits-poison").first.click()
        expect(page.locator("#lab-counts")).to_be_visible()
        state = state_of(page)
        assert [c.to_text() for c in state.a] == ["digits|*|*"] and [c.to_text() for c in state.b] == ["digits-poison|*|*"]
        assert state.param("pairing") == "matched"
        found = counts(page)
        m = page.locator("table.diff thead th").count() - 1
        # Matched pairing: each training set and slice against itself in the variant, nothing else.
        assert found == {"variant change": 16 * m}
        expect(page.locator('table.diff[data-kind="variant change"]')).to_be_visible()
        w.shot("lab-variant-1280")

        # The attack: in digits-poison, each T against T + E (the poison unit joins): training additions.
        page.get_by_role("link", name="In digits-poison: each training set T against T + E").click()
        expect(page.locator('table.diff[data-kind="training addition"]')).to_be_visible()
        assert counts(page) == {"training addition": 16 * m}
        top = page.locator("#lab-top tbody tr")
        assert top.count() == 10
        first = top.first.locator("td")
        assert "E" in first.nth(1).inner_text() and first.nth(5).inner_text()[0] in "+−-"
        assert float(first.nth(5).inner_text().replace("−", "-")) != 0  # the attack moves the score
        w.shot("lab-poison-1280")

        page.get_by_role("link", name="A = seed 0, B = seed 1").click()
        expect(page.locator('table.diff[data-kind="seed change"]')).to_be_visible()
        found = counts(page)
        assert found == {"seed change": 16 * m}
        w.shot("lab-seeds-1280")
        w.check()
    finally:
        context.close()


def test_cells_by_click_and_keyboard_then_export_and_import(browser, base_url, tmp_path):
    context, w = open_page(browser, base_url, tmp_path, 1280)
    page = w.page
    try:
        w.goto("/lab?p.world=digits")
        page.locator('#pick-grid button[value="digits|ABCD|all"]').click()
        expect(page.locator("#set-a li")).to_have_count(1)
        page.get_by_role("radio", name="World B").check()
        # By keyboard: focus ABCD's cell, arrow up to BCD (the row above in the grid's order), Enter.
        start = page.locator('#pick-grid button[value="digits|ABCD|all"]')
        start.focus()
        page.keyboard.press("ArrowUp")
        focused = page.evaluate("document.activeElement.value")
        assert focused == "digits|BCD|all"
        page.keyboard.press("Enter")
        expect(page.locator("#set-b li")).to_have_count(1)
        # After the reload, focus is back on the cell pressed: the keyboard user goes on from there.
        expect(page.locator('#pick-grid button[value="digits|BCD|all"]')).to_be_focused()
        page.keyboard.press("ArrowUp")
        assert page.evaluate("document.activeElement.closest('#pick-grid') !== null")
        page.locator("#type-cell").fill("digits|A|all")
        page.get_by_role("button", name="add to B").click()
        expect(page.locator("#set-b li")).to_have_count(2)
        assert "training removal" in counts(page)
        before = state_of(page)
        assert [c.train for c in before.b] == ["BCD", "A"]
        # A cell that does not resolve is refused at the add step: one line inline, the sets unchanged,
        # the typed text kept to correct (a 400, filtered from the console errors below).
        page.locator("#type-cell").fill("digits|ABCD|Z")
        page.get_by_role("button", name="add to B").click()
        expect(page.locator("#lab-problem")).to_contain_text("'digits|ABCD|Z' not added to World B")
        expect(page.locator("#set-b li")).to_have_count(2)
        expect(page.locator("#type-cell")).to_have_value("digits|ABCD|Z")
        assert (state_of(page).a, state_of(page).b) == (before.a, before.b)
        expect(page.locator("#lab-totals")).to_contain_text("1 × 2 = 2 pairs on")  # the comparison is kept too

        with page.expect_download() as info:
            page.locator("#lab-export").click()
        saved = tmp_path / "cfgraph-lab.json"
        info.value.save_as(saved)
        assert LabState.from_document(saved.read_bytes()) == before

        w.goto("/lab")
        expect(page.locator("#lab-empty")).to_be_visible()
        page.locator("#import-file").set_input_files(str(saved))
        page.locator("#import-submit").click()
        expect(page.locator("#lab-counts")).to_be_visible()
        assert state_of(page) == before
        assert page.locator("#set-b li").count() == 2

        # A refused document: its message inline on the lab page, the state kept, nothing applied.
        bad = tmp_path / "bad.json"
        bad.write_text('{"cfgraph_lab": "1", "a": ["digits|A|all"]}')
        page.locator("#import-file").set_input_files(str(bad))
        page.locator("#import-submit").click()
        expect(page.locator("#import-problem")).to_contain_text("must be the integer 1, not the string '1'")
        assert page.locator("#set-b li").count() == 2 and page.locator("#lab-counts").is_visible()
        w.shot("lab-import-refused-1280")
        # The refusal is a 400 page; Chromium logs that status as a console error, which is expected here.
        w.problems = [p for p in w.problems if "status of 400" not in p]
        w.check()
    finally:
        context.close()


def test_narrow_screen_stacks_the_sets(browser, base_url, tmp_path):
    context, w = open_page(browser, base_url, tmp_path, 390)
    page = w.page
    try:
        w.goto("/lab?p.world=digits&a=digits|ABCD|all&b=digits|BCD|all&b=digits|ACD|all")
        a, b = page.locator("#set-a").bounding_box(), page.locator("#set-b").bounding_box()
        assert b["y"] >= a["y"] + a["height"] - 1 and abs(a["x"] - b["x"]) < 2
        assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
        expect(page.locator("#lab-counts")).to_be_visible()
        w.shot("lab-390")
        w.check()
    finally:
        context.close()
