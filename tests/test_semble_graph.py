"""Related work as a graph: connections, collaborators' cards, handle resolution and papers by term.

Everything runs against loopback servers (the XRPC/PLC server of test_semble, a
UDP DNS server built with dnspython); no test reaches the internet.
"""

from __future__ import annotations

import socket
import sqlite3
import threading

import pytest
from sqlalchemy import select
from test_semble import (  # noqa: F401  (pds is a fixture)
    CARD,
    COLLECTION,
    DID,
    HANDLE,
    FakePds,
    Handler,
    Repo,
    Server,
    citation,
    pds,
)

from cfgraph.errors import CfgraphError
from cfgraph.resources import seed_file
from cfgraph.semble import queries, service
from cfgraph.semble.connections import CONNECTION_TYPES
from cfgraph.semble.graph import papers_for_term
from cfgraph.semble.handles import HandleResolver, dnspython_txt, fetch_url
from cfgraph.store.db import make_engine, migrate
from cfgraph.store.related_models import RelatedCard, RelatedConnection, RelatedLink, RelatedSkip

CONNECTION = "network.cosmik.connection"
SNAPSHOT_DID = "did:plc:cfgraph7demo7snapshot2qa"
FRIEND = "did:plc:friendfriendfriendfriend"
XRPC_ONLY = HandleResolver(methods=("xrpc",), timeout=5)


def connected_repo():
    """One OPEN shelf of nine papers, connected by one connection of each type and one untyped."""
    repo = Repo()
    repo.records[CONNECTION] = []
    shelf = repo.collection("shelf", "dc: Data valuation")
    cards = []
    for i in range(9):
        card = repo.url_card(f"card{i}", f"https://example.org/p/{i}", f"Paper {i}")
        repo.note(f"note{i}", card, citation(f"Paper {i}", 2010 + i, ["data valuation"]))
        repo.link(f"link{i}", shelf, card)
        cards.append(card)
    for i, kind in enumerate((*CONNECTION_TYPES, None)):
        value = {"source": cards[i]["uri"], "target": f"https://example.org/p/{(i + 1) % 9}",
                 "createdAt": f"2025-03-01T00:00:0{i}Z"}
        if kind:
            value["connectionType"] = kind
            value["note"] = f"{kind} note"
        repo.put(CONNECTION, f"conn{i}", value)
    return repo, shelf, cards


def refresh(store, server, **kwargs):
    kwargs.setdefault("did", server.repo.did)
    kwargs.setdefault("plc", server.url)
    kwargs.setdefault("timeout", 5)
    kwargs.setdefault("resolver", XRPC_ONLY)
    return service.refresh(store, **kwargs)


def skips(store):
    with store.session() as s:
        return {(k.uri or "").rsplit("/", 1)[-1]: k.reason for k in s.scalars(select(RelatedSkip))}


# ------------------------------------------------------------------ connections


def test_connections_of_every_type_are_stored_as_edges_between_papers(store, pds):
    pds.repo, _shelf, cards = connected_repo()
    report = refresh(store, pds)
    assert (report.cards, report.connections, report.skipped) == (9, 9, 0)
    with store.session() as s:
        rows = {r.uri.rsplit("/", 1)[1]: r for r in s.scalars(select(RelatedConnection))}
    assert {r.connection_type for r in rows.values()} == {*CONNECTION_TYPES, None}
    for i in range(9):
        row = rows[f"conn{i}"]
        assert row.source_card_uri == cards[i]["uri"]  # an at-uri endpoint
        assert row.target_card_uri == cards[(i + 1) % 9]["uri"]  # a URL endpoint, matched to its card
        assert row.target == f"https://example.org/p/{(i + 1) % 9}"
    assert [c["connectionType"] if "connectionType" in c else None
            for c in (r["value"] for r in pds.repo.records[CONNECTION])] == [*CONNECTION_TYPES, None]
    # Edited upstream: the row follows; deleted upstream: it goes.
    pds.repo.put(CONNECTION, "conn0", {"source": cards[0]["uri"], "target": cards[5]["uri"],
                                       "connectionType": "OPPOSES"})
    pds.repo.delete(f"at://{DID}/{CONNECTION}/conn1")
    report = refresh(store, pds)
    assert (report.connections, report.updated, report.removed) == (8, 1, 1)


