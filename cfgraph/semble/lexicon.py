"""The Semble lexicons (``network.cosmik.*``) and the checks a record must pass.

Each ``parse_*`` function takes one listed record (``{"uri", "cid", "value"}``)
and returns a small frozen dataclass, or raises :class:`InvalidRecord` with a
one-line reason. Nothing here touches the network or the database.

Limits follow the lexicons Semble publishes (``network.cosmik.collection``:
name <= 100, description <= 500; ``network.cosmik.card`` note text <= 10,000;
``network.cosmik.collectionLinkRemoval`` reason <= 300). As the atproto Lexicon
spec defines it, ``maxLength`` counts UTF-8 bytes, not characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

from cfgraph.semble.untrusted import is_valid_text

COLLECTION = "network.cosmik.collection"
CARD = "network.cosmik.card"
COLLECTION_LINK = "network.cosmik.collectionLink"
COLLECTION_LINK_REMOVAL = "network.cosmik.collectionLinkRemoval"
CONNECTION = "network.cosmik.connection"
#: The record types a refresh lists, in the order it lists them.
NSIDS = (COLLECTION, CARD, COLLECTION_LINK, COLLECTION_LINK_REMOVAL, CONNECTION)
#: What a refresh reads from a collaborator's repository: the cards and links it added to an OPEN shelf.
CONTRIBUTED_NSIDS = (CARD, COLLECTION_LINK)

CARD_TYPES = ("URL", "NOTE")
COLLECTION_NAME_MAX = 100
COLLECTION_DESCRIPTION_MAX = 500
NOTE_TEXT_MAX = 10_000
REMOVAL_REASON_MAX = 300
#: Collaborators read per collection: each costs a DID document and two listings.
MAX_COLLABORATORS = 50
#: Metadata strings have no lexicon limit; this cap only keeps one record from
#: filling the database (the atproto record size limit is about 1 MB).
METADATA_MAX = 20_000

URL_METADATA_FIELDS = {
    "title": "title",
    "description": "description",
    "author": "author",
    "publishedDate": "published_date",
    "siteName": "site_name",
    "type": "content_type",
    "doi": "doi",
    "isbn": "isbn",
}

# at://<did>/<nsid>/<record key>; record keys per the atproto spec.
_AT_URI = re.compile(
    r"^at://(?P<did>did:[a-z]+:[A-Za-z0-9._:%-]+)/(?P<nsid>[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)+)"
    r"/(?P<rkey>[A-Za-z0-9._~:-]{1,512})$"
)
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


class InvalidRecord(ValueError):
    """A record that does not satisfy the lexicon (the message is the reason to log)."""


@dataclass(frozen=True)
class AtUri:
    """The parts of an at-uri naming a record."""

    did: str
    nsid: str
    rkey: str


@dataclass(frozen=True)
class Collection:
    uri: str
    cid: str
    did: str
    name: str
    access_type: str
    description: str | None
    created_at: datetime | None
    updated_at: datetime | None
    collaborators: tuple[str, ...] = ()


@dataclass(frozen=True)
class UrlCard:
    uri: str
    cid: str
    did: str
    url: str
    metadata: dict  # column name -> str, from URL_METADATA_FIELDS
    created_at: datetime | None


@dataclass(frozen=True)
class NoteCard:
    uri: str
    cid: str
    did: str
    parent_uri: str
    text: str
    created_at: datetime | None


@dataclass(frozen=True)
class Link:
    uri: str
    cid: str
    did: str
    collection_uri: str
    card_uri: str
    added_by: str
    added_at: datetime


@dataclass(frozen=True)
class LinkRemoval:
    uri: str
    cid: str
    did: str
    collection_uri: str
    removed_link_uri: str
    removed_at: datetime


def parse_at_uri(uri) -> AtUri:
    """Split an at-uri ``at://DID/NSID/RKEY``.

    Raises
    ------
    InvalidRecord
        If ``uri`` is not a string of that form (handles as authority are refused:
        stored records are keyed by DID).

    Examples
    --------
    >>> parse_at_uri("at://did:plc:abc/network.cosmik.card/3k2").nsid
    'network.cosmik.card'
    """
    if not isinstance(uri, str):
        raise InvalidRecord("uri is not a string")
    match = _AT_URI.match(uri)
    if match is None:
        raise InvalidRecord(f"not an at-uri of a record: {_short(uri)}")
    return AtUri(match["did"], match["nsid"], match["rkey"])


#: The lexicon's ``uri`` format allows at most 8 KB.
MAX_URL_LENGTH = 8192


def http_url(value, field: str) -> str:
    """``value`` if it is an absolute http(s) URL with a host, else raise.

    Rejects ``javascript:``, ``data:``, relative and scheme-relative URLs, and
    URLs holding whitespace or control characters.

    Raises
    ------
    InvalidRecord
        If the URL is missing, not a string or not http(s).

    Examples
    --------
    >>> http_url("https://arxiv.org/abs/1904.02868", "url")
    'https://arxiv.org/abs/1904.02868'
    """
    if not isinstance(value, str):
        raise InvalidRecord(f"{field} is missing or not a string")
    if not is_valid_text(value):
        raise InvalidRecord(f"{field} is not valid Unicode (an unpaired surrogate)")
    if len(value) > MAX_URL_LENGTH:
        raise InvalidRecord(f"{field} is longer than {MAX_URL_LENGTH} characters")
    if _CONTROL.search(value):
        raise InvalidRecord(f"{field} holds whitespace or control characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise InvalidRecord(f"{field} is not a URL: {_short(value)}") from None
    if parts.scheme.lower() not in ("http", "https"):
        shown = f"{parts.scheme}:" if parts.scheme else "a relative URL"
        raise InvalidRecord(f"{field} is not http(s) ({shown})")
    if not host:
        raise InvalidRecord(f"{field} has no host: {_short(value)}")
    return value


def utf8_length(text: str) -> int:
    """Length in UTF-8 bytes, the unit of lexicon ``maxLength``."""
    return len(text.encode("utf-8", "surrogatepass"))


def _short(text: str, limit: int = 60) -> str:
    text = repr(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _string(value: dict, field: str, *, required: bool = False, max_bytes: int | None = None,
            where: str = "") -> str | None:
    name = f"{where}{field}"
    if field not in value or value[field] is None:
        if required:
            raise InvalidRecord(f"missing field {name}")
        return None
    text = value[field]
    if not isinstance(text, str):
        raise InvalidRecord(f"field {name} is not a string")
    if not is_valid_text(text):
        raise InvalidRecord(f"field {name} is not valid Unicode (an unpaired surrogate)")
    if max_bytes is not None and utf8_length(text) > max_bytes:
        raise InvalidRecord(f"field {name} is longer than {max_bytes} bytes")
    return text


def _datetime(value: dict, field: str, *, required: bool = False) -> datetime | None:
    text = _string(value, field, required=required)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRecord(f"field {field} is not a datetime: {_short(text)}") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _strong_ref(value: dict, field: str, *, required: bool = True) -> str | None:
    """The at-uri of a ``com.atproto.repo.strongRef`` field (its cid must be a string)."""
    ref = value.get(field)
    if ref is None:
        if required:
            raise InvalidRecord(f"missing field {field}")
        return None
    if not isinstance(ref, dict):
        raise InvalidRecord(f"field {field} is not a strong reference")
    if not isinstance(ref.get("cid"), str) or not ref["cid"] or not is_valid_text(ref["cid"]):
        raise InvalidRecord(f"field {field}.cid is missing or not a string")
    try:
        parse_at_uri(ref.get("uri"))
    except InvalidRecord as exc:
        raise InvalidRecord(f"field {field}.uri: {exc}") from None
    return ref["uri"]


def _envelope(record, nsid: str) -> tuple[str, str, str, dict]:
    """Check the listing envelope: uri, cid, a dict value whose ``$type`` is ``nsid``."""
    if not isinstance(record, dict):
        raise InvalidRecord("record is not an object")
    uri = parse_at_uri(record.get("uri"))
    if uri.nsid != nsid:
        raise InvalidRecord(f"record of another NSID ({uri.nsid}) listed as {nsid}")
    cid = record.get("cid")
    if not isinstance(cid, str) or not cid or len(cid) > 128 or not is_valid_text(cid):
        raise InvalidRecord("cid is missing or not a string")
    value = record.get("value")
    if not isinstance(value, dict):
        raise InvalidRecord("value is not an object")
    kind = value.get("$type")
    if kind != nsid:
        raise InvalidRecord(f"record of another NSID ($type {_short(str(kind))}, expected {nsid})")
    return record["uri"], cid, uri.did, value


def parse_collection(record) -> Collection:
    """A ``network.cosmik.collection`` record.

    Raises
    ------
    InvalidRecord
        On a missing or wrongly typed field, or a name or description over its limit.
    """
    uri, cid, did, value = _envelope(record, COLLECTION)
    name = _string(value, "name", required=True, max_bytes=COLLECTION_NAME_MAX)
    if not name.strip():
        raise InvalidRecord("field name is empty")
    collaborators = value.get("collaborators")
    if collaborators is not None and (
        not isinstance(collaborators, list) or not all(isinstance(c, str) for c in collaborators)
    ):
        raise InvalidRecord("field collaborators is not a list of DIDs")
    if collaborators and len(collaborators) > MAX_COLLABORATORS:
        raise InvalidRecord(f"field collaborators names more than {MAX_COLLABORATORS} DIDs")
    return Collection(
        uri=uri, cid=cid, did=did, name=name,
        access_type=_string(value, "accessType", required=True, max_bytes=20),
        description=_string(value, "description", max_bytes=COLLECTION_DESCRIPTION_MAX),
        created_at=_datetime(value, "createdAt"),
        updated_at=_datetime(value, "updatedAt"),
        collaborators=tuple(dict.fromkeys(c for c in collaborators or () if c != did)),
    )


def parse_card(record) -> UrlCard | NoteCard:
    """A ``network.cosmik.card`` record: a URL card, or a NOTE card on a parent card.

    Raises
    ------
    InvalidRecord
        On a missing or wrongly typed field, an unknown ``type``, a URL that is not
        http(s), note text over 10,000 bytes, or a note without ``parentCard``.
    """
    uri, cid, did, value = _envelope(record, CARD)
    kind = _string(value, "type", required=True)
    if kind not in CARD_TYPES:
        raise InvalidRecord(f"unknown card type {_short(kind)}")
    content = value.get("content")
    if not isinstance(content, dict):
        raise InvalidRecord("missing field content" if content is None else "field content is not an object")
    created_at = _datetime(value, "createdAt")
    _strong_ref(value, "originalCard", required=False)
    if kind == "URL":
        url = http_url(content.get("url"), "content.url")
        if value.get("url") is not None:
            http_url(value["url"], "url")
        metadata = content.get("metadata")
        fields = {}
        if metadata is not None:
            if not isinstance(metadata, dict):
                raise InvalidRecord("field content.metadata is not an object")
            for lexicon_name, column in URL_METADATA_FIELDS.items():
                fields[column] = _string(metadata, lexicon_name, max_bytes=METADATA_MAX, where="content.metadata.")
        return UrlCard(uri=uri, cid=cid, did=did, url=url, metadata=fields, created_at=created_at)
    text = _string(content, "text", required=True, max_bytes=NOTE_TEXT_MAX, where="content.")
    parent = _strong_ref(value, "parentCard", required=False)
    if parent is None:
        raise InvalidRecord("note has no parentCard")
    if value.get("url") is not None:
        http_url(value["url"], "url")
    return NoteCard(uri=uri, cid=cid, did=did, parent_uri=parent, text=text, created_at=created_at)


def parse_link(record) -> Link:
    """A ``network.cosmik.collectionLink`` record.

    Raises
    ------
    InvalidRecord
        On a missing or wrongly typed field.
    """
    uri, cid, did, value = _envelope(record, COLLECTION_LINK)
    collection = _strong_ref(value, "collection")
    card = _strong_ref(value, "card")
    _strong_ref(value, "originalCard", required=False)
    return Link(
        uri=uri, cid=cid, did=did, collection_uri=collection, card_uri=card,
        added_by=_string(value, "addedBy", required=True, max_bytes=256),
        added_at=_datetime(value, "addedAt", required=True),
    )


def parse_link_removal(record) -> LinkRemoval:
    """A ``network.cosmik.collectionLinkRemoval`` record (a link the owner took off a shelf).

    Raises
    ------
    InvalidRecord
        On a missing or wrongly typed field, or a reason over 300 bytes.
    """
    uri, cid, did, value = _envelope(record, COLLECTION_LINK_REMOVAL)
    _string(value, "reason", max_bytes=REMOVAL_REASON_MAX)
    _string(value, "removedBy", max_bytes=256)
    return LinkRemoval(
        uri=uri, cid=cid, did=did,
        collection_uri=_strong_ref(value, "collection"),
        removed_link_uri=_strong_ref(value, "removedLink"),
        removed_at=_datetime(value, "removedAt", required=True),
    )


#: Parsers of the shelf records; :data:`cfgraph.semble.join.PARSERS` adds connections.
PARSERS = {
    COLLECTION: parse_collection,
    CARD: parse_card,
    COLLECTION_LINK: parse_link,
    COLLECTION_LINK_REMOVAL: parse_link_removal,
}
