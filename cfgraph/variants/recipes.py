"""Recipes of variant worlds: what was changed, with which parameters and seed.

A recipe is a plain JSON-able dict, stored in ``world.recipe``, from which the
variant world can be rebuilt on the parent's data::

    {"kind": "corrupt", "units": ["B"], "labels": 0.3, "features": 0.0, "seed": 0}

:func:`normalise` checks a recipe on its own (ranges, types) and fills in
defaults; :func:`resolve` checks it against the parent world's units. Both
raise :class:`~cfgraph.errors.CfgraphError` with one line, before anything
is written.
"""

from __future__ import annotations

import math

from cfgraph.errors import CfgraphError
from cfgraph.lattice import MAX_UNITS

#: The kinds of variant world, in the order the issue lists them.
KINDS = ("corrupt", "synthetic", "poison", "dp", "weight", "unlearn")
POISON_METHODS = ("flip", "boundary")
UNLEARN_METHODS = ("exact", "sisa", "warmstart")
COVARIANCES = ("full", "tied", "diag", "spherical")

_DEFAULTS = {
    "corrupt": {"labels": 0.0, "features": 0.0},
    "synthetic": {"components": 1, "covariance": "diag"},
    "poison": {"method": "flip", "copies": 1, "shift": 0.5},
    "dp": {},
    "weight": {},
    "unlearn": {"method": "sisa", "iterations": 3},
}
_REQUIRED = {
    "corrupt": ("units",), "synthetic": ("units",), "poison": ("unit",), "dp": ("epsilon",),
    "weight": ("unit", "weight"), "unlearn": ("unit",),
}


def normalise(recipe: dict) -> dict:
    """Check a recipe's parameters and fill in defaults.

    Parameters
    ----------
    recipe : dict
        ``kind`` (one of :data:`KINDS`), ``seed`` (int, default 0: seeds the
        recipe's own randomness, i.e. which labels flip, the feature noise, the
        mixtures' samples; poison, weight and unlearn recipes are deterministic,
        and a DP model's noise is seeded by the world's model seeds) and the
        kind's parameters:

        - corrupt: ``units`` (letters), ``labels`` (fraction r in [0, 1] of
          each unit's rows whose label is flipped), ``features`` (Gaussian
          noise, sigma >= 0 in feature standard deviations);
        - synthetic: ``units``, ``components`` (>= 1 per class),
          ``covariance`` (full, tied, diag, spherical);
        - poison: ``unit`` (the source), ``method`` (flip or boundary),
          ``copies`` (>= 1), ``shift`` (in [0, 1], boundary only);
        - dp: ``epsilon`` (> 0, finite);
        - weight: ``unit``, ``weight`` (w in (0, 1]);
        - unlearn: ``unit``, ``method`` (exact, sisa, warmstart),
          ``iterations`` (>= 1, warmstart only).

    Returns
    -------
    dict
        A new dict with every parameter present, in a fixed key order.

    Raises
    ------
    CfgraphError
        On an unknown kind, a missing or unknown parameter, or a value out of range.

    Examples
    --------
    >>> normalise({"kind": "weight", "unit": "B", "weight": 0.5})
    {'kind': 'weight', 'unit': 'B', 'weight': 0.5, 'seed': 0}
    """
    if not isinstance(recipe, dict):
        raise CfgraphError("a recipe is a dict with a 'kind'")
    kind = recipe.get("kind")
    if kind not in KINDS:
        raise CfgraphError(f"unknown variant kind {kind!r} (use {', '.join(KINDS)})")
    params = {k: v for k, v in recipe.items() if k not in ("kind", "seed")}
    allowed = set(_REQUIRED[kind]) | set(_DEFAULTS[kind])
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise CfgraphError(f"a {kind} recipe takes {', '.join(sorted(allowed))}; not {', '.join(unknown)}")
    for key in _REQUIRED[kind]:
        if params.get(key) is None:
            raise CfgraphError(f"a {kind} recipe needs {key!r}")
    out = {"kind": kind}
    for key in _REQUIRED[kind] + tuple(_DEFAULTS[kind]):
        out[key] = params.get(key, _DEFAULTS[kind].get(key))
    out["seed"] = _integer(recipe.get("seed", 0), "seed", 0)
    if "units" in out:
        units = out["units"]
        units = [u.strip() for u in units.split(",")] if isinstance(units, str) else [str(u) for u in units]
        if not units or any(not u for u in units):
            raise CfgraphError(f"a {kind} recipe needs at least one unit")
        if len(set(units)) != len(units):
            raise CfgraphError(f"a {kind} recipe names a unit twice")
        out["units"] = sorted(units)  # one recipe per set of units, applied in bit order
    if "unit" in out:
        out["unit"] = str(out["unit"]).strip()
    if kind == "corrupt":
        out["labels"] = _number(out["labels"], "label noise r", 0.0, 1.0)
        out["features"] = _number(out["features"], "feature noise sigma", 0.0, math.inf)
    elif kind == "synthetic":
        out["components"] = _integer(out["components"], "components", 1)
        if out["covariance"] not in COVARIANCES:
            raise CfgraphError(f"covariance must be one of {', '.join(COVARIANCES)}, not {out['covariance']!r}")
    elif kind == "poison":
        if out["method"] not in POISON_METHODS:
            raise CfgraphError(f"poison method must be one of {', '.join(POISON_METHODS)}, not {out['method']!r}")
        out["copies"] = _integer(out["copies"], "copies", 1)
        out["shift"] = _number(out["shift"], "shift", 0.0, 1.0)
    elif kind == "dp":
        out["epsilon"] = _number(out["epsilon"], "epsilon", 0.0, math.inf, open_low=True)
    elif kind == "weight":
        out["weight"] = _number(out["weight"], "weight w", 0.0, 1.0, open_low=True)
    elif kind == "unlearn":
        if out["method"] not in UNLEARN_METHODS:
            raise CfgraphError(f"unlearning method must be one of {', '.join(UNLEARN_METHODS)}, not {out['method']!r}")
        out["iterations"] = _integer(out["iterations"], "iterations", 1)
    return out


