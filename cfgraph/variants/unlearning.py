"""Unlearning audit: a cheap approximate removal of unit i against exact retraining, cell by cell.

An unlearn world for unit i holds, at every training set T without i, the
score of the model obtained by *removing* i from T + i with the chosen method;
at training sets with i it holds the parent's cells (nothing was removed). Its
delta against the parent (the ``variant_delta`` view) is then the unlearning
gap ``approx(T) - exact(T)``, where exact(T) is the parent's retrained cell.

Methods
-------
exact
    Retrain from scratch on T: the reference; its gap is 0 by construction.
sisa
    SISA training with one shard per unit: one model per unit, the ensemble
    of a training set's shards averages their predicted probabilities
    (classification) or their predictions (regression); removing i drops
    i's shard and retrains nothing.
warmstart
    Start from the model fitted on T + i and run a few solver iterations on T
    (``warm_start=True, max_iter=iterations``); needs a model with both
    parameters (:data:`WARM_START_MODELS`).
"""

from __future__ import annotations

import time
import warnings
from functools import partial

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.pipeline import Pipeline

from cfgraph import evaluate
from cfgraph import values as V
from cfgraph.errors import CfgraphError
from cfgraph.executors import Executor
from cfgraph.store.sink import StoreSink
from cfgraph.variants.derived import Derived

DEFAULT_TOLERANCE = 0.15

#: Models with both ``warm_start`` and ``max_iter``, which warm-started removal needs, per task
#: (short names and dotted paths as ``cfgraph run --model`` takes them; not an exhaustive list).
WARM_START_MODELS = {
    "classification": ("logreg", "sklearn.linear_model.SGDClassifier", "sklearn.neural_network.MLPClassifier"),
    "regression": ("sklearn.linear_model.SGDRegressor", "sklearn.linear_model.ElasticNet",
                   "sklearn.linear_model.Lasso", "sklearn.neural_network.MLPRegressor"),
}


class ShardEnsemble(ClassifierMixin, BaseEstimator):
    """Soft-vote ensemble of already fitted shard models (SISA's aggregation).

    Parameters
    ----------
    shards : list of fitted classifiers
    classes : ndarray
        Every class of the task; each shard's probabilities are aligned to it.

    References
    ----------
    Bourtoule et al. (2021), "Machine unlearning", IEEE S&P (SISA training). The paper
    aggregates by majority vote of labels; averaging probabilities breaks ties and
    serves probability metrics.
    """

    def __init__(self, shards=(), classes=None):
        self.shards = shards
        self.classes = classes

    def fit(self, X=None, y=None):
        self.classes_ = np.asarray(self.classes)
        return self

    def predict_proba(self, X):
        out = np.zeros((len(X), len(self.classes_)))
        for model in self.shards:
            out[:, np.searchsorted(self.classes_, model.classes_)] += model.predict_proba(X)
        return out / len(self.shards)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class ShardMeanRegressor(RegressorMixin, BaseEstimator):
    """Mean of already fitted shard regressors' predictions (SISA's aggregation for a numeric target).

    Parameters
    ----------
    shards : list of fitted regressors
        At least one.

    References
    ----------
    Bourtoule et al. (2021), "Machine unlearning", IEEE S&P (SISA training: the shards'
    models are aggregated; for regression, their predictions are averaged).

    Examples
    --------
    >>> from sklearn.dummy import DummyRegressor
    >>> shards = [DummyRegressor(strategy="constant", constant=c).fit([[0]], [c]) for c in (1.0, 4.0)]
    >>> ShardMeanRegressor(shards).fit().predict(np.zeros((2, 1))).tolist()
    [2.5, 2.5]
    """

    def __init__(self, shards=()):
        self.shards = shards

    def fit(self, X=None, y=None):
        self.n_shards_ = len(self.shards)
        return self

    def predict(self, X):
        """Mean prediction of the shards, shape (len(X),)."""
        return np.mean([model.predict(X) for model in self.shards], axis=0)


