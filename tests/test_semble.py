"""Related work from Semble: the real atproto SDK against a loopback XRPC server.

The fixture ``pds`` starts an http.server on 127.0.0.1 (port 0) that answers
com.atproto.repo.listRecords, com.atproto.identity.resolveHandle, a PLC
directory route and a did:web document. No test reaches the internet, and no
test sleeps: a 429's Retry-After is 0 or the sleep is a recorder.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from cfgraph.cli import main
from cfgraph.errors import CfgraphError, NotFound
from cfgraph.resources import seed_file
from cfgraph.semble import queries, service, xrpc
from cfgraph.semble.frontmatter import FrontMatterError, parse_note
from cfgraph.semble.handles import HandleResolver
from cfgraph.semble.join import join_records
from cfgraph.semble.lexicon import InvalidRecord, http_url
from cfgraph.store.related_models import (
    RelatedCard,
    RelatedCollection,
    RelatedLink,
    RelatedNote,
    RelatedRefresh,
    RelatedSkip,
)

DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
HANDLE = "alice.test"
COLLECTION, CARD = "network.cosmik.collection", "network.cosmik.card"
LINK, REMOVAL = "network.cosmik.collectionLink", "network.cosmik.collectionLinkRemoval"
CONNECTION = "network.cosmik.connection"
RELATED_TABLES = ("related_collection", "related_card", "related_note", "related_link",
                  "related_connection", "related_refresh", "related_skip")


# ------------------------------------------------------------------ records


class Repo:
    """A Semble repository being edited: records by NSID, in listing order."""

    def __init__(self, did=DID):
        self.did = did
        self.records: dict[str, list[dict]] = {COLLECTION: [], CARD: [], LINK: [], REMOVAL: [], CONNECTION: []}
        self._version = 0

    def put(self, nsid, rkey, value, listed_as=None):
        self._version += 1
        uri = f"at://{self.did}/{nsid}/{rkey}"
        record = {"uri": uri, "cid": f"bafyrei{rkey}v{self._version}", "value": {"$type": nsid, **value}}
        target = self.records[listed_as or nsid]
        for i, old in enumerate(target):
            if old["uri"] == uri:
                target[i] = record
                return self.ref(record)
        target.append(record)
        return self.ref(record)

    @staticmethod
    def ref(record):
        return {"uri": record["uri"], "cid": record["cid"]}

    def delete(self, uri):
        for records in self.records.values():
            records[:] = [r for r in records if r["uri"] != uri]

    def collection(self, rkey, name, description=None):
        value = {"name": name, "accessType": "OPEN", "createdAt": "2025-01-02T03:04:05.000Z"}
        if description is not None:
            value["description"] = description
        return self.put(COLLECTION, rkey, value)

    def url_card(self, rkey, url, title=None, **metadata):
        meta = {"title": title, **metadata} if title else dict(metadata)
        return self.put(CARD, rkey, {"type": "URL", "content": {"$type": "network.cosmik.card#urlContent",
                                                                "url": url, "metadata": meta},
                                     "url": url, "createdAt": "2025-01-02T03:04:05Z"})

    def note(self, rkey, parent, text):
        return self.put(CARD, rkey, {"type": "NOTE", "content": {"$type": "network.cosmik.card#noteContent",
                                                                 "text": text},
                                     "parentCard": parent, "createdAt": "2025-01-02T03:04:05Z"})

    def link(self, rkey, collection, card, added_at="2025-01-03T00:00:00Z"):
        return self.put(LINK, rkey, {"collection": collection, "card": card, "originalCard": card,
                                     "addedBy": self.did, "addedAt": added_at})

    def removal(self, rkey, collection, link):
        return self.put(REMOVAL, rkey, {"collection": collection, "removedLink": link, "removedBy": self.did,
                                        "removedAt": "2025-02-01T00:00:00Z"})

    def listed(self):
        return [(nsid, r) for nsid, records in self.records.items() for r in records]


def citation(title, year, tags, body="A note."):
    return f"---\ntitle: {json.dumps(title)}\nauthors: [Ada Lovelace, Alan Turing]\nyear: {year}\n" \
           f"tags: [{', '.join(tags)}]\n---\n{body}"


def shelf_repo(n_cards=3):
    """One dc: shelf with n URL cards, each with a note; one shelf without the prefix."""
    repo = Repo()
    shelf = repo.collection("shelf1", "dc: Data valuation", "Semivalues over training data.")
    other = repo.collection("shelf2", "Reading list")
    for i in range(n_cards):
        card = repo.url_card(f"card{i:03d}", f"https://example.org/paper/{i}", f"Paper {i}")
        repo.note(f"note{i:03d}", card, citation(f"Paper {i}", 2000 + i % 25, ["data valuation"]))
        repo.link(f"link{i:03d}", shelf, card, added_at=f"2025-01-03T00:{i // 60:02d}:{i % 60:02d}Z")
    card = repo.url_card("cardx", "https://example.org/elsewhere", "Elsewhere")
    repo.link("linkx", other, card)
    return repo


# ------------------------------------------------------------------ the loopback server


class FakePds:
    """State behind the loopback server: the repository, how to misbehave, what was asked."""

    def __init__(self, repo):
        self.repo = repo
        self.url = None
        self.calls: list[tuple[str, dict]] = []
        self.omit_last_cursor = False
        self.repeat_cursor = None  # NSID whose listing always hands back the same cursor
        self.repeat_last_page = False  # the last page comes back again, with the same cursor
        self.ignore_cursor = None  # NSID whose listing ignores the cursor: the first page forever
        self.plc_body = None  # when set, the PLC route answers this JSON instead of a DID document
        self.fail = None  # (nsid, page number from 1, kind, count): misbehave on that listRecords call
        self.release = threading.Event()  # holds a "timeout" answer until the test ends

    def list_calls(self, nsid=None):
        return [q for path, q in self.calls
                if path.endswith("listRecords") and (nsid is None or q["collection"] == nsid)]

    def did_document(self, did):
        return {"@context": ["https://www.w3.org/ns/did/v1"], "id": did, "alsoKnownAs": [f"at://{HANDLE}"],
                "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                             "serviceEndpoint": self.url}]}


class Handler(BaseHTTPRequestHandler):
    server_version = "FakePds/1"

    def log_message(self, *args):  # quiet
        pass

    def send_json(self, status, body, headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        state: FakePds = self.server.state
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        state.calls.append((parts.path, query))
        if parts.path == "/xrpc/com.atproto.repo.listRecords":
            return self.list_records(state, query)
        if parts.path == "/xrpc/com.atproto.identity.resolveHandle":
            if query.get("handle") == HANDLE:
                return self.send_json(200, {"did": state.repo.did})
            return self.send_json(400, {"error": "InvalidRequest", "message": "Unable to resolve handle"})
        if parts.path == "/.well-known/atproto-did":  # the handle's own HTTPS answer
            body = f"{state.repo.did}\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return self.wfile.write(body)
        if parts.path == "/.well-known/did.json":
            return self.send_json(200, state.did_document(f"did:web:localhost%3A{self.server.server_port}"))
        if parts.path.startswith("/did:plc:"):
            did = parts.path[1:]
            if state.plc_body is not None:
                return self.send_json(200, state.plc_body)
            if did != state.repo.did:
                return self.send_json(404, {"message": f"DID not registered: {did}"})
            return self.send_json(200, state.did_document(did))
        self.send_json(404, {"error": "MethodNotImplemented"})

    def list_records(self, state, query):
        nsid = query["collection"]
        page_number = len(state.list_calls(nsid))
        if state.fail and state.fail[0] == nsid and page_number >= state.fail[1]:
            kind, budget = state.fail[2], state.fail[3]
            if budget > 0:
                state.fail = (*state.fail[:3], budget - 1)
                return self.misbehave(state, kind)
        if query.get("repo") != state.repo.did:
            return self.send_json(400, {"error": "RepoNotFound",
                                        "message": f"Could not find repo: {query.get('repo')}"})
        records = state.repo.records.get(nsid, [])
        limit = int(query.get("limit", 50))
        assert limit <= 100
        start = 0
        if "cursor" in query:
            if state.ignore_cursor == nsid:
                start = 0
            elif state.repeat_cursor == nsid:
                start = limit * (page_number - 1)  # serves on, but hands back the same cursor
            else:
                start = next(i + 1 for i, r in enumerate(records) if r["uri"].rsplit("/", 1)[1] == query["cursor"])
        if state.repeat_last_page and start >= len(records) and records:
            start = len(records) - (len(records) % limit or limit)  # the last page again
        page = records[start:start + limit]
        body = {"records": page}
        if page:
            body["cursor"] = ("same" if nsid in (state.repeat_cursor, state.ignore_cursor)
                              else page[-1]["uri"].rsplit("/", 1)[1])
            if state.omit_last_cursor and start + limit >= len(records):
                del body["cursor"]
        self.send_json(200, body)

    def misbehave(self, state, kind):
        if kind == "500":
            return self.send_json(500, {"error": "InternalServerError", "message": "Internal Server Error"})
        if kind == "502":
            return self.send_json(502, {"error": "UpstreamFailure", "message": "Bad Gateway"})
        if kind == "429":
            return self.send_json(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                                  headers=[("Retry-After", "0")])
        if kind == "429-long":
            return self.send_json(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                                  headers=[("Retry-After", "3600")])
        if kind == "invalid-json":
            return self.send_json(200, b'{"records": [{"uri": ')
        if kind == "html":
            data = b"<html>maintenance</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return self.wfile.write(data)
        if kind == "timeout":
            state.release.wait(10)  # the client gives up long before; released at teardown
            return None
        if kind == "drip":  # headers at once, then one byte every 50 ms for up to 10 s
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(200):
                if state.release.wait(0.05):
                    return None
                self.wfile.write(b" ")
                self.wfile.flush()
            return None
        raise AssertionError(kind)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that timed out closed its socket
        pass


@pytest.fixture
def pds():
    state = FakePds(shelf_repo())
    server = Server(("127.0.0.1", 0), Handler)
    server.state = state
    state.url = f"http://127.0.0.1:{server.server_port}"
    state.port = server.server_port
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def closed_port():
    """A loopback port with nothing listening (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refresh(store, server, **kwargs):
    kwargs.setdefault("did", server.repo.did)
    kwargs.setdefault("plc", server.url)
    kwargs.setdefault("timeout", 5)
    # resolveHandle on the loopback server only: DNS and well-known lookups of a .test handle would leave it.
    kwargs.setdefault("resolver", HandleResolver(methods=("xrpc",), timeout=kwargs["timeout"]))
    return service.refresh(store, **kwargs)


def dump(store):
    """Every row of every related-work table, to compare before and after a failed refresh."""
    path = store.sqlite_path
    with sqlite3.connect(path) as conn:
        return {t: sorted(map(repr, conn.execute(f"SELECT * FROM {t}").fetchall())) for t in RELATED_TABLES}


def count(store, model):
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(model))


