"""The lattice page's parameters from the query string: strict for the JSON API, lenient for the page.

The JSON API refuses the first bad parameter (400 or 404, one line). The page
reads every parameter on its own, puts the default in place of a bad one and
shows each refusal inline beside the controls, so the rest of the view stays
usable and its links no longer carry the bad value.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from flask import request

from cfgraph import lattice
from cfgraph.errors import CfgraphError, NotFound
from cfgraph.questions import parse_int
from cfgraph.web import lenses, state

__all__ = ["Problems", "read_graph_args", "read_unit", "PATH_LIMIT", "parse_path", "refused_free_url", "hidden_args"]

#: The walked path keeps at most this many steps (the oldest drop off).
PATH_LIMIT = 48


class Problems:
    """Bad parameters met while reading one request.

    ``strict``: the first one is raised (the JSON API); otherwise each is kept as
    ``(parameter, message)`` and the default used (the page).

    Examples
    --------
    >>> p = Problems(strict=False)
    >>> p.take("k", lambda: int("x"), 0, errors=ValueError), p.messages
    (0, [('k', "invalid literal for int() with base 10: 'x'")])
    """

    def __init__(self, strict: bool):
        self.strict = strict
        self.messages: list[tuple[str, str]] = []

    def take(self, param: str, read, default, errors=CfgraphError):
        """``read()``, or ``default`` after noting why not (strict: the error is raised)."""
        try:
            return read()
        except errors as exc:
            # a store that does not answer (503) is not a bad parameter
            if self.strict or getattr(exc, "status", 400) not in (400, 404):
                raise
            self.messages.append((param, (str(exc).splitlines() or ["bad value"])[0]))
            return default

    @property
    def params(self) -> set[str]:
        """The parameters refused (links and forms drop them)."""
        return {p for p, _ in self.messages}


def parse_path(world, text: str | None, node: int) -> list[int]:
    """The walked path from ``path=∅,A,AB`` (labels separated by commas), ending at the node."""
    path = [world.mask_of(part) for part in text.split(",")] if text else []
    if not path or path[-1] != node:
        path.append(node)
    return path[-PATH_LIMIT:]


def read_unit(letters, text) -> int | None:
    """A unit's index from its label (None when not given).

    Raises
    ------
    NotFound
        On a label that is not one of the world's units.
    """
    if not text:
        return None
    text = str(text).strip()
    if text not in letters:
        raise NotFound(f"unknown unit {text[:20]!r} (units: {', '.join(letters)})")
    return letters.index(text)


def _lens_key(args) -> str:
    key = args.get("lens") or ""
    if key and key not in lenses.LENSES:
        raise CfgraphError(f"unknown lens {key[:30]!r} (lenses: {', '.join(lenses.LENSES)})")
    return key


def read_graph_args(world, args, problems: Problems) -> dict:
    """Every parameter of the lattice page, checked in the order the API has always refused them.

    Returns
    -------
    dict
        ``metric``, ``seed``, ``seed_arg`` (the seed as asked, None when refused), ``slice``,
        ``node``, ``path``, ``lens_key``, ``params`` (:class:`cfgraph.web.lenses.LensParams`).
    """
    args = request.args if args is None else args
    take = problems.take
    metric = take("metric", lambda: world.choose(args.get("metric"))[0], world.choose()[0])
    seed = take("seed", lambda: world.choose(metric, args.get("seed"))[1], world.choose(metric)[1])
    seed_arg = None if "seed" in problems.params else args.get("seed")
    for name in ("alpha", "beta", "tol"):  # carried to the grid in links: refused here as there
        take(name, lambda name=name: state.focus_numbers(_only(args, name)), None)
    the_slice = take("slice", lambda: world.find_slice(args.get("slice")), world.find_slice(None))
    n, letters = world.n, world.letters
    node = take("node", lambda: world.mask_of(args.get("node", lattice.EMPTY_LABEL)), 0)
    path = take("path", lambda: parse_path(world, args.get("path"), node), [node])
    lens_key = take("lens", lambda: _lens_key(args), "")
    inside = lattice.members(node, n)
    unit = take("unit", lambda: read_unit(letters, args.get("unit")), None)
    if unit is None:
        unit = inside[0] if inside else 0
    other = take("pair", lambda: read_unit(letters, args.get("pair")), None)
    if other is not None and other == unit and lens_key == "square":
        take("pair", lambda: _distinct_pair(letters, unit, "unit" in args and bool(args.get("unit"))), None)
    if other is None or other == unit:
        other = next((u for u in range(n) if u != unit), unit)
    full = (1 << n) - 1
    coalition = take("coalition", lambda: world.mask_of(args["coalition"]) if args.get("coalition") else None, None)
    k = take("k", lambda: parse_int(args.get("k"), "k", 0, n), None)
    order = take("order", lambda: lenses.parse_order(args.get("order"), letters), list(range(n)))
    params = lenses.LensParams(node=node, unit=unit, other_unit=other,
                               coalition=(node or full) if coalition is None else coalition,
                               k=node.bit_count() if k is None else k, order=order)
    return {"metric": metric, "seed": seed, "seed_arg": seed_arg, "slice": the_slice, "node": node,
            "path": path, "lens_key": lens_key, "params": params}


def _distinct_pair(letters, unit: int, named: bool):
    """Refuse a second unit that is the focus unit: the interaction square needs two distinct units.

    Raises
    ------
    CfgraphError
        Always (it is called only when ``pair`` equals the focus unit).
    """
    whence = "" if named else f" (with no unit= the focus unit is the node's first unit, else {letters[0]})"
    raise CfgraphError(f"pair={letters[unit]} is the focus unit {letters[unit]}{whence}: the interaction square "
                       f"needs two distinct units, the focus unit i and a second unit j (pair=)")


def _only(args, name: str) -> dict:
    """The query arguments of one focus number (``tol`` comes with its long name ``tolerance``)."""
    keys = ("tol", "tolerance") if name == "tol" else (name,)
    return {k: args.get(k) for k in keys if args.get(k) is not None}


def refused_free_url(refused, **changes) -> str:
    """The request's URL with some parameters changed (None removes one) and the ``refused`` ones
    dropped, so a link out of a page that named a bad parameter does not carry it on."""
    args = {k: v for k, v in request.args.to_dict(flat=False).items() if k not in refused}
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = [str(value)]
    query = urlencode([(k, v) for k, vs in args.items() for v in vs])
    return quote(request.path, safe="/") + ("?" + query if query else "")


def hidden_args(refused, drop) -> list[tuple[str, str]]:
    """The query arguments a form carries along: all but ``drop`` and the refused ones."""
    drop = set(drop) | set(refused)
    return [(k, v) for k, vs in request.args.to_dict(flat=False).items() if k not in drop for v in vs]