HOSTILE = {
    "badtype": ({"connectionType": "LIKES"}, "unknown connectionType"),
    "longnote": ({"connectionType": "RELATED", "note": "é" * 501}, "longer than 1000 bytes"),
    "jsurl": ({"source": "javascript:alert(1)"}, "is not http(s)"),
    "dataurl": ({"target": "data:text/html,<script>alert(1)</script>"}, "is not http(s)"),
    "selfloop": ({"target": "https://example.org/p/0"}, "connects a paper to itself"),
    "unknown": ({"target": "https://example.org/not-on-a-shelf"}, "target is not a paper on an imported shelf"),
    "unknownuri": ({"source": f"at://{DID}/{CARD}/nosuchcard"}, "source is not a paper on an imported shelf"),
    "sourceint": ({"source": 7}, "field source is not a string"),
    "notarget": ({"target": None}, "missing field target"),
    "typeint": ({"connectionType": 3}, "field connectionType is not a string"),
    "badat": ({"source": "at://not a uri"}, "not an at-uri"),
    "dup": ({"connectionType": "SUPPORTS"}, "duplicate connection"),
}


def test_each_hostile_connection_is_skipped_with_its_reason(store, pds):
    repo, _shelf, cards = connected_repo()
    repo.records[CONNECTION] = []
    repo.put(CONNECTION, "good", {"source": cards[0]["uri"], "target": cards[1]["uri"], "connectionType": "SUPPORTS",
                                  "createdAt": "2025-01-01T00:00:00Z"})
    for rkey, (change, _reason) in HOSTILE.items():
        value = {"source": cards[0]["uri"], "target": cards[1]["uri"], "createdAt": "2025-02-01T00:00:00Z", **change}
        repo.put(CONNECTION, rkey, {k: v for k, v in value.items() if v is not None})
    pds.repo = repo
    report = refresh(store, pds)
    assert report.connections == 1
    got = skips(store)
    for rkey, (_change, reason) in HOSTILE.items():
        assert reason in got[rkey], (rkey, got[rkey])
    assert all("\n" not in r and len(r) <= 300 for r in got.values())


# ------------------------------------------------------------------ collaborators of OPEN collections


@pytest.fixture
def friend():
    """A second loopback PDS holding the collaborator's repository (and answering its DID document)."""
    state = FakePds(Repo(did=FRIEND))
    server = Server(("127.0.0.1", 0), Handler)
    server.state = state
    state.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_a_collaborators_link_is_read_from_their_pds_and_the_owners_removal_applies(store, pds, friend):
    owner = Repo()
    shelf = owner.put(COLLECTION, "shelf", {"name": "dc: Shared", "accessType": "OPEN", "collaborators": [FRIEND]})
    closed = owner.put(COLLECTION, "closed", {"name": "dc: Closed", "accessType": "CLOSED", "collaborators": [FRIEND]})
    mine = owner.url_card("mine", "https://example.org/mine", "Mine")
    owner.link("minelink", shelf, mine)
    theirs = friend.repo.url_card("theirs", "https://example.org/theirs", "Theirs")
    friend.repo.note("theirnote", theirs, citation("Theirs", 2021, ["shapley"]))
    kept = friend.repo.link("keptlink", shelf, theirs)
    dropped = friend.repo.url_card("dropped", "https://example.org/dropped", "Dropped")
    gone = friend.repo.link("gonelink", shelf, dropped)
    friend.repo.link("closedlink", closed, dropped)  # not OPEN: ignored
    owner.removal("removal", shelf, gone)
    pds.repo = owner
    # The owner's PDS is given; the collaborator is resolved through the PLC directory (the friend's server).
    report = refresh(store, pds, pds=pds.url, plc=friend.url)
    assert (report.cards, report.links, report.notes, report.collaborators, report.skipped) == (2, 2, 1, 1, 0)
    assert ("/" + FRIEND, {}) in friend.calls  # the DID document, never a fixed host
    with store.session() as s:
        links = {r.uri: (r.did, r.card_uri) for r in s.scalars(select(RelatedLink))}
        cards = {r.uri: r.did for r in s.scalars(select(RelatedCard))}
    assert links[kept["uri"]] == (FRIEND, theirs["uri"]) and gone["uri"] not in links
    assert cards == {mine["uri"]: DID, theirs["uri"]: FRIEND}
    # The collaborator takes the card back: the next refresh drops it.
    friend.repo.delete(kept["uri"])
    report = refresh(store, pds, pds=pds.url, plc=friend.url)
    assert (report.cards, report.links, report.removed) == (1, 1, 3)  # link, card and note


