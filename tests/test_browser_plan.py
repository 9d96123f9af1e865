"""The planner in real headless Chromium: plan a question, see its missing cells, compute them."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import expect

from test_browser import Watched, browser, live_server  # noqa: F401
from test_planner import _drop

pytestmark = pytest.mark.browser

PLAN = "/world/iris/plan?cell=ABCD:all&cell=BCD:all"


def _serve(source, tmp_path, **drop):
    """The app with --allow-compute on a copy of ``source`` lacking the cells of BCD and AB (``drop``: which)."""
    from cfgraph.store import open_store

    path = tmp_path / "gap.db"
    shutil.copy(source, path)
    store = open_store(path)
    _drop(store, ["BCD", "AB"], **drop)
    store.close()
    yield from live_server(path, {"ALLOW_COMPUTE": True})


@pytest.fixture
def compute_server(iris_db, tmp_path):
    """iris (one seed) lacking BCD and AB."""
    yield from _serve(iris_db, tmp_path)


@pytest.fixture
def seeds_server(demo_db, tmp_path):
    """digits (seeds 0 and 1) lacking BCD and AB on seed 1 only."""
    yield from _serve(demo_db, tmp_path, seed=1, world="digits")


def test_plan_and_compute(browser, compute_server, tmp_path):  # noqa: F811
    for width in (1280, 390):
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        page.set_default_timeout(30000)
        w = Watched(page, compute_server, tmp_path)
        w.goto(PLAN)
        loo = page.locator("#q-loo")
        expect(loo).to_contain_text("needs 1 more cell")
        expect(loo.locator("code")).to_have_text("BCD:all")
        expect(page.locator("#plan-size")).to_contain_text("16 training sets exist; 14 stored")
        w.shot(f"plan-{width}")
        if width == 390:
            href = loo.locator("a.select-missing").get_attribute("href")
            assert "cell=BCD%3Aall" in href
            page.locator("#compute-button").click()
            expect(page.locator("#job-text")).to_contain_text("done", timeout=60000)
            expect(page.locator("#q-loo")).to_contain_text("ready")
            expect(page.locator("#plan-size")).to_contain_text("16 stored")
            w.shot(f"plan-computed-{width}")
        context.close()
        w.check()


def test_plan_across_seeds_and_compute_the_seed_that_misses(browser, seeds_server, tmp_path):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30000)
    w = Watched(page, seeds_server, tmp_path)
    w.goto("/world/digits/plan?cell=ABCD:all&cell=BCD:all")
    expect(page.locator("#plan-size")).to_contain_text("14 stored on every seed (seed 0: 16, seed 1: 14)")
    expect(page.locator("#q-loo")).to_contain_text("needs 1 more cell (seed 1)")
    expect(page.locator("#q-loo code")).to_have_text("BCD:all (seed 1)")
    expect(page.locator("#compute-button")).to_contain_text("on seed 1")
    w.shot("plan-seeds-before")
    page.locator("#compute-button").click()
    expect(page.locator("#job-text")).to_contain_text("done", timeout=60000)
    expect(page.locator("#plan-size")).to_contain_text("16 stored on every seed")
    expect(page.locator("#plan tr.plan-needs")).to_have_count(0)
    w.shot("plan-seeds-after")
    page.locator("#seed-scope a", has_text="seed 1").click()
    expect(page.locator("#seed-scope")).to_contain_text("Planned on seed 1 only")
    expect(page.locator("#q-loo")).to_contain_text("ready")
    context.close()
    w.check()