def derive(prepared, recipe: dict, letters: list[str]) -> Derived:
    """An unlearn world: the parent's problem with a runner that removes unit i approximately.

    Raises
    ------
    CfgraphError
        For warmstart on a model without ``warm_start`` / ``max_iter``.
    """
    problem = prepared.problem
    i = letters.index(recipe["unit"])
    if recipe["method"] == "warmstart":
        warm_start_keys(problem)
    runner = partial(run_unlearning, unit=i, method=recipe["method"], iterations=recipe["iterations"])
    return Derived(problem=problem, units=list(prepared.units), model_spec=problem.model,
                   copy_bits=1 << i, copy_if_clear=False, runner=runner)


def warm_start_keys(problem: evaluate.Problem) -> tuple[str, str]:
    """The parameter names that warm-start the problem's model and cap its solver iterations.

    Returns
    -------
    (str, str)
        The ``warm_start`` and ``max_iter`` parameters of the final estimator
        (prefixed by their pipeline steps).

    Raises
    ------
    CfgraphError
        If the model lacks either parameter; the message names models of the
        world's task that have both (:data:`WARM_START_MODELS`).

    Examples
    --------
    >>> from cfgraph.evaluate import Problem
    >>> p = Problem(np.zeros((1, 1)), np.zeros(1), np.zeros(1, int), np.zeros((1, 1)), np.zeros(1), [],
    ...             np.array([0, 1]), "logreg", ["accuracy"])
    >>> warm_start_keys(p)
    ('logisticregression__warm_start', 'logisticregression__max_iter')
    """
    final = evaluate.build_estimator(problem, None)
    params = final.get_params()
    warm = [k for k in params if k == "warm_start" or k.endswith("__warm_start")]
    iters = [k for k in params if k == "max_iter" or k.endswith("__max_iter")]
    if not warm or not iters:
        while isinstance(final, Pipeline):
            final = final.steps[-1][1]
        lacks = " or ".join(name for name, found in (("warm_start", warm), ("max_iter", iters)) if not found)
        raise CfgraphError(
            f"warmstart unlearning continues the old model's solver, so it needs a model with warm_start and "
            f"max_iter, and this world's model {problem.model!r} ({type(final).__name__}) has no {lacks}; "
            f"{problem.task} models that have both include {', '.join(WARM_START_MODELS[problem.task])}; "
            "or use the sisa or exact method"
        )
    return warm[-1], iters[-1]


def run_unlearning(store, world_name: str, problem: evaluate.Problem, seeds: list[int], jobs: int = 1,
                   progress=None, *, unit: int, method: str, iterations: int = 3) -> evaluate.RunReport:
    """Compute the approximate-removal cells of an unlearn world (those not yet stored).

    Cells are written in one transaction at the end (an unlearn world has at
    most 2^(n-1) sets to compute per seed); a run stopped before then is
    simply run again.
    """
    started = time.perf_counter()
    sink = StoreSink.open(store, world_name, problem.metrics, seeds)
    n = sink.n
    masks = np.flatnonzero((np.arange(1 << n) >> unit & 1) == 0)
    tasks = evaluate.plan(sink.present, masks, problem.metrics, seeds)
    report = evaluate.RunReport(skipped_cells=sink.stored)
    shards = {}
    if method == "sisa":
        for seed in sorted({t.seed for t in tasks}):
            shards[seed] = [_fit(problem, 1 << k, seed) for k in range(n)]
    rows = []
    for batch in Executor(jobs=jobs).map_unordered(
        partial(_removal_task, problem, unit, method, iterations, shards), tasks
    ):
        rows += batch
    sink.write(rows)
    report.count(rows)
    sink.finish()
    report.seconds = time.perf_counter() - started
    return report


def _fit(problem, mask: int, seed: int, estimator=None):
    """Fit one training set as :func:`cfgraph.evaluate.fit_node` does: (model, status, note)."""
    return evaluate.fit_training_set(problem, mask, seed, estimator)


def _removal_task(problem, unit, method, iterations, shards, task):
    return _removal_cells(problem, task.mask, task.seed, list(task.wanted), unit, method, iterations,
                          shards.get(task.seed))


