"""Value tables of a grid: every unit's values on every slice, and the mean score by layer on one slice.

The tables behind the Values page and its JSON API; the maths is
:mod:`cfgraph.summaries` and :mod:`cfgraph.values`.
"""

from __future__ import annotations

from cfgraph import summaries
from cfgraph import values as V
from cfgraph.answers import jsonable
from cfgraph.selection import DEFAULT_ALPHA, DEFAULT_BETA, GridLike


def unit_values(grid: GridLike, alpha: float = DEFAULT_ALPHA, beta: float = DEFAULT_BETA) -> dict:
    """LOO (from the full set), Shapley, Banzhaf and Beta Shapley of every unit on every slice.

    Returns
    -------
    dict
        ``methods`` (list of names), ``values`` (dict name -> ndarray (n, m),
        NaN where undefined) and ``missing`` (list of dict: method, slice, count
        of the distinct cells it lacks).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> import numpy as np
    >>> g = SimpleNamespace(values=np.array([[0.2, 0.3], [0.6, 0.5], [0.5, 0.4], [0.9, 0.7]]),
    ...                     labels=["∅", "A", "B", "AB"], letters="AB", slices=["A", "B"], slice_masks=[1, 2])
    >>> unit_values(g)["values"]["shapley"].round(4).tolist()
    [[0.4, 0.25], [0.3, 0.15]]
    """
    methods = [("loo", ()), ("shapley", ()), ("banzhaf", ()), ("beta", (alpha, beta))]
    arrays, problems = summaries.value_arrays(grid, methods)
    lacking: dict[tuple[str, str], set] = {}
    for p in problems:
        lacking.setdefault((p["method"], p["slice"]), set()).update(p["missing"])
    missing = [{"method": m, "slice": s, "count": len(cells)} for (m, s), cells in lacking.items()]
    return {"methods": list(arrays), "values": arrays, "missing": missing}


def scaling_table(grid: GridLike, column: int) -> dict:
    """Mean score by layer k on one slice, with counts.

    Returns
    -------
    dict
        ``k`` (list of int), ``mean`` (list, None where no cell), ``present`` and ``total`` per k.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> import numpy as np
    >>> g = SimpleNamespace(values=np.array([[0.2, 0.3], [0.6, 0.5], [0.5, 0.4], [0.9, 0.7]]),
    ...                     labels=["∅", "A", "B", "AB"], letters="AB", slices=["A", "B"], slice_masks=[1, 2])
    >>> scaling_table(g, 0)["mean"], scaling_table(g, 0)["present"]
    ([0.2, 0.55, 0.9], [1, 2, 1])
    """
    n = len(grid.letters)
    mean, count, every = V.layer_means(grid.values[:, column])
    return {"slice": grid.slices[column], "k": list(range(n + 1)),
            "mean": [jsonable(float(x)) for x in mean], "present": count.tolist(), "total": every.tolist()}

