"""The Related Work page in a real headless Chromium: hostile cards show no link and run no script.

One card comes through the importer (an https URL, markup in its title and
note); another is written straight into ``related_card`` with a
``javascript:`` URL, as a user with SQL access could. Neither may produce a
``javascript:`` link, an ``<img>`` or a running script.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from cfgraph.semble import service
from cfgraph.semble.queries import card_anchor
from cfgraph.store.related_models import RelatedCard, RelatedLink, RelatedNote

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]
DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
DID_SNAPSHOT = "did:plc:cfgraph7demo7snapshot2qa"  # the bundled snapshot's repository
SCRIPT_TITLE = "<script>window.__xss = 'title'</script>Hostile title"
IMG_NOTE = "<img src=x onerror=\"window.__xss = 'note'\"> note <script>window.__xss = 'note2'</script>"

pytestmark = pytest.mark.browser


def _chromium_or_skip():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI (apt-get install -y chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")


def _record(nsid, rkey, value):
    return {"uri": f"at://{DID}/{nsid}/{rkey}", "cid": f"bafyrei{rkey}", "value": {"$type": nsid, **value}}


def hostile_repo() -> dict:
    shelf = _record("network.cosmik.collection", "shelf", {"name": "dc: Hostile <b>shelf</b>", "accessType": "OPEN",
                                                            "description": "<script>window.__xss = 'desc'</script>"})
    ok = _record("network.cosmik.card", "ok", {
        "type": "URL", "content": {"url": "https://example.org/ok", "metadata": {"title": SCRIPT_TITLE}}})
    js = _record("network.cosmik.card", "js", {
        "type": "URL", "content": {"url": "javascript:alert(1)", "metadata": {"title": SCRIPT_TITLE}}})
    ref = {"uri": ok["uri"], "cid": ok["cid"]}
    shelf_ref = {"uri": shelf["uri"], "cid": shelf["cid"]}
    note = _record("network.cosmik.card", "note", {"type": "NOTE", "content": {"text": IMG_NOTE}, "parentCard": ref})
    links = [_record("network.cosmik.collectionLink", rkey, {"collection": shelf_ref, "card": card, "addedBy": DID,
                                                              "addedAt": "2025-01-01T00:00:00Z"})
             for rkey, card in (("l1", ref), ("l2", {"uri": js["uri"], "cid": js["cid"]}))]
    return {"did": DID, "records": [shelf, ok, js, note, *links]}


@pytest.fixture
def related_server(store, tmp_path):
    """The app on 127.0.0.1 (port 0) over a store holding the hostile cards."""
    from werkzeug.serving import make_server

    from cfgraph.web import create_app

    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(hostile_repo()))
    report = service.import_file(store, path)
    assert any("javascript:" in s.reason for s in report.skips)  # the importer refuses the javascript: card
    now = datetime(2025, 1, 1)
    shelf_uri = f"at://{DID}/network.cosmik.collection/shelf"
    handmade = f"at://{DID}/network.cosmik.card/handmade"
    with store.transaction() as session:  # what a hand-written SQL INSERT could leave behind
        session.execute(insert(RelatedCard), [dict(uri=handmade, cid="c", did=DID, url="javascript:alert(1)",
                                                   title="<img src=x onerror=alert(1)>Handmade", fetched_at=now)])
        session.execute(insert(RelatedNote), [dict(uri=handmade + "n", cid="c", did=DID, card_uri=handmade,
                                                   text="<script>alert(2)</script>", fetched_at=now)])
        session.execute(insert(RelatedLink), [dict(uri=handmade + "l", cid="c", did=DID, collection_uri=shelf_uri,
                                                   card_uri=handmade, fetched_at=now)])
    app = create_app({"DATABASE_URL": store.url, "TESTING": True})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_hostile_cards_show_no_link_and_run_no_script(related_server):
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    dialogs = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(related_server + "/related", wait_until="load")
            cards = page.locator("li.card")
            assert cards.count() == 2
            hostile = cards.filter(has_text="Hostile title")
            assert SCRIPT_TITLE in hostile.inner_text()  # shown as text, not parsed as markup
            assert "onerror" in hostile.locator(".card-note").inner_text()
            assert hostile.locator(".card-title a").get_attribute("href") == "https://example.org/ok"
            handmade = cards.filter(has_text="Handmade")
            assert handmade.locator("a").count() == 0  # a javascript: URL gives no link at all
            assert "<img src=x onerror=alert(1)>Handmade" in handmade.inner_text()
            hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
            assert not [h for h in hrefs if h.strip().lower().startswith(("javascript:", "data:"))]
            assert page.locator("main img, main script").count() == 0
            assert "<b>shelf</b>" in page.locator("section.shelf h2").inner_text()
            assert page.evaluate("window.__xss") is None
            assert dialogs == []
        finally:
            browser.close()


# ------------------------------------------------------------------ the connections graph, at two widths

WIDTHS = (1280, 390)


@pytest.fixture(scope="module")
def snapshot_url(tmp_path_factory):
    """The app over a store holding the bundled snapshot (connections, a collaborator's card)."""
    from test_browser import live_server

    from cfgraph.resources import seed_file
    from cfgraph.store import open_store

    path = tmp_path_factory.mktemp("related-graph") / "cfgraph.db"
    store = open_store(f"sqlite:///{path}")
    service.import_snapshot(store, seed_file("semble_snapshot.json"))
    store.close()
    yield from live_server(path)


@pytest.mark.parametrize("width", WIDTHS, ids=[f"{w}px" for w in WIDTHS])
def test_the_connections_graph_is_drawn_and_links_to_papers(snapshot_url, width, tmp_path):
    _chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright
    from test_browser import Watched

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(viewport={"width": width, "height": 900})
            page = context.new_page()
            page.set_default_timeout(15000)
            watched = Watched(page, snapshot_url, tmp_path)
            watched.goto("/related")
            graph = page.locator("figure.connection-graph svg.connection-svg")
            expect(graph).to_be_visible()
            assert graph.locator("path.edge").count() == 12
            assert graph.locator("circle").count() == 18
            box = graph.bounding_box()
            assert box["width"] >= 640 and box["height"] > 100  # narrow screens scroll it inside its frame
            # Labels drawn at >= 10 px: the viewBox is never squeezed below legibility on a phone.
            scale = graph.evaluate("svg => svg.getBoundingClientRect().width / svg.viewBox.baseVal.width")
            size = float(graph.locator(".node text").first.evaluate("t => getComputedStyle(t).fontSize")[:-2])
            assert size * scale >= 10, (width, scale, size)
            if width < 700:
                assert scale == pytest.approx(1.0, abs=0.01)  # natural size, scrolled in its box
            assert page.locator(".graph-scroll").bounding_box()["width"] <= width
            hrefs = graph.locator("a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
            assert hrefs and all(h.startswith("https://") for h in hrefs)
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            watched.shot(f"related-graph-{width}")
            graph.screenshot(path=str(tmp_path / f"graph-only-{width}.png"))
            # A paper's connection links to the other paper's entry on the page.
            banzhaf = page.locator("#" + card_anchor(f"at://{DID_SNAPSHOT}/network.cosmik.card/3m4pojmrjs22b"))
            link = banzhaf.locator("ul.card-connections a").first
            expect(link).to_have_text("Data Shapley: Equitable Valuation of Data for Machine Learning")
            link.click()
            shapley = card_anchor(f"at://{DID_SNAPSHOT}/network.cosmik.card/3m4po6vh7c22b")
            assert page.url.endswith("#" + shapley)
            expect(page.locator("#" + shapley)).to_be_in_viewport()
            watched.goto("/glossary")
            papers = page.locator("#data-shapley + dd .term-papers li")
            expect(papers).to_have_count(4)  # three papers and the 1988 book
            watched.shot(f"glossary-{width}")
            watched.check()
        finally:
            browser.close()
