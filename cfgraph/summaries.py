"""Values of units per evaluation slice, from a stored lattice: the table behind
``cfgraph values``, the web's Values page and the Python API.
"""

from __future__ import annotations

import numpy as np

from cfgraph import values as V
from cfgraph.errors import CfgraphError, MissingCells
from cfgraph.store.queries import LatticeTable

METHODS = ("loo", "shapley", "banzhaf", "beta")


def parse_methods(text: str) -> list[tuple[str, tuple]]:
    """Parse ``loo``, ``shapley``, ``banzhaf``, ``beta:ALPHA,BETA`` (default 16,1) or ``all``.

    Several may be joined with ``+`` or ``;``.

    Raises
    ------
    CfgraphError
        On an unknown method or bad Beta parameters.
    """
    out = []
    for part in text.replace(";", "+").split("+"):
        part = part.strip().lower()
        if part == "all":
            out += [("loo", ()), ("shapley", ()), ("banzhaf", ()), ("beta", (16.0, 1.0))]
        elif part in ("loo", "shapley", "banzhaf"):
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
            raise CfgraphError(f"unknown method {part!r} (use loo, shapley, banzhaf, beta:A,B or all)")
    return out


def method_name(method: str, params: tuple) -> str:
    return f"beta({params[0]:g},{params[1]:g})" if method == "beta" else method


def compute(table: LatticeTable, method: str, params: tuple, column: np.ndarray) -> np.ndarray:
    """One method on one slice's column: an array of n values (NaN where undefined)."""
    if method == "loo":
        return V.leave_one_out(column, labels=table.labels)
    if method == "shapley":
        return V.shapley(column, labels=table.labels)
    if method == "banzhaf":
        return V.banzhaf(column, labels=table.labels)
    if method == "beta":
        return V.beta_shapley(column, *params, labels=table.labels)
    raise CfgraphError(f"unknown method {method!r}")


def value_table(table: LatticeTable, methods: list[tuple[str, tuple]], slices: list[str] | None = None):
    """Every requested method on every requested slice.

    Returns
    -------
    rows : list of dict
        ``{"method", "slice", "unit", "value"}`` for each unit.
    problems : list of dict
        ``{"method", "slice", "error", "missing"}`` where a summary could not be computed.
    """
    slices = table.slices if not slices else slices
    rows, problems = [], []
    for slice_name in slices:
        column = table.column(slice_name)
        for method, params in methods:
            name = method_name(method, params)
            if method == "loo":  # each unit's LOO needs only its own two cells
                for i, unit in enumerate(table.letters):
                    try:
                        value = V.leave_one_out(column, units=[i], labels=table.labels)[i]
                    except MissingCells as exc:
                        problems.append({"method": name, "slice": slice_name, "unit": unit,
                                         "error": str(exc), "missing": exc.labels})
                        continue
                    rows.append({"method": name, "slice": slice_name, "unit": unit, "value": float(value)})
                continue
            try:
                result = compute(table, method, params, column)
            except MissingCells as exc:
                problems.append({"method": name, "slice": slice_name, "error": str(exc), "missing": exc.labels})
                continue
            for unit, value in zip(table.letters, result):
                rows.append({"method": name, "slice": slice_name, "unit": unit,
                             "value": None if np.isnan(value) else float(value)})
    return rows, problems
