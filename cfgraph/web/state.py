"""View state from the URL: the world, its grid, the selection and the questions' focus.

Every page reads its whole state from the query string (so a copied link
reopens the same view); these helpers hand the arguments to the application
layer (:class:`cfgraph.world.World`), which raises
:class:`~cfgraph.errors.CfgraphError` (400) or :class:`~cfgraph.errors.NotFound`
(404) with a one-line message.
"""

from __future__ import annotations

from flask import current_app, request

from cfgraph.errors import CfgraphError
from cfgraph.selection import DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_TOLERANCE, parse_float
from cfgraph.world import Grid, Questions, World
from cfgraph.web.db import get_session

#: Query parameters that make up a grid selection.
SELECTION_KEYS = ("cell", "row", "col", "layer")
#: Query parameters of the questions' focus.
FOCUS_KEYS = ("unit", "pair", "coalition", "k", "alpha", "beta", "tol")
PALETTES = ("viridis", "heat", "greys")


def load_world(name: str) -> World:
    """The stored world called ``name``, read through this request's session (404 when there is none)."""
    return World.open(get_session(), name)


def metric_seed(world: World, args=None) -> tuple[str, int]:
    """The requested (or default) metric and seed of a world."""
    args = request.args if args is None else args
    return world.choose(args.get("metric"), args.get("seed"))


def load_grid(world: World, args=None) -> Grid:
    """The world's grid for the requested metric and seed; across seeds (mean ± interval)
    when no seed is named and two or more are stored."""
    args = request.args if args is None else args
    return world.grid(args.get("metric"), args.get("seed"))


def ask(world: World, table, keys=None) -> Questions:
    """The selection, focus and answers of the grid's questions for this request."""
    args = request.args
    cells = args.getlist("cell")
    # the last cell added is the current one, as on the grid page (cfgraph.focus_sources.current_first)
    cells = cells[-1:] + cells[:-1]
    return world.questions(
        table, cells=cells, rows=args.getlist("row"), columns=args.getlist("col"),
        layer=args.get("layer"), keys=keys, unit=args.get("unit"), pair=args.get("pair"),
        coalition=args.get("coalition"), k=args.get("k"), alpha=args.get("alpha"), beta=args.get("beta"),
        tolerance=tolerance_arg(args))


def tolerance_arg(args=None) -> str | None:
    """The unlearning tolerance as given: ``tol``, or ``tolerance`` (the CLI's name for it).

    Raises
    ------
    CfgraphError
        If both are given and differ.
    """
    args = request.args if args is None else args
    short, long = (args.get(key) or None for key in ("tol", "tolerance"))
    if short is not None and long is not None and short.strip() != long.strip():
        raise CfgraphError(f"tol={short[:20]!r} and tolerance={long[:20]!r} disagree: give one")
    return short if short is not None else long


#: Beta Shapley's alpha and beta are read in (0, MAX_BETA_PARAMETER]: plenty for any weighting, and a
#: value past it (1e308) would only print as a page-wide number.
MAX_BETA_PARAMETER = 1e6


def beta_parameter(text, what: str, default: float) -> float:
    """Beta Shapley's ``alpha`` or ``beta`` from a query argument, in (0, 1e6].

    Raises
    ------
    CfgraphError
        If it is not a number in that range.

    Examples
    --------
    >>> beta_parameter("4", "alpha", 16.0), beta_parameter(None, "beta", 1.0)
    (4.0, 1.0)
    >>> beta_parameter("1e308", "alpha", 16.0)
    Traceback (most recent call last):
    ...
    cfgraph.errors.CfgraphError: alpha must be in (0, 1e6] (Beta Shapley's alpha and beta; 1e6 is plenty), not 1e+308
    """
    value = parse_float(text, what, default)
    if value > MAX_BETA_PARAMETER:
        raise CfgraphError(f"{what} must be in (0, 1e6] (Beta Shapley's alpha and beta; 1e6 is plenty), "
                           f"not {value:g}")
    return value


def focus_numbers(args=None) -> dict[str, float]:
    """Beta Shapley's ``alpha`` and ``beta`` and the unlearning tolerance, checked, for pages that
    only carry them along in their links (as the grid's questions would read them).

    Raises
    ------
    CfgraphError
        If one is not a finite number above 0 (alpha and beta: at most 1e6).
    """
    args = request.args if args is None else args
    return {"alpha": beta_parameter(args.get("alpha"), "alpha", DEFAULT_ALPHA),
            "beta": beta_parameter(args.get("beta"), "beta", DEFAULT_BETA),
            "tolerance": parse_float(tolerance_arg(args), "tolerance", DEFAULT_TOLERANCE)}


def palette() -> str:
    name = request.args.get("palette", PALETTES[0])
    return name if name in PALETTES else PALETTES[0]


def kept_args(drop=SELECTION_KEYS) -> list[tuple[str, str]]:
    """The current query arguments minus some keys, as (key, value) pairs."""
    return [(k, v) for k, vs in request.args.to_dict(flat=False).items() if k not in drop for v in vs]


def related_topics(kind: str) -> set[str]:
    """Question keys (``kind="questions"``) or glossary slugs (``"glossary"``) that the Related
    Work page has shelves for; empty when the app has no Related Work page."""
    if "related.index" not in current_app.view_functions:
        return set()
    try:
        from cfgraph.semble.queries import load_related_map
    except ImportError:
        return set()
    return set(load_related_map().get(kind, {}))