# ------------------------------------------------------------------ resolution and paging


def test_refresh_by_did_resolves_pds_through_plc_and_joins_shelves(store, pds):
    report = refresh(store, pds)
    assert (report.shelves, report.cards, report.notes, report.links) == (1, 3, 3, 3)
    assert (report.added, report.updated, report.removed, report.skipped) == (10, 0, 0, 0)
    assert ("/" + DID, {}) in pds.calls  # the DID document came from the PLC route
    with store.session() as s:
        shelves = queries.shelves(s)
    assert [sh["title"] for sh in shelves] == ["Data valuation"]  # the prefix is hidden
    card = shelves[0]["cards"][0]
    assert card["title"] == "Paper 0" and card["authors"] == ["Ada Lovelace", "Alan Turing"]
    assert card["year"] == 2000 and card["tags"] == ["data valuation"] and card["note"] == "A note."
    assert card["url"] == "https://example.org/paper/0" and card["site"] == "example.org"
    with store.session() as s:
        log = s.scalars(select(RelatedRefresh)).one()
    assert log.source == f"at://{DID} via {pds.url}" and log.selection == "prefix 'dc:'"
    assert log.added == 10 and log.finished_at >= log.started_at


def test_refresh_by_handle_uses_resolve_handle_on_the_service(store, pds):
    report = refresh(store, pds, did=None, handle="@Alice.test", service=pds.url)
    assert report.cards == 3
    assert ("/xrpc/com.atproto.identity.resolveHandle", {"handle": HANDLE}) in pds.calls