def test_an_unreachable_collaborator_is_skipped_and_its_rows_kept(store, pds, friend):
    owner = Repo()
    shelf = owner.put(COLLECTION, "shelf", {"name": "dc: Shared", "accessType": "OPEN", "collaborators": [FRIEND]})
    theirs = friend.repo.url_card("theirs", "https://example.org/theirs", "Theirs")
    friend.repo.link("keptlink", shelf, theirs)
    pds.repo = owner
    refresh(store, pds, pds=pds.url, plc=friend.url)
    report = refresh(store, pds, pds=pds.url, plc="http://127.0.0.1:9")  # nothing listens there
    assert report.removed == 0 and "collaborator not read" in report.skips[0].reason
    with store.session() as s:
        assert s.scalar(select(RelatedCard.uri).where(RelatedCard.did == FRIEND)) == theirs["uri"]


# ------------------------------------------------------------------ handles: DNS, well-known, resolveHandle


class DnsServer:
    """A UDP DNS server on 127.0.0.1 answering TXT queries from a dict, built with dnspython."""

    def __init__(self, records: dict[str, list[str]]):
        import dns.message
        import dns.rcode
        import dns.rrset

        self.records, self.asked = records, []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

        def serve():
            while True:
                try:
                    data, peer = self.sock.recvfrom(4096)
                except OSError:
                    return
                query = dns.message.from_wire(data)
                name = query.question[0].name.to_text().rstrip(".")
                self.asked.append(name)
                response = dns.message.make_response(query)
                if name in self.records:
                    texts = [f'"{t}"' for t in self.records[name]]  # one TXT record each
                    response.answer.append(dns.rrset.from_text(name + ".", 60, "IN", "TXT", *texts))
                else:
                    response.set_rcode(dns.rcode.NXDOMAIN)
                self.sock.sendto(response.to_wire(), peer)

        threading.Thread(target=serve, daemon=True).start()

    def close(self):
        self.sock.close()


@pytest.fixture
def dns_server():
    pytest.importorskip("dns")
    server = DnsServer({f"_atproto.{HANDLE}": [f"did={DID}"], "_atproto.two.test": ["did=did:plc:a", "did=did:plc:b"]})
    yield server
    server.close()


def test_dns_txt_resolution_on_a_loopback_dns_server(store, pds, dns_server):
    resolver = HandleResolver(methods=("dns",), timeout=5, dns_txt=dnspython_txt(["127.0.0.1"], dns_server.port))
    assert resolver.resolve("@Alice.test") == DID and resolver.used == "dns"
    assert dns_server.asked == [f"_atproto.{HANDLE}"]
    with pytest.raises(CfgraphError, match="no did= TXT record"):
        resolver.resolve("nobody.test")
    with pytest.raises(CfgraphError, match="2 different did= records"):
        resolver.resolve("two.test")
    report = refresh(store, pds, did=None, handle=HANDLE, resolver=resolver)
    assert report.cards == 3
    assert not [p for p, _ in pds.calls if "resolveHandle" in p]


