"""Hostile servers and hostile records: reads bounded in time and size, records skipped one by one.

A raw socket server on 127.0.0.1 (port 0) plays the PDS or the PLC directory and
misbehaves byte by byte: status lines and headers dripped one byte at a time,
bodies of hundreds of megabytes, gzip and deflate bombs, endless chunked bodies,
error bodies of megabytes. Its threads may sleep between bytes (that is the
attack); no test sleeps to wait for something. No test reaches the network.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import tracemalloc
import zlib
from functools import cache
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from test_semble import CARD, COLLECTION, DID, LINK, Repo, assert_refused, dump, invoke, snapshot_db

from cfgraph.errors import CfgraphError
from cfgraph.semble import queries, service, transport, xrpc
from cfgraph.semble.frontmatter import FrontMatterError, parse_note
from cfgraph.semble.handles import HandleResolver
from cfgraph.semble.join import join_records
from cfgraph.semble.transport import MAX_RESPONSE_BYTES
from cfgraph.semble.untrusted import MESSAGE_MAX, UnreadableListing, UnreadableRecord, one_line, parse_listing
from cfgraph.store import open_store
from cfgraph.store.related_models import RelatedSkip

DEEP = 100_000
CAP = f"{MAX_RESPONSE_BYTES:,}"


# ------------------------------------------------------------------ a server that misbehaves byte by byte


class RawServer:
    """Accepts connections, reads one request, and lets ``respond(server, conn, path, query)`` answer it."""

    def __init__(self, respond):
        self.respond = respond
        self.stop = threading.Event()
        self.sent = 0  # body bytes the server managed to write
        self.paths: list[tuple[str, dict]] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed at teardown
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                data = conn.recv(4096)
                if not data:
                    return
                head += data
            target = head.split(b" ", 2)[1].decode()
            parts = urlsplit(target)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            self.paths.append((parts.path, query))
            try:
                self.respond(self, conn, parts.path, query)
            except OSError:
                pass  # the client gave up and closed its socket: that is the point

    def write(self, conn, data: bytes):
        conn.sendall(data)
        self.sent += len(data)

    def drip(self, conn, data: bytes, every: float = 0.05):
        """Send ``data`` one byte every ``every`` seconds, until it is all sent or the test ends."""
        for i in range(len(data)):
            if self.stop.wait(every):
                return
            self.write(conn, data[i:i + 1])

    def close(self):
        self.stop.set()
        self.sock.close()


@pytest.fixture
def raw_server():
    servers = []

    def start(respond):
        servers.append(RawServer(respond))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def head(status: int, headers=(), reason="OK") -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", "Connection: close", *[f"{k}: {v}" for k, v in headers]]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer(server, conn, status: int, body: bytes, content_type="application/json", headers=()):
    server.write(conn, head(status, [("Content-Type", content_type), ("Content-Length", len(body)), *headers]))
    server.write(conn, body)


EMPTY_PAGE = b'{"records": []}'


def refresh_from(store, server, timeout=5.0, **kwargs):
    """A refresh whose PDS is ``server`` (no resolution: the PDS is given)."""
    return service.refresh(store, did=DID, pds=server.url, timeout=timeout, **kwargs)


def seeded(store):
    """A store holding one earlier refresh, and its dump (what a failed refresh must leave)."""
    service.import_file(store, _write_listing(store, good_repo().listed()))
    return dump(store)


def good_repo():
    repo = Repo()
    shelf = repo.collection("shelf", "dc: Data valuation")
    for i in range(3):
        card = repo.url_card(f"card{i}", f"https://example.org/{i}", f"Paper {i}")
        repo.note(f"note{i}", card, f"---\ntitle: Paper {i}\nyear: 201{i}\n---\nA note.")
        repo.link(f"link{i}", shelf, card)
    return repo


def _write_listing(store, listed):
    path = Path(store.sqlite_path).parent / "listing.json"
    path.write_text(json.dumps({"did": DID, "records": [r for _, r in listed]}))
    return path


# ------------------------------------------------------------------ 1. the timeout bounds the whole exchange


DRIPS = {
    # what is sent at once, then what is dripped one byte every 50 ms
    "status line": (b"", head(200, [("Content-Type", "application/json")]) + b"x" * 10_000),
    "headers": (b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"a" * 10_000 + b"\r\n\r\n"),
    "chunked body": (head(200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]),
                     b"".join(b"1\r\n \r\n" for _ in range(2_000))),
    "body after content-length": (head(200, [("Content-Type", "application/json"), ("Content-Length", 10_000)]),
                                  b" " * 10_000),
}


def dripping(at_once: bytes, dripped: bytes):
    def respond(server, conn, path, query):
        server.write(conn, at_once)
        server.drip(conn, dripped)
    return respond


@pytest.mark.parametrize("where", DRIPS)
def test_a_dripping_pds_is_cut_off_at_the_timeout_wherever_it_drips(store, raw_server, where):
    before = seeded(store)
    server = raw_server(dripping(*DRIPS[where]))
    started = time.monotonic()
    with pytest.raises(CfgraphError, match=r"timed out after 1 s") as info:
        refresh_from(store, server, timeout=1.0)
    elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 3.0, elapsed  # the deadline, not the 100+ s the server would drip for
    assert "\n" not in str(info.value)
    assert dump(store) == before


def test_a_dripping_did_document_is_cut_off_at_the_timeout(store, raw_server):
    before = seeded(store)
    server = raw_server(dripping(*DRIPS["headers"]))
    started = time.monotonic()
    with pytest.raises(CfgraphError, match=r"DID document .* timed out after 1 s"):
        service.refresh(store, did=DID, plc=server.url, timeout=1.0)
    assert time.monotonic() - started < 2.5
    assert dump(store) == before


def test_cli_refresh_with_dripped_headers_fails_in_one_line_within_the_timeout(tmp_path, raw_server):
    """The probe's case: headers one byte a second held `--timeout 3` for more than 90 s."""
    db = tmp_path / "cli.db"
    listing = tmp_path / "listing.json"
    listing.write_text(json.dumps({"did": DID, "records": [r for _, r in good_repo().listed()]}))
    assert invoke(db, "related", "import", str(listing)).exit_code == 0
    before = snapshot_db(db)
    server = raw_server(dripping(b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"a" * 1_000 + b"\r\n\r\n"))
    started = time.monotonic()
    result = invoke(db, "related", "refresh", "--did", DID, "--pds", server.url, "--timeout", "1.5")
    assert time.monotonic() - started < 3.5
    assert_refused(result, "timed out after 1.5 s")
    assert snapshot_db(db) == before


