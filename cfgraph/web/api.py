"""The JSON API under ``/api/``: the same data the pages show.

Routes: ``/api/worlds``, ``/api/worlds/<w>``, ``.../grid``, ``.../questions``,
``.../nodes/<label>``, ``.../nodes/<label>/neighbours``, ``.../values``,
``.../scaling``, ``.../path``, ``.../graph``, ``/api/sql`` and ``/api/glossary``; the sampled
worlds' pages have their twins beside them: ``.../training-sets``
(:mod:`cfgraph.web.training_sets`), ``.../estimates`` and ``.../convergence``
(:mod:`cfgraph.web.estimates`). On a sampled world ``.../values``, ``.../graph`` and
``.../nodes/<label>`` answer what its pages show (estimates, stored neighbourhoods).
Errors are ``{"error": message, "status": code}`` with status 400 or 404.
"""

from __future__ import annotations

import math

from flask import Blueprint, current_app, request

from cfgraph import lattice
from cfgraph import questions as Q
from cfgraph.errors import CfgraphError
from cfgraph.web import estimates, lenses, state, stored_graph
from cfgraph.web.beside_exact import estimates_beside_exact
from cfgraph.web.db import get_session
from cfgraph.world import list_worlds
from cfgraph.web.glossary import load_glossary
from cfgraph.web.graph import graph_model
from cfgraph.web.grid import row_order
from cfgraph.web.grid_cache import cached_grid
from cfgraph.web.sql_page import execute, result_json
from cfgraph.web.training_set import node_model, stored_node_model
from cfgraph.web.valuation import default_slice, exact_values, values_model

bp = Blueprint("api", __name__, url_prefix="/api")


def _clean(x):
    return None if isinstance(x, float) and math.isnan(x) else x


@bp.route("/worlds")
def worlds():
    """Every stored world with its size, model, metric and completeness."""
    listed = list_worlds(get_session())
    for w in listed:
        for key in ("created_at", "finished_at"):
            w[key] = w[key].isoformat() if w[key] else None
    return {"worlds": listed}


@bp.route("/worlds/<world>")
def world(world: str):
    """One world: its recipe, metrics, seeds, units (the legend) and evaluation slices."""
    return state.load_world(world).describe()


