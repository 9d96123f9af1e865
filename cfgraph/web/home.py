"""Home page (what a data counterfactual is, and the stored worlds grouped with their variants), plus
stable links to questions and lenses that open them on a default world."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for

from cfgraph import questions as Q
from cfgraph.errors import NotFound
from cfgraph.variants import list_variants
from cfgraph.web.db import get_session
from cfgraph.web.lenses import LENSES
from cfgraph.world import default_world_name, list_worlds

bp = Blueprint("home", __name__)

#: A world with more variants than this lists them folded (a <details> closed by default).
OPEN_VARIANTS = 3


def world_families(worlds: list[dict], variants: list[dict]) -> list[dict]:
    """Group the stored worlds under their parents: one family per world that is no variant.

    Parameters
    ----------
    worlds : list of dict
        Rows of :func:`cfgraph.world.list_worlds` (each has ``name``), in the order to show.
    variants : list of dict
        Rows of :func:`cfgraph.variants.list_variants` (``name``, ``parent``, ``move``).

    Returns
    -------
    list of dict
        ``{"world": row, "variants": [{"world": row, "move": str, "depth": int}, ...], "open": bool}``
        per root, in ``worlds`` order; a variant of a variant follows its parent one level deeper.
        A variant whose parent was deleted is a root of its own.

    Examples
    --------
    >>> rows = [{"name": "iris"}, {"name": "iris~dp-eps1"}, {"name": "iris~dp-eps1~weight-B-0.5"}]
    >>> links = [{"name": "iris~dp-eps1", "parent": "iris", "move": "train with epsilon 1"},
    ...          {"name": "iris~dp-eps1~weight-B-0.5", "parent": "iris~dp-eps1", "move": "weight B 0.5"}]
    >>> [(v["world"]["name"], v["depth"]) for v in world_families(rows, links)[0]["variants"]]
    [('iris~dp-eps1', 1), ('iris~dp-eps1~weight-B-0.5', 2)]
    """
    by_name = {w["name"]: w for w in worlds}
    parent_of = {v["name"]: v for v in variants if v.get("parent") in by_name and v["name"] in by_name}
    children: dict[str, list[str]] = {}
    for w in worlds:  # keep the stored order among siblings
        if w["name"] in parent_of:
            children.setdefault(parent_of[w["name"]]["parent"], []).append(w["name"])

    def descend(name: str, depth: int) -> list[dict]:
        out = []
        for child in children.get(name, []):
            out.append({"world": by_name[child], "move": parent_of[child]["move"], "depth": depth})
            out += descend(child, depth + 1)
        return out

    families = []
    for w in worlds:
        if w["name"] not in parent_of:
            below = descend(w["name"], 1)
            families.append({"world": w, "variants": below, "open": len(below) <= OPEN_VARIANTS})
    return families


def default_world() -> str:
    """The world that world-independent links open: the first complete one, else the first.

    Raises
    ------
    NotFound
        When the store holds no world.
    """
    return default_world_name(get_session())


@bp.route("/")
def index():
    session = get_session()
    worlds = list_worlds(session)
    families = world_families(worlds, list_variants(session))
    return render_template("home.html", worlds=worlds, families=families, questions=Q.QUESTIONS, lenses=LENSES,
                           n_variants=len(worlds) - len(families))


@bp.route("/question/<key>")
def question(key: str):
    """Open a question's answer on the default world's grid."""
    if key not in Q.TITLES:
        raise NotFound(f"unknown question {key[:40]!r} (questions: {', '.join(Q.TITLES)})")
    return redirect(url_for("grid.page", world=default_world(), q=key, _anchor=f"q-{key}"))


@bp.route("/lens/<key>")
def lens(key: str):
    """Open a lens of the lattice graph on the default world."""
    if key not in LENSES:
        raise NotFound(f"unknown lens {key[:40]!r} (lenses: {', '.join(LENSES)})")
    return redirect(url_for("graph.page", world=default_world(), lens=key))


#: Pages of a world that world-independent links (the glossary's) can open.
WORLD_PAGES = {"grid": "grid.page", "graph": "graph.page", "values": "valuation.page"}


@bp.route("/open/<page>")
def open_page(page: str):
    """Open a world page (grid, graph, values) on the default world."""
    if page not in WORLD_PAGES:
        raise NotFound(f"unknown page {page[:40]!r} (pages: {', '.join(WORLD_PAGES)})")
    return redirect(url_for(WORLD_PAGES[page], world=default_world()))


@bp.route("/favicon.ico")
def favicon():
    return redirect(url_for("static", filename="favicon.svg"))