def test_well_known_resolution_on_a_loopback_http_server(pds):
    asked = []

    def fetch(url, timeout):  # https://<handle>/... served by the loopback server instead
        asked.append(url)
        return fetch_url(url.replace(f"https://{HANDLE}", pds.url), timeout)

    resolver = HandleResolver(methods=("dns", "well-known"), timeout=5, dns_txt=lambda name, t: [], fetch=fetch)
    assert resolver.resolve(HANDLE) == DID and resolver.used == "well-known"
    assert asked == [f"https://{HANDLE}/.well-known/atproto-did"]
    assert ("/.well-known/atproto-did", {}) in pds.calls


def test_methods_fall_through_in_order_and_fail_in_one_line(pds):
    resolver = HandleResolver(timeout=5, dns_txt=lambda name, t: [], fetch=lambda url, t: (404, b""))
    assert resolver.resolve(HANDLE, service=pds.url) == DID and resolver.used == "xrpc"
    with pytest.raises(CfgraphError) as info:
        resolver.resolve("bob.test", service=pds.url)
    message = str(info.value)
    assert "dns: no did= TXT record" in message and "well-known: " in message and "HTTP 404" in message
    assert "xrpc: " in message and "\n" not in message
    no_dns = HandleResolver(methods=("dns",), dns_txt=None)
    with pytest.raises(CfgraphError, match="dnspython is not installed"):
        no_dns.resolve(HANDLE)
    with pytest.raises(CfgraphError, match="unknown handle resolution method"):
        HandleResolver(methods=("carrier-pigeon",))


def test_a_well_known_answer_that_is_no_did_is_refused(pds):
    resolver = HandleResolver(methods=("well-known",), fetch=lambda url, t: (200, b"<html>hello</html>"))
    with pytest.raises(CfgraphError, match="did not answer a DID"):
        resolver.resolve(HANDLE)


# ------------------------------------------------------------------ ordering, fields, the snapshot and the pages


def test_snapshot_has_connections_a_collaborators_card_and_a_removed_link(store):
    report = service.import_snapshot(store, seed_file("semble_snapshot.json"))
    assert "12 connections" in report and " and 1 collaborator (" in report and "0 skipped" in report
    with store.session() as s:
        view = queries.related_view(s)
        types = set(s.scalars(select(RelatedConnection.connection_type)))
    assert set(CONNECTION_TYPES) <= types  # every type, EXPLAINER (the 1988 book) included
    valuation = next(sh for sh in view["shelves"] if sh["title"] == "Data valuation")
    titles = [c["title"] for c in valuation["cards"]]
    assert titles[0].startswith("Data Shapley")  # priority:1 first, then year, then title
    assert "Efficient Task-Specific Data Valuation for Nearest Neighbor Algorithms" in titles
    assert not any("off-topic" in (c["url"] or "") for sh in view["shelves"] for c in sh["cards"])
    years = [c["year"] for c in valuation["cards"][1:]]
    assert years == sorted(years)
    knn = next(c for c in valuation["cards"] if c["title"].startswith("Efficient Task"))
    assert knn["doi"] == "10.14778/3342263.3342637" and knn["sources"]["doi"] == "card metadata"
    assert knn["sources"]["title"] == "note front matter" and knn["sources"]["site"] == "card metadata"
    assert "priority:1" not in valuation["cards"][0]["tags"] and valuation["cards"][0]["priority"] == 1
    assert view["graph"] is not None and len(view["graph"]["edges"]) == 12
    book = next(c for c in valuation["cards"] if c["year"] == 1988)  # a real book: Roth (ed.), CUP
    assert (book["isbn"], book["sources"]["isbn"]) == ("978-0-521-36177-4", "card metadata")
    assert book["doi"] == "10.1017/CBO9780511528446"