def test_pds_option_skips_resolution(store, pds):
    report = refresh(store, pds, pds=pds.url, plc="http://127.0.0.1:9")  # an unusable PLC is never asked
    assert report.cards == 3
    report = refresh(store, pds, did=None, handle=HANDLE, pds=pds.url, service="http://127.0.0.1:9",
                     plc="http://127.0.0.1:9")  # the handle is resolved on the PDS itself
    assert report.cards == 3 and report.added == 0
    assert not [p for p, _ in pds.calls if p.startswith("/did:")]


def test_did_web_document_from_well_known(store, pds):
    did = f"did:web:localhost%3A{pds.port}"
    pds.repo = Repo(did)
    shelf = pds.repo.collection("s", "dc: Web")
    pds.repo.link("l", shelf, pds.repo.url_card("c", "https://example.org/web"))
    assert xrpc.did_document_url(did) == f"http://localhost:{pds.port}/.well-known/did.json"
    assert refresh(store, pds, did=did).cards == 1


def test_all_collections_and_another_prefix(store, pds):
    report = refresh(store, pds, prefix=None)
    assert (report.shelves, report.cards) == (2, 4)
    with store.session() as s:
        assert [sh["title"] for sh in queries.shelves(s)] == ["Data valuation", "Reading list"]
    report = refresh(store, pds, prefix="Reading")
    assert (report.shelves, report.cards, report.removed) == (1, 1, 10)  # the dc: shelf, 3 cards, notes, links


def test_more_than_a_hundred_records_across_pages(store, pds):
    pds.repo = shelf_repo(n_cards=130)  # 261 cards and notes, 131 links
    report = refresh(store, pds)
    assert (report.cards, report.notes, report.links) == (130, 130, 130)
    card_pages = pds.list_calls(CARD)
    assert [q["limit"] for q in card_pages] == ["100"] * len(card_pages)
    assert len(card_pages) == 4  # 100 + 100 + 61, then an empty page ends the listing
    assert "cursor" not in card_pages[0] and card_pages[1]["cursor"] == "note049"
    assert count(store, RelatedCard) == 130


def test_last_page_without_cursor_ends_the_listing(store, pds):
    pds.repo = shelf_repo(n_cards=130)
    pds.omit_last_cursor = True
    report = refresh(store, pds)
    assert report.cards == 130
    assert len(pds.list_calls(CARD)) == 3  # no empty page asked for


def test_repeated_cursor_with_new_records_fails_safe(store, pds):
    refresh(store, pds)
    before = dump(store)
    pds.repo = shelf_repo(n_cards=130)
    pds.calls.clear()
    pds.repeat_cursor = CARD  # pages go on, but the cursor is always "same"
    with pytest.raises(CfgraphError, match="repeated the cursor 'same' with a full or new page"):
        refresh(store, pds)
    assert len(pds.list_calls(CARD)) == 2  # no loop
    assert dump(store) == before  # stopping would have dropped every card after the second page


def test_a_server_that_ignores_the_cursor_fails_safe(store, pds):
    """The first full page served again and again must not pass for the whole listing."""
    refresh(store, pds)
    before = dump(store)
    pds.repo = shelf_repo(n_cards=130)
    pds.calls.clear()
    pds.ignore_cursor = CARD
    with pytest.raises(CfgraphError, match="repeated the cursor"):
        refresh(store, pds)
    assert dump(store) == before


