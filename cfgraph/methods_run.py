"""How each method of :mod:`cfgraph.methods` gets its inputs from a world and turns its maths into a valuation.

The maths lives in :mod:`cfgraph.values` (``knn``, ``oob``, ``leastcore``,
``surrogates``); here a world's rows or stored training sets are read, the
maths called once per column, and the result wrapped as a
:class:`cfgraph.valuation.Valuation` (exact methods get a zero standard error
and a degenerate interval).
"""

from __future__ import annotations

import numpy as np

from cfgraph import bitsets, lattice
from cfgraph.errors import CfgraphError
from cfgraph.values.sampled import Estimate

__all__ = ["RUNNERS", "stored_game"]

#: A least core over more stored training sets than this is refused (a dense LP of that size
#: takes minutes; a datamodel is cheap and takes them all).
MAX_LEAST_CORE_SETS = 200_000
#: The fewest stored training sets a datamodel is fitted on (with its held-out share).
MIN_DATAMODEL_SETS = 10
#: A subsidy smaller than this is 0 (the LP solver's tolerance).
SUBSIDY_ZERO = 1e-9
#: Up to this many (units + 1) x training sets the least core's point is the one nearest the equal split.
LEAST_CORE_L2_CELLS = 10_000_000


def _world_columns(store, world_name: str, slice_name: str | None, metric: str | None):
    """The world's units, the per-slice columns on the target metric and seed choice, metrics and seeds."""
    from cfgraph.store import catalog, cells
    from cfgraph.valuation import columns_of

    with store.session() as session:
        world = catalog.get_world(session, world_name)
        metrics, seeds = cells.metrics_and_seeds(session, world)
        slices = [s.name for s in world.slices]
        columns = columns_of(slices, metrics, seeds, slice_name, metric)
        target = columns[0]
        per_slice = [target] + [c for c in columns[1:] if c.metric == target.metric and c.seed == target.seed]
        units = [u.label for u in world.units]
        info = {"lattice": world.lattice, "spec": world.spec, "kind": world.kind, "n": world.n_units}
    return units, per_slice, metrics, seeds, info


def stored_game(store, world_name: str, columns, metrics, seeds, executor=None, progress=None):
    """Every stored training set of a world and its cells on ``columns``, with the empty and full sets.

    On a sampled world the empty and full training sets are fitted when they are
    not stored yet (the least core and a datamodel's intercept need both).

    Returns
    -------
    members : ndarray of bool, shape (m, n)
    utilities : ndarray of float, shape (m, len(columns))
        NaN where a cell failed.
    fits : int
        Training sets fitted for it (0 on an exhaustive world).

    Examples
    --------
    >>> from cfgraph.store import open_store
    >>> from cfgraph.valuation import Column
    >>> from cfgraph.worlds import build_world, make_spec
    >>> store = open_store("sqlite://")
    >>> _ = build_world(store, "iris", make_spec(dataset="iris", units=3, model="gnb"), progress=False)
    >>> members, utilities, fits = stored_game(store, "iris", [Column("all", "accuracy", 0)], ["accuracy"], [0])
    >>> members.shape, utilities.shape, fits
    ((8, 3), (8, 1), 0)
    """
    from cfgraph.executors import Executor
    from cfgraph.store import catalog, nodes
    from cfgraph.stored_utility import StoredWorld, exhaustive_table

    with store.session() as session:
        world = catalog.get_world(session, world_name)
        n = world.n_units
        if world.lattice == "exhaustive":
            table, missing = exhaustive_table(session, world, columns, seeds)
            members = lattice.membership(np.arange(1 << n), n)
            return members[~missing], table[~missing], 0
        _, members = nodes.stored_members(session, world)
        source = StoredWorld(store, world, columns, metrics, seeds, executor or Executor())
    ends = np.array([np.zeros(n, bool), np.ones(n, bool)])
    members = np.concatenate([ends, members])
    digests = bitsets.digest(members)
    _, first = np.unique(digests, return_index=True)
    members = members[np.sort(first)]
    try:
        utilities = source(members)
    finally:
        source.finish()
    return members, utilities, source.fits


def _valuation(world_name, method, params, units, columns, values, stderr, n_samples, *, evaluations, fits,
               trace, stopped_by, exact=False, proportion=False):
    from cfgraph.valuation import Valuation

    estimate = Estimate(values=np.asarray(values, float), stderr=np.asarray(stderr, float),
                        n_samples=np.array(n_samples, dtype=np.int64), exact=exact,
                        proportion=proportion)
    return Valuation(world=world_name, sampler=method, method=method, params=params, units=units, columns=columns,
                     estimate=estimate, evaluations=int(evaluations), fits=int(fits),
                     reused=int(evaluations) - int(fits), stopped_by=stopped_by, trace=trace)


