"""The related-work papers as a graph: stored connections, a circular layout, and papers by glossary term.

- :func:`connections` reads ``related_connection`` as typed edges between paper views;
- :func:`connection_graph` places the connected papers on a circle (grouped by
  shelf) for the server-drawn SVG of the Related Work page;
- :func:`papers_for_term` lists the papers tagged with a glossary term, the core
  of every "papers" link from the grid panel, the lattice lenses and the glossary.

Nothing here builds markup: the template escapes every text, and only http(s)
URLs (re-checked by :func:`cfgraph.semble.queries.safe_url`) become links.
"""

from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from cfgraph.semble.connections import CONNECTION_TYPES
from cfgraph.store.related_models import RelatedConnection

#: How a connection type reads in a sentence ("A supports B"); an untyped one is "is connected to".
VERBS = {"SUPPORTS": "supports", "OPPOSES": "opposes", "ADDRESSES": "addresses", "HELPFUL": "is helpful for",
         "LEADS_TO": "leads to", "RELATED": "is related to", "SUPPLEMENT": "supplements",
         "EXPLAINER": "explains", None: "is connected to"}
#: Longest node label drawn in the SVG (the full title is in its tooltip).
LABEL_MAX = 34


def type_class(kind: str | None) -> str:
    """The CSS class of an edge of type ``kind``.

    Examples
    --------
    >>> type_class("LEADS_TO"), type_class(None)
    ('edge-leads-to', 'edge-untyped')
    """
    return f"edge-{kind.lower().replace('_', '-')}" if kind else "edge-untyped"


def connections(session: Session, papers: dict[str, dict]) -> list[dict]:
    """The stored connections between ``papers`` (card uri -> paper view), in type then title order.

    Returns
    -------
    list of dict
        ``{"uri", "type", "verb", "class", "note", "source", "target"}``; ``source`` and
        ``target`` are paper views. Connections touching a paper not in ``papers``
        (filtered out of the page) are left out.
    """
    out = []
    for row in session.scalars(select(RelatedConnection).order_by(RelatedConnection.created_at,
                                                                  RelatedConnection.uri)):
        source, target = papers.get(row.source_card_uri), papers.get(row.target_card_uri)
        if source is None or target is None:
            continue
        out.append({"uri": row.uri, "type": row.connection_type, "verb": VERBS.get(row.connection_type, "is connected to"),
                    "class": type_class(row.connection_type), "note": row.note, "source": source, "target": target})
    order = {kind: i for i, kind in enumerate(CONNECTION_TYPES)}
    out.sort(key=lambda e: (order.get(e["type"], len(order)), e["source"]["title"].lower(), e["target"]["title"].lower()))
    return out


def _label(title: str) -> str:
    return title if len(title) <= LABEL_MAX else title[: LABEL_MAX - 1].rstrip() + "…"