def test_last_page_served_again_under_the_same_cursor_ends_the_listing(store, pds):
    pds.repo = shelf_repo(n_cards=130)
    pds.repeat_last_page = True
    report = refresh(store, pds)
    assert (report.cards, report.notes, report.skipped) == (130, 130, 0)
    assert len(pds.list_calls(CARD)) == 4  # 100, 100, 61, then the 61 again under the same cursor


def test_empty_repository_clears_its_shelves(store, pds):
    refresh(store, pds)
    pds.repo = Repo()
    report = refresh(store, pds)
    assert (report.added, report.removed) == (0, 10)
    assert count(store, RelatedCollection) == count(store, RelatedLink) == 0


# ------------------------------------------------------------------ a second refresh


def test_second_refresh_updates_edits_and_removes_what_is_gone(store, pds):
    repo = pds.repo = shelf_repo(n_cards=5)
    refresh(store, pds)
    with store.session() as s:
        old_cid = s.get(RelatedCard, f"at://{DID}/{CARD}/card001").cid
    # Edits (putRecord: same at-uri, new CID) ...
    card1 = repo.url_card("card001", "https://example.org/paper/1", "Paper 1, revised")
    repo.put(COLLECTION, "shelf1", {"name": "dc: Data valuation", "accessType": "OPEN",
                                    "description": "Now with Banzhaf."})
    # ... a deleted card (its note and link go too) ...
    repo.delete(f"at://{DID}/{CARD}/card002")
    repo.delete(f"at://{DID}/{CARD}/note002")
    repo.delete(f"at://{DID}/{LINK}/link002")
    # ... a link removed by a removal record, and a link record deleted.
    shelf = {"uri": f"at://{DID}/{COLLECTION}/shelf1", "cid": "x"}
    link3 = next(Repo.ref(r) for r in repo.records[LINK] if r["uri"].endswith("/link003"))
    repo.removal("rm1", shelf, link3)
    repo.delete(f"at://{DID}/{LINK}/link004")
    # ... and a new card on the shelf.
    new = repo.url_card("card100", "https://example.org/new", "New paper")
    repo.link("link100", shelf, new)

    report = refresh(store, pds)
    assert (report.added, report.updated, report.removed, report.skipped) == (2, 2, 9, 0)
    with store.session() as s:
        card = s.get(RelatedCard, f"at://{DID}/{CARD}/card001")
        assert card.title == "Paper 1, revised" and card.cid == card1["cid"] != old_cid
        assert s.get(RelatedCollection, f"at://{DID}/{COLLECTION}/shelf1").description == "Now with Banzhaf."
        links = set(s.scalars(select(RelatedLink.uri)))
        assert links == {f"at://{DID}/{LINK}/link{i}" for i in ("000", "001", "100")}
        assert set(s.scalars(select(RelatedCard.uri))) == {f"at://{DID}/{CARD}/card{i}" for i in ("000", "001", "100")}
        assert s.scalar(select(func.count()).select_from(RelatedNote)) == 2  # notes of cards no longer shelved go
        assert s.scalar(select(func.count()).select_from(RelatedRefresh)) == 2
    again = refresh(store, pds)
    assert (again.added, again.updated, again.removed) == (0, 0, 0)


def test_refresh_of_one_repository_leaves_another_alone(store, pds):
    service.import_file(store, seed_file("semble_snapshot.json"))
    before = count(store, RelatedCard)
    refresh(store, pds)
    assert count(store, RelatedCard) == before + 3
    pds.repo = Repo()
    refresh(store, pds)
    assert count(store, RelatedCard) == before


# ------------------------------------------------------------------ bad records

BAD = "at://" + DID


