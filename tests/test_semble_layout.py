"""The related-work graph and cards as a reader sees them (issue 14, the new-user probe).

Labels whose estimated boxes never meet, connections between the same papers
drawn apart, types told apart without colour, anchors unique across
repositories, one rule for "covers", URL endpoints matched loosely, the empty
state of a glossary term without papers, the wider ``related list`` table and
``related forget``. No network: files and the Flask test client only.
"""

from __future__ import annotations

import json
import re
from itertools import combinations
from pathlib import Path

import pytest
from sqlalchemy import func, select
from test_semble import CARD, COLLECTION, DID, Repo, citation, invoke

from cfgraph.resources import resource_dir, seed_file
from cfgraph.semble import queries, service
from cfgraph.semble.connections import CONNECTION_TYPES, match_key
from cfgraph.semble.graph import DASHES, boxes_meet, connection_graph, papers_for_term, type_class
from cfgraph.store.related_models import RelatedCard, RelatedCollection, RelatedConnection, RelatedLink

CONNECTION = "network.cosmik.connection"
FRIEND = "did:plc:friendfriendfriendfriend"
SNAPSHOT_DID = "did:plc:cfgraph7demo7snapshot2qa"
COLLAB_DID = "did:plc:cfgraph7demo7collab2qa"


def _import(store, tmp_path, *repos, name="records.json"):
    path = Path(tmp_path) / name
    path.write_text(json.dumps({"did": repos[0].did, "records": [r for repo in repos for _, r in repo.listed()]}))
    return service.import_file(store, path)


def _paper(i, title=None, shelf="S"):
    return {"uri": f"at://{DID}/{CARD}/p{i:02d}", "title": title or f"Paper {i}", "url": None, "shelf": shelf}


def _edge(a, b, kind="RELATED"):
    return {"source": a, "target": b, "type": kind, "verb": "is related to", "class": type_class(kind), "note": None}


def _assert_labels_apart(graph):
    boxes = [n["box"] for n in graph["nodes"]]
    for (i, a), (j, b) in combinations(enumerate(boxes), 2):
        assert not boxes_meet(a, b, gap=0), (graph["nodes"][i]["label"], graph["nodes"][j]["label"])
    x, y, w, h = graph["x"], graph["y"], graph["width"], graph["height"]
    for left, top, right, bottom in boxes:  # every label inside the viewBox
        assert x <= left and right <= x + w and y <= top and bottom <= y + h


# ------------------------------------------------------------------ labels


def test_no_two_label_boxes_meet_in_the_demo(store):
    service.import_snapshot(store, seed_file("semble_snapshot.json"))
    with store.session() as s:
        graph = queries.related_view(s)["graph"]
    assert len(graph["nodes"]) == 18
    _assert_labels_apart(graph)


