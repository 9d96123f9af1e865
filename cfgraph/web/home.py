"""Home page (what a data counterfactual is, and the stored worlds), plus stable links to
questions and lenses that open them on a default world."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for

from cfgraph import questions as Q
from cfgraph.errors import NotFound
from cfgraph.web.db import get_session
from cfgraph.web.lenses import LENSES
from cfgraph.world import default_world_name, list_worlds

bp = Blueprint("home", __name__)



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
    worlds = list_worlds(get_session())
    return render_template("home.html", worlds=worlds, questions=Q.QUESTIONS, lenses=LENSES)


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
