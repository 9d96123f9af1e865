"""Semble connections (``network.cosmik.connection``): typed edges between papers.

A connection record names a ``source`` and a ``target``, each an http(s) URL or
the at-uri of a card, an optional ``connectionType`` (SUPPORTS, OPPOSES,
ADDRESSES, HELPFUL, LEADS_TO, RELATED, SUPPLEMENT, EXPLAINER) and an optional
``note`` of at most 1,000 bytes. :func:`parse_connection` checks one record;
:func:`resolve_connections` ties each endpoint to a paper (a URL card on an
imported shelf) and skips, with its reason, any connection whose endpoint is no
such paper, that joins a paper to itself, or that repeats another.

A URL endpoint matches a card whose URL is the same once both are normalised by
:func:`match_key` (scheme and host in lower case, no trailing slash on the path);
the stored ``source`` and ``target`` keep the record's own spelling. Of two
connections joining the same papers with the same type, the older (``createdAt``)
is kept; at the same ``createdAt``, the one with a note (the longer note), then the
smaller at-uri: the choice never depends on the order the PDS lists them in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from cfgraph.semble import lexicon
from cfgraph.semble.lexicon import InvalidRecord, _datetime, _envelope, _short, _string, http_url, parse_at_uri

CONNECTION = lexicon.CONNECTION
#: The lexicon's known values of ``connectionType``, in the order the page's legend shows them.
CONNECTION_TYPES = ("SUPPORTS", "OPPOSES", "ADDRESSES", "HELPFUL", "LEADS_TO", "RELATED", "SUPPLEMENT",
                    "EXPLAINER")
NOTE_MAX = 1000


@dataclass(frozen=True)
class Connection:
    uri: str
    cid: str
    did: str
    source: str
    target: str
    connection_type: str | None
    note: str | None
    created_at: datetime | None
    updated_at: datetime | None


def _endpoint(value: dict, field: str) -> str:
    """``value[field]`` if it is an http(s) URL or the at-uri of a record."""
    text = value.get(field)
    if isinstance(text, str) and text.startswith("at://"):
        try:
            parse_at_uri(text)
        except InvalidRecord as exc:
            raise InvalidRecord(f"field {field}: {exc}") from None
        return text
    if text is None:
        raise InvalidRecord(f"missing field {field}")
    if not isinstance(text, str):
        raise InvalidRecord(f"field {field} is not a string")
    return http_url(text, f"field {field}")


def parse_connection(record) -> Connection:
    """A ``network.cosmik.connection`` record.

    Parameters
    ----------
    record : dict
        ``{"uri", "cid", "value"}`` as listRecords returns it.

    Returns
    -------
    Connection

    Raises
    ------
    InvalidRecord
        On a missing or wrongly typed field, an endpoint that is neither an
        http(s) URL nor an at-uri, an unknown ``connectionType`` or a note over
        1,000 bytes.

    Examples
    --------
    >>> c = parse_connection({"uri": "at://did:plc:a/network.cosmik.connection/1", "cid": "b",
    ...     "value": {"$type": "network.cosmik.connection", "source": "https://a.org/x",
    ...               "target": "https://b.org/y", "connectionType": "SUPPORTS"}})
    >>> c.connection_type, c.target
    ('SUPPORTS', 'https://b.org/y')
    """
    uri, cid, did, value = _envelope(record, CONNECTION)
    kind = _string(value, "connectionType", max_bytes=40)
    if kind is not None and kind not in CONNECTION_TYPES:
        raise InvalidRecord(f"unknown connectionType {_short(kind)} (known: {', '.join(CONNECTION_TYPES)})")
    return Connection(
        uri=uri, cid=cid, did=did, source=_endpoint(value, "source"), target=_endpoint(value, "target"),
        connection_type=kind, note=_string(value, "note", max_bytes=NOTE_MAX),
        created_at=_datetime(value, "createdAt"), updated_at=_datetime(value, "updatedAt"),
    )


def match_key(url: str) -> str:
    """How a URL is compared with the cards' URLs: scheme and host lower-cased, a trailing slash dropped.

    Examples
    --------
    >>> match_key("HTTPS://ArXiv.org/abs/1/") == match_key("https://arxiv.org/abs/1")
    True
    >>> match_key("https://a.org/") == match_key("https://a.org")
    True
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, parts.fragment))


def _precedence(c: Connection) -> tuple:
    """Which of two repeated connections is kept: the older, then the one with the longer note, then by uri."""
    return (c.created_at or datetime.min, -len(c.note or ""), c.uri)


def resolve_connections(connections, cards: dict[str, dict], notes: dict[str, object], skip,
                        fetched_at: datetime) -> dict[str, dict]:
    """Rows of ``related_connection``: each connection tied to the papers it joins.

    Parameters
    ----------
    connections : iterable of Connection
        Parsed connection records, of the refreshed repository only.
    cards : dict
        The URL cards being stored (uri -> row with ``url``): the papers an
        endpoint may name, by at-uri or by URL.
    notes : dict
        Note cards by uri (value: ``(NoteCard, Citation)``); an at-uri naming a
        note stands for the paper the note hangs off.
    skip : callable
        Called with a :class:`~cfgraph.semble.join.Skip` for each connection left out.
    fetched_at : datetime
        Stored on every row.

    Returns
    -------
    dict
        at-uri -> row, in the order of :func:`_precedence` (created_at first).
    """
    from cfgraph.semble.join import Skip

    by_url: dict[str, str] = {}
    for uri in sorted(cards):  # the same URL on two cards (owner's and a collaborator's): the first uri
        by_url.setdefault(match_key(cards[uri]["url"]), uri)

    def paper(endpoint: str) -> str | None:
        if endpoint.startswith("at://"):
            note = notes.get(endpoint)
            endpoint = note[0].parent_uri if note is not None else endpoint
            return endpoint if endpoint in cards else None
        return by_url.get(match_key(endpoint))

    rows: dict[str, dict] = {}
    seen: set[tuple] = set()
    ordered = sorted(connections, key=_precedence)
    for c in ordered:
        source, target = paper(c.source), paper(c.target)
        reason = None
        if source is None:
            reason = f"source is not a paper on an imported shelf: {_short(c.source, 120)}"
        elif target is None:
            reason = f"target is not a paper on an imported shelf: {_short(c.target, 120)}"
        elif source == target:
            reason = "connects a paper to itself"
        elif (source, target, c.connection_type) in seen:
            reason = "duplicate connection: the same papers are already connected with this type"
        if reason is not None:
            skip(Skip.of(CONNECTION, c.uri, reason))
            continue
        seen.add((source, target, c.connection_type))
        rows[c.uri] = dict(uri=c.uri, cid=c.cid, did=c.did, source=c.source, target=c.target,
                           source_card_uri=source, target_card_uri=target, connection_type=c.connection_type,
                           note=c.note, created_at=c.created_at, updated_at=c.updated_at, fetched_at=fetched_at)
    return rows
