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


#: Font size of a node label in the SVG (px at natural size; related.css sets the same).
LABEL_FONT = 12
#: Width of one character of a label, as a share of the font size: a generous estimate for a
#: sans-serif face, so that estimated boxes that do not meet leave drawn text apart too.
CHAR_WIDTH = 0.62
#: Dash pattern of each connection type (``stroke-dasharray``; "" is a solid line): the type
#: reads without colour (WCAG 1.4.1), in the drawing and in the legend alike.
DASHES = {"SUPPORTS": "", "OPPOSES": "10 5", "ADDRESSES": "2 4", "HELPFUL": "10 4 2 4", "LEADS_TO": "16 4",
          "RELATED": "5 5", "SUPPLEMENT": "10 3 2 3 2 3", "EXPLAINER": "16 4 4 4", None: "1 3"}
#: Distance between the curves of two connections joining the same two papers (viewBox units).
PARALLEL_GAP = 28.0


def _label(title: str) -> str:
    return title if len(title) <= LABEL_MAX else title[: LABEL_MAX - 1].rstrip() + "…"


def label_box(x: float, y: float, text: str, anchor: str, font: float = LABEL_FONT) -> tuple[float, float, float, float]:
    """The estimated box ``(left, top, right, bottom)`` of ``text`` drawn at baseline ``(x, y)``.

    The width is ``len(text) * CHAR_WIDTH * font``; the box reaches from the
    ascenders (``0.95 * font`` above the baseline) to the descenders (``0.3 * font`` below).

    Examples
    --------
    >>> label_box(100, 50, "abcd", "end", font=10)
    (75.2, 40.5, 100.0, 53.0)
    """
    width = len(text) * CHAR_WIDTH * font
    left = x - width if anchor == "end" else x - width / 2 if anchor == "middle" else x
    return (round(left, 1), round(y - 0.95 * font, 1), round(left + width, 1), round(y + 0.3 * font, 1))


def boxes_meet(a, b, gap: float = 2.0) -> bool:
    """Whether two boxes ``(left, top, right, bottom)`` overlap or come closer than ``gap``.

    Examples
    --------
    >>> boxes_meet((0, 0, 10, 10), (11, 0, 20, 10)), boxes_meet((0, 0, 10, 10), (13, 0, 20, 10))
    (True, False)
    """
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap


def _place_labels(nodes: list[dict], cx: float, cy: float) -> None:
    """Give each node a label position clear of the labels already placed and of every node.

    A label sits just outside the circle on its node's ray, anchored away from the
    centre (start on the right, end on the left, middle at the top and bottom); while
    its box meets a placed label or a node, it moves outward, 2 units at a time,
    sideways (away from the centre) or else up or down (away from the centre's
    horizontal line), whichever clears first (a greedy nudge: labels are few).
    """
    dots = [(n["x"] - 9, n["y"] - 9, n["x"] + 9, n["y"] + 9) for n in nodes]
    placed: list[tuple] = []
    for n in nodes:
        angle = math.atan2(n["y"] - cy, n["x"] - cx)
        cos, sin = math.cos(angle), math.sin(angle)
        anchor = "start" if cos > 0.25 else "end" if cos < -0.25 else "middle"
        lx = n["x"] + 12 * cos
        ly = n["y"] + 12 * sin + (LABEL_FONT * 0.35 if anchor != "middle" else LABEL_FONT if sin > 0 else -4)
        dy = 2.0 if sin >= 0 else -2.0
        dx = 2.0 if anchor == "start" else -2.0 if anchor == "end" else 0.0
        for k in range(400):  # the nearest clear spot: k steps outward, sideways first, then up or down
            spots = [(lx + dx * k, ly)] if dx else []
            spot = next((p for p in [*spots, (lx, ly + dy * k)] if not any(
                boxes_meet(label_box(*p, n["label"], anchor), other) for other in placed + dots)), None)
            if spot is not None:
                break
        lx, ly = spot if spot is not None else (lx, ly + dy * k)
        box = label_box(lx, ly, n["label"], anchor)
        placed.append(box)
        n.update(lx=round(lx, 1), ly=round(ly, 1), text_anchor=anchor, box=box)