def test_isbn_is_kept_from_card_metadata(store, pds):
    repo = Repo()
    shelf = repo.collection("shelf", "dc: Books")
    card = repo.url_card("book", "https://example.org/book", "A Book", isbn="978-0-262-03384-8", doi="10.1/x")
    repo.link("l", shelf, card)
    pds.repo = repo
    refresh(store, pds)
    with store.session() as s:
        [book] = queries.shelves(s)[0]["cards"]
    assert (book["isbn"], book["doi"]) == ("978-0-262-03384-8", "10.1/x")
    assert book["sources"]["isbn"] == book["sources"]["doi"] == "card metadata"


@pytest.fixture
def client(store):
    from cfgraph.web import create_app

    service.import_snapshot(store, seed_file("semble_snapshot.json"))
    app = create_app({"DATABASE_URL": store.url, "TESTING": True})
    return app


def test_related_page_draws_the_graph_and_lists_each_papers_connections(client):
    html = client.test_client().get("/related").get_data(as_text=True)
    assert '<svg class="connection-svg" viewBox="' in html and html.count('<path class="edge') == 12
    assert 'class="edge edge-opposes"' in html and "opposes" in html
    assert "Data Banzhaf: A Robust Data Valuation Framework for Machine Learning</a>" in html
    shapley = queries.card_anchor(f"at://{SNAPSHOT_DID}/network.cosmik.card/3m4po6vh7c22b")
    assert f'href="#{shapley}"' in html and f'id="{shapley}"' in html
    api = client.test_client().get("/api/related").get_json()
    assert len(api["connections"]) == 12
    for shelf in api["shelves"]:  # no term listed twice on a Covers line
        labels = [t["label"].casefold() for t in shelf["topics"]]
        assert len(labels) == len(set(labels))
    labels = [t["label"].casefold() for t in api["topics"]]
    assert len(labels) == len(set(labels))


def test_papers_for_a_glossary_term_on_the_page_the_glossary_and_the_macro(client, store):
    with store.session() as s:
        papers = papers_for_term(s, "data-shapley")
        assert papers_for_term(s, "Data Shapley") == papers and papers_for_term(s, "no-such-term") == []
    urls = [p["url"] for p in papers]
    assert len(urls) == len(set(urls)) == 4  # three papers and the 1988 book
    c = client.test_client()
    api = c.get("/api/related?term=data-shapley").get_json()
    assert sorted(card["url"] for sh in api["shelves"] for card in sh["cards"]) == sorted(urls)
    assert c.get("/related?term=nope").status_code == 404
    glossary = c.get("/glossary").get_data(as_text=True)
    assert 'href="/related?term=data-shapley"' in glossary
    with client.test_request_context("/"):
        render = client.jinja_env.from_string(
            '{% from "_papers.html" import papers_link, question_papers_link, lens_papers_link %}'
            '[{{ papers_link("data-shapley") }}][{{ papers_link("adversarial-training") }}]'
            '[{{ question_papers_link("banzhaf") }}][{{ question_papers_link("nope") }}]').render()
    assert render.startswith('[<a class="papers-link" href="/related?term=data-shapley"')
    assert "4 papers on Data Shapley" in render and "][]" in render
    assert 'href="/related?term=banzhaf-value"' in render and render.endswith("][]")


def test_migration_0008_adds_and_drops_related_connection(tmp_path):
    from alembic import command

    from cfgraph.store.db import alembic_config

    path = tmp_path / "m.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    tables = lambda: {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type='table'")}  # noqa: E731
    assert "related_connection" in tables()
    config = alembic_config()
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0007")
        conn.commit()
    assert "related_connection" not in tables() and "related_card" in tables()
    migrate(engine)
    assert "related_connection" in tables()


