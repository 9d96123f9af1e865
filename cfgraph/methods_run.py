"""How each method of :mod:`cfgraph.methods` gets its inputs from a world and turns its maths into a valuation.

The maths lives in :mod:`cfgraph.values` (``knn``, ``oob``, ``leastcore``,
``surrogates``); here a world's rows or stored training sets are read, the
maths called once per column, and the result wrapped as a
:class:`cfgraph.valuation.Valuation` (exact methods get a zero standard error
and a degenerate interval).
"""

from __future__ import annotations

import numpy as np

from cfgraph import bitsets
from cfgraph.errors import CfgraphError
from cfgraph.values.sampled import Estimate

__all__ = ["RUNNERS", "stored_game"]

#: A least core over more stored training sets than this is refused (a dense LP of that size
#: takes minutes; a datamodel is cheap and takes them all).
MAX_LEAST_CORE_SETS = 200_000
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


def stored_game(store, world_name: str, columns, metrics, seeds, jobs: int = 1, progress=None):
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
    """
    from cfgraph.executors import Executor
    from cfgraph.store import catalog, nodes
    from cfgraph.stored_utility import StoredWorld, exhaustive_table

    with store.session() as session:
        world = catalog.get_world(session, world_name)
        n = world.n_units
        if world.lattice == "exhaustive":
            table, missing = exhaustive_table(session, world, columns, seeds)
            members = nodes.masks_to_members(range(1 << n), n)
            return members[~missing], table[~missing], 0
        _, members = nodes.stored_members(session, world)
        source = StoredWorld(store, world, columns, metrics, seeds, Executor(jobs=jobs))
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
               trace, stopped_by, exact=False):
    from cfgraph.valuation import Valuation

    estimate = Estimate(values=np.asarray(values, float), stderr=np.asarray(stderr, float),
                        n_samples=np.array(n_samples, dtype=np.int64), exact=exact)
    return Valuation(world=world_name, sampler=method, method=method, params=params, units=units, columns=columns,
                     estimate=estimate, evaluations=int(evaluations), fits=int(fits),
                     reused=int(evaluations) - int(fits), stopped_by=stopped_by, trace=trace)


def _problem(info: dict, world_name: str):
    from cfgraph.worlds import check_stored_spec, prepare

    if info["kind"] != "trained" or not info["spec"]:
        raise CfgraphError(f"world {world_name!r} has no data to read (it is {info['kind']})")
    return prepare(check_stored_spec(info["spec"])).problem


def _default_k(spec: dict) -> int:
    """The world's KNN model's ``n_neighbors``, or 5 (scikit-learn's default) for any other model."""
    from cfgraph.estimators import make_estimator

    model = make_estimator(spec.get("model") or "logreg", task=spec.get("task", "classification"))
    for name, param in model.get_params().items():
        if name == "n_neighbors" or name.endswith("__n_neighbors"):
            return int(param)
    return 5


def run_knn_shapley(store, world_name, *, slice=None, metric=None, jobs=1, progress=None, k=None):
    """KNN-Shapley of every training point, per slice, from the world's rows (no fit)."""
    from cfgraph.valuation import Column
    from cfgraph.values.knn import knn_shapley_slices

    units, columns, _, _, info = _world_columns(store, world_name, slice, None)
    problem = _problem(info, world_name)
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


def run_data_oob(store, world_name, *, slice=None, metric=None, jobs=1, progress=None, bags=100, seed=0):
    """Data-OOB of every unit: the bags are training sets of the world, fitted once and stored."""
    from cfgraph.oob import data_oob_run
    from cfgraph.valuation import Column

    units, columns, _, _, info = _world_columns(store, world_name, slice, None)
    result = data_oob_run(store, world_name, bags=bags, seed=seed, jobs=jobs, progress=progress)
    task = (info["spec"] or {}).get("task", "classification")
    score = "oob_accuracy" if task == "classification" else "oob_neg_squared_error"
    column = Column("all" if "all" in [c.slice for c in columns] else columns[0].slice, score, None)
    values = np.asarray(result.values, float)[:, None]
    return _valuation(world_name, "data-oob", {"bags": int(bags), "seed": int(seed)}, units, [column], values,
                      np.asarray(result.stderr, float)[:, None], np.asarray(result.n_samples)[:, None],
                      evaluations=result.evaluations, fits=result.fits, trace=[],
                      stopped_by=f"{bags} bootstrap bags")


def run_least_core(store, world_name, *, slice=None, metric=None, jobs=1, progress=None):
    """The least core of each slice's game on the stored training sets (exact on an exhaustive world)."""
    from cfgraph.values.leastcore import least_core

    units, columns, metrics, seeds, info = _world_columns(store, world_name, slice, metric)
    members, utilities, fits = stored_game(store, world_name, columns, metrics, seeds, jobs, progress)
    if len(members) > MAX_LEAST_CORE_SETS:
        raise CfgraphError(f"world {world_name!r} stores {len(members):,} training sets: a least core takes at most "
                           f"{MAX_LEAST_CORE_SETS:,} constraints")
    n = len(units)
    empty, full = _row_of(members, np.zeros(n, bool)), _row_of(members, np.ones(n, bool))
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
        trace.append({"slice": column.slice, "metric": column.metric, "subsidy": float(core.subsidy),
                      "constraints": int(core.constraints), "exact": bool(core.exact), "point": core.point,
                      "subsidy_floored_at_0": info["lattice"] == "sampled",
                      "dropped": int(core.dropped),
                      "grand": float(u[full]), "empty": float(u[empty])})
    kind = "exact" if trace and trace[0]["exact"] else "sampled constraints"
    return _valuation(world_name, "least-core", {}, units, columns, values, np.zeros_like(values),
                      np.full(values.shape, len(members)), evaluations=len(members), fits=fits, trace=trace,
                      stopped_by=f"{kind}: {len(members)} training sets, subsidy e = {trace[0]['subsidy']:.4g}",
                      exact=True)


def run_datamodel(store, world_name, *, slice=None, metric=None, jobs=1, progress=None, model="ridge", alpha=None,
                  holdout=0.2, seed=0):
    """A linear datamodel of each slice's cells on the stored training sets, with its LDS on held-out sets."""
    from cfgraph.values.surrogates import fit_datamodel

    units, columns, metrics, seeds, _ = _world_columns(store, world_name, slice, metric)
    members, utilities, fits = stored_game(store, world_name, columns, metrics, seeds, jobs, progress)
    values = np.full((len(units), len(columns)), np.nan)
    trace = []
    for j, column in enumerate(columns):
        ok = np.isfinite(utilities[:, j])
        fit = fit_datamodel(members[ok], utilities[ok, j], model=model, alpha=alpha, holdout=holdout, seed=seed)
        values[:, j] = fit.theta
        trace.append({"slice": column.slice, "metric": column.metric, "lds": _finite(fit.lds),
                      "intercept": float(fit.intercept), "n_train": int(fit.n_train), "n_heldout": int(fit.n_heldout)})
    lds = trace[0]["lds"]
    return _valuation(world_name, "datamodel", {"model": model, "alpha": fit.alpha, "holdout": float(holdout),
                                                "seed": int(seed)},
                      units, columns, values, np.full(values.shape, np.nan), np.full(values.shape, len(members)),
                      evaluations=len(members), fits=fits, trace=trace,
                      stopped_by=f"{model} on {trace[0]['n_train']} training sets; LDS "
                                 f"{'n/a' if lds is None else f'{lds:.3f}'} on {trace[0]['n_heldout']} held out")


def _finite(x) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def _row_of(members: np.ndarray, row: np.ndarray) -> int:
    return int(np.flatnonzero((members == row).all(axis=1))[0])


RUNNERS = {"knn-shapley": run_knn_shapley, "data-oob": run_data_oob, "least-core": run_least_core,
           "datamodel": run_datamodel}