def resolve(recipe: dict, letters: list[str]) -> dict:
    """Check a normalised recipe against the parent world's unit letters.

    Returns
    -------
    dict
        The recipe, unchanged.

    Raises
    ------
    CfgraphError
        On a unit the parent does not have, or a poison unit that would take
        the lattice past the exhaustive limit of 16 units.
    """
    named = list(recipe.get("units", [])) + ([recipe["unit"]] if "unit" in recipe else [])
    for u in named:
        if u not in letters:
            raise CfgraphError(f"unknown unit {u!r} (the parent's units are {', '.join(letters)})")
    if recipe["kind"] == "poison" and len(letters) + 1 > MAX_UNITS:
        raise CfgraphError(
            f"a poison unit would give {len(letters) + 1} units; an exhaustive lattice allows at most {MAX_UNITS}"
        )
    return recipe


def unit_indices(recipe: dict, letters: list[str]) -> list[int]:
    """Bit positions of the units a recipe names."""
    named = recipe["units"] if "units" in recipe else [recipe["unit"]]
    return [letters.index(u) for u in named]


def describe(recipe: dict, poison_letter: str = "P") -> str:
    """The move a recipe makes, in words ("corrupt B labels 30%").

    Examples
    --------
    >>> describe({"kind": "weight", "unit": "B", "weight": 0.5, "seed": 0})
    'weight B 0.5'
    >>> describe({"kind": "corrupt", "units": ["B"], "labels": 0.3, "features": 0.0, "seed": 0})
    'corrupt B labels 30%'
    """
    kind = recipe["kind"]
    if kind == "corrupt":
        parts = []
        if recipe["labels"] or not recipe["features"]:
            parts.append(f"labels {recipe['labels']:.0%}")
        if recipe["features"]:
            parts.append(f"features sigma {recipe['features']:g}")
        return f"corrupt {'+'.join(recipe['units'])} {', '.join(parts)}"
    if kind == "synthetic":
        return f"replace {'+'.join(recipe['units'])} with synthetic"
    if kind == "poison":
        how = "flipped copies" if recipe["method"] == "flip" else f"boundary points (shift {recipe['shift']:g})"
        return f"add poison {poison_letter} ({how} of {recipe['unit']})"
    if kind == "dp":
        return f"train with epsilon {recipe['epsilon']:g}"
    if kind == "weight":
        return f"weight {recipe['unit']} {recipe['weight']:g}"
    return f"unlearn {recipe['unit']} ({recipe['method']})"


def default_name(parent: str, recipe: dict) -> str:
    """A variant's default world name, unique per parent and recipe.

    Examples
    --------
    >>> default_name("digits", {"kind": "dp", "epsilon": 1.0, "seed": 0})
    'digits~dp-eps1'
    """
    kind = recipe["kind"]
    if kind == "corrupt":
        tail = f"{''.join(recipe['units'])}-labels{recipe['labels']:g}"
        if recipe["features"]:
            tail += f"-features{recipe['features']:g}"
    elif kind == "synthetic":
        tail = f"{''.join(recipe['units'])}-k{recipe['components']}-{recipe['covariance']}"
    elif kind == "poison":
        tail = f"{recipe['method']}-{recipe['unit']}-x{recipe['copies']}"
        if recipe["method"] == "boundary":
            tail += f"-shift{recipe['shift']:g}"
    elif kind == "dp":
        tail = f"eps{recipe['epsilon']:g}"
    elif kind == "weight":
        tail = f"{recipe['unit']}-{recipe['weight']:g}"
    else:
        tail = f"{recipe['unit']}-{recipe['method']}"
        if recipe["method"] == "warmstart":
            tail += f"{recipe['iterations']}"
    seed = f"-seed{recipe['seed']}" if recipe.get("seed") else ""
    return f"{parent}~{kind}-{tail}{seed}"


def _number(value, what: str, low: float, high: float, open_low: bool = False) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        x = float(value)
    except (TypeError, ValueError):
        raise CfgraphError(f"{what} must be a number, not {value!r}") from None
    if math.isnan(x) or x < low or (open_low and x == low) or x > high or (math.isinf(x) and high != math.inf):
        interval = f"{'(' if open_low else '['}{low:g}, {high:g}{']' if math.isfinite(high) else ')'}"
        raise CfgraphError(f"{what} must be in {interval}, not {value}")
    if math.isinf(x):
        raise CfgraphError(f"{what} must be finite, not {value}")
    return x


def _integer(value, what: str, low: int) -> int:
    try:
        if isinstance(value, bool) or float(value) != int(float(value)):
            raise ValueError
        x = int(float(value))
    except (TypeError, ValueError, OverflowError):
        raise CfgraphError(f"{what} must be an integer, not {value!r}") from None
    if x < low:
        raise CfgraphError(f"{what} must be at least {low}, not {x}")
    return x