def bad_records_repo():
    repo = Repo()
    shelf = repo.collection("shelf", "dc: Shelf")
    good = repo.url_card("good", "https://example.org/good", "Good")
    repo.link("goodlink", shelf, good)
    note = repo.note("goodnote", good, "plain note")
    bad = {}
    # Collections
    bad["nocname"] = repo.put(COLLECTION, "nocname", {"accessType": "OPEN"})
    bad["longname"] = repo.put(COLLECTION, "longname", {"name": "dc: " + "x" * 100, "accessType": "OPEN"})
    bad["longdesc"] = repo.put(COLLECTION, "longdesc", {"name": "dc: d", "accessType": "OPEN",
                                                        "description": "é" * 251})  # 502 bytes
    bad["typedname"] = repo.put(COLLECTION, "typedname", {"name": 7, "accessType": "OPEN"})
    # Cards
    bad["js"] = repo.url_card("js", "javascript:alert(1)", "<script>alert(1)</script>")
    bad["data"] = repo.url_card("data", "data:text/html,<script>alert(1)</script>")
    bad["relative"] = repo.url_card("relative", "/papers/1.pdf")
    bad["nourl"] = repo.put(CARD, "nourl", {"type": "URL", "content": {"metadata": {}}})
    bad["unknowntype"] = repo.put(CARD, "unknowntype", {"type": "VIDEO", "content": {"url": "https://x.org"}})
    bad["notype"] = repo.put(CARD, "notype", {"content": {"url": "https://x.org"}})
    bad["badtitle"] = repo.put(CARD, "badtitle", {"type": "URL", "content": {"url": "https://x.org",
                                                                              "metadata": {"title": ["a"]}}})
    bad["longnote"] = repo.note("longnote", good, "x" * 10_001)
    bad["orphan"] = repo.note("orphan", {"uri": f"{BAD}/{CARD}/nothere", "cid": "c"}, "no parent")
    bad["nested"] = repo.note("nested", note, "a note on a note")
    bad["noparent"] = repo.put(CARD, "noparent", {"type": "NOTE", "content": {"text": "alone"}})
    bad["yaml"] = repo.note("yaml", good, "---\ntitle: [unclosed\n---\nbody")
    bad["unclosed"] = repo.note("unclosed", good, "---\ntitle: x\nno end")
    bad["year"] = repo.note("year", good, "---\nyear: soon\n---\nbody")
    bad["baddate"] = repo.put(CARD, "baddate", {"type": "URL", "content": {"url": "https://x.org"},
                                                "createdAt": "yesterday"})
    # Links
    bad["tomissing"] = repo.link("tomissing", shelf, {"uri": f"{BAD}/{CARD}/nothere", "cid": "c"})
    bad["tojs"] = repo.link("tojs", shelf, bad["js"])
    bad["tonote"] = repo.link("tonote", shelf, note)
    bad["nocoll"] = repo.link("nocoll", {"uri": f"{BAD}/{COLLECTION}/nothere", "cid": "c"}, good)
    bad["dup"] = repo.link("dup", shelf, good, added_at="2025-06-01T00:00:00Z")
    bad["noref"] = repo.put(LINK, "noref", {"collection": "at://x", "card": good, "addedBy": DID,
                                            "addedAt": "2025-01-01T00:00:00Z"})
    bad["badref"] = repo.link("badref", shelf, {"uri": "https://example.org", "cid": "c"})
    bad["noadded"] = repo.put(LINK, "noadded", {"collection": shelf, "card": good})
    # Records of another NSID, or that are not Semble records at all
    bad["post"] = repo.put("app.bsky.feed.post", "post", {"text": "hi", "createdAt": "2025-01-01T00:00:00Z"},
                           listed_as=CARD)
    bad["dev"] = repo.put("network.cosmik.dev.card", "dev", {"type": "URL", "content": {"url": "https://x.org"}},
                          listed_as=CARD)
    repo.records[CARD].append({"uri": f"{BAD}/{CARD}/typeless", "cid": "c1", "value": {"type": "URL"}})
    bad["typeless"] = {"uri": f"{BAD}/{CARD}/typeless"}
    repo.records[COLLECTION].append({"uri": f"at://did:plc:someoneelse/{COLLECTION}/x", "cid": "c2",
                                     "value": {"$type": COLLECTION, "name": "dc: theirs", "accessType": "OPEN"}})
    bad["foreign"] = {"uri": f"at://did:plc:someoneelse/{COLLECTION}/x"}
    # Malformed envelopes: the typed SDK answer would reject the whole page for any of these.
    repo.records[CARD].append({"uri": f"{BAD}/{CARD}/nocid", "value": {"$type": CARD, "type": "URL"}})
    bad["nocid"] = {"uri": f"{BAD}/{CARD}/nocid"}
    repo.records[CARD].append({"uri": f"{BAD}/{CARD}/intcid", "cid": 7, "value": {"$type": CARD}})
    bad["intcid"] = {"uri": f"{BAD}/{CARD}/intcid"}
    repo.records[CARD].append({"uri": f"{BAD}/{CARD}/nullvalue", "cid": "c3", "value": None})
    bad["nullvalue"] = {"uri": f"{BAD}/{CARD}/nullvalue"}
    repo.records[CARD].append({"uri": f"{BAD}/{CARD}/strvalue", "cid": "c4", "value": "text"})
    bad["strvalue"] = {"uri": f"{BAD}/{CARD}/strvalue"}
    repo.records[CARD].append(dict(repo.records[CARD][0]))
    return repo, bad


EXPECTED_REASONS = {
    "nocname": "missing field name",
    "longname": "name is longer than 100 bytes",
    "longdesc": "description is longer than 500 bytes",
    "typedname": "name is not a string",
    "js": "not http(s) (javascript:)",
    "data": "not http(s) (data:)",
    "relative": "not http(s) (a relative URL)",
    "nourl": "content.url is missing",
    "unknowntype": "unknown card type 'VIDEO'",
    "notype": "missing field type",
    "badtitle": "content.metadata.title is not a string",
    "longnote": "content.text is longer than 10000 bytes",
    "orphan": "parent card is missing",
    "nested": "parent card is itself a note",
    "noparent": "note has no parentCard",
    "yaml": "broken YAML front matter",
    "unclosed": "front matter is not closed",
    "year": "'year' is not a year",
    "baddate": "createdAt is not a datetime",
    "tomissing": "links to a missing card",
    "tojs": "links to a missing card",
    "tonote": "links to a note card",
    "nocoll": "links to a missing collection",
    "dup": "duplicate link",
    "noref": "field collection is not a strong reference",
    "badref": "field card.uri: not an at-uri",
    "noadded": "missing field addedBy",
    "post": "record of another NSID (app.bsky.feed.post)",
    "dev": "record of another NSID (network.cosmik.dev.card)",
    "typeless": "record of another NSID ($type 'None'",
    "foreign": "record of another repository",
    "nocid": "cid is missing or not a string",
    "intcid": "cid is missing or not a string",
    "nullvalue": "value is not an object",
    "strvalue": "value is not an object",
}