@pytest.mark.parametrize("n", [2, 3, 7, 20])
def test_no_two_label_boxes_meet_for_n_papers_with_long_titles(n):
    papers = [_paper(i, f"A Long Title About Data Valuation Number {i:02d} and More Words") for i in range(n)]
    edges = [_edge(papers[i], papers[(i + 1) % n]) for i in range(n)] + [_edge(papers[0], papers[n // 2], "SUPPORTS")]
    graph = connection_graph([e for e in edges if e["source"] is not e["target"]])
    assert len(graph["nodes"]) == n and all(len(node["label"]) <= 34 for node in graph["nodes"])
    assert all(node["title"].startswith("A Long Title") for node in graph["nodes"])  # the full title, for <title>
    _assert_labels_apart(graph)


# ------------------------------------------------------------------ parallel and opposite connections


def test_connections_between_the_same_papers_are_curves_apart():
    a, b, c = _paper(1), _paper(2), _paper(3)
    graph = connection_graph([_edge(a, b, "RELATED"), _edge(a, b, "SUPPORTS"), _edge(b, a, "OPPOSES"),
                              _edge(a, c, "HELPFUL")])
    edges = {e["type"]: e for e in graph["edges"]}
    paths = [e["d"] for e in edges.values()]
    assert len(set(paths)) == 4 and all(re.fullmatch(r"M\S+ Q\S+ \S+", d) for d in paths)
    apexes = {(edges[k]["qx"], edges[k]["qy"]) for k in ("RELATED", "SUPPORTS", "OPPOSES")}
    assert len(apexes) == 3  # three bows, none hidden under another
    # A lone connection is straight: its control point is on the chord.
    lone = edges["HELPFUL"]
    cross = (lone["x2"] - lone["x1"]) * (lone["qy"] - lone["y1"]) - (lone["y2"] - lone["y1"]) * (lone["qx"] - lone["x1"])
    assert abs(cross) < 1e-6 * max(1.0, abs(lone["x2"] - lone["x1"]) ** 2) + 50


def test_the_page_draws_each_connection_as_a_path_with_its_arrow_and_dash(store, tmp_path):
    from cfgraph.web import create_app

    repo = Repo()
    repo.records[CONNECTION] = []
    shelf = repo.collection("shelf", "dc: Pairs")
    a = repo.url_card("a", "https://example.org/a", "A")
    b = repo.url_card("b", "https://example.org/b", "B")
    repo.link("la", shelf, a)
    repo.link("lb", shelf, b)
    for rkey, (src, dst, kind) in {"c1": (a, b, "RELATED"), "c2": (a, b, "SUPPORTS"), "c3": (b, a, "OPPOSES")}.items():
        repo.put(CONNECTION, rkey, {"source": src["uri"], "target": dst["uri"], "connectionType": kind})
    _import(store, tmp_path, repo)
    html = create_app({"DATABASE_URL": store.url, "TESTING": True}).test_client().get("/related").get_data(as_text=True)
    drawn = re.findall(r'<path class="edge (edge-[a-z-]+)" d="([^"]+)"( stroke-dasharray="[^"]+")? '
                       r'marker-end="url\(#arrow-(edge-[a-z-]+)\)">', html)
    assert len(drawn) == 3 and len({d for _, d, _, _ in drawn}) == 3
    assert all(cls == arrow and f'<marker id="arrow-{cls}"' in html for cls, _, _, arrow in drawn)
    assert {cls: dash for cls, _, dash, _ in drawn} == {
        "edge-related": ' stroke-dasharray="5 5"', "edge-supports": "", "edge-opposes": ' stroke-dasharray="10 5"'}


# ------------------------------------------------------------------ types without colour, colours with contrast


def _luminance(hex_colour):
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(one, two):
    hi, lo = sorted((_luminance(one), _luminance(two)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _lab(hex_colour):
    """CIELAB (D65) of an sRGB colour, for a CIE76 colour difference."""
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    xyz = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047, 0.2126 * r + 0.7152 * g + 0.0722 * b, \
        (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883
    f = [t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in xyz]
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def test_each_type_has_its_own_dash_and_a_distinct_colour_with_3_to_1_contrast():
    kinds = [*CONNECTION_TYPES, None]
    assert set(DASHES) == set(kinds) and len(set(DASHES.values())) == len(kinds)
    css = (resource_dir("templates") / "static" / "related.css").read_text()
    background = re.search(r"--bg: (#[0-9a-f]{6})", (resource_dir("templates") / "static" / "cfgraph.css").read_text())[1]
    colours = {}
    for kind in kinds:
        cls = type_class(kind)
        colours[cls] = re.search(rf"\.{cls} {{ color: (#[0-9a-f]{{6}}); stroke: \1; fill: \1; }}", css)[1]
        assert _contrast(colours[cls], background) >= 3.0, (cls, colours[cls])  # WCAG 1.4.11
    for (one, a), (two, b) in combinations(colours.items(), 2):
        difference = sum((p - q) ** 2 for p, q in zip(_lab(a), _lab(b), strict=True)) ** 0.5
        assert difference >= 20, (one, two, round(difference, 1))  # CIE76: clearly different colours


# ------------------------------------------------------------------ the page: anchors, added by, covers, doi, terms


def _collaborated(store, tmp_path):
    """An OPEN shelf whose collaborator's card has the same record key as the owner's, connected to it."""
    owner, friend = Repo(), Repo(did=FRIEND)
    owner.records[CONNECTION] = []
    shelf = owner.put(COLLECTION, "shelf", {"name": "dc: Shared", "accessType": "OPEN", "collaborators": [FRIEND]})
    mine = owner.url_card("same", "https://example.org/mine", "Mine")
    owner.note("minenote", mine, citation("Mine", 2020, ["data shapley"]))
    owner.link("minelink", shelf, mine)
    theirs = friend.url_card("same", "https://example.org/theirs", "Theirs", doi="10.1/theirs")
    friend.link("theirlink", shelf, theirs)
    owner.put(CONNECTION, "c", {"source": mine["uri"], "target": theirs["uri"], "connectionType": "SUPPORTS"})
    report = _import(store, tmp_path, owner, friend)
    assert (report.cards, report.connections, report.skipped) == (2, 1, 0)
    return mine, theirs


def _card(html, anchor):
    """The markup of the card whose id is ``anchor``, up to the next card or the end of its shelf."""
    start = html.index(f'id="{anchor}"')
    ends = [i for i in (html.find('<li class="card"', start), html.find("</ol>", start)) if i != -1]
    return html[start:min(ends)]


@pytest.fixture
def app(store):
    from cfgraph.web import create_app

    return create_app({"DATABASE_URL": store.url, "TESTING": True})


def test_anchors_are_unique_across_repositories_and_links_reach_the_right_card(store, tmp_path, app):
    mine, theirs = _collaborated(store, tmp_path)
    ours, friends = queries.card_anchor(mine["uri"]), queries.card_anchor(theirs["uri"])
    assert ours != friends and ours.startswith("paper-same-") and friends.startswith("paper-same-")
    html = app.test_client().get("/related").get_data(as_text=True)
    assert html.count(f'id="{ours}"') == html.count(f'id="{friends}"') == 1
    mine_card, their_card = _card(html, ours), _card(html, friends)
    assert f'supports <a href="#{friends}">Theirs</a>' in mine_card
    assert f'<a href="#{ours}">Mine</a> supports this' in their_card
    assert f"added by {FRIEND}" in their_card and "added by" not in mine_card
    # the separator before doi: is outside the link
    assert '<span class="doi"><a href="https://doi.org/10.1/theirs"' in their_card
    css = (resource_dir("templates") / "static" / "related.css").read_text()
    assert "span + a::before" not in css and "li.card .meta span + span::before" in css


def test_covers_and_papers_for_term_use_one_rule(store, tmp_path, app):
    _collaborated(store, tmp_path)  # "Mine" is tagged "data shapley": the term's name, not one of its tags
    with store.session() as s:
        papers = papers_for_term(s, "data-shapley")
        view = queries.related_view(s)
    assert [p["title"] for p in papers] == ["Mine"]
    [shelf] = view["shelves"]
    assert "Data Shapley" in [t["label"] for t in shelf["topics"]]
    service.import_snapshot(store, seed_file("semble_snapshot.json"))
    with store.session() as s:
        view = queries.related_view(s)
        related_map = queries.load_related_map()
        for slug in related_map["glossary"]:
            label = related_map["glossary"][slug]["label"]
            holding = {p["anchor"] for p in papers_for_term(s, slug, related_map)}
            covering = {sh["anchor"] for sh in view["shelves"] if label in [t["label"] for t in sh["topics"]]}
            assert holding <= covering, slug


def test_a_glossary_term_without_papers_is_an_empty_page_and_an_unknown_term_a_plain_404(store, app):
    service.import_snapshot(store, seed_file("semble_snapshot.json"))
    client = app.test_client()
    page = client.get("/related?term=lattice")
    assert page.status_code == 200
    assert "No papers tagged Lattice yet." in page.get_data(as_text=True)
    api = client.get("/api/related?term=lattice").get_json()
    assert api["shelves"] == [] and api["term"] == {"slug": "lattice", "label": "Lattice"}
    missing = client.get("/related?term=no-such-term")
    body = missing.get_data(as_text=True)
    assert missing.status_code == 404 and "no glossary term &#39;no-such-term&#39;" in body
    assert ".json" not in body and "related_map" not in body


# ------------------------------------------------------------------ connections matched by URL, duplicates


def test_url_endpoints_match_whatever_the_case_of_host_and_a_trailing_slash(store, tmp_path):
    assert match_key("HTTPS://Example.ORG/p/1/") == match_key("https://example.org/p/1")
    assert match_key("https://example.org/P/1") != match_key("https://example.org/p/1")  # paths keep their case
    repo = Repo()
    repo.records[CONNECTION] = []
    shelf = repo.collection("shelf", "dc: S")
    a = repo.url_card("a", "https://example.org/p/1", "A")
    b = repo.url_card("b", "https://example.org/p/2/", "B")
    repo.link("la", shelf, a)
    repo.link("lb", shelf, b)
    repo.put(CONNECTION, "loose", {"source": "HTTPS://Example.ORG/p/1/", "target": "https://EXAMPLE.org/p/2",
                                   "connectionType": "SUPPORTS", "createdAt": "2025-01-01T00:00:00Z"})
    # Two repeats at one createdAt: the one with a note is kept, whichever is listed first.
    repo.put(CONNECTION, "a-bare", {"source": b["uri"], "target": a["uri"], "connectionType": "RELATED",
                                    "createdAt": "2025-02-01T00:00:00Z"})
    repo.put(CONNECTION, "b-noted", {"source": b["uri"], "target": a["uri"], "connectionType": "RELATED",
                                     "note": "why", "createdAt": "2025-02-01T00:00:00Z"})
    report = _import(store, tmp_path, repo)
    assert (report.connections, report.skipped) == (2, 1)
    with store.session() as s:
        rows = {r.uri.rsplit("/", 1)[1]: r for r in s.scalars(select(RelatedConnection))}
    assert set(rows) == {"loose", "b-noted"}
    assert (rows["loose"].source, rows["loose"].target) == ("HTTPS://Example.ORG/p/1/", "https://EXAMPLE.org/p/2")
    assert (rows["loose"].source_card_uri, rows["loose"].target_card_uri) == (a["uri"], b["uri"])
    assert "duplicate connection" in report.skips[0].reason and report.skips[0].uri.endswith("/a-bare")


# ------------------------------------------------------------------ the CLI: list columns, forget


def test_list_shows_priority_identifiers_and_who_added_a_card(tmp_path):
    db = tmp_path / "cli.db"
    assert invoke(db, "related", "import", str(seed_file("semble_snapshot.json"))).exit_code == 0
    out = invoke(db, "related", "list").output
    header = out.splitlines()[0].split()
    assert header[:3] == ["shelf", "priority", "year"] and "doi/isbn" in header and header[-1] == "url"
    assert "added by" in out.splitlines()[0]
    book = next(line for line in out.splitlines() if "Essays in Honor" in line)
    assert "isbn:978-0-521-36177-4" in book and "doi:10.1017/CBO9780511528446" in book
    assert any(COLLAB_DID in line and "Efficient Task-Specific" in line for line in out.splitlines())
    first = next(line for line in out.splitlines() if line.startswith("Data valuation"))
    assert re.match(r"Data valuation\s+1\s+2019", first)  # the priority:1 paper, first on its shelf


def _counts(db):
    from cfgraph.store import open_store

    store = open_store(f"sqlite:///{db}")
    try:
        with store.session() as s:
            return {model.__tablename__: dict(s.execute(select(model.did, func.count()).group_by(model.did)).all())
                    for model in (RelatedCollection, RelatedCard, RelatedLink, RelatedConnection)}
    finally:
        store.close()


def test_forget_drops_one_repositorys_rows_in_one_line(tmp_path):
    db = tmp_path / "cli.db"
    assert invoke(db, "related", "import", str(seed_file("semble_snapshot.json"))).exit_code == 0
    before = _counts(db)
    assert before["related_card"][COLLAB_DID] == 1 and before["related_link"][COLLAB_DID] == 1
    result = invoke(db, "related", "forget", "--did", COLLAB_DID)
    assert result.exit_code == 0 and result.output.count("\n") == 1
    assert result.output == (f"forgot {COLLAB_DID}: 0 shelves, 1 cards, 1 notes, 1 links, 1 connections removed\n")
    after = _counts(db)
    assert all(COLLAB_DID not in rows for rows in after.values())
    assert after["related_card"][SNAPSHOT_DID] == before["related_card"][SNAPSHOT_DID]
    assert after["related_connection"][SNAPSHOT_DID] == before["related_connection"][SNAPSHOT_DID] - 1
    result = invoke(db, "related", "forget", "--did", SNAPSHOT_DID)
    assert result.exit_code == 0 and "7 shelves, 22 cards, 22 notes, 22 links, 11 connections removed" in result.output
    assert all(not rows for rows in _counts(db).values())
    bad = invoke(db, "related", "forget", "--did", "not-a-did")
    assert bad.exit_code != 0 and "not a DID" in bad.output and bad.output.count("\n") == 1