def test_the_graph_escapes_titles_and_links_only_http_urls(store):
    from datetime import datetime

    from sqlalchemy import insert

    from cfgraph.web import create_app

    repo = Repo()
    repo.records[CONNECTION] = []
    shelf = repo.collection("shelf", "dc: Hostile")
    a = repo.url_card("a", "https://example.org/a", "<script>alert(1)</script>A")
    b = repo.url_card("b", "https://example.org/b", 'B" onmouseover="alert(2)')
    repo.link("la", shelf, a)
    repo.link("lb", shelf, b)
    repo.put(CONNECTION, "ab", {"source": a["uri"], "target": b["uri"], "connectionType": "SUPPORTS",
                                "note": "<img src=x onerror=alert(3)>"})
    service.import_file(store, _listing(store, repo))
    with store.transaction() as s:  # a hand-written row: a javascript: URL on a connected card
        s.execute(RelatedCard.__table__.update().where(RelatedCard.uri == b["uri"]).values(url="javascript:alert(4)"))
        s.execute(insert(RelatedConnection), [dict(uri=f"at://{DID}/{CONNECTION}/x", cid="c", did=DID, source="x",
                                                   target="y", source_card_uri=b["uri"], target_card_uri=a["uri"],
                                                   connection_type="EXPLAINER", fetched_at=datetime(2025, 1, 1))])
    html = create_app({"DATABASE_URL": store.url, "TESTING": True}).test_client().get("/related").get_data(as_text=True)
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert "<script>alert" not in html and "<img src=x" not in html and 'onmouseover="alert' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;A" in svg and svg.count('<path class="edge') == 2
    assert "javascript:" not in html and svg.count("<a href=") == 1


def _listing(store, repo):
    import json
    from pathlib import Path

    path = Path(store.sqlite_path).parent / "hostile-graph.json"
    path.write_text(json.dumps({"did": DID, "records": [r for _, r in repo.listed()]}))
    return path


def test_cli_lists_connections_and_refuses_an_unknown_resolution_method(tmp_path):
    from test_semble import invoke

    db = tmp_path / "cli.db"
    assert invoke(db, "related", "import", str(seed_file("semble_snapshot.json"))).exit_code == 0
    listed = invoke(db, "related", "list")
    assert "12 connections:" in listed.output and " opposes Data Shapley" in listed.output
    bad = invoke(db, "related", "refresh", "--handle", HANDLE, "--resolve-with", "dns,smoke-signals")
    assert bad.exit_code == 2 and "--resolve-with" in bad.output


def test_two_owners_sharing_a_collaborator_keep_each_others_cards(store, pds, friend):
    other_did = "did:plc:secondownersecondowner"
    first, second = Repo(), Repo(did=other_did)
    shelf1 = first.put(COLLECTION, "s1", {"name": "dc: One", "accessType": "OPEN", "collaborators": [FRIEND]})
    shelf2 = second.put(COLLECTION, "s2", {"name": "dc: Two", "accessType": "OPEN", "collaborators": [FRIEND]})
    card1 = friend.repo.url_card("c1", "https://example.org/1", "For the first")
    card2 = friend.repo.url_card("c2", "https://example.org/2", "For the second")
    friend.repo.note("n2", card2, citation("For the second", 2020, ["shapley"]))
    friend.repo.link("l1", shelf1, card1)
    friend.repo.link("l2", shelf2, card2)
    pds.repo = first
    refresh(store, pds, pds=pds.url, plc=friend.url)
    pds.repo = second
    report = refresh(store, pds, did=other_did, pds=pds.url, plc=friend.url)
    assert report.removed == 0  # the first owner's collaborator card stays
    with store.session() as s:
        assert set(s.scalars(select(RelatedCard.uri))) == {card1["uri"], card2["uri"]}
    friend.repo.delete(f"at://{FRIEND}/network.cosmik.collectionLink/l2")
    report = refresh(store, pds, did=other_did, pds=pds.url, plc=friend.url)
    assert report.removed == 3  # the second shelf's link, its card and the card's note; the first's card stays
    with store.session() as s:
        assert set(s.scalars(select(RelatedCard.uri))) == {card1["uri"]}
