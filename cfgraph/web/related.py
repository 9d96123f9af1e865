"""The Related Work page: Semble shelves beside the explorer, and the same data as JSON.

``/related`` shows every shelf (collection) with its cards, the connections
between papers as a server-drawn SVG graph, and each paper's connections;
``?q=`` filters the cards by text, ``?collection=`` picks one shelf, ``?topic=``
keeps the shelves that cover one explorer question or glossary term, and
``?term=`` keeps the papers tagged with one glossary term. The template global
``papers_for_term`` (used by the ``papers_link`` macro of ``_papers.html``) links
any page to those papers. ``/api/related``
returns exactly what the page shows. Links come only from http(s) URLs
(re-checked in :mod:`cfgraph.semble.queries`); every other field is text,
escaped by Jinja.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, render_template, request, url_for

from cfgraph.errors import NotFound
from cfgraph.semble import queries
from cfgraph.semble.graph import papers_for_term
from cfgraph.web.db import get_session

bp = Blueprint("related", __name__)


def _topic_href(topic: dict) -> str | None:
    """Where a topic lives in the explorer: a question's answer, or a glossary entry."""
    if topic["kind"] == "questions" and "home.question" in current_app.view_functions:
        return url_for("home.question", key=topic["id"])
    if topic["kind"] == "glossary" and "glossary.page" in current_app.view_functions:
        return url_for("glossary.page", _anchor=topic["id"])
    return None


def distinct_topics(topics: list[dict]) -> list[dict]:
    """A shelf's topics without repeats, in order: a question and a glossary term often share a
    label ("Banzhaf value"); the first (the question, whose link opens an answer) is kept.

    Examples
    --------
    >>> distinct_topics([{"label": "Banzhaf value", "kind": "questions"}, {"label": "Semivalue"},
    ...                  {"label": "banzhaf value", "kind": "glossary"}])
    [{'label': 'Banzhaf value', 'kind': 'questions'}, {'label': 'Semivalue'}]
    """
    seen, out = set(), []
    for topic in topics:
        key = str(topic["label"]).strip().casefold()
        if key not in seen:
            seen.add(key)
            out.append(topic)
    return out


def glossary_names() -> dict[str, str]:
    """Slug -> name of every term of the explorer's glossary: each one has a ``/related?term=`` page.

    Examples
    --------
    >>> glossary_names()["lattice"]
    'Lattice'
    """
    from cfgraph.web.glossary import load_glossary

    return {entry["slug"]: entry["term"] for entry in load_glossary()}


def related_data() -> dict:
    """The view for this request's ``q``, ``collection`` and ``topic`` arguments.

    Raises
    ------
    NotFound
        For an unknown shelf or topic.
    """
    text = request.args.get("q", "").strip()[:200] or None
    collection = request.args.get("collection", "").strip() or None
    topic_id = request.args.get("topic", "").strip() or None
    term = request.args.get("term", "").strip()[:200] or None
    view = queries.related_view(get_session(), collection, text, term=term,
                                glossary=glossary_names() if term else None)
    for topic in view["topics"]:
        topic["href"] = _topic_href(topic)
    for shelf in view["shelves"]:
        for topic in shelf["topics"]:
            topic["href"] = _topic_href(topic)
    view["topic"] = None
    if topic_id is not None:
        related_map = queries.load_related_map()
        if topic_id not in related_map["questions"] and topic_id not in related_map["glossary"]:
            raise NotFound(f"unknown topic {topic_id[:40]!r}")
        view["shelves"] = [s for s in view["shelves"] if any(t["id"] == topic_id for t in s["topics"])]
        entry = related_map["questions"].get(topic_id) or related_map["glossary"][topic_id]
        kind = "questions" if topic_id in related_map["questions"] else "glossary"
        topic = {"id": topic_id, "kind": kind, "label": entry.get("label", topic_id)}
        view["topic"] = {**topic, "href": _topic_href(topic)}
    for shelf in view["shelves"]:  # after the topic filter, which matches any of a shelf's topic ids
        shelf["topics"] = distinct_topics(shelf["topics"])
    view["topics"] = _merge_topics(view["topics"])
    return view


def _merge_topics(topics: list[dict]) -> list[dict]:
    """Topics listed once per label, a repeated label's shelves added to the first's."""
    kept = distinct_topics(topics)
    first = {str(t["label"]).strip().casefold(): t for t in kept}
    for topic in topics:
        target = first[str(topic["label"]).strip().casefold()]
        if target is not topic:
            target["shelves"] = target["shelves"] + [s for s in topic["shelves"] if s not in target["shelves"]]
    return kept


@bp.app_template_global("papers_for_term")
def papers_summary(term) -> dict | None:
    """``{"href", "count", "label"}`` for the papers tagged with glossary term ``term``; None when none.

    Registered as a template global with the blueprint, so ``_papers.html`` works on
    any page of an app that has the Related Work page. A store without the
    related-work tables, or any failure to read them, gives None: a missing
    papers link must never break the page that asks for it.
    """
    if not term:
        return None
    cache = g.setdefault("cfgraph_papers", {"terms": {}})  # a page may ask for many terms: read shelves once
    if str(term) not in cache["terms"]:
        cache["terms"][str(term)] = _papers_summary(str(term), cache)
    return cache["terms"][str(term)]


def _papers_summary(term: str, cache: dict) -> dict | None:
    from cfgraph.semble.graph import term_tags

    related_map = queries.load_related_map()
    if "glossary" not in cache:
        try:
            cache["glossary"] = glossary_names()
        except Exception:  # noqa: BLE001 (see papers_summary: the link is optional)
            current_app.logger.exception("glossary for papers links")
            cache["glossary"] = {}
    found = term_tags(term, related_map, cache["glossary"])
    if found is None:
        return None
    try:
        if "shelves" not in cache:
            cache["shelves"] = queries.shelves(get_session())
        papers = papers_for_term(get_session(), term, related_map, cache["shelves"], cache["glossary"])
    except Exception:  # noqa: BLE001 (see papers_summary: the link is optional)
        current_app.logger.exception("papers for term %r", term[:60])
        return None
    if not papers:
        return None
    return {"href": url_for("related.index", term=found[0]), "count": len(papers), "label": found[1],
            "papers": papers}


@bp.route("/related")
def index():
    view = related_data()
    return render_template("related.html", view=view, query=view["query"])


@bp.route("/api/related")
def api():
    return jsonify(related_data())
