"""Data strikes (coordinated withdrawal) and each coalition's leverage, exact over the lattice.

A data strike by coalition C from training set N removes C's units; its
leverage on a slice is the drop ``v(N) - v(N \\ C)``. Every coalition's drop
is one gather from the lattice array, so the strongest and weakest coalition
of each size k are exact, with no sampling.

Nothing here knows of SQL: arrays indexed by bitmask, as in :mod:`cfgraph.values`.
"""

from __future__ import annotations

import numpy as np

from cfgraph import values as V
from cfgraph.errors import CfgraphError, MissingCells
from cfgraph.lattice import removal_path, sizes


def strike_path(v: np.ndarray, order, start: int | None = None) -> dict:
    """The path of a data strike: members leave one at a time, with the drop at each step.

    Parameters
    ----------
    v : ndarray, shape (2**n,) or (2**n, m)
    order : sequence of int
        The striking units, in the order they leave.
    start : int, optional
        The training set they leave (the full set by default).

    Returns
    -------
    dict
        ``masks`` (the k + 1 training sets visited), ``values`` (their cells),
        ``drops`` (``values[j] - values[j + 1]``, k steps), ``total`` (the
        coalition's drop ``v(start) - v(start \\ C)``).

    Raises
    ------
    CfgraphError
        If a unit is repeated or not in ``start``.
    MissingCells
        If a cell on the path is missing.

    References
    ----------
    Vincent, Hecht & Sen (2019), "'Data strikes': evaluating the effectiveness of a new
    form of collective action against technology companies"; Vincent, Li, Tilly, Chancellor
    & Hecht (2021), "Data leverage: a framework for empowering the public in its
    relationship with technology companies".

    Examples
    --------
    >>> r = strike_path(np.array([0.1, 0.5, 0.6, 0.9]), [1, 0])
    >>> r["masks"], r["drops"].round(2).tolist(), round(float(r["total"]), 2)
    ([3, 1, 0], [0.4, 0.4], 0.8)
    """
    v = np.asarray(v, dtype=float)
    n = V.n_units_of(v)
    start = (1 << n) - 1 if start is None else int(start)
    order = [int(i) for i in order]
    if not order:
        raise CfgraphError("a data strike needs at least one striking unit")
    if any(not 0 <= i < n for i in order):
        raise CfgraphError(f"striking units must be in 0..{n - 1}")
    if len(set(order)) != len(order):
        raise CfgraphError("a unit cannot strike twice")
    masks = removal_path(order, start)
    gaps = np.isnan(v[masks]).reshape(len(masks), -1).any(axis=1)
    if gaps.any():
        raise MissingCells(np.array(masks)[gaps].tolist(), None, "the data strike path")
    cells = v[masks]
    coalition = masks[0] & ~masks[-1]
    return {"masks": masks, "values": cells, "drops": cells[:-1] - cells[1:],
            "total": V.group_leave_one_out(v, coalition, base=start)}


def coalition_drops(v: np.ndarray, start: int | None = None) -> np.ndarray:
    """The drop ``v(start) - v(start \\ C)`` for every coalition C, indexed by C's mask.

    Parameters
    ----------
    v : ndarray, shape (2**n,) or (2**n, m)
    start : int, optional
        The training set the coalitions withdraw from (the full set by default).

    Returns
    -------
    ndarray, same shape as ``v``
        NaN for coalitions not inside ``start`` or whose cells are missing.

    Examples
    --------
    >>> coalition_drops(np.array([0.1, 0.5, 0.6, 0.9])).round(2).tolist()
    [0.0, 0.3, 0.4, 0.8]
    """
    v = np.asarray(v, dtype=float)
    n = V.n_units_of(v)
    start = (1 << n) - 1 if start is None else int(start)
    coalitions = np.arange(1 << n)
    drops = np.full(v.shape, np.nan)
    inside = np.flatnonzero((coalitions & ~start) == 0)[1:]  # every non-empty coalition inside start
    drops[inside] = V.group_leave_one_out(v, inside, base=start, missing="nan")
    drops[0] = v[start] - v[start]  # the empty coalition moves nothing (NaN when v(start) is missing)
    return drops


def strike_extremes(v: np.ndarray, start: int | None = None) -> dict:
    """The strongest and weakest coalition of each size k: the leverage of groups, exactly.

    Parameters
    ----------
    v : ndarray, shape (2**n,) or (2**n, m)
    start : int, optional
        The training set struck (the full set by default).

    Returns
    -------
    dict
        ``sizes`` (k = 1 .. |start|), ``strongest`` / ``weakest`` (masks, shape
        (K,) or (K, m); -1 where no drop of that size is known),
        ``strongest_drop`` / ``weakest_drop`` (their drops), ``missing``
        (coalitions of each size whose drop is unknown). Ties go to the lowest mask.

    References
    ----------
    Vincent, Li, Tilly, Chancellor & Hecht (2021), "Data leverage: a framework for
    empowering the public in its relationship with technology companies".

    Examples
    --------
    >>> r = strike_extremes(np.array([0.1, 0.5, 0.6, 0.9]))
    >>> r["strongest"].tolist(), r["weakest"].tolist()
    ([2, 3], [1, 3])
    """
    v = np.asarray(v, dtype=float)
    n = V.n_units_of(v)
    start = (1 << n) - 1 if start is None else int(start)
    drops = coalition_drops(v, start)
    size = sizes(n)
    inside = (np.arange(1 << n) & ~start) == 0
    ks = np.arange(1, int(start).bit_count() + 1)
    tail = v.shape[1:]
    out = {"sizes": ks}
    for name, sign in (("strongest", 1.0), ("weakest", -1.0)):
        masks = np.full((len(ks),) + tail, -1, dtype=np.int64)
        best = np.full((len(ks),) + tail, np.nan)
        for j, k in enumerate(ks):  # one vectorised pass per size k
            layer = np.flatnonzero(inside & (size == k))
            scored = np.where(np.isnan(drops[layer]), -np.inf, sign * drops[layer])
            pick = scored.argmax(axis=0)
            top = np.take_along_axis(scored, np.expand_dims(pick, 0), axis=0)[0]
            masks[j] = np.where(np.isinf(top), -1, layer[pick])
            best[j] = np.where(np.isinf(top), np.nan, sign * top)
        out[name], out[f"{name}_drop"] = masks, best
    missing = np.isnan(drops).reshape(len(drops), -1).any(axis=1) & inside
    out["missing"] = np.array([int((missing & (size == k)).sum()) for k in ks])
    return out
