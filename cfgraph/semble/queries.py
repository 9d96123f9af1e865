"""Reading the related-work shelves back: for ``cfgraph related list`` and the Related Work page.

Each shelf (collection) carries its cards; each card merges its URL metadata with
the citation fields of its notes. A card's ``url`` is re-checked here, so only an
http(s) URL ever reaches a link, whatever was written to the table by hand.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from cfgraph.errors import NotFound
from cfgraph.resources import seed_file
from cfgraph.semble.graph import papers_for_term  # noqa: F401  (re-exported: the papers of a glossary term)
from cfgraph.semble.lexicon import InvalidRecord, http_url
from cfgraph.store.related_models import (
    RelatedCard,
    RelatedCollection,
    RelatedLink,
    RelatedNote,
    RelatedRefresh,
)

RELATED_MAP_FILE = "related_map.json"


def safe_url(url) -> str | None:
    """``url`` if it is an absolute http(s) URL, else None (never a ``javascript:`` link).

    Examples
    --------
    >>> safe_url("javascript:alert(1)") is None
    True
    """
    try:
        return http_url(url, "url")
    except InvalidRecord:
        return None


def shelf_anchor(title: str) -> str:
    """The fragment id of a shelf on the Related Work page.

    Examples
    --------
    >>> shelf_anchor("Data valuation & semivalues")
    'shelf-data-valuation-semivalues'
    """
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return f"shelf-{slug or 'untitled'}"


PRIORITY_TAG = re.compile(r"^priority:\s*(-?\d{1,6})$", re.IGNORECASE)
CARD_METADATA, FRONT_MATTER = "card metadata", "note front matter"


def priority_of(tags) -> tuple[int | None, list[str]]:
    """The ``priority:N`` tag's N (the smallest, if several) and the other tags.

    Examples
    --------
    >>> priority_of(["shapley", "priority:2", "Priority:1"])
    (1, ['shapley'])
    """
    found = [int(m[1]) for m in (PRIORITY_TAG.match(t.strip()) for t in tags) if m]
    return (min(found) if found else None), [t for t in tags if not PRIORITY_TAG.match(t.strip())]


def _card_view(card: RelatedCard, notes: list[RelatedNote]) -> dict:
    cited = next((n for n in notes if n.title or n.authors or n.year), None)
    tags: list[str] = []
    for note in notes:
        for tag in note.tags or []:
            if tag.casefold() not in {t.casefold() for t in tags}:
                tags.append(tag)
    priority, tags = priority_of(tags)
    url = safe_url(card.url)
    sources: dict[str, str] = {}

    def pick(name, from_note, from_card):
        """The note's value over the card's, and where it came from."""
        if from_note:
            sources[name] = FRONT_MATTER
            return from_note
        if from_card:
            sources[name] = CARD_METADATA
            return from_card
        return None

    doi = pick("doi", cited.doi if cited else None, card.doi)
    year = pick("year", cited.year if cited else None,
                int(card.published_date[:4]) if card.published_date and card.published_date[:4].isdigit() else None)
    authors = pick("authors", cited.authors if cited else None, [card.author] if card.author else None) or []
    title = pick("title", cited.title if cited else None, card.title) or card.url
    venue = pick("venue", cited.venue if cited else None, None)
    isbn = pick("isbn", None, card.isbn)
    site = pick("site", None, card.site_name)
    description = pick("description", None, card.description)
    for name in ("citation_key", "entry_type", "abstract"):
        if cited is not None and getattr(cited, name):
            sources[name] = FRONT_MATTER
    if tags:
        sources["tags"] = FRONT_MATTER
    if priority is not None:
        sources["priority"] = FRONT_MATTER
    return {
        "uri": card.uri,
        "did": card.did,
        "url": url,
        "title": title,
        "authors": authors,
        "year": year,
        "venue": venue,
        "site": site or (urlsplit(url).hostname if url else None),
        "description": description,
        "doi": doi,
        "doi_url": f"https://doi.org/{quote(doi, safe='/:;()._-')}" if doi else None,
        "isbn": isbn,
        "citation_key": cited.citation_key if cited else None,
        "entry_type": cited.entry_type if cited else None,
        "abstract": cited.abstract if cited else None,
        "note": "\n\n".join(n.text for n in notes if n.text) or None,
        "tags": tags,
        "priority": priority,
        "sources": sources,
    }


def shelf_order(card: dict) -> tuple:
    """How papers sort on a shelf: ``priority:N`` tags first (smallest N), then year, then title.

    Examples
    --------
    >>> cards = [{"priority": None, "year": 2019, "title": "B"}, {"priority": 2, "year": 2023, "title": "C"},
    ...          {"priority": None, "year": 2019, "title": "a"}]
    >>> [c["title"] for c in sorted(cards, key=shelf_order)]
    ['C', 'a', 'B']
    """
    priority = card["priority"]
    return (priority is None, priority or 0, card["year"] or 9999, card["title"].lower())


def _matches(card: dict, needle: str) -> bool:
    fields = [card["title"], card["venue"], card["site"], card["description"], card["note"],
              card["abstract"], card["url"], str(card["year"] or ""), *card["authors"], *card["tags"]]
    return any(needle in f.lower() for f in fields if f)


def shelves(session: Session, collection: str | None = None, text: str | None = None) -> list[dict]:
    """The stored shelves with their cards, in title order.

    Parameters
    ----------
    session : Session
    collection : str, optional
        Only this shelf: its title (without prefix) or its full name, any case.
    text : str, optional
        Keep only cards whose title, authors, venue, note, tags, site or year
        contain this text (any case); shelves left without cards are dropped.

    Returns
    -------
    list of dict
        ``{"uri", "name", "title", "anchor", "description", "card_count", "cards"}``;
        ``card_count`` counts every card on the shelf, ``cards`` only those kept. A card
        a collaborator added (its link lives in their repository) has ``added_by``
        (their DID), else None.

    Raises
    ------
    NotFound
        If ``collection`` names no stored shelf.
    """
    rows = session.scalars(select(RelatedCollection).order_by(RelatedCollection.title,
                                                              RelatedCollection.uri)).all()
    if collection is not None:
        wanted = collection.strip().lower()
        rows = [c for c in rows if wanted in (c.title.lower(), c.name.lower())]
        if not rows:
            known = ", ".join(sorted({c.title for c in session.scalars(select(RelatedCollection))})) or "none"
            raise NotFound(f"no related-work shelf named {collection!r} (shelves: {known})")
    notes = defaultdict(list)
    for note in session.scalars(select(RelatedNote).order_by(RelatedNote.created_at, RelatedNote.uri)):
        notes[note.card_uri].append(note)
    placed = defaultdict(list)
    owners = {c.uri: c.did for c in rows}
    query = (select(RelatedLink.collection_uri, RelatedLink.did, RelatedLink.added_by, RelatedCard)
             .join(RelatedCard, RelatedCard.uri == RelatedLink.card_uri)
             .order_by(RelatedLink.added_at, RelatedLink.uri))
    for collection_uri, link_did, added_by, card in session.execute(query):
        view = _card_view(card, notes[card.uri])
        # A link kept in another repository than the shelf's is a collaborator's: say whose.
        view["added_by"] = (added_by or link_did) if link_did != owners.get(collection_uri, link_did) else None
        placed[collection_uri].append(view)
    needle = text.strip().lower() if text and text.strip() else None
    result = []
    for c in rows:
        cards = sorted(placed[c.uri], key=shelf_order)
        kept = [k for k in cards if _matches(k, needle)] if needle else cards
        if needle and not kept:
            continue
        result.append({"uri": c.uri, "name": c.name, "title": c.title, "anchor": shelf_anchor(c.title),
                       "description": c.description, "card_count": len(cards), "cards": kept})
    return result


def last_refresh(session: Session) -> dict | None:
    """The latest refresh or import: source, selection, finish time and counts (None if never)."""
    row = session.scalars(select(RelatedRefresh).order_by(RelatedRefresh.finished_at.desc(),
                                                          RelatedRefresh.id.desc()).limit(1)).first()
    if row is None:
        return None
    return {"source": row.source, "did": row.did, "selection": row.selection,
            "started_at": row.started_at.isoformat(timespec="seconds") + "Z",
            "finished_at": row.finished_at.isoformat(timespec="seconds") + "Z",
            "added": row.added, "updated": row.updated, "removed": row.removed, "skipped": row.skipped}


def load_related_map(path=None) -> dict:
    """The mapping of explorer questions and glossary terms to shelves (``seed_data/related_map.json``).

    Returns
    -------
    dict
        ``{"questions": {id: entry}, "glossary": {id: entry}}``; an entry has a
        ``label``, an ``href`` back into the explorer, and ``tags`` and ``shelves``
        (shelf titles) that cover it.
    """
    data = json.loads(Path(path or seed_file(RELATED_MAP_FILE)).read_text(encoding="utf-8"))
    return {"questions": data.get("questions", {}), "glossary": data.get("glossary", {})}


def topic_tags(entry: dict, topic_id: str = "") -> set[str]:
    """The tags that put a paper under a question or glossary term: its ``tags`` and its own name, case-folded.

    The one rule for "covers": the Covers lines of the shelves (:func:`covering`) and
    the papers of a term (:func:`cfgraph.semble.graph.papers_for_term`) both use it.

    Examples
    --------
    >>> sorted(topic_tags({"label": "Data Shapley", "tags": ["Shapley"]}))
    ['data shapley', 'shapley']
    """
    return {str(t).casefold() for t in entry.get("tags", [])} | {str(entry.get("label", topic_id)).casefold()}


def card_covers(tags: set[str], card: dict) -> bool:
    """Whether ``card`` (a paper view) carries one of ``tags`` (as :func:`topic_tags` gives them).

    Examples
    --------
    >>> card_covers({"shapley"}, {"tags": ["Shapley", "knn"]}), card_covers({"shapley"}, {"tags": []})
    (True, False)
    """
    return bool(tags & {t.casefold() for t in card["tags"]})


def covering(shelf_list: list[dict], related_map: dict) -> list[dict]:
    """Link topics and shelves both ways: which shelves cover each question or glossary term.

    A shelf covers a topic when its title is among the topic's ``shelves`` or one
    of its cards carries one of the topic's tags (:func:`topic_tags`: its ``tags``
    and its own name, the rule :func:`~cfgraph.semble.graph.papers_for_term` uses).
    Each shelf dict gains a ``topics`` list (the way back to the explorer).

    Returns
    -------
    list of dict
        ``{"id", "kind", "label", "href", "shelves": [{"title", "anchor"}]}`` per
        topic that some shelf covers.
    """
    topics = []
    for shelf in shelf_list:
        shelf["topics"] = []
    for kind in ("questions", "glossary"):
        for topic_id, entry in related_map.get(kind, {}).items():
            tags = topic_tags(entry, topic_id)
            titles = {t.casefold() for t in entry.get("shelves", [])}
            label = entry.get("label", topic_id)
            href = entry.get("href")
            hits = []
            for shelf in shelf_list:
                if shelf["title"].casefold() in titles or any(card_covers(tags, card) for card in shelf["cards"]):
                    hits.append({"title": shelf["title"], "anchor": shelf["anchor"]})
                    shelf["topics"].append({"id": topic_id, "kind": kind, "label": label, "href": href})
            if hits:
                topics.append({"id": topic_id, "kind": kind, "label": label, "href": href, "shelves": hits})
    return topics


def related_view(session: Session, collection: str | None = None, text: str | None = None,
                 related_map: dict | None = None, term: str | None = None,
                 glossary: dict[str, str] | None = None) -> dict:
    """Everything the Related Work page and ``/api/related`` show.

    Each card gains ``connections``: ``{"direction": "out"|"in", "type", "verb", "note",
    "other": {"uri", "title", "anchor"}}``; the view gains ``connections`` (every edge
    between shown papers) and ``graph`` (its layout, or None).

    Parameters
    ----------
    term : str, optional
        Keep only the papers tagged with this glossary term (slug or name); a term
        no paper carries gives no shelves (the page's empty state), not an error.
    glossary : dict, optional
        Slug -> name of every glossary term (the web app's glossary); a term listed
        here but not in ``related_map.json`` is tagged by its own name only.

    Raises
    ------
    NotFound
        If ``collection`` names no stored shelf, or ``term`` no glossary term.
    """
    from cfgraph.semble.graph import DASHES, connection_graph, connections, term_tags

    related_map = related_map if related_map is not None else load_related_map()
    shelf_list = shelves(session, collection, text)
    term_view = None
    if term is not None:
        found = term_tags(term, related_map, glossary)
        if found is None:
            raise NotFound(f"no glossary term {term[:60]!r}")
        slug, label, tags = found
        term_view = {"slug": slug, "label": label}
        for shelf in shelf_list:
            shelf["cards"] = [c for c in shelf["cards"] if card_covers(tags, c)]
        shelf_list = [s for s in shelf_list if s["cards"]]
    topics = covering(shelf_list, related_map)
    papers: dict[str, dict] = {}
    for shelf in shelf_list:
        for card in shelf["cards"]:
            card["connections"] = []
            card["card_anchor"] = card_anchor(card["uri"])
            papers.setdefault(card["uri"], {"uri": card["uri"], "title": card["title"], "url": card["url"],
                                            "shelf": shelf["title"], "anchor": card["card_anchor"]})
    edges = connections(session, papers)
    by_uri = {card["uri"]: [] for shelf in shelf_list for card in shelf["cards"]}
    for e in edges:
        common = {"type": e["type"], "verb": e["verb"], "class": e["class"], "note": e["note"],
                  "dash": DASHES.get(e["type"], DASHES[None])}
        by_uri[e["source"]["uri"]].append({"direction": "out", **common, "other": e["target"]})
        by_uri[e["target"]["uri"]].append({"direction": "in", **common, "other": e["source"]})
    for shelf in shelf_list:
        for card in shelf["cards"]:
            card["connections"] = by_uri[card["uri"]]
    return {"refresh": last_refresh(session), "query": text or "", "shelves": shelf_list, "topics": topics,
            "term": term_view, "connections": edges, "graph": connection_graph(edges)}


def card_anchor(uri: str) -> str:
    """The fragment id of a paper on the Related Work page: its record key and a short hash of its at-uri.

    Record keys repeat across repositories (a collaborator's card may share the
    owner's rkey), so the hash of the whole at-uri keeps anchors apart.

    Examples
    --------
    >>> card_anchor("at://did:plc:abc/network.cosmik.card/3m4pnu64us22b")
    'paper-3m4pnu64us22b-bf43ae'
    >>> card_anchor("at://did:plc:abc/network.cosmik.card/k") != card_anchor("at://did:plc:xyz/network.cosmik.card/k")
    True
    """
    rkey = uri.rsplit("/", 1)[-1]
    digest = hashlib.sha256(uri.encode("utf-8", "surrogatepass")).hexdigest()[:6]
    return "paper-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", rkey).strip("-") or "card") + "-" + digest
