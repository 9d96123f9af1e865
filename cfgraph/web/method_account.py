"""What a stored valuation's numbers are, in words: per method, for the estimates pages.

Samplers (:mod:`cfgraph.valuation`) and the methods beyond sampling
(:data:`cfgraph.methods.METHODS`) store their results alike, but a value, its
standard error and its "samples" mean different things for each: a TMC
estimate averages permutations, KNN-Shapley is exact in closed form over test
rows, the least core solves a linear program on stored training sets, a
datamodel is a surrogate's coefficient, Data-OOB averages out-of-bag bags.
:func:`method_account` says which, so a page never calls an exact value
"sampled" nor offers a convergence chart a method cannot have.
"""

from __future__ import annotations

from cfgraph.methods import METHODS, is_exact, samples_meaning, slice_facts, trace_notes
from cfgraph.world_estimates import parse_method

__all__ = ["SAMPLER_REFERENCES", "method_account", "params_text", "semivalue_name"]

#: Each sampler, as a valuation's ``params["sampler"]`` names it: what it is and its paper.
SAMPLER_REFERENCES = {
    "permutation": "antithetic permutations (Mitchell et al. 2022)",
    "tmc": "truncated Monte Carlo (Ghorbani & Zou 2019)",
    "msr": "maximum sample reuse (Wang & Jia 2023)",
    "stratified": "size-stratified sampling (Kwon & Zou 2022)",
    "uniform": "uniform coalitions",
    "loo": "exact, from the n + 1 training sets it needs",
}


def semivalue_name(method: str) -> str:
    """A stored sampler method as words.

    Examples
    --------
    >>> semivalue_name("shapley"), semivalue_name("beta(4,1)"), semivalue_name("loo")
    ('Shapley value', 'Beta(4, 1) Shapley value', 'leave-one-out value')
    """
    name, params = parse_method(method)
    if name == "beta" and params:
        return f"Beta({params[0]:g}, {params[1]:g}) Shapley value"
    return {"shapley": "Shapley value", "banzhaf": "Banzhaf value", "loo": "leave-one-out value"}.get(name, name)


def params_text(valuation: dict | None) -> str:
    """A valuation's parameters as one line, its seed once and labelled (last).

    Examples
    --------
    >>> params_text({"params": {"bags": 60, "seed": 0}, "sampler_seed": 0})
    'bags=60, seed=0'
    >>> params_text({"params": {"sampler": "tmc", "tol": 0.01}, "sampler_seed": 3})
    'sampler=tmc, tol=0.01, seed=3'
    >>> params_text({"params": {}, "sampler_seed": None})
    ''
    """
    if not valuation:
        return ""
    params = dict(valuation.get("params") or {})
    seed = params.pop("seed", None)
    seed = valuation.get("sampler_seed") if valuation.get("sampler_seed") is not None else seed
    parts = [f"{k}={x}" for k, x in params.items()] + ([] if seed is None else [f"seed={seed}"])
    return ", ".join(parts)


