"""Guided scenarios: ``GET /scenarios`` (the list), ``GET /scenarios/<key>`` (one scenario) and
``GET /api/scenarios/<key>`` (the same as JSON).

Each page shows what a scenario holds fixed, what it changes, its answer (numbers
and the cells it used, from :mod:`cfgraph.scenarios`) and the limit of what it
shows, with links that open the same question in the grid, the lattice and the lab.
A scenario whose world is not stored answers 404 with the command that builds it.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, render_template, url_for

from cfgraph import scenarios as S
from cfgraph.web.db import get_session

bp = Blueprint("scenarios", __name__)

#: Cells listed by name on a scenario page (the count is always exact).
CELL_LIMIT = 40


def _url(endpoint: str, world: str, params) -> str:
    return url_for(endpoint, world=world) + ("?" + urlencode(list(params)) if params else "")


def lab_url(scenario: S.Scenario) -> str | None:
    """The lab with the scenario's World A and World B cells, or None while the lab is not installed."""
    try:
        from cfgraph.lab_state import CellRef, LabState
    except ImportError:
        return None

    def refs(cells):
        return tuple(CellRef(world, train, slice_, None, seed) for world, train, slice_, seed in cells)

    return LabState(a=refs(scenario.lab_a), b=refs(scenario.lab_b), params=getattr(scenario, "lab_params", ())).url()


def links(scenario: S.Scenario) -> dict:
    """The URLs that open a scenario's question: grid (with the selection), lattice (with the lens), lab."""
    return {
        "grid": _url("grid.page", scenario.grid_world or scenario.world, scenario.grid),
        "lattice": _url("graph.page", scenario.lattice_world or scenario.world, scenario.lattice),
        "lab": lab_url(scenario),
    }


@bp.route("/scenarios")
def index():
    """Every scenario, with whether its worlds are stored."""
    session = get_session()
    rows = [{"scenario": s, "absent": S.missing_worlds(session, s.worlds)} for s in S.SCENARIOS]
    return render_template("scenarios.html", rows=rows, build=S.BUILD_COMMAND)


@bp.route("/scenarios/<key>")
def page(key: str):
    """One scenario: held fixed, changes, the answer with its cells, the limit, and where to open it."""
    scenario = S.get_scenario(key)
    answer = scenario.answer(get_session())
    return render_template("scenario.html", scenario=scenario, answer=answer, links=links(scenario),
                           cell_limit=CELL_LIMIT, keys=[s.key for s in S.SCENARIOS])


@bp.route("/api/scenarios/<key>")
def document(key: str):
    """The same scenario as JSON: its frame, its answer (every cell used or missing) and its links."""
    scenario = S.get_scenario(key)
    answer = scenario.answer(get_session())
    return {"key": scenario.key, "title": scenario.title, "question": scenario.question, "worlds": list(scenario.worlds),
            "fixed": scenario.fixed, "changes": answer.changes or scenario.changes, "limit": scenario.limit,
            "answer": answer.to_dict(), "links": links(scenario)}
