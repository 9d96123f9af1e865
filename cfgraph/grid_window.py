"""Row order, row filters and windows of a grid too large to draw whole.

A grid (see :class:`~cfgraph.selection.GridLike`) has one row per training set
(2^n) and one column per evaluation slice. The explorer shows a *window* of
it: rows ``r0:r1`` of the sorted, filtered row order by columns ``c0:c1``.
The order is computed for all 2^n training sets at once with numpy (a stable
``lexsort``), never with a Python loop over rows. Knows nothing of SQL or Flask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cfgraph import lattice
from cfgraph.errors import CfgraphError, NotFound
from cfgraph.selection import GridLike, parse_int

__all__ = ["RowQuery", "parse_row_query", "filter_text", "row_order", "window_cells", "STATUS_CODES", "SORTS"]

#: How rows may be sorted: by training-set size then label (the default), by label, or by value on a slice.
SORTS = ("size", "label", "value")
#: Cell status codes of a window: 0 stored, 1 missing, 2 failed.
STATUS_CODES = ("stored", "missing", "failed")
#: The query parameters of a row query (they travel in the grid page's URL).
ROW_QUERY_KEYS = ("sort", "dir", "vslice", "size", "has", "lacks", "vmin", "vmax")


@dataclass(frozen=True)
class RowQuery:
    """Which rows a window shows, and in which order.

    Attributes
    ----------
    sort : str
        ``"size"`` (size, then label), ``"label"`` or ``"value"`` (the value on slice ``vslice``;
        missing values last in either direction).
    descending : bool
    vslice : int
        The slice (column index) of the value sort and the value range.
    size : int or None
        Keep only training sets of this size k.
    has, lacks : int
        Keep only training sets holding every unit of ``has`` (a mask) and none of ``lacks``.
    vmin, vmax : float or None
        Keep only training sets whose value on ``vslice`` lies in [vmin, vmax] (missing ones drop out).

    Examples
    --------
    >>> RowQuery().is_default, RowQuery(size=2).is_default
    (True, False)
    """

    sort: str = "size"
    descending: bool = False
    vslice: int = 0
    size: int | None = None
    has: int = 0
    lacks: int = 0
    vmin: float | None = None
    vmax: float | None = None

    @property
    def is_default(self) -> bool:
        return self == RowQuery(vslice=self.vslice)

    @property
    def filtered(self) -> bool:
        return self.size is not None or self.has or self.lacks or self.vmin is not None or self.vmax is not None


def _units(grid: GridLike, text, what: str) -> int:
    text = "" if text is None else str(text).strip()
    if not text:
        return 0
    try:
        return lattice.parse_label(text, grid.letters)
    except CfgraphError as exc:
        raise CfgraphError(f"{what}: {str(exc).splitlines()[0]}") from None


def _bound(text, what: str) -> float | None:
    if text is None or str(text).strip() == "":
        return None
    try:
        value = float(str(text).strip())
    except ValueError:
        raise CfgraphError(f"{what} must be a number, not {str(text)[:40]!r}") from None
    if not math.isfinite(value):
        raise CfgraphError(f"{what} must be a finite number, not {value}")
    return value


def _strict(param, read, default):
    return read()


def parse_row_query(grid: GridLike, args, take=None) -> RowQuery:
    """A row query from URL arguments (``sort``, ``dir``, ``vslice``, ``size``, ``has``, ``lacks``,
    ``vmin``, ``vmax``; any mapping with ``.get``).

    Parameters
    ----------
    grid : GridLike
    args : mapping
    take : callable, optional
        ``take(param, read, default)``: how each parameter is read. By default the first bad one
        raises (the JSON API); the page passes :meth:`cfgraph.web.graph_params.Problems.take`,
        which notes the refusal and uses the default (``vmin > vmax`` refuses ``vmax``).

    Raises
    ------
    CfgraphError
        On an unknown sort or direction, a size out of 0..n, unknown units, a bound that is not a
        number or ``vmin > vmax`` (status 400).
    NotFound
        On an unknown slice.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> g = SimpleNamespace(letters="AB", slices=["all", "B"])
    >>> parse_row_query(g, {"sort": "value", "dir": "desc", "vslice": "B", "has": "A"})
    RowQuery(sort='value', descending=True, vslice=1, size=None, has=1, lacks=0, vmin=None, vmax=None)
    >>> noted = []
    >>> def lenient(param, read, default):
    ...     try:
    ...         return read()
    ...     except CfgraphError as exc:
    ...         noted.append(param)
    ...         return default
    >>> parse_row_query(g, {"has": "Z", "size": "9", "vmin": "0.9", "vmax": "0.1"}, lenient), noted
    (RowQuery(sort='size', descending=False, vslice=0, size=None, has=0, lacks=0, vmin=0.9, vmax=None), ['size', 'has', 'vmax'])
    """
    take = take or _strict

    def sort():
        value = (args.get("sort") or "size").strip()
        if value not in SORTS:
            raise CfgraphError(f"sort must be one of {', '.join(SORTS)}, not {value[:20]!r}")
        return value

    def direction():
        value = (args.get("dir") or "asc").strip()
        if value not in ("asc", "desc"):
            raise CfgraphError(f"dir must be asc or desc, not {value[:20]!r}")
        return value

    def vslice():
        name = args.get("vslice")
        if name is None or str(name) == "":
            return 0
        if name in grid.slices:
            return list(grid.slices).index(name)
        raise NotFound(f"no evaluation slice {str(name)[:60]!r} in this world (vslice)")

    chosen_sort, chosen_dir, chosen_slice = take("sort", sort, "size"), take("dir", direction, "asc"), take("vslice", vslice, 0)
    size = take("size", lambda: parse_int(args.get("size"), "size", 0, len(grid.letters)), None)
    has = take("has", lambda: _units(grid, args.get("has"), "has"), 0)
    lacks = take("lacks", lambda: _units(grid, args.get("lacks"), "lacks"), 0)
    vmin = take("vmin", lambda: _bound(args.get("vmin"), "vmin"), None)

    def upper():
        value = _bound(args.get("vmax"), "vmax")
        if vmin is not None and value is not None and vmin > value:
            raise CfgraphError(f"vmin={vmin:g} is above vmax={value:g}")
        return value

    vmax = take("vmax", upper, None)
    return RowQuery(sort=chosen_sort, descending=chosen_dir == "desc", vslice=chosen_slice, size=size,
                    has=has, lacks=lacks, vmin=vmin, vmax=vmax)


def filter_text(grid: GridLike, query: RowQuery) -> str:
    """The row filters of a query in words, e.g. "has A and lacks A" ("" when unfiltered).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> g = SimpleNamespace(letters="AB", labels=["∅", "A", "B", "AB"], slices=["all", "B"])
    >>> filter_text(g, RowQuery(has=1, lacks=1))
    'has A and lacks A'
    >>> filter_text(g, RowQuery(size=2, vmin=0.5, vslice=1))
    'size 2 and value on B from 0.5'
    """
    parts = []
    if query.size is not None:
        parts.append(f"size {query.size}")
    if query.has:
        parts.append(f"has {grid.labels[query.has]}")
    if query.lacks:
        parts.append(f"lacks {grid.labels[query.lacks]}")
    if query.vmin is not None or query.vmax is not None:
        low = "" if query.vmin is None else f" from {query.vmin:g}"
        high = "" if query.vmax is None else f" to {query.vmax:g}"
        parts.append(f"value on {grid.slices[query.vslice]}{low}{high}")
    return " and ".join(parts)


def row_order(grid: GridLike, query: RowQuery = RowQuery()) -> np.ndarray:
    """The training sets (masks) a row query keeps, in its order, shape (rows,).

    Vectorised over all 2^n masks: filters are boolean masks, the order one stable
    ``np.lexsort`` (ties broken by size, then label, as the default order).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> g = SimpleNamespace(letters="AB", labels=["∅", "A", "B", "AB"], slices=["all"],
    ...                     values=np.array([[0.1], [0.7], [0.4], [np.nan]]))
    >>> row_order(g).tolist(), row_order(g, RowQuery(sort="value", descending=True)).tolist()
    ([0, 1, 2, 3], [1, 2, 0, 3])
    >>> row_order(g, RowQuery(has=1)).tolist(), row_order(g, RowQuery(vmin=0.3)).tolist()
    ([1, 3], [1, 2])
    """
    n = len(grid.letters)
    masks = np.arange(1 << n, dtype=np.int64)
    size = np.bitwise_count(masks.astype(np.uint64)).astype(np.int64)
    # The empty set's label "∅" would sort after every letter; as "" it comes first.
    labels = np.asarray(list(grid.labels))
    labels[0] = ""
    values = np.asarray(grid.values, dtype=float)[:, query.vslice]
    keep = np.ones(masks.shape, dtype=bool)
    if query.size is not None:
        keep &= size == query.size
    if query.has:
        keep &= (masks & query.has) == query.has
    if query.lacks:
        keep &= (masks & query.lacks) == 0
    with np.errstate(invalid="ignore"):
        if query.vmin is not None:
            keep &= values >= query.vmin
        if query.vmax is not None:
            keep &= values <= query.vmax
    label_rank = np.argsort(np.argsort(labels, kind="stable"), kind="stable")
    if query.sort == "size":
        keys = [label_rank, -size if query.descending else size]
    elif query.sort == "label":
        keys = [-label_rank if query.descending else label_rank]
    else:
        missing = np.isnan(values)
        v = np.where(missing, 0.0, -values if query.descending else values)
        keys = [label_rank, size, v, missing]  # lexsort: the last key is the primary one
    order = np.lexsort(keys)
    return order[keep[order]]


def window_cells(values: np.ndarray, status: np.ndarray, masks: np.ndarray, c0: int, c1: int):
    """Values and status codes of rows ``masks`` x columns ``c0:c1``.

    Returns
    -------
    values : ndarray, shape (len(masks), c1 - c0)
        NaN where missing or failed.
    codes : ndarray of int, same shape
        0 stored, 1 missing, 2 failed (:data:`STATUS_CODES`).

    Examples
    --------
    >>> v = np.array([[0.5, np.nan], [np.nan, 0.2]])
    >>> s = np.array([["ok", ""], ["failed", "ok"]], dtype=object)
    >>> window_cells(v, s, np.array([1, 0]), 0, 2)[1].tolist()
    [[2, 0], [0, 1]]
    """
    block = values[masks, c0:c1]
    failed = status[masks, c0:c1] == "failed"
    codes = np.where(np.isnan(block), np.where(failed, 2, 1), 0)
    return block, codes