def method_account(method: str | None, valuation: dict | None, trace: list | None, column: dict | None,
                   rows: list[dict] | None = None, *, model: str | None = None) -> dict:
    """What one valuation's column holds, for a page to say.

    Parameters
    ----------
    method : str
        The stored method (``shapley``, ``beta(4,1)``, ``knn-shapley``, ``least-core``...).
    valuation : dict
        Its record (``params``, ``evaluations``, ``sampler_seed``...).
    trace : list of dict
        Its trace: checkpoints for a sampler, per-slice facts for the least core and datamodels.
    column : dict
        The (``slice``, ``metric``, ``seed``) shown.
    rows : list of dict, optional
        The column's rows (``stderr``, ``n_samples``), to count the units whose samples were all equal.
    model : str, optional
        The world's own model, named beside KNN-Shapley's nearest-neighbour utility.

    Returns
    -------
    dict
        ``exact`` (no sampling error: cells say "exact"), ``sampled`` (a sampler's estimate),
        ``has_trace`` (checkpoints to chart), ``kind`` (a heading's adjective), ``how`` (one
        sentence: where the values come from), ``about`` (what the method estimates, with its
        paper), ``samples`` (what the samples column counts), ``facts`` (the trace's record of
        the shown slice, or None), ``notes`` (its sentences), ``caveats`` and ``flat`` (units
        with stderr 0 from two samples or more: every sample equal).

    Examples
    --------
    >>> a = method_account("knn-shapley", {"params": {"k": 5}}, [], {"slice": "all"},
    ...                    [{"stderr": 0.0, "n_samples": 30}], model="gnb")
    >>> a["exact"], a["has_trace"], a["kind"], a["flat"]
    (True, False, 'Exact', 0)
    >>> a = method_account("shapley", {"params": {"sampler": "tmc"}, "evaluations": 9}, [{"value": [0.1]}],
    ...                    {"slice": "all"}, [{"stderr": 0.0, "n_samples": 3}, {"stderr": 0.1, "n_samples": 3}])
    >>> a["about"], a["flat"], a["has_trace"]
    ('Shapley value estimated by tmc: truncated Monte Carlo (Ghorbani & Zou 2019)', 1, True)
    """
    valuation = valuation or {}
    params = dict(valuation.get("params") or {})
    slice_name = (column or {}).get("slice")
    exact = is_exact(method or "", trace)
    facts = slice_facts(trace, slice_name) if method in METHODS else None
    has_trace = any(isinstance(p, dict) and "value" in p for p in trace or [])
    rows = rows or []
    used = valuation.get("evaluations")
    caveats = []
    if method in METHODS:
        about = METHODS[method]
        notes = trace_notes(method, trace, slice_name)
        kind, sampled = ("Exact" if exact else "Method"), False
        if method == "knn-shapley":
            tests = max((r.get("n_samples") or 0 for r in rows), default=0)
            how = (f"exact (closed form): Shapley values of a K-nearest-neighbour utility (K = {params.get('k')}) "
                   f"on the world's rows, over the slice's {tests} test rows; no training set is fitted")
            caveats.append(f"KNN-Shapley values a K-nearest-neighbour utility (Jia et al. 2019; K = {params.get('k')}) "
                           f"on the world's rows, not the world's own model{f' ({model})' if model else ''}: "
                           "its values say which points help a nearest-neighbour vote, a fast proxy")
        elif method == "data-oob":
            how = (f"out-of-bag scores over {params.get('bags')} bags, each bag a stored training set of the "
                   "world: a unit's value is how well the bags that left it out score it")
            kind, sampled = "Out-of-bag", True
        elif method == "least-core":
            n = used if exact else (facts or {}).get("constraints", used)
            how = (f"exact: the least core from a linear program on all {n} training sets of the lattice" if exact
                   else f"the least core from a linear program on {n} stored training sets (sampled constraints: "
                   "one point of the set those training sets leave open; no standard error)")
        else:  # datamodel
            fit = facts or {}
            penalty = "" if params.get("model") == "linear" else f" (alpha = {params.get('alpha')})"
            how = (f"coefficients of a {params.get('model')} surrogate{penalty} fitted on {fit.get('n_train')} "
                   f"stored training sets, scored (LDS) on {fit.get('n_heldout')} held out; no standard error")
            kind = "Surrogate"
            if fit.get("n_heldout") is not None and fit["n_heldout"] < 10:
                caveats.append(f"the LDS rests on only {fit['n_heldout']} held-out training sets: "
                               "a rank correlation of so few is rough")
    else:
        sampler = params.get("sampler")
        reference = SAMPLER_REFERENCES.get(sampler)
        about = f"{semivalue_name(method or '')} estimated by {sampler}" + (f": {reference}" if reference else "")
        notes = []
        kind, sampled = ("Exact" if exact else "Sampled"), not exact
        how = (f"{'exact, from' if exact else 'an estimate from'} the {used} training sets the {sampler} sampler "
               "used (stored, and reused by every later run)"
               + ("" if exact else ", with its standard error, the number of samples behind it and a 95% interval"))
    flat = 0 if exact else sum(1 for r in rows if r.get("stderr") == 0 and (r.get("n_samples") or 0) >= 2)
    samples = samples_meaning(method) or "samples behind each value"
    return {"exact": exact, "sampled": sampled, "has_trace": has_trace, "kind": kind, "how": how, "about": about,
            "samples": samples, "facts": facts, "notes": notes, "caveats": caveats, "flat": flat,
            "flat_why": flat_why(method, params)}


def flat_why(method: str | None, params: dict) -> str:
    """Why units of a column can have every sample equal (stderr 0), for the note that counts them.

    Examples
    --------
    >>> flat_why("shapley", {"sampler": "tmc", "tol": 0.01}).startswith("TMC truncation")
    True
    """
    if params.get("sampler") == "tmc" and float(params.get("tol", 0) or 0) > 0:
        return ("TMC truncation scored them after the truncation point, where a permutation's later units add 0: "
                "their [0, 0] interval is about the truncated game, not the model. Use --truncation 0 or the "
                "permutation sampler when late units matter.")
    if method == "data-oob":
        return ("Every bag that left such a unit out scored it alike (all right or all wrong); "
                "more bags may change that.")
    return "More samples may tell them apart."