def connection_graph(edges: list[dict], width: int = 1000, radius: float = 220.0) -> dict | None:
    """Positions for the SVG: connected papers on a circle, edges as arrows between them.

    Papers are placed in the order of their shelf and title, so a shelf's papers
    sit together; an edge stops short of its target's circle so its arrow shows.

    Parameters
    ----------
    edges : list of dict
        As :func:`connections` returns them (each paper view needs ``uri``, ``title``,
        ``url`` and ``shelf``).
    width : int
        Width of the viewBox; the height follows from ``radius``.
    radius : float
        Radius of the circle of papers, in viewBox units.

    Returns
    -------
    dict or None
        ``{"width", "height", "nodes", "edges", "legend"}``; None when there is no edge.

    Examples
    --------
    >>> a = {"uri": "a", "title": "A", "url": "https://a.org", "shelf": "S"}
    >>> b = {"uri": "b", "title": "B", "url": None, "shelf": "S"}
    >>> g = connection_graph([{"source": a, "target": b, "type": "SUPPORTS", "verb": "supports",
    ...                        "class": "edge-supports", "note": None}])
    >>> [n["label"] for n in g["nodes"]], g["legend"]
    (['A', 'B'], [('SUPPORTS', 'edge-supports')])
    """
    if not edges:
        return None
    papers: dict[str, dict] = {}
    for e in edges:
        papers.setdefault(e["source"]["uri"], e["source"])
        papers.setdefault(e["target"]["uri"], e["target"])
    ordered = sorted(papers.values(), key=lambda p: ((p.get("shelf") or "").lower(), p["title"].lower(), p["uri"]))
    height = int(2 * radius + 120)
    cx, cy = width / 2, height / 2
    nodes, where = [], {}
    for i, paper in enumerate(ordered):
        angle = -math.pi / 2 + 2 * math.pi * i / len(ordered)
        x, y = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
        cos = math.cos(angle)
        where[paper["uri"]] = (x, y)
        nodes.append({"uri": paper["uri"], "x": round(x, 1), "y": round(y, 1), "title": paper["title"],
                      "label": _label(paper["title"]), "href": paper.get("url"),
                      "lx": round(x + 12 * cos, 1), "ly": round(y + 12 * math.sin(angle) + 4, 1),
                      "text_anchor": "start" if cos > 0.2 else "end" if cos < -0.2 else "middle"})
    drawn, used = [], []
    for e in edges:
        (x1, y1), (x2, y2) = where[e["source"]["uri"]], where[e["target"]["uri"]]
        length = math.hypot(x2 - x1, y2 - y1) or 1.0
        shorten = 11.0 / length  # stop at the target's circle (r = 7) plus the arrow
        drawn.append({"x1": round(x1, 1), "y1": round(y1, 1), "x2": round(x2 - (x2 - x1) * shorten, 1),
                      "y2": round(y2 - (y2 - y1) * shorten, 1), "class": e["class"], "type": e["type"],
                      "title": f"{e['source']['title']} {e['verb']} {e['target']['title']}"})
        if (e["type"], e["class"]) not in used:
            used.append((e["type"], e["class"]))
    order = {kind: i for i, kind in enumerate(CONNECTION_TYPES)}
    legend = sorted(used, key=lambda t: order.get(t[0], len(order)))
    return {"width": width, "height": height, "nodes": nodes, "edges": drawn, "legend": legend}


def term_tags(term: str, related_map: dict) -> tuple[str, str, set[str]] | None:
    """(slug, label, tags) of a glossary term given by slug or name; None if it is no glossary term.

    The tags are the term's ``tags`` in ``related_map.json`` and the term itself, case-folded.
    """
    from cfgraph.semble.queries import shelf_anchor

    glossary = related_map.get("glossary", {})
    wanted = str(term).strip()
    slug = wanted if wanted in glossary else shelf_anchor(wanted).removeprefix("shelf-")
    entry = glossary.get(slug)
    if entry is None:
        return None
    label = entry.get("label", slug)
    return slug, label, {t.casefold() for t in entry.get("tags", [])} | {label.casefold()}


def papers_for_term(session: Session, term: str, related_map: dict | None = None,
                    shelf_list: list[dict] | None = None) -> list[dict]:
    """The papers tagged with a glossary term, each once, in shelf order.

    Parameters
    ----------
    session : Session
    term : str
        A glossary term's slug ("banzhaf-value") or name ("Banzhaf value").
    related_map : dict, optional
        Default :func:`cfgraph.semble.queries.load_related_map`.
    shelf_list : list of dict, optional
        The shelves as :func:`cfgraph.semble.queries.shelves` returns them (read once
        by a caller asking for many terms); default read here.

    Returns
    -------
    list of dict
        Paper views (see :func:`cfgraph.semble.queries.shelves`), each with ``shelf``
        and ``anchor``; empty for an unknown term or when no paper carries its tags.
        A paper on two shelves, or the same URL on two cards, is listed once.
    """
    from cfgraph.semble.queries import load_related_map, shelf_order, shelves

    found = term_tags(term, related_map if related_map is not None else load_related_map())
    if found is None:
        return []
    tags = found[2]
    papers, seen = [], set()
    for shelf in shelf_list if shelf_list is not None else shelves(session):
        for card in shelf["cards"]:
            key = card["url"] or card["uri"]
            if key in seen or not tags & {t.casefold() for t in card["tags"]}:
                continue
            seen.add(key)
            papers.append({**card, "shelf": shelf["title"], "anchor": shelf["anchor"]})
    return sorted(papers, key=shelf_order)