@bp.route("/worlds/<world>/grid")
def grid(world: str):
    """The grid: rows (training sets sorted by size, then label) x slices; null where missing.

    ``page`` and ``per_page`` page the rows (default: every row). With several seeds and
    no ``seed``, values are means over seeds and each row carries ``half_width``, ``std`` and
    ``n`` per slice (as the grid page's tooltips show them).
    """
    w = state.load_world(world)
    shown = cached_grid(w, request.args.get("metric"), request.args.get("seed"))
    table = shown.table
    order = row_order(table)
    per_page = Q.parse_int(request.args.get("per_page"), "per_page", 1) or len(order)
    pages = max(1, -(-len(order) // per_page))
    page = Q.parse_int(request.args.get("page"), "page", 1, pages) or 1
    masks = order[(page - 1) * per_page: page * per_page]
    rows = []
    for m in masks.tolist():
        row = {"train_set": table.labels[m], "size": int(m).bit_count(),
               "values": [_clean(v) for v in table.values[m].tolist()],
               "status": [s or None for s in table.status[m].tolist()]}
        if shown.across_seeds:
            cells = [shown.interval(m, j) or {} for j in range(len(table.slices))]
            row.update({key: [c.get(key) for c in cells] for key in ("half_width", "std", "n")})
        rows.append(row)
    return {
        "world": w.name, "metric": table.metric, "seed": shown.seed, "seeds": shown.seeds, "slices": table.slices,
        "units": [u.to_dict() for u in w.units], "page": page, "pages": pages, "rows": rows,
    }


@bp.route("/worlds/<world>/questions")
def questions(world: str):
    """The question panel for a selection (same parameters as the grid page)."""
    w = state.load_world(world)
    table = cached_grid(w, request.args.get("metric"), request.args.get("seed")).table
    asked = state.ask(w, table, keys=request.args.getlist("q") or None)
    selection, focus = asked.selection, asked.focus
    return {
        "world": w.name, "selection": Q.selection_params(table, selection),
        "focus": {"train_set": table.labels[focus.train], "slice": table.slices[focus.column],
                  "other_slice": None if focus.other_column is None else table.slices[focus.other_column],
                  "unit": None if focus.unit is None else table.letters[focus.unit],
                  "pair": None if focus.pair is None else "".join(table.letters[u] for u in focus.pair),
                  "coalition": table.labels[focus.coalition], "k": focus.k, "alpha": focus.alpha,
                  "beta": focus.beta, "tolerance": focus.tolerance},
        "answers": [answer.to_dict() for answer in asked.answers],
    }


@bp.route("/worlds/<world>/nodes/<label>")
def node(world: str, label: str):
    """One training set's score on every slice (on a sampled world also its members)."""
    w = state.load_world(world)
    if w.sampled:
        model = stored_node_model(w, label)
        return {"world": world, "train_set": model["label"], "size": model["size"], "metric": model["metric"],
                "seed": model["seed"], "seeds": model["seeds"], "members_total": model["members_total"],
                "members": model["members"], "scores": dict(zip(model["slices"], model["scores"])),
                "status": dict(zip(model["slices"], model["status"]))}
    model = node_model(w, label)
    out = {"world": world, "train_set": model["label"], "mask": model["mask"], "size": model["size"],
           "metric": model["metric"], "seed": model["seed"], "seeds": model["seeds"],
           "scores": dict(zip(model["slices"], model["scores"]))}
    if model["interval"] is not None:
        out["intervals"] = dict(zip(model["slices"], model["interval"]))
    return out


@bp.route("/worlds/<world>/nodes/<label>/neighbours")
def neighbours(world: str, label: str):
    """A training set's add-one and remove-one neighbours with the score change on each slice
    (on a sampled world: the stored ones)."""
    w = state.load_world(world)
    model = stored_node_model(w, label) if w.sampled else node_model(w, label)
    return {"world": world, "train_set": model["label"], "slices": model["slices"],
            "neighbours": [{"direction": nb["direction"], "unit": nb["unit"], "train_set": nb["label"],
                            "scores": nb["scores"], "deltas": nb["deltas"]} for nb in model["neighbours"]]}


@bp.route("/worlds/<world>/values")
def values(world: str):
    """LOO, Shapley, Banzhaf and Beta Shapley per unit per slice (``alpha``, ``beta``); on a sampled
    world, the estimates the values page shows (see :func:`cfgraph.web.estimates.values_json`)."""
    w = state.load_world(world)
    if w.sampled:
        return estimates.values_json(w, estimates.values_view(w))
    model = values_model(w)
    columns = ["slice", "unit"] + model["methods"]
    values = []
    for row, intervals in zip(model["rows"], model["intervals"]):
        entry = dict(zip(columns, row))
        if intervals is not None:
            entry["intervals"] = dict(zip(model["methods"], intervals))
        values.append(entry)
    return {"world": w.name, "metric": model["grid"].metric, "seeds": model["seeds"],
            "across_seeds": model["across_seeds"], "alpha": model["alpha"], "beta": model["beta"],
            "methods": model["methods"], "values": values, "missing": model["missing"],
            "units": [u.to_dict() for u in w.units],
            "sampled": [{"method": m["method"], "column": m["column"], "valuation": estimates.jsonable(m["valuation"]),
                         "exact": m["account"]["exact"], "about": m["account"]["about"],
                         "facts": m["account"]["facts"], "exact_label": m["exact_label"],
                         "estimate_label": m["estimate_label"], "note": m["note"],
                         "rows": m["rows"]} for m in estimates_beside_exact(w, exact_values(w))]}


@bp.route("/worlds/<world>/scaling")
def scaling(world: str):
    """Mean score by training-set size k on one slice (``slice``; by default the values page's:
    ``all``, else the first complete slice, else the first)."""
    w = state.load_world(world)
    table = cached_grid(w, request.args.get("metric"), request.args.get("seed")).table
    j = table.slice_index(request.args.get("slice") or default_slice(table))
    return {"world": w.name, **Q.scaling_table(table, j)}


@bp.route("/worlds/<world>/path")
def path(world: str):
    """A path through the lattice with the score change at each step on one slice.

    ``kind=permutation`` (default; ``order=CABD``) walks from ∅ to the full set;
    ``kind=strike`` (``node``, ``coalition``) removes a coalition one unit at a time.
    """
    kind = request.args.get("kind", "permutation")
    if kind not in ("permutation", "strike"):
        raise CfgraphError(f"kind must be permutation or strike, not {kind[:30]!r}")
    args = request.args.to_dict()
    args["lens"] = kind
    model = graph_model(state.load_world(world), args)
    return {"world": world, "slice": model["slice"].name, "kind": kind,
            **model["lens"].to_dict(model["labels"])}


@bp.route("/worlds/<world>/graph")
def graph(world: str):
    """The graph page's data: current node, neighbours, walked path and the lens.

    As on the page, with two or more seeds and none named each value is the mean over
    seeds (``seed`` is null) and each node also has ``half_width`` and ``n``.
    """
    w = state.load_world(world)
    if w.sampled:
        return stored_graph.api(w)
    model = graph_model(w)
    labels, column, spread = model["labels"], model["column"], model["spread"]

    def node(mask):
        out = {"train_set": labels[mask], "value": _clean(float(column[mask]))}
        if spread is not None:
            c = spread.interval(mask)
            out.update(half_width=c and c["half_width"], n=c["n"] if c else 0)
        return out

    here = node(model["node"])
    return {
        "world": world, "slice": model["slice"].name, "metric": model["metric"], "seed": model["seed"],
        "seeds": spread.seeds if spread is not None else [model["seed"]],
        "node": here.pop("train_set"), **here, "whole": model["whole"],
        "up": [node(m) for m in model["up"]],
        "down": [node(m) for m in model["down"]],
        "path": [node(m) for m in model["path"]],
        "lens": model["lens"].to_dict(labels) if model["lens"] else None,
        "scale": {"lo": model["scale"].lo, "hi": model["scale"].hi}, "size": model["size"],
        "shown": [labels[p.mask] for p in model["placed"]],
    }


@bp.route("/sql")
def sql():
    """Run one read-only query (``q``); the same walls, deadline and row cap as the SQL page."""
    return result_json(execute(request.args.get("q", "")))


@bp.route("/glossary")
def glossary():
    """The glossary terms and their link targets."""
    return {"terms": [{"term": t["term"], "slug": t["slug"], "definition": t["definition"], "links": t["links"]}
                      for t in load_glossary()]}


@bp.route("/lenses")
def lens_list():
    return {"lenses": list(lenses.LENSES), "questions": [k for k, _ in Q.QUESTIONS],
            "whole_lattice_max_units": current_app.config["WHOLE_LATTICE_MAX_UNITS"],
            "empty_label": lattice.EMPTY_LABEL}