def _default_k(spec: dict) -> int:
    """The world's KNN model's ``n_neighbors``, or 5 (scikit-learn's default) for any other model."""
    from cfgraph.estimators import make_estimator

    model = make_estimator(spec.get("model") or "logreg", task=spec.get("task", "classification"))
    for name, param in model.get_params().items():
        if name == "n_neighbors" or name.endswith("__n_neighbors"):
            return int(param)
    return 5


def _knn_shapley(store, world_name, *, slice=None, metric=None, executor=None, progress=None, k=None):
    """KNN-Shapley of every training point, per slice, from the world's rows (no fit)."""
    _no_metric("knn-shapley", metric, "its own utility: true_class_probability, or neg_mean_squared_error for "
                                      "regression")
    from cfgraph.valuation import Column
    from cfgraph.values.knn import knn_shapley_slices

    units, columns, _, _, info = _world_columns(store, world_name, slice, None)
    from cfgraph.worlds import trained_problem

    problem = trained_problem(world_name, info["kind"], info["spec"], "and rows to read")
    if problem.preprocessor is not None:
        raise CfgraphError(f"world {world_name!r} has text or missing features: KNN-Shapley needs numeric features "
                           "(choose them with --features)")
    counts = np.bincount(problem.train_unit, minlength=len(units))
    if (counts != 1).any():
        raise CfgraphError(f"world {world_name!r} has units of several training rows: KNN-Shapley values training "
                           "points (build the world with --group-by point)")
    k = int(k) if k is not None else _default_k(info["spec"])
    slice_names = [c.slice for c in columns]
    from cfgraph.store import catalog

    with store.session() as session:
        all_slices = [s.name for s in catalog.get_world(session, world_name).slices]
    rows = [problem.slice_rows[all_slices.index(name)] for name in slice_names]
    per_point = knn_shapley_slices(problem.X_train, problem.y_train, problem.X_test, problem.y_test, k, rows,
                                   task=problem.task)  # (slices, n_train)
    values = np.empty((len(units), len(columns)))
    values[problem.train_unit] = per_point.T
    utility = "true_class_probability" if problem.task == "classification" else "neg_mean_squared_error"
    columns = [Column(c.slice, utility, None) for c in columns]
    sizes = np.array([len(r) for r in rows])
    return _valuation(world_name, "knn-shapley", {"k": k}, units, columns, values, np.zeros_like(values),
                      np.broadcast_to(sizes, values.shape), evaluations=0, fits=0, trace=[],
                      stopped_by=f"exact (closed form, K = {k}, over {int(sizes[0])} test rows)", exact=True)


def _data_oob(store, world_name, *, slice=None, metric=None, executor=None, progress=None, bags=100, seed=0):
    """Data-OOB of every unit: the bags are training sets of the world, fitted once and stored."""
    _no_metric("data-oob", metric, "the out-of-bag accuracy (regression: minus the squared error) of each point")
    from cfgraph.oob import data_oob_run
    from cfgraph.valuation import Column

    units, columns, _, _, info = _world_columns(store, world_name, slice, None)
    result = data_oob_run(store, world_name, bags=bags, seed=seed, executor=executor, progress=progress)
    task = (info["spec"] or {}).get("task", "classification")
    score = "oob_accuracy" if task == "classification" else "oob_neg_squared_error"
    # One model seed (the world's first) fits every bag: the column is that seed's.
    column = Column("all" if "all" in [c.slice for c in columns] else columns[0].slice, score, result.model_seed)
    values = np.asarray(result.values, float)[:, None]
    return _valuation(world_name, "data-oob", {"bags": int(bags), "seed": int(seed)}, units, [column], values,
                      np.asarray(result.stderr, float)[:, None], np.asarray(result.n_samples)[:, None],
                      evaluations=result.evaluations, fits=result.fits, trace=[],
                      stopped_by=f"{bags} bootstrap bags",
                      # A point's value is its share of right out-of-bag predictions: Wilson's interval.
                      proportion=task == "classification" and (info["spec"] or {}).get("group_by") == "point")


