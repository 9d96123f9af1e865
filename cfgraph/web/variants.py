"""Variant worlds: a world's variants and their moves from a node; a variant's delta grid against its parent.

For a trained world the page lists its variants (corrupt B 30%, add poison E,
train with epsilon 1, weight B 0.5, ...) and, for one node (``?node=AB``,
the full set by default), each variant's move from that node: the variant's
score on every slice and its change against the parent. For a variant world
it shows the recipe, the delta grid ``variant - parent`` (the ``variant_delta``
SQL view) and the kind's own summary (attack delta, DP cost, weight sweep,
unlearning audit). ``/api/worlds/<world>/variants`` returns the same data.
"""

from __future__ import annotations

import math

import numpy as np
from flask import Blueprint, render_template, request

from cfgraph import lattice
from cfgraph import questions as Q
from cfgraph.variants import recipes, reports, variant_pair
from cfgraph.variants.poisoning import poison_letter
from cfgraph.web import state
from cfgraph.world import World

bp = Blueprint("variants", __name__)


def _num(x):
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def variants_model(world: World) -> dict:
    """The page's data for a trained world (its variants and moves) or a variant (its deltas).

    Raises
    ------
    CfgraphError, NotFound
        On an unknown node label, a bad tolerance, or missing cells a summary needs.
    """
    session = world.session
    world.require_exhaustive("variants")
    if world.kind == "variant":
        return _variant_model(session, world)
    full = (1 << world.n) - 1
    letters = world.letters
    label = request.args.get("node") or lattice.mask_label(full, letters)
    mask = world.mask_of(label)
    listed = world.variants()
    moves = []
    for v in listed:
        pair = variant_pair(session, v["name"])
        target = move_target(v["recipe"], mask, letters)
        if target is None:
            continue
        values = pair.variant.values[target]
        base = pair.base[mask]
        moves.append({
            "name": v["name"], "kind": v["kind"], "move": v["move"],
            "target": pair.variant.labels[target], "scores": [_num(x) for x in values],
            "deltas": [_num(x) for x in values - base],
            "mean_delta": _num(np.nanmean(pair.delta)) if (~np.isnan(pair.delta)).any() else None,
        })
    return {"mode": "parent", "world": world, "node": lattice.mask_label(mask, letters),
            "slices": [s.name for s in world.slices], "parent_scores": _parent_scores(world, mask),
            "moves": moves, "recipe_kinds": recipes.KINDS}


def move_target(recipe: dict, mask: int, letters: list[str]) -> int | None:
    """Where a variant's move from training set ``mask`` lands, in the variant's lattice.

    Poison adds P (the bit after the parent's units); weighting adds the unit
    at weight w; unlearning removes the unit (None when the set lacks it);
    the other kinds change the data or model of the same set.

    Examples
    --------
    >>> move_target({"kind": "unlearn", "unit": "B"}, 0b11, ["A", "B"])
    1
    >>> move_target({"kind": "poison", "unit": "B"}, 0b01, ["A", "B"])
    5
    """
    kind = recipe["kind"]
    if kind == "poison":
        return mask | 1 << len(letters)
    if kind == "weight":
        return mask | 1 << letters.index(recipe["unit"])
    if kind == "unlearn":
        bit = 1 << letters.index(recipe["unit"])
        return mask & ~bit if mask & bit else None
    return mask


def _parent_scores(world: World, mask: int):
    row = world.cells_at([mask], *state.metric_seed(world))[0]
    return [_num(x) for x in row]


def _variant_model(session, world: World) -> dict:
    parent = world.parent()
    recipe = world.record.recipe
    letter = poison_letter(parent.n) if parent else "P"
    model = {"mode": "variant", "world": world, "parent": parent, "recipe": recipe,
             "move": recipes.describe(recipe, letter), "summary": None, "summary_title": None}
    if parent is None:
        return model
    slices, rows = reports.delta_rows(session, world.name)
    model.update(slices=slices, delta_rows=rows)
    kind = recipe["kind"]
    model["delta_title"] = f"Delta against {parent.name}: variant − parent"
    if kind == "poison":
        # Sets without P are the parent's own cells: the informative grid is P's marginal contribution.
        slices, rows = reports.attack_rows(session, world.name)
        model.update(slices=slices, delta_rows=rows, delta_title=f"Attack delta f(S + {letter}) − f(S)",
                     summary_title=f"Attack delta and the values of the poison unit {letter}",
                     summary=reports.poison_rows(session, world.name))
    elif kind == "dp":
        model.update(summary_title="Cost of privacy", summary=reports.dp_rows(session, [world.name]))
    elif kind == "weight":
        chosen = request.args.get("slice") or slices[-1]
        _, sweep = reports.weight_rows(session, [world.name], chosen)
        model.update(summary_title=f"Score along each edge S → S + {recipe['unit']} on slice {chosen}",
                     summary=sweep)
    elif kind == "unlearn":
        tolerance = Q.parse_float(state.tolerance_arg(), "tolerance", Q.DEFAULT_TOLERANCE)
        per_slice, _ = reports.unlearn_rows(session, [world.name], tolerance)
        model.update(summary_title=f"Unlearning audit (tolerance {tolerance:g})", summary=per_slice)
    return model


@bp.route("/world/<world>/variants")
def page(world: str):
    """The variants page of a world (a sampled world has none: a page that says so and links on)."""
    w = state.load_world(world)
    if w.sampled:
        return render_template("sampled_only.html", world=w, page_name="variants")
    model = variants_model(w)
    return render_template("variants.html", **model)


@bp.route("/api/worlds/<world>/variants")
def api(world: str):
    """The same data as JSON."""
    model = variants_model(state.load_world(world))
    w = model.pop("world")
    parent = model.pop("parent", None)
    model.pop("recipe_kinds", None)
    return {"world": w.name, "kind": w.kind, "parent": parent.name if parent else None, **model}
