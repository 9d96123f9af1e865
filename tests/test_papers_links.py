"""Every question and every lens links to its papers (issue 14), on the demo database.

The grid panel of ``digits`` (seed 0) answers every question of :data:`cfgraph.questions.TITLES`
and the lattice page shows every lens of :data:`cfgraph.web.lenses.LENSES`; each must carry a
"papers" link to the Related Work page filtered by a glossary term, and that page must list the
papers the link counts. The glossary lists each term once.
"""

from __future__ import annotations

import html as htmllib
import re

import pytest
from markupsafe import escape

from cfgraph.questions import TITLES
from cfgraph.semble.queries import card_anchor
from cfgraph.web.lenses import LENSES

LINK = re.compile(r'<a class="papers-link" href="(/related\?term=([a-z0-9-]+))"[^>]*>(\d+) papers? on ([^<]+)</a>')


@pytest.fixture(scope="module")
def client(demo_db):
    from cfgraph.web import create_app

    app = create_app({"DATABASE_URL": str(demo_db), "TESTING": True})
    yield app.test_client()
    app.extensions["cfgraph.store"].close()


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


@pytest.fixture(scope="module")
def question_links(client) -> dict[str, re.Match]:
    """Question key -> its papers link in the grid panel."""
    body = page(client, "/world/digits/grid?seed=0")
    found = {}
    for key in TITLES:
        item = re.search(rf'<li id="q-{key}".*?</li>', body, re.S)
        assert item, f"the grid panel has no answer for question {key!r}"
        found[key] = LINK.search(item.group(0))
    return found


@pytest.fixture(scope="module")
def lens_links(client) -> dict[str, re.Match]:
    """Lens key -> its papers link on the lattice page."""
    found = {}
    for key in LENSES:
        body = page(client, f"/world/digits/graph?lens={key}&seed=0")
        block = re.search(r'<p class="related" id="lens-papers">(.*?)</p>', body, re.S)
        found[key] = LINK.search(block.group(1)) if block else None
    return found


def test_every_question_links_to_its_papers(question_links):
    missing = sorted(key for key, link in question_links.items() if link is None)
    assert not missing, f"questions without a papers link: {missing}"


def test_every_lens_links_to_its_papers(lens_links):
    missing = sorted(key for key, link in lens_links.items() if link is None)
    assert not missing, f"lenses without a papers link: {missing}"


def test_the_named_terms_are_the_ones_linked(question_links, lens_links):
    from cfgraph.web.glossary import NAMING_TERMS

    assert {k: m.group(2) for k, m in question_links.items()} == {k: NAMING_TERMS["question"][k] for k in TITLES}
    assert {k: m.group(2) for k, m in lens_links.items()} == {k: NAMING_TERMS["lens"][k] for k in LENSES}


def test_each_link_opens_a_term_page_listing_the_papers_it_counts(client, question_links, lens_links):
    links = {m.group(1): m for m in [*question_links.values(), *lens_links.values()] if m is not None}
    assert links
    for href, link in links.items():
        term, count = link.group(2), int(link.group(3))
        api = client.get(f"/api/related?term={term}").get_json()
        papers = [card for shelf in api["shelves"] for card in shelf["cards"]]
        urls = [card["url"] for card in papers]
        assert count >= 1 and len(papers) == count, (term, count, urls)
        assert len(set(urls)) == len(urls), f"a paper listed twice for {term}"
        body = page(client, href)
        for card in papers:  # each paper has its entry on the page, linked to its URL
            assert f'id="{card_anchor(card["uri"])}"' in body, (term, card["title"])
            assert str(escape(card["title"])) in body


def test_the_glossary_lists_no_term_twice(client):
    body = page(client, "/glossary")
    ids = re.findall(r'<dt id="([^"]+)">([^<]+)</dt>', body)
    assert len(ids) > 40
    slugs = [slug for slug, _ in ids]
    names = [htmllib.unescape(name).strip().casefold() for _, name in ids]
    assert len(slugs) == len(set(slugs)), sorted(s for s in slugs if slugs.count(s) > 1)
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    # and each term's own papers list names no paper twice
    for block in re.findall(r'<div class="term-papers">(.*?)</div>', body, re.S):
        hrefs = re.findall(r'<li><a href="([^"]+)"', block)
        assert len(hrefs) == len(set(hrefs))
    for term in ("interaction-index", "evaluation-counterfactual", "evaluation-slice", "coreset"):
        assert f'href="/related?term={term}"' in body, term
