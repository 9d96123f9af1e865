"""Values of units per evaluation slice, from a stored lattice: the table behind
``cfgraph values``, the web's Values page and the Python API.

Works on any table with the attributes of :class:`cfgraph.tables.LatticeTable`
(``values`` (2^n, m) with NaN for a missing cell, ``labels``, ``letters``, ``slices``).
"""

from __future__ import annotations

import numpy as np

from cfgraph import values as V
from cfgraph.errors import CfgraphError, MissingCells

METHODS = ("loo", "shapley", "banzhaf", "beta", "datamodel")


def parse_methods(text: str) -> list[tuple[str, tuple]]:
    """Parse ``loo``, ``shapley``, ``banzhaf``, ``beta:ALPHA,BETA`` (default 16,1), ``datamodel`` or ``all``.

    Several may be joined with ``+`` or ``;``. ``all`` is LOO, Shapley, Banzhaf and
    Beta(16, 1); ``datamodel`` (the coefficients of a linear datamodel, Ilyas et al.
    2022) is asked for by name.

    Raises
    ------
    CfgraphError
        On an unknown method or bad Beta parameters.

    Examples
    --------
    >>> parse_methods("loo+beta:4,2")
    [('loo', ()), ('beta', (4.0, 2.0))]
    """
    out = []
    for part in text.replace(";", "+").split("+"):
        part = part.strip().lower()
        if part == "all":
            out += [("loo", ()), ("shapley", ()), ("banzhaf", ()), ("beta", (16.0, 1.0))]
        elif part in ("loo", "shapley", "banzhaf", "datamodel"):
            out.append((part, ()))
        elif part == "beta" or part.startswith("beta:"):
            params = part.partition(":")[2] or "16,1"
            try:
                alpha, beta = (float(x) for x in params.split(","))
            except ValueError:
                raise CfgraphError(f"Beta Shapley takes beta:ALPHA,BETA (e.g. beta:16,1), not {part!r}") from None
            V.semivalue_weights(2, "beta", alpha, beta)  # validates alpha, beta > 0
            out.append(("beta", (alpha, beta)))
        else:
            raise CfgraphError(f"unknown method {part[:40]!r} (use loo, shapley, banzhaf, beta:A,B, datamodel or all; "
                               "or alone: knn-shapley, data-oob, least-core, datamodel)")
    return out


def method_name(method: str, params: tuple) -> str:
    """The name a method's values go by in tables: ``loo``, ``shapley``, ``banzhaf``, ``beta(A,B)``.

    Examples
    --------
    >>> method_name("beta", (16.0, 1.0)), method_name("shapley", ())
    ('beta(16,1)', 'shapley')
    """
    return f"beta({params[0]:g},{params[1]:g})" if method == "beta" else method


def value_arrays(table, methods: list[tuple[str, tuple]], slices: list[str] | None = None):
    """Every requested method on every requested slice, one matrix pass per method.

    Parameters
    ----------
    table : LatticeTable
        Cells as ``values`` of shape (2^n, m), NaN where missing.
    methods : list of (str, tuple)
        From :func:`parse_methods`.
    slices : list of str, optional
        Slice names (default: every slice).

    Returns
    -------
    arrays : dict
        Method name -> ndarray (n, len(slices)), NaN where a value is undefined
        (LOO of a unit whose cells are missing, a semivalue on an incomplete slice).
    problems : list of dict
        ``{"method", "slice", "unit", "error", "missing"}`` for each value that
        could not be computed; ``unit`` is None for a whole slice, ``missing``
        lists the training sets whose cells it needs.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> t = SimpleNamespace(values=np.array([[0.0], [1.0], [1.0], [3.0]]), labels=["∅", "A", "B", "AB"],
    ...                     letters=["A", "B"], slices=["all"])
    >>> arrays, problems = value_arrays(t, parse_methods("loo+shapley"))
    >>> arrays["loo"].ravel().tolist(), arrays["shapley"].ravel().tolist(), problems
    ([2.0, 2.0], [1.5, 1.5], [])
    """
    slices = list(table.slices) if not slices else list(slices)
    v = np.asarray(table.values, dtype=float)[:, [list(table.slices).index(s) for s in slices]]
    n = len(table.letters)
    full = (1 << n) - 1
    absent = np.isnan(v)
    complete = ~absent.any(axis=0)
    arrays, problems = {}, []
    sums = None  # the layer-sum table of the complete slices, read once for every semivalue
    for method, params in methods:
        name = method_name(method, params)
        out = np.full((n, len(slices)), np.nan)
        if method == "loo":  # each unit's LOO needs only v(N) and v(N \ i)
            out = V.leave_one_out(v, missing="nan")
            for i, j in zip(*np.nonzero(np.isnan(out))):  # a loop over the values lacking a cell
                needed = [m for m in (full, full & ~(1 << int(i))) if absent[m, j]]
                problems.append(_problem(table, name, slices[j], table.letters[i], needed, "leave-one-out"))
        elif method == "datamodel":  # a least-squares fit per slice, on the cells present
            for j in range(len(slices)):
                try:
                    out[:, j] = V.datamodel(v[:, j])[0]
                except MissingCells:
                    problems.append(_problem(table, name, slices[j], None, np.flatnonzero(absent[:, j]),
                                             f"a datamodel (at least {n + 1} cells)"))
        else:
            kind = "beta" if method == "beta" else method
            weights = V.semivalue_weights(n, kind, *params)
            if complete.any():
                sums = V.semivalue_table(v[:, complete]) if sums is None else sums
                out[:, complete] = V.semivalue_from_layer_sums(*sums, weights)
            for j in np.flatnonzero(~complete):
                problems.append(_problem(table, name, slices[j], None, np.flatnonzero(absent[:, j]), "a semivalue"))
        arrays[name] = out
    return arrays, problems


def _problem(table, method: str, slice_name: str, unit, masks, what: str) -> dict:
    error = MissingCells(masks, [table.labels[m] for m in masks], what)
    return {"method": method, "slice": slice_name, "unit": unit, "error": str(error), "missing": error.labels}


def value_table(table, methods: list[tuple[str, tuple]], slices: list[str] | None = None):
    """Every requested method on every requested slice, as rows.

    Returns
    -------
    rows : list of dict
        ``{"method", "slice", "unit", "value"}`` for each value computed.
    problems : list of dict
        As :func:`value_arrays` gives them.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> t = SimpleNamespace(values=np.array([[0.0], [1.0], [np.nan], [3.0]]), labels=["∅", "A", "B", "AB"],
    ...                     letters=["A", "B"], slices=["all"])
    >>> rows, problems = value_table(t, parse_methods("loo"))
    >>> rows, problems[0]["missing"]
    ([{'method': 'loo', 'slice': 'all', 'unit': 'B', 'value': 2.0}], ['B'])
    """
    slices = list(table.slices) if not slices else list(slices)
    arrays, problems = value_arrays(table, methods, slices)
    rows = [{"method": name, "slice": s, "unit": unit, "value": float(values[i, j])}
            for j, s in enumerate(slices) for name, values in arrays.items()
            for i, unit in enumerate(table.letters) if not np.isnan(values[i, j])]
    return rows, problems