def _removal_cells(problem, mask, seed, wanted, unit, method, iterations, shards):
    """Cells of training set ``mask`` (without ``unit``) after removing ``unit`` from ``mask + unit``."""
    if mask == 0 or method == "exact":
        return evaluate.fit_node(problem, mask, seed, wanted)
    started = time.perf_counter()
    if method == "sisa":
        members = [shards[k] for k in range(len(shards)) if mask >> k & 1]
        failed = [m for m in members if m[1] == "failed"]
        if failed:
            model, status, note = None, "failed", failed[0][2]
        else:
            fitted = [m[0] for m in members]
            model = (ShardMeanRegressor(fitted) if problem.task == "regression"
                     else ShardEnsemble(fitted, problem.classes)).fit()
            status = "constant" if all(m[1] == "constant" for m in members) else "ok"
            note = next((m[2] for m in members if m[2]), None)
    else:
        model, status, note = _warm_removal(problem, mask, seed, unit, iterations)
    return evaluate.score_model(problem, model, mask, seed, wanted, status, note, time.perf_counter() - started)


def _warm_removal(problem, mask, seed, unit, iterations):
    """Warm-started refit on ``mask`` from the model fitted on ``mask + unit``."""
    regression = problem.task == "regression"
    before, status, note = _fit(problem, mask | 1 << unit, seed)
    warm_key, iter_key = warm_start_keys(problem)
    if status == "ok" and (regression or
                           np.array_equal(before.classes_, np.unique(problem.y_train[problem.training_rows(mask)]))):
        before.set_params(**{warm_key: True, iter_key: iterations})
        return _fit(problem, mask, seed, estimator=before)
    # No usable coefficients (the set before removal had a constant target or failed to fit,
    # or removal drops a class): a cold start with the same iteration budget.
    cold = evaluate.build_estimator(problem, seed).set_params(**{iter_key: iterations})
    model, status, note = _fit(problem, mask, seed, estimator=cold)
    why = "the model before removal was not fitted" if regression else "classes changed"
    return model, status, note or f"warm start impossible ({why}); cold start"


def audit(exact: np.ndarray, approx: np.ndarray, unit: int, tolerance: float = DEFAULT_TOLERANCE) -> dict:
    """Gap between approximate and exact removal of one unit, per slice, against a tolerance.

    Parameters
    ----------
    exact : ndarray, shape (2**n,) or (2**n, m)
        The parent's cells (exact retraining of every training set).
    approx : ndarray, same shape
        The unlearn world's cells; only training sets without ``unit`` are read.
    unit : int
        The removed unit i.
    tolerance : float
        Largest acceptable absolute gap (0.15 by default, as on the original site).

    Returns
    -------
    dict
        ``coalitions`` (the sets T without i), ``gap`` (``approx - exact`` at
        each T), ``max_gap`` and ``mean_gap`` (of ``|gap|`` per slice, NaN cells
        skipped), ``passed`` (per slice, ``max_gap <= tolerance``), ``tolerance``.

    References
    ----------
    Bourtoule et al. (2021), "Machine unlearning" (SISA, exact retraining as the reference);
    Neel, Roth & Sharifi-Malvajerdi (2021), "Descent-to-delete: gradient-based methods for
    machine unlearning" (warm-started descent from the old model).

    Examples
    --------
    >>> r = audit(np.array([0.2, 0.6, 0.5, 0.9]), np.array([0.2, 0.6, 0.3, 0.9]), 0)
    >>> r["coalitions"].tolist(), r["max_gap"].item(), bool(r["passed"])
    ([0, 2], 0.2, False)
    """
    exact = np.asarray(exact, dtype=float)
    approx = np.asarray(approx, dtype=float)
    coalitions, _ = V.marginal_contributions(exact, unit)
    gap = approx[coalitions] - exact[coalitions]
    size = np.abs(gap)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN slice gives NaN, on purpose
        max_gap, mean_gap = np.nanmax(size, axis=0), np.nanmean(size, axis=0)
    return {"coalitions": coalitions, "gap": gap, "max_gap": max_gap, "mean_gap": mean_gap,
            "passed": max_gap <= tolerance, "tolerance": tolerance}