@pytest.mark.parametrize("target", ["pds", "plc"])
def test_redirects_share_the_deadline_of_their_request(store, raw_server, target):
    """Twenty redirects of 0.5 s each, each within a 1 s timeout, may not add up to 10 s."""
    before = seeded(store)

    def respond(server, conn, path, query):
        hop = int(query.get("hop", 0))
        location = f"{path}?{'&'.join(f'{k}={v}' for k, v in query.items() if k != 'hop')}&hop={hop + 1}"
        server.write(conn, b"HTTP/1.1 302 Found\r\nConnection: close\r\nContent-Length: 0\r\n")
        server.drip(conn, f"Location: {location}\r\n\r\n".encode()[:10], every=0.05)  # 0.5 s
        server.write(conn, f"Location: {location}\r\n\r\n".encode()[10:])

    server = raw_server(respond)
    where = {"pds": server.url} if target == "pds" else {"plc": server.url}
    started = time.monotonic()
    with pytest.raises(CfgraphError, match="timed out after 1 s"):
        service.refresh(store, did=DID, timeout=1.0, **where)
    assert time.monotonic() - started < 2.5
    assert 1 <= len(server.paths) <= 3  # two or three hops, not twenty
    assert dump(store) == before


def test_a_name_that_never_resolves_is_cut_off_at_the_timeout(store, monkeypatch):
    """Name resolution is part of the exchange: getaddrinfo cannot be interrupted, the wait can."""
    before = seeded(store)
    released = threading.Event()

    def hanging_lookup(*args, **kwargs):
        released.wait(30)
        raise OSError("released")

    monkeypatch.setattr(transport.socket, "getaddrinfo", hanging_lookup)
    started = time.monotonic()
    try:
        with pytest.raises(CfgraphError, match="timed out after 0.5 s"):
            service.refresh(store, did=DID, pds="http://pds.invalid", timeout=0.5)
        assert time.monotonic() - started < 2.0
    finally:
        released.set()
    assert dump(store) == before