def test_each_kind_of_bad_record_is_skipped_with_a_reason(store, pds):
    pds.repo, bad = bad_records_repo()
    report = refresh(store, pds)
    reasons = {}
    for skip in report.skips:
        reasons.setdefault(skip.uri, []).append(skip.reason)
    for name, expected in EXPECTED_REASONS.items():
        got = reasons.get(bad[name]["uri"], [])
        assert any(expected in r for r in got), (name, got)
    assert f"{BAD}/{CARD}/good" not in reasons  # listed twice by the server: kept once
    assert (report.shelves, report.cards, report.notes, report.links) == (1, 1, 1, 1)
    with store.session() as s:
        assert s.scalars(select(RelatedCard.url)).all() == ["https://example.org/good"]
        logged = s.scalars(select(RelatedSkip)).all()
        assert len(logged) == report.skipped == len(report.skips)
        assert s.scalars(select(RelatedRefresh.skipped)).one() == report.skipped


def test_notes_and_links_out_of_the_selection_are_not_stored(store):
    repo = shelf_repo(n_cards=2)
    related = join_records(repo.listed(), DID, prefix="dc:")
    assert set(related.cards) == {f"at://{DID}/{CARD}/card000", f"at://{DID}/{CARD}/card001"}
    assert not related.skips


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "/rel",
                                 "//host/x", "ftp://host/x", "https://", "http://exa mple.org", "java\nscript:x",
                                 " https://example.org"])
def test_http_url_rejects(url):
    with pytest.raises(InvalidRecord):
        http_url(url, "url")


@given(st.text())
def test_front_matter_parser_never_crashes(text):
    try:
        result = parse_note(text)
    except FrontMatterError:
        return
    assert isinstance(result.text, str)


@given(st.text(min_size=1))
def test_urls_that_pass_are_http(text):
    try:
        url = http_url(text, "url")
    except InvalidRecord:
        return
    assert url.lower().startswith(("http://", "https://"))
    assert queries.safe_url(url) == url


def test_front_matter_fields():
    c = parse_note("---\ncitation_key: k\nentry_type: article\ntitle: T\nauthor: A and B\nyear: '2021'\n"
                   "venue: V\ndoi: 10.1/x\ntags: a, b\nabstract: Ab\npages: 1-9\n---\n\nThe note.\n")
    assert (c.citation_key, c.entry_type, c.title, c.authors, c.year, c.venue, c.doi, c.tags, c.abstract) == \
           ("k", "article", "T", ["A", "B"], 2021, "V", "10.1/x", ["a", "b"], "Ab")
    assert c.text == "The note." and c.extra == {"pages": "1-9"}
    assert parse_note("no front matter").text == "no front matter"
    with pytest.raises(FrontMatterError, match="not a mapping"):
        parse_note("---\n- a\n---\n")


# ------------------------------------------------------------------ failures leave the data as they were


FAILURES = [
    ("500", "failed: HTTP 500"),
    ("502", "failed: HTTP 502"),
    ("invalid-json", "invalid JSON"),
    ("html", "unexpected answer"),
    ("429", "rate limited (HTTP 429) after 3 tries"),
    ("429-long", "retry after 3600 s"),
]


