"""The lab's state: two sets of cells (World A, World B), a lens and parameters, as a URL and a file.

A cell is named by a :class:`CellRef` (world, training-set label as the grid
prints it, slice, and optionally metric and seed), written ``world|train|slice|metric|seed``
with trailing empty parts dropped. ``*`` as the training set or the slice stands
for every training set or every slice of the world (``digits|*|*`` is the whole
grid), so a world-against-variant comparison stays a short link.

The state round-trips through the query string (``/lab?a=...&b=...&lens=...&p.tol=...``)
and through a versioned JSON document::

    {"cfgraph_lab": 1, "a": ["digits|ABCD|all"], "b": ["digits|BCD|all"], "lens": null, "params": {"tol": "0"}}

The parameters the lab knows are :data:`PARAMS`; :func:`check_params` applies the
checks the page applies (a known lens, a tolerance >= 0, ``top`` in range, a known
pairing ...), and a document is read only if they pass. ``p.pairing=matched`` with
``p.add=E`` and ``p.match=train+slice`` pairs each A cell with the B cell of its
training set plus E on its slice (:func:`cfgraph.compare.compare`).

Reading a document is all-or-nothing: :meth:`LabState.from_document` returns a
whole state or raises one :class:`~cfgraph.errors.CfgraphError` naming the first problem.
Nothing here reads the store; :mod:`cfgraph.compare` resolves the references.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from urllib.parse import urlencode

from cfgraph.errors import CfgraphError

__all__ = ["VERSION", "MAX_CELLS", "MAX_DOCUMENT_BYTES", "MAX_TEXT", "MAX_PARAMS", "CellRef", "LabState", "ANY",
           "LENSES", "PAIRINGS", "MATCHES", "PARAMS", "DEFAULT_TOP", "MAX_TOP", "check_params"]

#: Version of the JSON document (its ``cfgraph_lab`` key).
VERSION = 1
#: Cell references per set (a wildcard reference counts as one).
MAX_CELLS = 500
#: Longest text accepted for one name or value (a world name is at most 200 characters).
MAX_TEXT = 400
#: Parameters per state.
MAX_PARAMS = 32
#: Training set or slice that stands for all of them.
ANY = "*"

#: The lab's lenses (None: everything).
LENSES = ("summary", "pairs", "grids")
#: Pairings: every A x B pair, or each A cell with the B cells of its training set (plus ``add``).
PAIRINGS = ("all", "matched")
#: What a matched pair shares besides the training set: its slice too, or nothing else.
MATCHES = ("train+slice", "train")
#: Pairs listed by |delta| unless ``p.top`` says otherwise (at most MAX_TOP).
DEFAULT_TOP, MAX_TOP = 10, 200
#: Every parameter the lab reads: the picker's world, seed and side; the comparison's tolerance,
#: number of top pairs, pairing, units added by matched pairs, and what else a matched pair shares.
PARAMS = ("world", "seed", "side", "tol", "top", "pairing", "add", "match")

_PARAM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_DOC_KEYS = ("cfgraph_lab", "a", "b", "lens", "params")


def _text(value, what: str, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise CfgraphError(f"{what} must be text, not {type(value).__name__}")
    if len(value) > MAX_TEXT:
        raise CfgraphError(f"{what} is {len(value)} characters long (at most {MAX_TEXT})")
    if not empty and not value.strip():
        raise CfgraphError(f"{what} is empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise CfgraphError(f"{what} holds a control character")
    return value


@dataclass(frozen=True)
class CellRef:
    """One cell of a stored world, by name.

    Attributes
    ----------
    world : str
        The world's name.
    train : str
        Training-set label as the grid prints it ("ACD", "∅" for the empty set), or ``*`` for all.
    slice : str
        Evaluation slice name, or ``*`` for all.
    metric : str or None
        None: the world's own metric.
    seed : int or None
        None: the world's lowest seed.

    Examples
    --------
    >>> CellRef("digits", "ABCD", "all").to_text()
    'digits|ABCD|all'
    >>> CellRef.from_text("digits|BCD|all||1")
    CellRef(world='digits', train='BCD', slice='all', metric=None, seed=1)
    """

    world: str
    train: str
    slice: str
    metric: str | None = None
    seed: int | None = None

    def __post_init__(self):
        for what in ("world", "train", "slice"):
            if "|" in _text(getattr(self, what), f"a cell's {what}"):
                raise CfgraphError(f"a cell's {what} {getattr(self, what)[:40]!r} holds '|', "
                                   "which separates the parts of a cell")
        if self.metric is not None and "|" in _text(self.metric, "a cell's metric"):
            raise CfgraphError("a cell's metric holds '|'")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)
                                      or not -2**31 <= self.seed < 2**31):
            raise CfgraphError(f"a cell's seed must be an integer, not {str(self.seed)[:20]!r}")

    def to_text(self) -> str:
        """``world|train|slice|metric|seed`` with trailing empty parts dropped."""
        parts = [self.world, self.train, self.slice, self.metric or "",
                 "" if self.seed is None else str(self.seed)]
        while parts[-1] == "":
            parts.pop()
        return "|".join(parts)

    @classmethod
    def from_text(cls, text: str) -> CellRef:
        """Parse ``world|train|slice[|metric[|seed]]``.

        Raises
        ------
        CfgraphError
            On text that is not 3 to 5 parts, an empty world, training set or slice, or a seed that
            is not an integer.

        Examples
        --------
        >>> CellRef.from_text("toy|AB")
        Traceback (most recent call last):
        ...
        cfgraph.errors.CfgraphError: cell 'toy|AB' is not world|train|slice[|metric[|seed]]
        """
        text = _text(text, "a cell")
        parts = text.split("|")
        if not 3 <= len(parts) <= 5:
            raise CfgraphError(f"cell {text[:60]!r} is not world|train|slice[|metric[|seed]]")
        parts += [""] * (5 - len(parts))
        world, train, slice_, metric, seed = (p.strip() for p in parts)
        if seed and not re.fullmatch(r"-?\d{1,10}", seed):
            raise CfgraphError(f"cell {text[:60]!r}: seed {seed[:20]!r} is not an integer")
        return cls(world, train, slice_, metric or None, int(seed) if seed else None)


def _refs(values, side: str) -> tuple[CellRef, ...]:
    if len(values) > MAX_CELLS:
        raise CfgraphError(f"set {side.upper()} has {len(values)} cells (at most {MAX_CELLS}; "
                           f"use '{ANY}' for every training set or slice)")
    return tuple(CellRef.from_text(v) for v in values)


def _param(name, value) -> tuple[str, str]:
    name = _text(name, "a parameter name")
    if not _PARAM_NAME.match(name):
        raise CfgraphError(f"parameter name {name[:40]!r} is not lower-case letters, digits and '_'")
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise CfgraphError(f"parameter {name} must be text or a number, not {type(value).__name__}")
    return name, _text(str(value), f"parameter {name}", empty=True)


def _check_param(name: str, value: str) -> None:
    text = value.strip()
    if name == "tol" and text:
        try:
            tol = float(text)
        except ValueError:
            raise CfgraphError(f"the tolerance must be a number, not {text[:30]!r}") from None
        if not math.isfinite(tol) or tol < 0:
            raise CfgraphError(f"the tolerance must be a finite number >= 0, not {text[:30]!r}")
    elif name == "top" and text and (not text.isdigit() or not 1 <= int(text) <= MAX_TOP):
        raise CfgraphError(f"top must be a whole number from 1 to {MAX_TOP}, not {text[:20]!r}")
    elif name == "pairing" and text and text not in PAIRINGS:
        raise CfgraphError(f"unknown pairing {text[:20]!r} (pairings: {', '.join(PAIRINGS)})")
    elif name == "match" and text and text not in MATCHES:
        raise CfgraphError(f"unknown match {text[:20]!r} (matches: {', '.join(MATCHES)})")
    elif name == "side" and text and text not in ("a", "b"):
        raise CfgraphError(f"side {text[:10]!r} is not a or b")
    elif name == "seed" and text and not re.fullmatch(r"-?\d{1,10}", text):
        raise CfgraphError(f"seed {text[:20]!r} is not an integer")
    elif name == "add" and text and not re.fullmatch(r"[^|*]{1,200}", text):
        raise CfgraphError(f"add {text[:20]!r} is not a training-set label (unit letters, like E or A+E)")


def check_params(lens, params) -> None:
    """Refuse a lens or parameters the lab would refuse: the page's checks, for the page and for imports.

    Which units ``add`` names is checked against the worlds when comparing (it needs the store).

    Parameters
    ----------
    lens : str or None
    params : iterable of (str, str)

    Raises
    ------
    CfgraphError
        On an unknown lens or parameter name, a tolerance that is not a number >= 0, ``top`` not in
        1..MAX_TOP, an unknown pairing, match or side, a seed that is not an integer.

    Examples
    --------
    >>> check_params("pairs", [("tol", "0.01"), ("pairing", "matched"), ("add", "E")])
    >>> check_params(None, [("tol", "-1")])
    Traceback (most recent call last):
    ...
    cfgraph.errors.CfgraphError: the tolerance must be a finite number >= 0, not '-1'
    """
    if lens is not None and lens not in LENSES:
        raise CfgraphError(f"unknown lens {str(lens)[:30]!r} (lenses: {', '.join(LENSES)})")
    for name, value in params:
        if name not in PARAMS:
            raise CfgraphError(f"unknown parameter {name[:32]!r} (parameters: {', '.join(PARAMS)})")
        _check_param(name, value)


@dataclass(frozen=True)
class LabState:
    """The lab's whole state: set A, set B, the lens, and named parameters.

    Examples
    --------
    >>> s = LabState(a=(CellRef("digits", "ABCD", "all"),), b=(CellRef("digits", "BCD", "all"),),
    ...              params=(("tol", "0.01"),))
    >>> s.url()
    '/lab?a=digits%7CABCD%7Call&b=digits%7CBCD%7Call&p.tol=0.01'
    >>> LabState.from_query(s.to_query()) == s, LabState.from_document(s.to_document()) == s
    (True, True)
    >>> LabState.from_document({"cfgraph_lab": 2})
    Traceback (most recent call last):
    ...
    cfgraph.errors.CfgraphError: not a cfgraph lab document of version 1: cfgraph_lab must be the integer 1, not 2
    >>> LabState.from_document({"cfgraph_lab": "1"})
    Traceback (most recent call last):
    ...
    cfgraph.errors.CfgraphError: not a cfgraph lab document of version 1: cfgraph_lab must be the integer 1, not the string '1'
    """

    a: tuple[CellRef, ...] = ()
    b: tuple[CellRef, ...] = ()
    lens: str | None = None
    params: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        if len(self.a) > MAX_CELLS or len(self.b) > MAX_CELLS:
            raise CfgraphError(f"a set holds more than {MAX_CELLS} cells")
        if self.lens is not None:
            _text(self.lens, "the lens")
        if len(self.params) > MAX_PARAMS:
            raise CfgraphError(f"{len(self.params)} parameters (at most {MAX_PARAMS})")
        names = [_param(k, v)[0] for k, v in self.params]
        if len(set(names)) != len(names):
            raise CfgraphError("a parameter is given twice")

    def param(self, name: str, default: str | None = None) -> str | None:
        """A parameter's value (``default`` when it is not set)."""
        return dict(self.params).get(name, default)

    def with_params(self, **changes) -> LabState:
        """The same state with some parameters set (None removes one)."""
        params = dict(self.params)
        for k, v in changes.items():
            if v is None or v == "":
                params.pop(k, None)
            else:
                params[k] = str(v)
        return LabState(self.a, self.b, self.lens, tuple(sorted(params.items())))

    def to_query(self) -> list[tuple[str, str]]:
        """Query pairs: ``a=...`` and ``b=...`` per cell, ``lens=...``, ``p.<name>=...``."""
        out = [("a", c.to_text()) for c in self.a] + [("b", c.to_text()) for c in self.b]
        if self.lens:
            out.append(("lens", self.lens))
        return out + [(f"p.{k}", v) for k, v in self.params]

    def url(self) -> str:
        """``/lab?`` and the query (``/lab`` for the empty state)."""
        query = urlencode(self.to_query())
        return "/lab" + ("?" + query if query else "")

    @classmethod
    def from_query(cls, args) -> LabState:
        """The state in a query (a werkzeug MultiDict or a list of pairs); other keys are ignored.

        Raises
        ------
        CfgraphError
            On a malformed cell, too many cells, or a bad parameter.
        """
        pairs = list(args.items(multi=True)) if hasattr(args, "getlist") else list(args)
        a = _refs([v for k, v in pairs if k == "a"], "a")
        b = _refs([v for k, v in pairs if k == "b"], "b")
        lenses = [v for k, v in pairs if k == "lens" and v]
        params = {}
        for k, v in pairs:
            if k.startswith("p.") and v != "":
                name, value = _param(k[2:], v)
                params[name] = value
        return cls(a, b, lenses[-1] if lenses else None, tuple(sorted(params.items())))

    def to_document(self) -> dict:
        """The versioned JSON document: ``{"cfgraph_lab": 1, "a": [...], "b": [...], "lens", "params"}``."""
        return {"cfgraph_lab": VERSION, "a": [c.to_text() for c in self.a], "b": [c.to_text() for c in self.b],
                "lens": self.lens, "params": dict(self.params)}

    @classmethod
    def from_document(cls, doc) -> LabState:
        """A state from a parsed document (or its JSON text), all or nothing.

        Raises
        ------
        CfgraphError
            Naming the first problem: not JSON, not an object, wrong version, an unknown key, a
            value of the wrong type, too many cells, an over-long or malformed string.
        """
        if isinstance(doc, (bytes, bytearray, str)):
            doc = _parse_json(doc)
        if not isinstance(doc, dict):
            raise CfgraphError(f"a lab document is a JSON object, not {_json_type(doc)}")
        version = doc.get("cfgraph_lab")
        if version != VERSION or not isinstance(version, int) or isinstance(version, bool):
            raise CfgraphError(f"not a cfgraph lab document of version {VERSION}: cfgraph_lab must be the integer "
                               f"{VERSION}, not {_shown(version) if 'cfgraph_lab' in doc else 'missing'}")
        for key in doc:
            if key not in _DOC_KEYS:
                raise CfgraphError(f"unknown key {str(key)[:40]!r} in the lab document "
                                   f"(keys: {', '.join(_DOC_KEYS)})")
        sets = []
        for side in ("a", "b"):
            cells = doc.get(side, [])
            if not isinstance(cells, list):
                raise CfgraphError(f"{side!r} must be a list of cells, not {_json_type(cells)}")
            if len(cells) > MAX_CELLS:
                raise CfgraphError(f"set {side.upper()} has {len(cells)} cells (at most {MAX_CELLS})")
            for i, c in enumerate(cells):
                if not isinstance(c, str):
                    raise CfgraphError(f"{side}[{i}] must be a cell as text, not {_json_type(c)}")
            sets.append(_refs(cells, side))
        lens = doc.get("lens")
        if lens is not None and not isinstance(lens, str):
            raise CfgraphError(f"'lens' must be text or null, not {_json_type(lens)}")
        params = doc.get("params", {})
        if not isinstance(params, dict):
            raise CfgraphError(f"'params' must be an object, not {_json_type(params)}")
        if len(params) > MAX_PARAMS:
            raise CfgraphError(f"'params' has {len(params)} entries (at most {MAX_PARAMS})")
        for k, v in params.items():
            if not isinstance(v, str):
                raise CfgraphError(f"parameter {str(k)[:32]!r} must be text (as exported), not {_shown(v)}")
        checked = tuple(sorted(_param(k, v) for k, v in params.items()))
        check_params(lens or None, checked)
        return cls(sets[0], sets[1], lens or None, checked)


#: Largest document read (bytes); a lab state of 2 x 500 cells fits in well under this.
MAX_DOCUMENT_BYTES = 512 * 1024


def _parse_json(text) -> object:
    import json

    if len(text) > MAX_DOCUMENT_BYTES:
        raise CfgraphError(f"the lab document is over {MAX_DOCUMENT_BYTES // 1024} KB, the most the lab reads")
    try:
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8")
        return json.loads(text)
    except UnicodeDecodeError:
        raise CfgraphError("the lab document is not UTF-8 text") from None
    except (ValueError, RecursionError) as exc:
        first = str(exc).splitlines()[0][:80] if str(exc) else "malformed"
        raise CfgraphError(f"the lab document is not JSON ({first})") from None


def _shown(value) -> str:
    """A JSON value for a message, with its type: ``the string '1'``, ``true``, ``2``, ``a list``."""
    if isinstance(value, str):
        return f"the string {value[:20]!r}"
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, (int, float)):
        return f"the number {str(value)[:20]}" if isinstance(value, float) else str(value)[:20]
    return _json_type(value)


def _json_type(value) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)
