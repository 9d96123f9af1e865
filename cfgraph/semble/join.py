"""Join Semble records into related-work shelves: collections -> links -> URL cards <- notes.

:func:`join_records` is pure: it takes the listed records of one repository and
returns the rows to store (:class:`RelatedSet`) plus every skipped record with
its reason. Every record is checked whatever the selection, so a bad record is
reported even when its shelf is not imported; the selection (a name prefix, or
all collections) is applied last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from cfgraph.semble import lexicon
from cfgraph.semble.connections import parse_connection, resolve_connections
from cfgraph.semble.frontmatter import FrontMatterError, parse_note
from cfgraph.semble.untrusted import UnreadableRecord, one_line

#: Longest at-uri kept in a skip's log row (a skipped record's uri is unchecked data).
SKIP_URI_MAX = 600

DEFAULT_PREFIX = "dc:"

#: Every record type the join reads: the shelf records and connections.
PARSERS = {**lexicon.PARSERS, lexicon.CONNECTION: parse_connection}


@dataclass(frozen=True)
class Skip:
    """A record left out of the import, and why."""

    nsid: str | None
    uri: str | None
    reason: str

    @classmethod
    def of(cls, nsid, uri, reason) -> Skip:
        """A skip whose fields, taken from unchecked data, are one storable line each."""
        return cls(None if nsid is None else one_line(nsid, 200),
                   None if uri is None else one_line(uri, SKIP_URI_MAX), one_line(reason, 300))

    def __str__(self) -> str:
        return f"{self.uri or '(no uri)'}: {self.reason}"


@dataclass
class RelatedSet:
    """The rows one repository contributes: each dict maps uri -> column values."""

    did: str
    collections: dict[str, dict] = field(default_factory=dict)
    cards: dict[str, dict] = field(default_factory=dict)
    notes: dict[str, dict] = field(default_factory=dict)
    links: dict[str, dict] = field(default_factory=dict)
    connections: dict[str, dict] = field(default_factory=dict)
    skips: list[Skip] = field(default_factory=list)
    #: The repositories whose stored rows this set replaces: the refreshed one and each
    #: collaborator whose records were read.
    dids: set[str] = field(default_factory=set)

    def rows(self, table: str) -> dict[str, dict]:
        return getattr(self, table)


def utcnow() -> datetime:
    """Now, as naive UTC (how the store keeps times)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def selection_label(prefix: str | None) -> str:
    """How a selection reads in the refresh log: ``prefix 'dc:'`` or ``all collections``."""
    return "all collections" if prefix is None else f"prefix {prefix!r}"


def shelf_title(name: str, prefix: str | None) -> str:
    """A collection's name as shown: without the selection prefix (``dc:``).

    Examples
    --------
    >>> shelf_title("dc: Data valuation", "dc:")
    'Data valuation'
    """
    strip = prefix if prefix is not None else DEFAULT_PREFIX
    if strip and name.startswith(strip) and name[len(strip):].strip():
        return name[len(strip):].strip()
    return name.strip()


def _parse(listed, did: str, nsids, skip, parsed: dict) -> None:
    """Parse each ``(nsid, record)`` of repository ``did`` into ``parsed[nsid][uri]``, skipping bad ones."""
    for nsid, record in listed:
        if isinstance(record, UnreadableRecord):
            skip(Skip.of(nsid, record.uri, record.reason))
            continue
        uri = record.get("uri") if isinstance(record, dict) else None
        uri = uri if isinstance(uri, str) else None
        try:
            if nsid is None:
                nsid = lexicon.parse_at_uri(uri).nsid
            if nsid not in nsids:
                raise lexicon.InvalidRecord(f"record of another NSID ({nsid})")
            item = PARSERS[nsid](record)
            if item.did != did:
                raise lexicon.InvalidRecord(f"record of another repository ({item.did})")
            if item.uri in parsed[nsid]:
                raise lexicon.InvalidRecord("record listed twice")
            if isinstance(item, lexicon.NoteCard):
                item = (item, parse_note(item.text))
        except (lexicon.InvalidRecord, FrontMatterError) as exc:
            skip(Skip.of(nsid, uri, str(exc)))
            continue
        parsed[nsid][uri] = item


def open_collaborators(listed, did: str, prefix: str | None = DEFAULT_PREFIX) -> list[str]:
    """The collaborators of the selected OPEN collections of ``did``, in order, each once.

    Their repositories hold the links they added to those collections (and usually
    the cards); a refresh reads them too.

    Examples
    --------
    >>> shelf = {"uri": "at://did:plc:own/network.cosmik.collection/1", "cid": "c", "value": {
    ...     "$type": "network.cosmik.collection", "name": "dc: Shelf", "accessType": "OPEN",
    ...     "collaborators": ["did:plc:friend"]}}
    >>> open_collaborators([("network.cosmik.collection", shelf)], "did:plc:own")
    ['did:plc:friend']
    """
    parsed: dict[str, dict] = {lexicon.COLLECTION: {}}
    collections = [(n, r) for n, r in listed if n in (None, lexicon.COLLECTION)]
    _parse(collections, did, (lexicon.COLLECTION,), lambda _skip: None, parsed)
    out: dict[str, None] = {}
    for c in parsed[lexicon.COLLECTION].values():
        if c.access_type == "OPEN" and (prefix is None or c.name.startswith(prefix)):
            out.update(dict.fromkeys(c.collaborators))
    return list(out)