@pytest.mark.parametrize("kind,message", FAILURES)
def test_failure_midway_leaves_previous_data_unchanged(store, pds, kind, message):
    pds.repo = shelf_repo(n_cards=130)
    refresh(store, pds)
    before = dump(store)
    repo = pds.repo
    repo.url_card("card000", "https://example.org/changed", "Changed")  # an edit that must not land
    repo.delete(f"at://{DID}/{LINK}/link001")
    pds.calls.clear()
    pds.fail = (CARD, 2, kind, 99)  # the second page of cards fails
    waits = []
    with pytest.raises(CfgraphError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        refresh(store, pds, sleep=waits.append)
    assert "\n" not in str(info.value)
    assert "cursor" in pds.list_calls(CARD)[-1]  # it failed midway, after a page had arrived
    assert dump(store) == before
    if kind == "429":
        assert waits == [0.0, 0.0]  # two retries honouring Retry-After: 0, then give up
    if kind == "429-long":
        assert waits == []  # an hour is past the bound: no waiting at all


def test_timeout_leaves_previous_data_unchanged(store, pds):
    refresh(store, pds)
    before = dump(store)
    pds.fail = (LINK, 1, "timeout", 1)
    with pytest.raises(CfgraphError, match="timed out after 0.2 s"):
        refresh(store, pds, timeout=0.2)
    assert dump(store) == before


def test_a_dripping_server_is_cut_off_at_the_timeout(store, pds):
    """Each byte arrives well within the read timeout, but the whole answer may not take longer."""
    refresh(store, pds)
    before = dump(store)
    pds.fail = (CARD, 1, "drip", 1)
    started = time.monotonic()
    with pytest.raises(CfgraphError, match="timed out after 0.5 s"):
        refresh(store, pds, timeout=0.5)
    assert time.monotonic() - started < 5  # not the 10 s the server would drip for
    assert dump(store) == before


def test_refused_connection_leaves_previous_data_unchanged(store, pds, closed_port):
    refresh(store, pds)
    before = dump(store)
    with pytest.raises(CfgraphError, match="cannot reach"):
        refresh(store, pds, pds=f"http://127.0.0.1:{closed_port}")
    with pytest.raises(CfgraphError, match="cannot fetch DID document"):
        refresh(store, pds, plc=f"http://127.0.0.1:{closed_port}")
    assert dump(store) == before


def test_rate_limit_once_then_success(store, pds):
    pds.fail = (CARD, 1, "429", 1)
    waits = []
    report = refresh(store, pds, sleep=waits.append)
    assert report.cards == 3 and waits == [0.0]


def test_failure_while_writing_rolls_back(store, pds, monkeypatch):
    refresh(store, pds)
    before = dump(store)
    pds.repo.url_card("card000", "https://example.org/changed", "Changed")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(service, "RelatedRefresh", broken)  # fails after the rows were written
    with pytest.raises(RuntimeError):
        refresh(store, pds)
    assert dump(store) == before


def test_resolution_errors(store, pds):
    with pytest.raises(CfgraphError, match="DID not found"):
        refresh(store, pds, did="did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
    with pytest.raises(CfgraphError, match="Unable to resolve handle"):
        refresh(store, pds, did=None, handle="bob.test", service=pds.url)
    with pytest.raises(CfgraphError, match="not a handle"):
        refresh(store, pds, did=None, handle="not a handle")
    with pytest.raises(CfgraphError, match="unsupported DID method"):
        refresh(store, pds, did="did:key:z6Mk")
    with pytest.raises(CfgraphError, match="exactly one"):
        refresh(store, pds, handle=HANDLE)
    assert count(store, RelatedRefresh) == 0


# ------------------------------------------------------------------ files, snapshot, queries


def test_snapshot_imports_real_papers(store):
    summary = service.import_snapshot(store, seed_file("semble_snapshot.json"))
    assert summary.startswith("7 shelves, 23 cards, 23 notes, 12 connections") and "0 skipped" in summary
    with store.session() as s:
        view = queries.related_view(s)
    titles = {c["title"] for shelf in view["shelves"] for c in shelf["cards"]}
    assert "Data Shapley: Equitable Valuation of Data for Machine Learning" in titles
    assert "Data Banzhaf: A Robust Data Valuation Framework for Machine Learning" in titles
    assert all(c["url"].startswith("https://") for shelf in view["shelves"] for c in shelf["cards"])
    shapley = next(t for t in view["topics"] if t["id"] == "shapley")
    assert [sh["title"] for sh in shapley["shelves"]] == ["Data valuation"]
    valuation = next(sh for sh in view["shelves"] if sh["title"] == "Data valuation")
    assert {"shapley", "banzhaf", "beta"} <= {t["id"] for t in valuation["topics"]}
    assert service.import_snapshot(store, seed_file("semble_snapshot.json")).endswith(
        "(0 added, 0 updated, 0 removed, 0 skipped)")


def test_filters(store):
    service.import_snapshot(store, seed_file("semble_snapshot.json"))
    with store.session() as s:
        found = queries.shelves(s, text="koh")
        assert [(sh["title"], [c["year"] for c in sh["cards"]], sh["card_count"]) for sh in found] == \
               [("Evaluation shifts and slices", [2021], 3), ("Influence and datamodels", [2017], 2)]
        assert [sh["title"] for sh in queries.shelves(s, collection="dc: Scaling laws")] == ["Scaling laws"]
        with pytest.raises(NotFound, match="no related-work shelf named 'nope'"):
            queries.shelves(s, collection="nope")


def test_import_file_errors(store, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CfgraphError, match="is not JSON"):
        service.import_file(store, bad)
    bad.write_text(json.dumps({"records": {}}))
    with pytest.raises(CfgraphError, match="no \"records\" list"):
        service.import_file(store, bad)
    with pytest.raises(CfgraphError, match="no such file"):
        service.import_file(store, tmp_path / "missing.json")
    repo = shelf_repo(1)
    records = [r for _, r in repo.listed()]
    bad.write_text(json.dumps({"records": records + records[:1]}))  # the DID comes from the at-uris
    report = service.import_file(store, bad)
    assert report.cards == 1 and [s.reason for s in report.skips] == ["record listed twice"]


# ------------------------------------------------------------------ the command line


def invoke(db, *args):
    return CliRunner().invoke(main, ["--db", str(db), *args])


def assert_refused(result, needle):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert needle in lines[0], lines[0]
    assert "Traceback" not in result.output


def test_cli_refresh_list_and_import(tmp_path, pds):
    db = tmp_path / "cli.db"
    result = invoke(db, "related", "refresh", "--handle", HANDLE, "--service", pds.url, "--plc", pds.url,
                    "--resolve-with", "xrpc")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("related work: 1 shelves, 3 cards, 3 notes, 0 connections from at://")
    assert "(10 added, 0 updated, 0 removed, 0 skipped)" in result.output
    table = invoke(db, "related", "list")
    assert table.exit_code == 0 and "Data valuation" in table.output and "Lovelace & Turing" in table.output
    listed = json.loads(invoke(db, "related", "list", "--format", "json").output)
    assert listed["refresh"]["added"] == 10 and listed["shelves"][0]["card_count"] == 3
    result = invoke(db, "related", "refresh", "--did", DID, "--pds", pds.url, "--all-collections")
    assert "2 shelves" in result.output and "(3 added, 0 updated, 0 removed, 0 skipped)" in result.output
    result = invoke(db, "related", "import", str(seed_file("semble_snapshot.json")))
    assert result.exit_code == 0 and result.output.startswith("related work: 7 shelves, 23 cards")
    assert invoke(db, "related", "list", "--collection", "Reading list").exit_code == 0


def test_cli_prints_skips(tmp_path, pds):
    pds.repo, _ = bad_records_repo()
    result = invoke(tmp_path / "cli.db", "related", "refresh", "--did", DID, "--plc", pds.url)
    assert result.exit_code == 0
    assert "  skipped at://" in result.output and "javascript:" in result.output
    assert "more (SELECT * FROM related_skip)" in result.output


@pytest.mark.parametrize("kind,message", [("500", "HTTP 500"), ("429-long", "retry after 3600 s"),
                                          ("invalid-json", "invalid JSON")])
def test_cli_failures_exit_2_in_one_line_and_change_nothing(tmp_path, pds, kind, message):
    db = tmp_path / "cli.db"
    assert invoke(db, "related", "refresh", "--did", DID, "--plc", pds.url).exit_code == 0
    before = snapshot_db(db)
    pds.fail = (CARD, 1, kind, 99)
    assert_refused(invoke(db, "related", "refresh", "--did", DID, "--plc", pds.url), message)
    assert snapshot_db(db) == before


def test_cli_bad_input(tmp_path, pds, closed_port):
    db = tmp_path / "cli.db"
    assert_refused(invoke(db, "related", "refresh", "--did", DID, "--pds", f"http://127.0.0.1:{closed_port}"),
                   "cannot reach")
    pds.fail = (CARD, 1, "timeout", 1)
    assert_refused(invoke(db, "related", "refresh", "--did", DID, "--plc", pds.url, "--timeout", "0.2"),
                   "timed out after 0.2 s")
    assert_refused(invoke(db, "related", "refresh"), "exactly one of a handle or a DID")
    assert_refused(invoke(db, "related", "refresh", "--did", "nonsense"), "not a DID")
    assert_refused(invoke(db, "related", "list", "--collection", "nope"), "no related-work shelf named 'nope'")
    bad = tmp_path / "bad.json"
    bad.write_text("[")
    assert_refused(invoke(db, "related", "import", str(bad)), "is not JSON")
    assert_refused(invoke(db, "related", "import", str(tmp_path / "none.json")), "no such file")


def snapshot_db(db):
    with sqlite3.connect(db) as conn:
        return list(conn.iterdump())


# ------------------------------------------------------------------ the Related Work page


@pytest.fixture
def client(store):
    from cfgraph.web import create_app

    service.import_snapshot(store, seed_file("semble_snapshot.json"))
    return create_app({"DATABASE_URL": store.url, "TESTING": True}).test_client()


def test_related_page_shows_the_snapshot_and_the_api_the_same(client):
    page = client.get("/related")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    api = client.get("/api/related").get_json()
    assert len(api["shelves"]) == 7 and api["refresh"]["source"] == "file semble_snapshot.json"
    for shelf in api["shelves"]:
        assert f'id="{shelf["anchor"]}"' in html
        for card in shelf["cards"]:
            assert f'href="{card["url"]}"' in html
    assert "Last refresh" in html and 'href="/question/shapley"' in html and "Related work</a>" in html
    shapley = client.get("/api/related?topic=shapley").get_json()
    assert [s["title"] for s in shapley["shelves"]] == ["Data valuation"]
    assert shapley["topic"] == {"id": "shapley", "kind": "questions", "label": "Shapley value",
                                "href": "/question/shapley"}
    found = client.get("/api/related?q=unlearning").get_json()
    assert [c["title"] for s in found["shelves"] for c in s["cards"]] == ["Machine Unlearning"]
    assert "No shelf matches" in client.get("/related?q=zzzz").get_data(as_text=True)
    assert client.get("/api/related?topic=nope").status_code == 404
    assert client.get("/related?collection=nope").status_code == 404


def test_related_map_names_real_questions_and_glossary_terms():
    from cfgraph.questions import TITLES
    from cfgraph.web.glossary import load_glossary

    related_map = queries.load_related_map()
    assert set(related_map["questions"]) <= set(TITLES)
    assert set(related_map["glossary"]) <= {entry["slug"] for entry in load_glossary()}


@pytest.mark.parametrize("body", [[1, 2], "a string", 7, {"id": 3}])
def test_a_did_document_that_is_not_one_is_refused_in_one_line(store, pds, body):
    refresh(store, pds)
    before = dump(store)
    pds.plc_body = body
    with pytest.raises(CfgraphError, match="not a valid DID document"):
        refresh(store, pds)
    assert dump(store) == before


def test_overlong_urls_are_skipped():
    from cfgraph.semble.lexicon import MAX_URL_LENGTH, InvalidRecord, http_url

    with pytest.raises(InvalidRecord, match="longer than"):
        http_url("https://example.org/" + "a" * MAX_URL_LENGTH, "url")
