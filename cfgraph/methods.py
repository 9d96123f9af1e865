"""Valuations beyond semivalue sampling: KNN-Shapley, Data-OOB, the least core and datamodels.

Each method reads what the world already holds and stores its result the way a
sampled valuation does (tables ``valuation`` and ``estimate``), so the command
line, the web values page and SQL show every method alike:

- ``knn-shapley``: the exact Shapley values of a K-nearest-neighbour utility in
  closed form from the world's rows (Jia et al. 2019); no fit at all.
- ``data-oob``: out-of-bag scores of a bagging ensemble whose bags are training
  sets of the world (Kwon & Zou 2023); each bag is fitted once and stored.
- ``least-core``: the least core of the game on the stored training sets, exact
  on an exhaustive world (Yan & Procaccia 2021); its subsidy goes in the trace.
- ``datamodel``: a linear surrogate of each slice's cell fitted on the stored
  training sets, with its linear datamodeling score (Ilyas et al. 2022).

The last two read every stored training set (and fit the empty and full sets
when a sampled world lacks them); the maths is in :mod:`cfgraph.values`.
"""

from __future__ import annotations

import time

import numpy as np

from cfgraph.errors import CfgraphError

__all__ = ["METHODS", "SAMPLES", "samples_meaning", "is_exact", "slice_facts", "trace_notes", "value"]

#: The methods of :func:`value`, and what each estimates.
METHODS = {
    "knn-shapley": "exact Shapley values of the K-nearest-neighbour utility (Jia et al. 2019)",
    "data-oob": "out-of-bag score of a bagging ensemble on each point (Kwon & Zou 2023)",
    "least-core": "the least core of the game on the stored training sets (Yan & Procaccia 2021)",
    "datamodel": "coefficients of a linear surrogate of the cells (Ilyas et al. 2022)",
}
#: What a stored estimate's ``n_samples`` counts, per method (samplers included).
SAMPLES = {
    "knn-shapley": "test rows of the slice the closed form averages over",
    "data-oob": "bags the unit was out of",
    "least-core": "stored training sets (the coalitions constraining the values)",
    "datamodel": "stored training sets (fitted on, and held out)",
    "shapley": "samples of the unit's marginal contribution (permutations; stratified: pairs S, S + i)",
    "banzhaf": "training sets drawn (MSR: each one samples every unit; uniform: pairs S, S + i)",
    "loo": "training sets (the full set and the full set without the unit)",
    "beta": "samples of the unit's marginal contribution (pairs S, S + i)",
}
#: Each method's parameters and their defaults (None: decided from the world).
PARAMS = {
    "knn-shapley": {"k": None},
    "data-oob": {"bags": 100, "seed": 0},
    "least-core": {},
    "datamodel": {"model": "ridge", "alpha": None, "holdout": 0.2, "seed": 0},
}


def value(store, world_name: str, method: str, *, slice: str | None = None, metric: str | None = None,
          jobs: int = 1, executor=None, progress: bool | None = None, save: bool = True, **params):
    """Value every unit of a world with one of :data:`METHODS`, and store the estimates.

    Parameters
    ----------
    store : cfgraph.store.Store
    world_name : str
    method : {"knn-shapley", "data-oob", "least-core", "datamodel"}
    slice, metric : str, optional
        The target column (default: slice ``all`` and the world's metric); the
        least core and the datamodel are computed for every slice on that
        metric (the mean over seeds when there are several).
    jobs : int
        Parallel fits (Data-OOB's bags; the empty and full sets of the others).
    executor : cfgraph.executors.Executor, optional
        Where those fits run (default: loky with ``jobs`` workers; a Dask one for a cluster).
    save : bool
        Store the estimates (tables ``valuation`` and ``estimate``).
    **params
        ``k`` (knn-shapley; default: the world's KNN model's ``n_neighbors``, else 5),
        ``bags`` and ``seed`` (data-oob), ``model`` (ridge, lasso or linear),
        ``alpha`` (ridge and lasso only; default :data:`cfgraph.values.surrogates`'s), ``holdout``
        and ``seed`` (datamodel).

    Returns
    -------
    cfgraph.valuation.Valuation
        ``estimate.values`` of shape (n_units, columns), column 0 the target;
        ``trace`` holds the least core's subsidy or the datamodel's scores.

    Raises
    ------
    CfgraphError
        On an unknown method or parameter, a world the method cannot value
        (KNN-Shapley needs one training row per unit and numeric features), or
        too few stored training sets.
    NotFound
        If there is no such world.

    References
    ----------
    Jia et al., "Efficient Task-Specific Data Valuation for Nearest Neighbor Algorithms", VLDB 2019.
    Kwon & Zou, "Data-OOB: Out-of-bag Estimate as a Simple and Efficient Data Value", ICML 2023.
    Yan & Procaccia, "If You Like Shapley Then You Will Love the Core", AAAI 2021.
    Ilyas, Park, Engstrom, Leclerc & Madry, "Datamodels: Predicting Predictions from Training Data", ICML 2022.

    Examples
    --------
    >>> from cfgraph.store import open_store
    >>> from cfgraph.worlds import build_world, make_spec
    >>> store = open_store("sqlite://")
    >>> _ = build_world(store, "iris", make_spec(dataset="iris", units=4, model="gnb"), progress=False)
    >>> v = value(store, "iris", "least-core")
    >>> round(float(v.estimate.values[:, 0].sum()), 9) == round(v.trace[0]["grand"] - v.trace[0]["empty"], 9)
    True
    """
    if method not in METHODS:
        raise CfgraphError(f"unknown method {str(method)[:40]!r} (methods: {', '.join(METHODS)})")
    unknown = sorted(set(params) - set(PARAMS[method]))
    if unknown:
        raise CfgraphError(f"{method} takes {', '.join(PARAMS[method]) or 'no parameters'}, not {', '.join(unknown)}")
    from cfgraph.methods_run import RUNNERS

    started = time.perf_counter()
    params = check_params(method, {**PARAMS[method], **{k: v for k, v in params.items() if v is not None}})
    from cfgraph.executors import Executor

    result = RUNNERS[method](store, world_name, slice=slice, metric=metric,
                             executor=executor or Executor(jobs=jobs), progress=progress, **params)
    result.seconds = time.perf_counter() - started
    if save:
        result.save(store, result.params.get("seed"))
    return result


