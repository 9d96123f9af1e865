"""ORM models of the related-work tables: Semble collections, cards, notes and links.

Rows mirror atproto records and are keyed by their at-uri: an edit on Semble is a
``putRecord`` that keeps the at-uri and changes the CID, so a refresh updates the
row in place and stores the latest CID. ``did`` is the repository the record came
from; a refresh from one repository replaces that repository's rows, and the rows
it read from the collaborators of its OPEN collections, and no others.

Tables (a public interface, queried with SQL):

``related_collection``
    A shelf: a ``network.cosmik.collection`` record; ``title`` is the name without
    the selection prefix ("dc:").
``related_card``
    A ``network.cosmik.card`` of type URL with its page metadata. ``url`` is always
    http(s).
``related_note``
    A NOTE card hanging off a URL card (``card_uri``), with the citation fields read
    from its YAML front matter and the rest of its text.
``related_link``
    A ``network.cosmik.collectionLink``: card ``card_uri`` is on shelf ``collection_uri``.
``related_connection``
    A ``network.cosmik.connection``: a typed edge (``connection_type``: SUPPORTS,
    OPPOSES, ADDRESSES, HELPFUL, LEADS_TO, RELATED, SUPPLEMENT, EXPLAINER or NULL)
    from paper ``source_card_uri`` to paper ``target_card_uri``; ``source`` and
    ``target`` are the endpoints as the record wrote them (a URL or an at-uri).
``related_refresh``
    One row per refresh or import: source, times and counts.
``related_skip``
    Each record a refresh skipped, with the reason.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cfgraph.store.models import Base

#: Longest at-uri stored: "at://" + a DID (at most 2 KB by spec, 256 in practice) + NSID + rkey.
URI_LENGTH = 512


class RelatedCollection(Base):
    """A Semble collection (a related-work shelf)."""

    __tablename__ = "related_collection"

    uri: Mapped[str] = mapped_column(String(URI_LENGTH), primary_key=True)
    cid: Mapped[str] = mapped_column(String(128))
    did: Mapped[str] = mapped_column(String(256), index=True)
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    access_type: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    fetched_at: Mapped[datetime] = mapped_column(DateTime)


class RelatedCard(Base):
    """A Semble URL card: one web page, paper or repository."""

    __tablename__ = "related_card"

    uri: Mapped[str] = mapped_column(String(URI_LENGTH), primary_key=True)
    cid: Mapped[str] = mapped_column(String(128))
    did: Mapped[str] = mapped_column(String(256), index=True)
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    published_date: Mapped[str | None] = mapped_column(Text)
    site_name: Mapped[str | None] = mapped_column(String(500))
    content_type: Mapped[str | None] = mapped_column(String(100))
    doi: Mapped[str | None] = mapped_column(String(300))
    isbn: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime | None] = mapped_column(DateTime)
    fetched_at: Mapped[datetime] = mapped_column(DateTime)


class RelatedNote(Base):
    """A Semble NOTE card on a URL card, with citation fields from its YAML front matter."""

    __tablename__ = "related_note"

    uri: Mapped[str] = mapped_column(String(URI_LENGTH), primary_key=True)
    cid: Mapped[str] = mapped_column(String(128))
    did: Mapped[str] = mapped_column(String(256), index=True)
    card_uri: Mapped[str] = mapped_column(
        ForeignKey("related_card.uri", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    citation_key: Mapped[str | None] = mapped_column(String(200))
    entry_type: Mapped[str | None] = mapped_column(String(50))
    title: Mapped[str | None] = mapped_column(Text)
    authors: Mapped[list | None] = mapped_column(JSON)
    year: Mapped[int | None] = mapped_column(Integer)
    venue: Mapped[str | None] = mapped_column(Text)
    doi: Mapped[str | None] = mapped_column(String(300))
    tags: Mapped[list | None] = mapped_column(JSON)
    abstract: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime | None] = mapped_column(DateTime)
    fetched_at: Mapped[datetime] = mapped_column(DateTime)


class RelatedLink(Base):
    """A Semble collection link: a URL card placed on a shelf."""

    __tablename__ = "related_link"
    __table_args__ = (UniqueConstraint("collection_uri", "card_uri"),)

    uri: Mapped[str] = mapped_column(String(URI_LENGTH), primary_key=True)
    cid: Mapped[str] = mapped_column(String(128))
    did: Mapped[str] = mapped_column(String(256), index=True)
    collection_uri: Mapped[str] = mapped_column(ForeignKey("related_collection.uri", ondelete="CASCADE"))
    card_uri: Mapped[str] = mapped_column(ForeignKey("related_card.uri", ondelete="CASCADE"), index=True)
    added_by: Mapped[str | None] = mapped_column(String(256))
    added_at: Mapped[datetime | None] = mapped_column(DateTime)
    fetched_at: Mapped[datetime] = mapped_column(DateTime)


class RelatedConnection(Base):
    """A Semble connection: a typed edge between two papers (URL cards)."""

    __tablename__ = "related_connection"

    uri: Mapped[str] = mapped_column(String(URI_LENGTH), primary_key=True)
    cid: Mapped[str] = mapped_column(String(128))
    did: Mapped[str] = mapped_column(String(256), index=True)
    source: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    source_card_uri: Mapped[str] = mapped_column(ForeignKey("related_card.uri", ondelete="CASCADE"), index=True)
    target_card_uri: Mapped[str] = mapped_column(ForeignKey("related_card.uri", ondelete="CASCADE"), index=True)
    connection_type: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    fetched_at: Mapped[datetime] = mapped_column(DateTime)


class RelatedRefresh(Base):
    """One refresh (or file import) of a repository's related work, and what it changed."""

    __tablename__ = "related_refresh"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(1000))
    did: Mapped[str] = mapped_column(String(256), index=True)
    selection: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime] = mapped_column(DateTime)
    added: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    removed: Mapped[int] = mapped_column(Integer)
    skipped: Mapped[int] = mapped_column(Integer)


class RelatedSkip(Base):
    """A record that a refresh skipped, and why."""

    __tablename__ = "related_skip"

    id: Mapped[int] = mapped_column(primary_key=True)
    refresh_id: Mapped[int] = mapped_column(ForeignKey("related_refresh.id", ondelete="CASCADE"), index=True)
    nsid: Mapped[str | None] = mapped_column(String(200))
    uri: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)


#: Tables in the order rows are written (parents first).
RELATED_TABLES = (RelatedCollection, RelatedCard, RelatedNote, RelatedLink, RelatedConnection)