def _least_core(store, world_name, *, slice=None, metric=None, executor=None, progress=None):
    """The least core of each slice's game on the stored training sets (exact on an exhaustive world)."""
    from cfgraph.values.leastcore import least_core

    units, columns, metrics, seeds, info = _world_columns(store, world_name, slice, metric)
    members, utilities, fits = stored_game(store, world_name, columns, metrics, seeds, executor, progress)
    if len(members) > MAX_LEAST_CORE_SETS:
        raise CfgraphError(f"world {world_name!r} stores {len(members):,} training sets: a least core takes at most "
                           f"{MAX_LEAST_CORE_SETS:,} constraints")
    n = len(units)
    empty = _row_of(members, np.zeros(n, bool), world_name, "empty")
    full = _row_of(members, np.ones(n, bool), world_name, "full")
    values = np.full((n, len(columns)), np.nan)
    trace = []
    for j, column in enumerate(columns):
        u = utilities[:, j]
        if not (np.isfinite(u[empty]) and np.isfinite(u[full])):
            raise CfgraphError(f"the empty or the full training set of world {world_name!r} has no score on slice "
                               f"{column.slice!r}: the least core needs both")
        # The game is v(S) - v(empty): values share out what the full set adds to the empty one.
        # Past LEAST_CORE_L2_CELLS the nearest-to-equal point is too big a problem: the LP's own vertex is kept.
        point = "egalitarian" if (n + 1) * len(members) <= LEAST_CORE_L2_CELLS else "vertex"
        # Sampled coalitions can leave the program unbounded (e falls without limit as long as the units
        # no coalition pins take the rest); as pyDVL does, the subsidy is then floored at 0.
        core = least_core(members, u - u[empty], float(u[full] - u[empty]), point=point,
                          non_negative_subsidy=info["lattice"] == "sampled")
        values[:, j] = core.values
        # The LP's optimum is found to the solver's tolerance: an e of 1e-12 is 0.
        subsidy = 0.0 if abs(core.subsidy) < SUBSIDY_ZERO else float(core.subsidy)
        trace.append({"slice": column.slice, "metric": column.metric, "subsidy": subsidy,
                      "pinned": not (info["lattice"] == "sampled" and subsidy <= 0),
                      "constraints": int(core.constraints), "exact": bool(core.exact), "point": core.point,
                      "subsidy_floored_at_0": info["lattice"] == "sampled",
                      "dropped": int(core.dropped),
                      "grand": float(u[full]), "empty": float(u[empty])})
    exact = all(point["exact"] for point in trace)
    kind = "exact" if exact else "sampled constraints"
    # Exact: no sampling error. On sampled constraints the values are one point of a set the stored training
    # sets leave open, with no standard error to give: none is stored (no interval either).
    return _valuation(world_name, "least-core", {}, units, columns, values,
                      np.zeros_like(values) if exact else np.full(values.shape, np.nan),
                      np.full(values.shape, len(members)), evaluations=len(members), fits=fits, trace=trace,
                      stopped_by=f"{kind}: {len(members)} training sets, subsidy e = {trace[0]['subsidy']:.4g}",
                      exact=exact)


def _datamodel(store, world_name, *, slice=None, metric=None, executor=None, progress=None, model="ridge", alpha=None,
                  holdout=0.2, seed=0):
    """A linear datamodel of each slice's cells on the stored training sets, with its LDS on held-out sets."""
    from cfgraph.values.surrogates import fit_datamodel

    units, columns, metrics, seeds, _ = _world_columns(store, world_name, slice, metric)
    members, utilities, fits = stored_game(store, world_name, columns, metrics, seeds, executor, progress)
    values = np.full((len(units), len(columns)), np.nan)
    trace = []
    for j, column in enumerate(columns):
        ok = np.isfinite(utilities[:, j])
        if ok.sum() < MIN_DATAMODEL_SETS:
            raise CfgraphError(f"world {world_name!r} has {int(ok.sum())} training sets with a score on slice "
                               f"{column.slice!r}: a datamodel needs at least {MIN_DATAMODEL_SETS} (store more, e.g. "
                               "with --sampler msr --budget 500)")
        fit = fit_datamodel(members[ok], utilities[ok, j], model=model, alpha=alpha, holdout=holdout, seed=seed)
        values[:, j] = fit.theta
        trace.append({"slice": column.slice, "metric": column.metric, "lds": _finite(fit.lds),
                      "intercept": float(fit.intercept), "n_train": int(fit.n_train), "n_heldout": int(fit.n_heldout),
                      "units": len(units)})
    lds = trace[0]["lds"]
    return _valuation(world_name, "datamodel", {"model": model, "alpha": fit.alpha, "holdout": float(holdout),
                                                "seed": int(seed)},
                      units, columns, values, np.full(values.shape, np.nan), np.full(values.shape, len(members)),
                      evaluations=len(members), fits=fits, trace=trace,
                      stopped_by=f"{model} on {trace[0]['n_train']} training sets; LDS "
                                 f"{'n/a' if lds is None else f'{lds:.3f}'} on {trace[0]['n_heldout']} held out")


def _no_metric(method: str, metric: str | None, what: str) -> None:
    if metric is not None:
        raise CfgraphError(f"{method} takes no metric: it scores {what}")


def _finite(x) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def _row_of(members: np.ndarray, row: np.ndarray, world_name: str, what: str) -> int:
    found = np.flatnonzero((members == row).all(axis=1))
    if not len(found):
        raise CfgraphError(f"world {world_name!r} has no cells of the {what} training set, and no model to fit it "
                           "with: the least core shares out v(full) - v(empty)")
    return int(found[0])


RUNNERS = {"knn-shapley": _knn_shapley, "data-oob": _data_oob, "least-core": _least_core,
           "datamodel": _datamodel}