# ------------------------------------------------------------------ 2. answers are capped, raw and decompressed


@cache
def bomb(encoding: str, megabytes: int = 256) -> bytes:
    """``megabytes`` MiB of zeros, gzip- or deflate-compressed (about a thousandth of the size)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31 if encoding == "gzip" else 15)
    zeros = bytes(1 << 20)
    return b"".join([packer.compress(zeros) for _ in range(megabytes)] + [packer.flush()])


def endless_chunks(server, conn, path, query):
    server.write(conn, head(200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]))
    chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
    for _ in range(200 * 16):  # 200 MiB, unless the client stops reading
        if server.stop.is_set():
            return
        server.write(conn, chunk)


def until_close(server, conn, path, query):  # HTTP/1.0 style: no length, the body ends at close
    server.write(conn, b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n")
    for _ in range(200 * 16):
        if server.stop.is_set():
            return
        server.write(conn, b" " * 0x10000)


def declared_huge(server, conn, path, query):
    server.write(conn, head(200, [("Content-Type", "application/json"), ("Content-Length", 200 << 20)]))
    for _ in range(200 * 16):
        if server.stop.is_set():
            return
        server.write(conn, b" " * 0x10000)


def compressed(encoding: str, header: str | None = None):
    def respond(server, conn, path, query):
        body = bomb(encoding)
        answer(server, conn, 200, body, headers=[("Content-Encoding", header or encoding)])
    return respond


HUGE = {
    "content-length of 200 MB": (declared_huge, f"answered 209,715,200 bytes, more than the {CAP} accepted"),
    "chunked without content-length": (endless_chunks, f"answered more than the {CAP} bytes accepted; refused"),
    "body ended by closing": (until_close, f"answered more than the {CAP} bytes accepted; refused"),
    "gzip bomb": (compressed("gzip"), f"more than the {CAP} bytes accepted once decompressed"),
    "x-gzip bomb": (compressed("gzip", "x-gzip"), "once decompressed"),
    "deflate bomb": (compressed("deflate"), "once decompressed"),
    "brotli, not asked for": (compressed("gzip", "br"), "in an encoding it was not asked for"),
    "gzip twice": (compressed("gzip", "gzip, gzip"), "in an encoding it was not asked for"),
}


@pytest.mark.parametrize("case", HUGE)
def test_an_oversized_answer_is_refused_with_bounded_memory(store, raw_server, case):
    respond, message = HUGE[case]
    before = seeded(store)
    server = raw_server(respond)
    tracemalloc.start()
    try:
        with pytest.raises(CfgraphError, match=message.replace("(", r"\(")) as info:
            refresh_from(store, server)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(info.value).startswith(f"listRecords({COLLECTION}) on {server.url} ")
    assert "\n" not in str(info.value) and len(str(info.value)) < 300
    assert peak < 6 * MAX_RESPONSE_BYTES, f"{peak:,} bytes"  # not the 200 MB (or 256 MB inflated) on offer
    assert server.sent < 64 << 20  # it stopped reading: the server could not write the 200 MB
    assert dump(store) == before


GARBAGE = {
    "content-length of 5,000 digits": (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                                       + b"9" * 5_000 + b"\r\n\r\n{}", "bad Content-Length"),
    "a header of 1 MB": (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 1_000_000 + b"\r\n\r\n", "Receive buffer too long"),
    "200,000 headers": (b"HTTP/1.1 200 OK\r\n" + b"X: a\r\n" * 200_000 + b"\r\n", "Receive buffer too long"),
    "a reason phrase of 1 MB": (b"HTTP/1.1 500 " + b"r" * 1_000_000 + b"\r\n\r\n", "Receive buffer too long"),
    "not HTTP": (b"\x00\xff" * 1_000, "RemoteProtocolError"),
    "gzip that is not": (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                         b"Content-Length: 10\r\n\r\n0123456789", "does not decompress"),
}


@pytest.mark.parametrize("case", GARBAGE)
def test_protocol_garbage_is_one_bounded_line(store, raw_server, case):
    data, message = GARBAGE[case]
    before = seeded(store)
    with pytest.raises(CfgraphError, match=message) as info:
        refresh_from(store, raw_server(lambda server, conn, path, query: server.write(conn, data)))
    assert "\n" not in str(info.value) and len(str(info.value)) < 300
    assert dump(store) == before


def test_an_answer_just_under_the_cap_is_read(store, raw_server):
    """The cap refuses what is over it, not a large honest page (gzip-compressed, as real PDSes send)."""
    repo = good_repo()
    pad = " " * (MAX_RESPONSE_BYTES - 20_000)  # JSON whitespace: a page just under the cap

    def respond(server, conn, path, query):
        records = repo.records.get(query.get("collection"), []) if "cursor" not in query else []
        body = json.dumps({"records": records}).encode()[:-1] + pad.encode() + b"}"
        assert len(body) < MAX_RESPONSE_BYTES
        answer(server, conn, 200, zlib.compress(body, wbits=31), headers=[("Content-Encoding", "gzip")])

    report = refresh_from(store, raw_server(respond))
    assert (report.shelves, report.cards, report.notes, report.skipped) == (1, 3, 3, 0)


def test_an_oversized_did_document_is_refused(store, raw_server):
    before = seeded(store)
    server = raw_server(compressed("gzip"))
    with pytest.raises(CfgraphError, match=r"^DID document http://127\.0\.0\.1:\d+/did:plc:\S+ answered more than"):
        service.refresh(store, did=DID, plc=server.url)
    assert dump(store) == before


def test_cli_refuses_a_gzip_bomb_in_one_line(tmp_path, raw_server):
    db = tmp_path / "cli.db"
    server = raw_server(compressed("gzip"))
    assert_refused(invoke(db, "related", "refresh", "--did", DID, "--pds", server.url), "once decompressed")


def test_the_cap_is_documented_in_the_help():
    result = invoke("unused.db", "related", "refresh", "--help")
    assert f"{MAX_RESPONSE_BYTES >> 20} MiB" in result.output and "MAX_RESPONSE_BYTES" in result.output
    assert "connect, headers and body" in " ".join(result.output.split())


# ------------------------------------------------------------------ 3. one hostile record is skipped, not fatal


def deep_record(rkey: str, nsid: str = CARD) -> str:
    return (f'{{"uri": "at://{DID}/{nsid}/{rkey}", "cid": "bafydeep", "value": '
            + "[" * DEEP + "]" * DEEP + "}")


def hostile_repo():
    """The good shelf, plus one hostile record of each kind; returns (repo, raw record texts, expected reasons)."""
    repo = good_repo()
    card0 = {"uri": f"at://{DID}/{CARD}/card0", "cid": repo.records[CARD][0]["cid"]}
    shelf = {"uri": f"at://{DID}/{COLLECTION}/shelf", "cid": repo.records[COLLECTION][0]["cid"]}
    repo.note("baddate", card0, "---\ndate: 2019-02-30\n---\nNo such day.")
    repo.note("bigint", card0, "---\nyear: " + "9" * 5_000 + "\n---\nA 5,000-digit year.")
    repo.note("bigextra", card0, "---\npages: 123456789012345678901234567890\n---\nToo big for JSON.")
    repo.note("infinite", card0, "---\npages: .inf\n---\nNot a number JSON has.")
    repo.note("deepyaml", card0, "---\nx: " + "[" * 3_000 + "]" * 3_000 + "\n---\nDeep YAML.")
    repo.note("yamlsurrogate", card0, '---\ntitle: "\\ud800"\n---\nAn escaped lone surrogate.')
    surrogate = repo.url_card("surrogate", "https://example.org/s", "Bad \ud800 title")
    repo.link("surrogatelink", shelf, surrogate)
    repo.put(COLLECTION, "namesurrogate", {"name": "dc: \udcff", "accessType": "OPEN"})
    raw = {
        CARD: [deep_record("deep")],
        COLLECTION: [f'{{"uri": "at://{DID}/{COLLECTION}/hugecid", "cid": {"7" * 5_000}, '
                     f'"value": {{"$type": "{COLLECTION}", "name": "dc: x", "accessType": "OPEN"}}}}'],
        LINK: ["[" * DEEP + "]" * DEEP],  # no uri to read off
    }
    reasons = {
        f"at://{DID}/{CARD}/baddate": "broken YAML front matter",
        f"at://{DID}/{CARD}/bigint": "broken YAML front matter",
        f"at://{DID}/{CARD}/bigextra": "integer too large to store",
        f"at://{DID}/{CARD}/infinite": "not a finite number",
        f"at://{DID}/{CARD}/deepyaml": "nested too deeply",
        f"at://{DID}/{CARD}/yamlsurrogate": "not valid Unicode",
        f"at://{DID}/{CARD}/surrogate": "not valid Unicode",
        f"at://{DID}/{LINK}/surrogatelink": "links to a missing card",
        f"at://{DID}/{COLLECTION}/namesurrogate": "not valid Unicode",
        f"at://{DID}/{CARD}/deep": "nested too deeply to parse",
        f"at://{DID}/{COLLECTION}/hugecid": "cid is missing or not a string",
        None: "nested too deeply to parse",
    }
    return repo, raw, reasons


def page(records: list[dict], raw: list[str] = (), cursor: str | None = None) -> bytes:
    items = [json.dumps(r) for r in records] + list(raw)
    tail = "" if cursor is None else f', "cursor": {json.dumps(cursor)}'
    return ('{"records": [' + ", ".join(items) + "]" + tail + "}").encode()


def serving(repo, raw):
    def respond(server, conn, path, query):
        nsid = query.get("collection")
        body = EMPTY_PAGE if "cursor" in query else page(repo.records.get(nsid, []), raw.get(nsid, []))
        answer(server, conn, 200, body)
    return respond


def check_skips(store, report, reasons):
    skipped = {s.uri: s.reason for s in report.skips}
    for uri, reason in reasons.items():
        assert uri in skipped and reason in skipped[uri], (uri, skipped.get(uri))
    assert len(report.skips) == len(reasons)
    assert all("\n" not in s.reason and len(s.reason) <= 300 for s in report.skips)
    assert (report.shelves, report.cards, report.notes) == (1, 3, 3)  # the good shelf, whole
    with store.session() as s:
        logged = {(row.uri, row.reason) for row in s.scalars(select(RelatedSkip))}
        assert {uri for uri, _ in logged} == set(reasons)
        assert [c["title"] for sh in queries.shelves(s) for c in sh["cards"]] == ["Paper 0", "Paper 1", "Paper 2"]


def test_hostile_records_on_a_page_are_skipped_with_their_reasons(store, raw_server):
    repo, raw, reasons = hostile_repo()
    report = refresh_from(store, raw_server(serving(repo, raw)))
    check_skips(store, report, reasons)


def test_hostile_records_in_a_file_are_skipped_with_their_reasons(store, tmp_path):
    repo, raw, reasons = hostile_repo()
    path = tmp_path / "hostile.json"
    records = [r for _, r in repo.listed()]
    path.write_bytes(b'{"did": "' + DID.encode() + b'", "records": [' + ", ".join(
        [json.dumps(r) for r in records] + [text for texts in raw.values() for text in texts]).encode() + b"]}")
    check_skips(store, service.import_file(store, path), reasons)


def test_invalid_utf8_in_one_record_skips_that_record(store, tmp_path):
    repo = good_repo()
    bad = json.dumps({"uri": f"at://{DID}/{COLLECTION}/latin1", "cid": "c",
                      "value": {"$type": COLLECTION, "name": "dc: NAME", "accessType": "OPEN"}}).encode()
    path = tmp_path / "mixed.json"
    path.write_bytes(b'{"records": [' + b", ".join([json.dumps(r).encode() for _, r in repo.listed()]
                                                   + [bad.replace(b"NAME", b"caf\xe9")]) + b"]}")
    report = service.import_file(store, path)
    assert [(s.uri, s.reason) for s in report.skips] == [
        (f"at://{DID}/{COLLECTION}/latin1", "field name is not valid Unicode (an unpaired surrogate)")]
    assert report.cards == 3


@pytest.mark.parametrize("text,message", [
    ("[" * DEEP + "]" * DEEP, "nested too deeply"),
    ('{"did": ' + "[" * DEEP + "]" * DEEP + ', "records": []}', "nested too deeply to parse outside its records"),
    ('{"records": [' + "[" * DEEP, "nested too deeply"),  # cut short, deep
    ('{"records": [1, 2', "is not JSON"),
    ('{"records": [' + "1" * 5_000 + "]", "is not JSON"),
])
def test_a_file_that_cannot_be_parsed_is_refused_in_one_line(store, tmp_path, text, message):
    before = seeded(store)
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(CfgraphError, match=message) as info:
        service.import_file(store, path)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300
    assert dump(store) == before


def test_cli_import_of_a_deep_file_is_one_line_and_of_deep_records_a_skip(tmp_path):
    db = tmp_path / "cli.db"
    deep = tmp_path / "deep.json"
    deep.write_text("[" * DEEP + "]" * DEEP)
    assert_refused(invoke(db, "related", "import", str(deep)), "nested too deeply")
    mixed = tmp_path / "mixed.json"
    mixed.write_text('{"did": "' + DID + '", "records": ['
                     + ", ".join([json.dumps(r) for _, r in good_repo().listed()] + [deep_record("deep")]) + "]}")
    result = invoke(db, "related", "import", str(mixed))
    assert result.exit_code == 0, result.output
    assert f"  skipped at://{DID}/{CARD}/deep: record is nested too deeply to parse" in result.output
    assert "(10 added, 0 updated, 0 removed, 1 skipped)" in result.output


@pytest.mark.parametrize("cursor,message", [
    ("a" * 1_000_000, "a cursor of 1,000,000 characters (more than 1,024)"),
    ("a" * (xrpc.MAX_CURSOR_LENGTH + 1), "more than 1,024"),
    ("line\nbreak", "unprintable characters"),
    ("\ud800", "unprintable characters"),
])
def test_a_hostile_cursor_stops_paging_and_changes_nothing(store, raw_server, cursor, message):
    before = seeded(store)
    repo = good_repo()

    def respond(server, conn, path, query):
        answer(server, conn, 200, page(repo.records[query["collection"]], cursor=cursor))

    server = raw_server(respond)
    with pytest.raises(CfgraphError, match="paging stopped") as info:
        refresh_from(store, server)
    assert message in str(info.value) and len(str(info.value)) < 300
    assert [q for _, q in server.paths if "cursor" in q] == []  # the cursor was never sent back
    assert dump(store) == before


def test_a_page_of_more_records_than_asked_for_is_refused(store, raw_server):
    """Two million tiny records fit in 4 MiB; each would be logged as a skip."""
    before = seeded(store)

    def respond(server, conn, path, query):
        answer(server, conn, 200, b'{"records": [' + b",".join([b"0"] * (int(query["limit"]) + 1)) + b"]}")

    with pytest.raises(CfgraphError, match="returned 101 records, more than the 100 asked for"):
        refresh_from(store, raw_server(respond))
    assert dump(store) == before


def test_a_cursor_at_the_limit_is_followed(store, raw_server):
    repo = good_repo()
    cursor = "c" * xrpc.MAX_CURSOR_LENGTH

    def respond(server, conn, path, query):
        if query.get("cursor") == cursor:
            return answer(server, conn, 200, EMPTY_PAGE)
        answer(server, conn, 200, page(repo.records[query["collection"]], cursor=cursor))

    server = raw_server(respond)
    assert refresh_from(store, server).cards == 3
    with_records = sum(bool(records) for records in repo.records.values())
    assert sum(q.get("cursor") == cursor for _, q in server.paths) == with_records == 3  # followed, not refused


@pytest.mark.parametrize("note,reason", [
    ("---\ndate: 2019-02-30\n---\n", "day is out of range"),
    ("---\nwhen: 2019-13-01 10:00:00\n---\n", "month must be in 1..12"),
    ("---\nyear: " + "1" * 4_400 + "\n---\n", "broken YAML front matter"),
    ("---\nyear: '" + "1" * 4_400 + "'\n---\n", "not a year"),
    ("---\nyear: 99999999999999999999\n---\n", "not a year"),
    ("---\nn: -123456789012345678901234567890\n---\n", "integer too large"),
    ("---\nn: -.inf\n---\n", "not a finite number"),
    ("---\nn: .nan\n---\n", "not a finite number"),
    ("---\ntitle: " + "[" * 2_000 + "]" * 2_000 + "\n---\n", "nested too deeply"),
    ('---\ntitle: "\\udc80"\n---\n', "not valid Unicode"),
    ('---\n"\\ud800": x\n---\n', "not valid Unicode"),
    ('---\ntags: ["ok", "\\ud800"]\n---\n', "not valid Unicode"),
])
def test_hostile_front_matter_is_one_reason(note, reason):
    with pytest.raises(FrontMatterError, match=reason) as info:
        parse_note(note + "Text.")
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_a_skip_built_from_a_huge_uri_is_one_bounded_line():
    uri = f"at://did:plc:{'x' * 1_000_000}/{CARD}/k"
    record = {"uri": uri, "cid": "c", "value": {"$type": CARD, "type": "URL", "content": {"url": "https://e.org"}}}
    related = join_records([(CARD, record), (None, UnreadableRecord("why\nnot", "bad\ud800"))], DID)
    assert [len(s.uri) <= 600 and len(s.reason) <= 300 and "\n" not in s.reason for s in related.skips] == [True] * 2
    assert related.skips[1].uri == "bad\\ud800" and related.skips[0].reason.startswith("record of another repository")


# ------------------------------------------------------------------ 4. server messages are one bounded line


def error_body(size: int, content_type="application/json"):
    message = "Overloaded " + "x" * size + "\nsecond line"

    def respond(server, conn, path, query):
        body = json.dumps({"error": "InternalServerError", "message": message}).encode() \
            if content_type == "application/json" else message.encode()
        answer(server, conn, 500, body, content_type=content_type, headers=())
    return respond


@pytest.mark.parametrize("size,content_type", [(1_000_000, "application/json"), (1_000_000, "text/plain"),
                                               (50, "text/plain")])
def test_an_error_body_is_quoted_in_one_bounded_line(store, raw_server, size, content_type):
    before = seeded(store)
    server = raw_server(error_body(size, content_type))
    with pytest.raises(CfgraphError, match="failed: HTTP 500") as info:
        refresh_from(store, server)
    message = str(info.value)
    assert "\n" not in message and "second line" not in message
    assert len(message) <= len(f"listRecords({COLLECTION}) on {server.url} failed: HTTP ") + MESSAGE_MAX
    assert "Overloaded" in message
    assert dump(store) == before


def test_a_50_mb_error_body_is_refused_in_one_line(tmp_path, raw_server):
    server = raw_server(error_body(50_000_000, "text/plain"))
    result = invoke(tmp_path / "cli.db", "related", "refresh", "--did", DID, "--pds", server.url)
    assert_refused(result, f"answered 50,000,023 bytes, more than the {CAP} accepted; refused")
    assert len(result.output) < 300


def test_a_resolve_handle_error_is_one_bounded_line(store, raw_server):
    def respond(server, conn, path, query):
        answer(server, conn, 400, json.dumps({"error": "InvalidRequest",
                                              "message": "Unable\r\x1b[31m " + "y" * 100_000}).encode())

    with pytest.raises(CfgraphError, match=r"failed: HTTP 400 InvalidRequest: Unable") as info:
        service.refresh(store, handle="alice.test", pds=raw_server(respond).url,
                        resolver=HandleResolver(methods=("xrpc",), timeout=5))
    assert "\x1b" not in str(info.value) and "\r" not in str(info.value) and len(str(info.value)) < 300


def test_a_did_document_naming_another_did_or_a_bad_pds_is_one_bounded_line(store, raw_server):
    endpoints = ["https://exa mple.org", "https://example.org/\x00", "https://a\ud800.org",
                 "https://" + "a" * 10_000 + ".org", "http://x.org\nfoo", "javascript:alert(1)", "ftp://x.org"]
    documents = iter([{"id": "did:plc:" + "z" * 100_000, "service": []}] + [
        {"id": DID, "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": e}]}
        for e in endpoints])

    def respond(server, conn, path, query):
        answer(server, conn, 200, json.dumps(next(documents)).encode())

    server = raw_server(respond)
    with pytest.raises(CfgraphError, match="is for 'did:plc:zzz") as info:
        service.refresh(store, did=DID, plc=server.url)
    assert len(str(info.value)) < 300
    for _ in endpoints:  # each refused before any listing, in one bounded line
        with pytest.raises(CfgraphError, match=r"DID document of did:plc:\S+: its #atproto_pds endpoint ") as info:
            service.refresh(store, did=DID, plc=server.url)
        assert len(str(info.value)) < 300 and "\n" not in str(info.value)
        assert "names no #atproto_pds service" not in str(info.value)  # the service is there, its URL is bad
    assert not [path for path, _ in server.paths if "listRecords" in path]


@pytest.mark.parametrize("text,expected", [
    ("one line", "one line"),
    ("first\nsecond", "first …"),
    ("\n\n  indented   words \n", "indented words"),
    ("x" * 1_000, "x" * (MESSAGE_MAX - 1) + "…"),
    ("bell\x07 and \x1b[0m", "bell\\x07 and \\x1b[0m"),
    ("lone \ud800", "lone \\ud800"),
    ("", ""),
    (ValueError("an exception\nwith a traceback"), "an exception …"),
])
def test_one_line(text, expected):
    assert one_line(text) == expected


def test_one_line_of_a_50_mb_message():
    assert one_line("x" * 50_000_000 + "\nmore") == "x" * (MESSAGE_MAX - 1) + "…"
    assert one_line(" " * 50_000_000 + "late") == "…"  # only the head is read: a blank head says nothing
    assert one_line("short" + " " * 50_000_000 + "late") == "short …"


def test_parse_listing_keeps_the_rest_of_a_page_around_deep_records():
    deep = "[" * DEEP + "]" * DEEP
    text = ('{"cursor": "c1", "records": [' + ", ".join(['{"uri": "a", "s": "]}[{,\\""}', deep, "7",
                                                           '{"uri": "b"}']) + '], "extra": [1, 2]}')
    listing = parse_listing(text.encode())
    assert listing["cursor"] == "c1" and listing["extra"] == [1, 2]
    records = listing["records"]
    assert records[0] == {"uri": "a", "s": ']}[{,"'} and records[2] == 7 and records[3] == {"uri": "b"}
    assert records[1] == UnreadableRecord("record is nested too deeply to parse", None)
    with pytest.raises(UnreadableListing):
        parse_listing(b"\xff{")


HOSTILE_TEXT = st.one_of(st.text(max_size=30), st.text(st.characters(categories=["Cs", "Cc", "Zl"]), max_size=5),
                         st.sampled_from(["---\nyear: 2019-02-30\n---\n", "---\nn: .inf\n---\n",
                                          '---\ntitle: "\\ud800"\n---\n', "---\n" + "[" * 500 + "\n---\n"]))


@settings(max_examples=60, deadline=None)
@given(name=HOSTILE_TEXT, title=HOSTILE_TEXT, note=HOSTILE_TEXT, url=HOSTILE_TEXT)
def test_any_text_in_any_field_is_stored_or_skipped_never_a_crash(tmp_path_factory, name, title, note, url):
    """Whatever text a record holds, the import stores it (valid UTF-8) or skips the record; nothing else."""
    store = open_store(tmp_path_factory.mktemp("fuzz") / "fuzz.db")
    try:
        repo = Repo()
        shelf = repo.collection("shelf", "dc: " + name)
        card = repo.url_card("card", "https://example.org/" + url, title or None)
        repo.note("note", card, note)
        repo.link("link", shelf, card)
        path = tmp_path_factory.mktemp("fuzz") / "fuzz.json"
        path.write_bytes(json.dumps({"did": DID, "records": [r for _, r in repo.listed()]}).encode())
        report = service.import_file(store, path)
        assert report.shelves + report.skipped >= 1
        assert all("\n" not in s.reason and len(s.reason) <= 300 for s in report.skips)
        with store.session() as s:
            view = queries.related_view(s)
        stored = json.dumps(view, ensure_ascii=False)
        stored.encode("utf-8")  # everything stored is valid UTF-8
    finally:
        store.close()