def _curve(p0, p2, offset: float) -> dict:
    """A quadratic path from ``p0`` to ``p2`` bowed ``offset`` units to its left, trimmed at both circles."""
    (x0, y0), (x2, y2) = p0, p2
    dx, dy = x2 - x0, y2 - y0
    length = math.hypot(dx, dy) or 1.0
    nx, ny = -dy / length, dx / length
    qx, qy = (x0 + x2) / 2 + 2 * offset * nx, (y0 + y2) / 2 + 2 * offset * ny  # the curve's apex is offset away

    def trim(px, py, tx, ty, by):
        d = math.hypot(tx - px, ty - py) or 1.0
        return px + (tx - px) * by / d, py + (ty - py) * by / d

    sx, sy = trim(x0, y0, qx, qy, 8.0)  # leave the source circle (r = 7)
    ex, ey = trim(x2, y2, qx, qy, 11.0)  # stop at the target's circle plus the arrowhead
    r = lambda v: round(v, 1)  # noqa: E731
    return {"d": f"M{r(sx)},{r(sy)} Q{r(qx)},{r(qy)} {r(ex)},{r(ey)}", "x1": r(sx), "y1": r(sy),
            "x2": r(ex), "y2": r(ey), "qx": r(qx), "qy": r(qy)}


def connection_graph(edges: list[dict], radius: float | None = None) -> dict | None:
    """Positions for the SVG: connected papers on a circle, connections as curved arrows between them.

    Papers are placed in the order of their shelf and title, so a shelf's papers
    sit together. Labels go outside the circle, nudged apart so that no two
    estimated label boxes (:func:`label_box`) meet. Connections joining the same
    two papers (either way) bow apart by :data:`PARALLEL_GAP`, so none hides another;
    each stops short of its target's circle so its arrow shows.

    Parameters
    ----------
    edges : list of dict
        As :func:`connections` returns them (each paper view needs ``uri``, ``title``,
        ``url`` and ``shelf``).
    radius : float, optional
        Radius of the circle of papers, in viewBox units; default grows with the
        number of papers (at least 220) so neighbours' labels have room.

    Returns
    -------
    dict or None
        ``{"x", "y", "width", "height", "nodes", "edges", "legend"}`` (the viewBox is
        ``x y width height``, wrapping every node and label); None when there is no
        edge. An edge has ``d`` (its path), ``dash`` and its end points; the legend
        lists ``(type, class, dash)``.

    Examples
    --------
    >>> a = {"uri": "a", "title": "A", "url": "https://a.org", "shelf": "S"}
    >>> b = {"uri": "b", "title": "B", "url": None, "shelf": "S"}
    >>> g = connection_graph([{"source": a, "target": b, "type": "SUPPORTS", "verb": "supports",
    ...                        "class": "edge-supports", "note": None}])
    >>> [n["label"] for n in g["nodes"]], g["legend"]
    (['A', 'B'], [('SUPPORTS', 'edge-supports', '')])
    """
    if not edges:
        return None
    papers: dict[str, dict] = {}
    for e in edges:
        papers.setdefault(e["source"]["uri"], e["source"])
        papers.setdefault(e["target"]["uri"], e["target"])
    ordered = sorted(papers.values(), key=lambda p: ((p.get("shelf") or "").lower(), p["title"].lower(), p["uri"]))
    # Neighbours on the circle stand about 2.2 label lines apart, however many papers there are.
    radius = radius if radius is not None else max(220.0, len(ordered) * LABEL_FONT * 2.6 / (2 * math.pi))
    cx, cy = 0.0, 0.0
    nodes, where = [], {}
    for i, paper in enumerate(ordered):
        angle = -math.pi / 2 + 2 * math.pi * i / len(ordered)
        x, y = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
        where[paper["uri"]] = (x, y)
        nodes.append({"uri": paper["uri"], "x": round(x, 1), "y": round(y, 1), "title": paper["title"],
                      "label": _label(paper["title"]), "href": paper.get("url")})
    _place_labels(nodes, cx, cy)
    pairs: dict[tuple, list[dict]] = {}
    for e in edges:
        pairs.setdefault(tuple(sorted((e["source"]["uri"], e["target"]["uri"]))), []).append(e)
    drawn, used = [], []
    for (first, _second), group in pairs.items():
        for k, e in enumerate(group):
            offset = (k - (len(group) - 1) / 2) * PARALLEL_GAP
            # Offsets are measured on the pair's own direction, so A->B and B->A bow to opposite sides.
            offset = offset if e["source"]["uri"] == first else -offset
            path = _curve(where[e["source"]["uri"]], where[e["target"]["uri"]], offset)
            drawn.append({**path, "class": e["class"], "type": e["type"], "dash": DASHES.get(e["type"], DASHES[None]),
                          "title": f"{e['source']['title']} {e['verb']} {e['target']['title']}"})
            if (e["type"], e["class"]) not in [u[:2] for u in used]:
                used.append((e["type"], e["class"], DASHES.get(e["type"], DASHES[None])))
    order = {kind: i for i, kind in enumerate(CONNECTION_TYPES)}
    legend = sorted(used, key=lambda t: order.get(t[0], len(order)))
    boxes = [n["box"] for n in nodes] + [(n["x"] - 9, n["y"] - 9, n["x"] + 9, n["y"] + 9) for n in nodes]
    boxes += [(min(e["qx"], e["x1"]), min(e["qy"], e["y1"]), max(e["qx"], e["x1"]), max(e["qy"], e["y1"])) for e in drawn]
    pad = 10
    left, top = min(b[0] for b in boxes) - pad, min(b[1] for b in boxes) - pad
    right, bottom = max(b[2] for b in boxes) + pad, max(b[3] for b in boxes) + pad
    return {"x": math.floor(left), "y": math.floor(top), "width": math.ceil(right - left),
            "height": math.ceil(bottom - top), "nodes": nodes, "edges": drawn, "legend": legend}


