"""Stored valuations of an exhaustive world set beside its exact values (the values page's last section).

Samplers run on an exhaustive world's stored cells give estimates of values the
lattice knows exactly, so each estimate is shown with the exact value of the
same column and whether its 95% interval covers it. The methods beyond sampling
compare differently: the least core of an exhaustive world is itself exact
(every coalition a constraint) and the lattice has no other least core to set
beside it; a datamodel fitted (ridge, lasso) on a training split is set beside
the least-squares datamodel on every cell; KNN-Shapley and Data-OOB value other
games (a nearest-neighbour utility, out-of-bag scores) than the lattice's.
"""

from __future__ import annotations

import math

from flask import url_for

from cfgraph.errors import CfgraphError
from cfgraph.store import estimates
from cfgraph.web.method_account import method_account
from cfgraph.world_estimates import parse_method

__all__ = ["estimates_beside_exact"]

#: Methods whose values are their own exact answer on an exhaustive world (nothing else to compare).
SELF_EXACT = ("least-core", "knn-shapley")


def estimates_beside_exact(world, values_of) -> list[dict]:
    """The latest valuation of each stored method of an exhaustive world next to the exact values
    of the same column, labelled with what each side is.

    Parameters
    ----------
    world : World
        An exhaustive world.
    values_of : callable
        ``values_of(method, params, slice, metric, seed) -> ndarray (n,)`` of exact values (raises
        CfgraphError where the lattice has none: a method or metric it does not know).

    Returns
    -------
    list of dict
        Per method: ``method``, ``valuation``, ``column``, ``account`` (see
        :func:`cfgraph.web.method_account.method_account`), ``exact_label`` and ``estimate_label``
        (column heads: what each side is; ``exact_label`` None when the lattice has nothing to
        compare), ``self_exact`` (the method's values are the exact ones: one column),
        ``has_interval``, ``note`` (sentences) and ``rows`` (label, name, exact, value, stderr,
        ci_low, ci_high, n_samples, covered).
    """
    out = []
    for method in world.estimate_methods():
        table = world.estimate_table(method)
        column, valuation = table["column"], table["valuation"]
        record = estimates.valuation_trace(world.session, int(valuation["id"]))
        trace = record.get("trace", record) if isinstance(record, dict) else record
        account = method_account(method, valuation, trace, column, table["rows"], model=world.model_spec)
        self_exact = method in SELF_EXACT and account["exact"]
        exact = None
        if not self_exact:
            name, params = parse_method(method)
            try:
                exact = values_of(name, params, column["slice"], column["metric"], column["seed"])
            except CfgraphError:
                exact = None
        rows = []
        for r in table["rows"]:
            e = r["value"] if self_exact else (None if exact is None else float(exact[r["idx"]]))
            e = None if e is None or math.isnan(e) else e
            covered = (None if self_exact or e is None or r["ci_low"] is None or r["ci_high"] is None
                       else r["ci_low"] - 1e-12 <= e <= r["ci_high"] + 1e-12)
            rows.append({**r, "exact": e, "covered": covered})
        exact_label, estimate_label, note = labels(method, account, valuation, world.possible, self_exact,
                                                   exact is not None)
        out.append({"method": method, "valuation": valuation, "column": column, "rows": rows, "account": account,
                    "exact_label": exact_label, "estimate_label": estimate_label, "self_exact": self_exact,
                    "has_interval": any(r["ci_low"] is not None for r in rows) and not account["exact"],
                    "note": note, "url": url_for("estimates.page", world=world.name, method=method)})
    return out


def labels(method: str, account: dict, valuation: dict, possible, self_exact: bool,
           compared: bool) -> tuple[str | None, str, list]:
    """Column heads (exact side, estimate side) and the sentences that say what is compared.

    Examples
    --------
    >>> labels("shapley", {"exact": False, "caveats": []}, {}, 16, False, True)
    ('exact', 'estimate', [])
    >>> labels("datamodel", {"exact": False, "caveats": [], "facts": {"n_train": 12, "n_heldout": 4, "lds": 0.5}},
    ...        {"params": {"model": "ridge", "alpha": 1.0}}, 16, False, True)[:2]
    ('least squares on all cells', 'ridge (alpha 1) on 12 training sets')
    """
    caveats = list(account["caveats"])
    if self_exact and method == "least-core":
        return "least core (exact)", "", [
            f"The least core is exact on this world: every one of its {possible} training sets is a "
            "constraint of the linear program. The lattice has no other least core to compare it with."] + caveats
    if self_exact:  # knn-shapley
        return f"{method} (exact)", "", [
            "KNN-Shapley is exact in closed form for its own nearest-neighbour utility; the exact values "
            "above are of the world's own model, another game, so there is nothing to compare."] + caveats
    if method == "datamodel":
        facts, params = account.get("facts") or {}, (valuation or {}).get("params") or {}
        model = params.get("model", "ridge")
        penalty = "" if model == "linear" or params.get("alpha") is None else f" (alpha {float(params['alpha']):g})"
        estimate = f"{model}{penalty} on {facts.get('n_train')} training sets"
        lds = "n/a" if facts.get("lds") is None else f"{facts['lds']:.3f}"
        return "least squares on all cells", estimate, [
            f"Exact: the least-squares datamodel fitted on all {possible} cells of the column. Estimate: the "
            f"stored {model} datamodel fitted on {facts.get('n_train')} training sets; its LDS (Spearman "
            f"correlation of predicted and stored scores on {facts.get('n_heldout')} held-out training sets) "
            f"is {lds}."] + caveats
    if not compared:
        return None, "value", [f"The lattice has no exact {method} to compare with: {account['about']}."] + caveats
    return "exact", "estimate", caveats