def check_params(method: str, params: dict) -> dict:
    """``params`` checked: positive ``k`` and ``bags``, a known datamodel and a holdout in (0, 1).

    Examples
    --------
    >>> check_params("data-oob", {"bags": 10, "seed": 0})
    {'bags': 10, 'seed': 0}
    """
    out = dict(params)
    for name, low, high in (("k", 1, 10_000), ("bags", 1, 100_000)):
        if out.get(name) is not None:
            try:
                number = int(out[name])
            except (TypeError, ValueError):
                number = None
            if number is None or number != out[name] or not low <= number <= high:
                raise CfgraphError(f"{method}: {name} must be a whole number from {low} to {high:,}, "
                                   f"not {str(out[name])[:30]}")
            out[name] = number
    if method == "datamodel":
        if out.get("model") not in ("ridge", "lasso", "linear"):
            raise CfgraphError(f"datamodel: the model is ridge, lasso or linear, not {str(out.get('model'))[:30]!r}")
        if out.get("alpha") is not None and (not np.isfinite(float(out["alpha"])) or float(out["alpha"]) <= 0):
            raise CfgraphError(f"datamodel: alpha must be a positive number, not {out['alpha']}")
        if not 0 < float(out["holdout"]) < 1:
            raise CfgraphError(f"datamodel: the held-out share must be between 0 and 1, not {out['holdout']}")
    return out


def trace_notes(method: str, trace: list | None, slice_name: str | None = None) -> list[str]:
    """What a method's trace says beyond the values, one sentence per slice: the least core's
    subsidy e, the datamodel's linear datamodeling score (only ``slice_name``'s when given).

    Examples
    --------
    >>> trace_notes("least-core", [{"slice": "all", "subsidy": 0.25, "exact": True, "constraints": 14}])
    ['least core on slice all: subsidy e = 0.25 (exact, 14 coalitions besides the empty and full sets)']
    >>> trace_notes("datamodel", [{"slice": "A", "lds": None, "n_heldout": 2, "n_train": 9}])
    ['datamodel on slice A: LDS (Spearman, held out) n/a on 2 training sets; fitted on 9']
    """
    notes = []
    for point in trace or []:
        if not isinstance(point, dict) or (slice_name is not None and point.get("slice") != slice_name):
            continue
        if method == "least-core" and "subsidy" in point:
            kind = "exact" if point.get("exact") else "sampled constraints"
            notes.append(f"least core on slice {point['slice']}: subsidy e = {point['subsidy']:.6g} "
                         f"({kind}, {point.get('constraints')} coalitions besides the empty and full sets)")
            if point.get("pinned") is False:
                notes.append(f"  every one of the {point.get('constraints')} sampled coalitions gets its worth with no "
                             "subsidy (e = 0): they leave a set of values open, and these are its point nearest the "
                             "equal split, not a unique answer; store more training sets to pin them down")
        elif method == "datamodel" and "lds" in point:
            lds = "n/a" if point["lds"] is None else f"{point['lds']:.4f}"
            notes.append(f"datamodel on slice {point['slice']}: LDS (Spearman, held out) {lds} on "
                         f"{point.get('n_heldout')} training sets; fitted on {point.get('n_train')}")
            if point.get("units") and point.get("n_train", 0) <= point["units"]:
                notes.append(f"  {point['n_train']} training sets for {point['units']} coefficients: the penalty, "
                             "not the data, decides most of them; store more training sets")
    return notes


def samples_meaning(method: str | None) -> str | None:
    """What a stored estimate's ``n_samples`` counts for ``method`` (``beta(4,1)`` is a Beta Shapley).

    Examples
    --------
    >>> samples_meaning("beta(4,1)") == SAMPLES["beta"], samples_meaning("influence")
    (True, None)
    """
    name = (method or "").strip().lower()
    return SAMPLES.get(name) or SAMPLES.get(name.split("(", 1)[0])


def is_exact(method: str, trace: list | None = None) -> bool:
    """Whether a stored valuation's values are exact (no sampling error): leave-one-out, KNN-Shapley,
    and the least core of an exhaustive world (all its coalitions as constraints).

    Examples
    --------
    >>> is_exact("knn-shapley"), is_exact("least-core", [{"exact": False}]), is_exact("shapley")
    (True, False, False)
    """
    if method in ("loo", "knn-shapley"):
        return True
    return method == "least-core" and bool(trace) and all(bool(p.get("exact")) for p in trace if isinstance(p, dict))


def slice_facts(trace: list | None, slice_name: str | None) -> dict | None:
    """The trace's record of one slice (the least core's subsidy, the datamodel's LDS...), or None.

    Examples
    --------
    >>> slice_facts([{"slice": "all", "lds": 0.5}, {"slice": "A", "lds": 0.1}], "A")
    {'slice': 'A', 'lds': 0.1}
    """
    for point in trace or []:
        if isinstance(point, dict) and "slice" in point and point.get("slice") == slice_name:
            return dict(point)
    return None