def term_tags(term: str, related_map: dict, glossary: dict[str, str] | None = None) -> tuple[str, str, set[str]] | None:
    """(slug, label, tags) of a glossary term given by slug or name; None if it is no glossary term.

    The tags are those of :func:`cfgraph.semble.queries.topic_tags` (the term's ``tags``
    in ``related_map.json`` and its own name), the rule the shelves' Covers lines use.
    A term of ``glossary`` (slug -> name) missing from ``related_map.json`` is tagged by
    its own name only.

    Examples
    --------
    >>> term_tags("lattice", {"glossary": {}}, {"lattice": "Lattice"})
    ('lattice', 'Lattice', {'lattice'})
    >>> term_tags("nope", {"glossary": {}}, {"lattice": "Lattice"}) is None
    True
    """
    from cfgraph.semble.queries import shelf_anchor, topic_tags

    mapped = related_map.get("glossary", {})
    known = {**{slug: {"label": name} for slug, name in (glossary or {}).items()}, **mapped}
    wanted = str(term).strip()
    slug = wanted if wanted in known else shelf_anchor(wanted).removeprefix("shelf-")
    entry = known.get(slug)
    if entry is None:
        return None
    return slug, entry.get("label", slug), topic_tags(entry, slug)


def papers_for_term(session: Session, term: str, related_map: dict | None = None,
                    shelf_list: list[dict] | None = None, glossary: dict[str, str] | None = None) -> list[dict]:
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
    glossary : dict, optional
        Slug -> name of glossary terms beyond ``related_map.json`` (see :func:`term_tags`).

    Returns
    -------
    list of dict
        Paper views (see :func:`cfgraph.semble.queries.shelves`), each with ``shelf``
        and ``anchor``; empty for an unknown term or when no paper carries its tags.
        A paper on two shelves, or the same URL on two cards, is listed once.
    """
    from cfgraph.semble.queries import card_covers, load_related_map, shelf_order, shelves

    found = term_tags(term, related_map if related_map is not None else load_related_map(), glossary)
    if found is None:
        return []
    tags = found[2]
    papers, seen = [], set()
    for shelf in shelf_list if shelf_list is not None else shelves(session):
        for card in shelf["cards"]:
            key = card["url"] or card["uri"]
            if key in seen or not card_covers(tags, card):
                continue
            seen.add(key)
            papers.append({**card, "shelf": shelf["title"], "anchor": shelf["anchor"]})
    return sorted(papers, key=shelf_order)
