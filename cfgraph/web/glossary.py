"""The glossary: the field's terms, kept as data in ``seed_data/glossary.yaml``.

Each link in the file names a question, a lens, a page, another term or an
http(s) URL; :func:`load_glossary` checks them all, so a term can only link
to something that exists.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlparse

import yaml
from flask import Blueprint, current_app, render_template, url_for
from sqlalchemy.exc import SQLAlchemyError

from cfgraph import questions as Q
from cfgraph.errors import CfgraphError
from cfgraph.resources import seed_file
from cfgraph.web.home import WORLD_PAGES
from cfgraph.web.lenses import LENSES
from cfgraph.web.state import related_topics

bp = Blueprint("glossary", __name__)

PAGES = {"sql": "sql_page.page", "home": "home.index", "related": "related.index"}
LINK_KINDS = ("question", "lens", "page", "term", "url")


def slug(term: str) -> str:
    """The anchor of a term: "Data Shapley" -> "data-shapley"."""
    return re.sub(r"[^a-z0-9]+", "-", term.lower()).strip("-")


@lru_cache(maxsize=4)
def load_glossary(path: str | None = None) -> tuple[dict, ...]:
    """Read and check the glossary file.

    Returns
    -------
    tuple of dict
        ``term``, ``slug``, ``definition``, ``links`` (list of dict with one kind key and ``text``),
        sorted by term.

    Raises
    ------
    CfgraphError
        On a missing field, a duplicate term, a link of an unknown kind, an unknown question, lens,
        page or term, or a URL that is not http(s).
    """
    source = path or str(seed_file("glossary.yaml"))
    with open(source, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    entries = data.get("terms") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise CfgraphError(f"{source}: expected a mapping with a 'terms' list")
    out, seen = [], set()
    for entry in entries:
        term, definition = entry.get("term"), entry.get("definition")
        if not isinstance(term, str) or not isinstance(definition, str) or not term or not definition:
            raise CfgraphError(f"{source}: every entry needs a term and a definition ({entry!r:.60})")
        if slug(term) in seen:
            raise CfgraphError(f"{source}: term {term!r} appears twice")
        seen.add(slug(term))
        out.append({"term": term, "slug": slug(term), "definition": " ".join(definition.split()),
                    "links": entry.get("links") or []})
    for entry in out:
        for link in entry["links"]:
            _check_link(source, entry["term"], link, seen)
    return tuple(sorted(out, key=lambda e: e["term"].lower()))


def _check_link(source: str, term: str, link, slugs: set[str]) -> None:
    kinds = [k for k in LINK_KINDS if isinstance(link, dict) and k in link]
    if len(kinds) != 1:
        raise CfgraphError(f"{source}: {term}: a link needs exactly one of {', '.join(LINK_KINDS)}")
    kind, target = kinds[0], str(link[kinds[0]])
    known = {"question": Q.TITLES, "lens": LENSES, "page": {**PAGES, **WORLD_PAGES}, "term": slugs}
    if kind == "url":
        parsed = urlparse(target)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise CfgraphError(f"{source}: {term}: only http(s) links are allowed, not {target[:60]!r}")
    elif target not in known[kind]:
        raise CfgraphError(f"{source}: {term}: unknown {kind} {target!r}")


def resolve_link(link: dict, has_endpoint) -> tuple[str, str] | None:
    """(href, text) of a glossary link; None when its page is not part of this app."""
    if "question" in link:
        return url_for("home.question", key=link["question"]), link.get("text") or Q.TITLES[link["question"]]
    if "lens" in link:
        return url_for("home.lens", key=link["lens"]), link.get("text") or f"{LENSES[link['lens']]} lens"
    if "term" in link:
        return f"#{link['term']}", link.get("text") or link["term"].replace("-", " ")
    if "url" in link:
        return link["url"], link.get("text") or link["url"]
    page = link["page"]
    if page in WORLD_PAGES:
        return url_for("home.open_page", page=page), link.get("text") or f"{page} page"
    if not has_endpoint(PAGES[page]):
        return None
    return url_for(PAGES[page]), link.get("text") or f"{page} page"


#: The term that names each question and lens, tried first: several terms link to a question (the
#: DP entry links to leave-one-out as "how far one unit moves a cell"), but one of them is its name.
NAMING_TERMS = {
    "question": {"loo": "leave-one-out", "eval_move": "evaluation-counterfactual", "group_loo": "data-strike",
                 "interaction": "interaction-index", "shapley": "data-shapley", "banzhaf": "banzhaf-value",
                 "beta": "beta-shapley", "scaling": "scaling-law", "eval_scaling": "evaluation-counterfactual",
                 "diagonal": "evaluation-slice", "subset_scan": "coreset", "unlearning": "machine-unlearning"},
    "lens": {"ablation": "leave-one-out", "strike": "data-strike", "sweep": "data-shapley", "layer": "scaling-law",
             "square": "interaction-index", "permutation": "data-shapley"},
}


@bp.app_template_global("glossary_term_for")
def glossary_term_for(kind: str, key: str) -> str | None:
    """The slug of the glossary term that explains question or lens ``key`` and has related work.

    The term that names it (:data:`NAMING_TERMS`) when ``related_map.json`` maps that term to
    tags; else the first term in the glossary whose links name ``{kind: key}`` and that is mapped;
    None when there is none.
    """
    from cfgraph.semble.queries import load_related_map

    mapped = load_related_map()["glossary"]
    naming = NAMING_TERMS.get(kind, {}).get(str(key))
    if naming in mapped:
        return naming
    for entry in load_glossary():
        if entry["slug"] in mapped and any(str(link.get(kind)) == str(key) for link in entry["links"]):
            return entry["slug"]
    return None


def papers_by_term(session, terms) -> dict[str, list[dict]]:
    """Slug -> papers tagged with that term (each once), for the terms that have any.

    A store without related-work rows gives an empty mapping.
    """
    from cfgraph.semble.graph import papers_for_term
    from cfgraph.semble.queries import load_related_map, shelves

    related_map = load_related_map()
    try:
        shelf_list = shelves(session)
    except SQLAlchemyError:  # a store older than the related-work tables
        return {}
    found = {t["slug"]: papers_for_term(session, t["slug"], related_map, shelf_list) for t in terms
             if t["slug"] in related_map["glossary"]}
    return {slug: papers for slug, papers in found.items() if papers}


def glossary_model(has_endpoint) -> list[dict]:
    """The terms with their links resolved to URLs."""
    return [{**entry, "hrefs": [r for r in (resolve_link(link, has_endpoint) for link in entry["links"]) if r]}
            for entry in load_glossary()]


@bp.route("/glossary")
def page():
    terms = glossary_model(lambda name: name in current_app.view_functions)
    papers = {}
    if "related.index" in current_app.view_functions:
        from cfgraph.web.db import get_session

        papers = papers_by_term(get_session(), terms)
    return render_template("glossary.html", terms=terms, related=related_topics("glossary"), papers=papers)