def join_records(listed, did: str, prefix: str | None = DEFAULT_PREFIX,
                 fetched_at: datetime | None = None, contributed: dict | None = None) -> RelatedSet:
    """Validate and join the Semble records of one repository and its collaborators.

    Parameters
    ----------
    listed : iterable of (str or None, dict)
        ``(nsid, record)`` pairs, ``record`` as listRecords returns it
        (``{"uri", "cid", "value"}``). ``nsid`` is the collection the record was
        listed under; None takes it from the record's at-uri (file imports).
    did : str
        The repository's DID; records from another repository are skipped.
    prefix : str or None
        Import collections whose name starts with ``prefix``; None imports all.
    fetched_at : datetime, optional
        Stored on every row (naive UTC); default now.
    contributed : dict, optional
        Collaborator DID -> its listed cards and collection links, as ``listed``.
        A collaborator's link counts only on an OPEN collection of ``did`` that
        names that collaborator, and only until ``did`` removes it with a
        ``collectionLinkRemoval``; its other records are left alone.

    Returns
    -------
    RelatedSet
        Rows for ``related_collection``, ``related_card``, ``related_note``,
        ``related_link`` and ``related_connection``, and the skipped records.
    """
    fetched_at = fetched_at or utcnow()
    result = RelatedSet(did=did, dids={did})
    skip = result.skips.append
    parsed: dict[str, dict] = {nsid: {} for nsid in PARSERS}
    _parse(listed, did, tuple(PARSERS), skip, parsed)
    collections = parsed[lexicon.COLLECTION]
    selected = {u for u, c in collections.items() if prefix is None or c.name.startswith(prefix)}
    open_to = {u: set(c.collaborators) for u, c in collections.items() if c.access_type == "OPEN"}

    links = list(parsed[lexicon.COLLECTION_LINK].values())
    cards = dict(parsed[lexicon.CARD])
    for other, records in (contributed or {}).items():
        theirs: dict[str, dict] = {nsid: {} for nsid in PARSERS}
        _parse(records, other, lexicon.CONTRIBUTED_NSIDS, skip, theirs)
        result.dids.add(other)
        for uri, card in theirs[lexicon.CARD].items():
            cards.setdefault(uri, card)
        # Their links to anything but our OPEN collections that name them are their own business.
        links += [k for k in theirs[lexicon.COLLECTION_LINK].values() if other in open_to.get(k.collection_uri, ())]

    url_cards = {u: c for u, c in cards.items() if isinstance(c, lexicon.UrlCard)}
    note_cards = {u: c for u, c in cards.items() if isinstance(c, tuple)}
    # Removals by the owner only: they take links off its shelves, in its repository or a collaborator's.
    removed = {r.removed_link_uri for r in parsed[lexicon.COLLECTION_LINK_REMOVAL].values()}

    for uri in selected:
        c = collections[uri]
        result.collections[uri] = dict(
            uri=uri, cid=c.cid, did=c.did, name=c.name, title=shelf_title(c.name, prefix),
            description=c.description, access_type=c.access_type, created_at=c.created_at,
            updated_at=c.updated_at, fetched_at=fetched_at,
        )

    placed: set[tuple[str, str]] = set()
    for link in sorted(links, key=lambda k: (k.added_at, k.uri)):
        if link.uri in removed:
            continue  # taken off the shelf by a collectionLinkRemoval
        if link.collection_uri not in collections:
            skip(Skip.of(lexicon.COLLECTION_LINK, link.uri, f"links to a missing collection {link.collection_uri}"))
            continue
        if link.card_uri in note_cards:
            skip(Skip.of(lexicon.COLLECTION_LINK, link.uri, f"links to a note card, not a URL card {link.card_uri}"))
            continue
        if link.card_uri not in url_cards:
            skip(Skip.of(lexicon.COLLECTION_LINK, link.uri, f"links to a missing card {link.card_uri}"))
            continue
        pair = (link.collection_uri, link.card_uri)
        if pair in placed:
            skip(Skip.of(lexicon.COLLECTION_LINK, link.uri, "duplicate link: the card is already on this shelf"))
            continue
        placed.add(pair)
        if link.collection_uri not in selected:
            continue
        result.links[link.uri] = dict(
            uri=link.uri, cid=link.cid, did=link.did, collection_uri=link.collection_uri,
            card_uri=link.card_uri, added_by=link.added_by, added_at=link.added_at, fetched_at=fetched_at,
        )
        card = url_cards[link.card_uri]
        result.cards.setdefault(card.uri, dict(
            uri=card.uri, cid=card.cid, did=card.did, url=card.url,
            **{column: card.metadata.get(column) for column in lexicon.URL_METADATA_FIELDS.values()},
            created_at=card.created_at, fetched_at=fetched_at,
        ))

    for uri, (note, citation) in note_cards.items():
        if note.parent_uri in note_cards:
            skip(Skip.of(lexicon.CARD, uri, f"parent card is itself a note {note.parent_uri}"))
            continue
        if note.parent_uri not in url_cards:
            skip(Skip.of(lexicon.CARD, uri, f"parent card is missing {note.parent_uri}"))
            continue
        if note.parent_uri not in result.cards:
            continue  # its card is on no selected shelf
        result.notes[uri] = dict(
            uri=uri, cid=note.cid, did=note.did, card_uri=note.parent_uri, text=citation.text,
            citation_key=citation.citation_key, entry_type=citation.entry_type, title=citation.title,
            authors=citation.authors, year=citation.year, venue=citation.venue, doi=citation.doi,
            tags=citation.tags, abstract=citation.abstract, extra=citation.extra,
            created_at=note.created_at, fetched_at=fetched_at,
        )
    result.connections = resolve_connections(parsed[lexicon.CONNECTION].values(), result.cards, note_cards,
                                             skip, fetched_at)
    return result
