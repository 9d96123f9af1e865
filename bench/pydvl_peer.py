"""The pyDVL side of the sampled-values benchmark: one valuation of n groups, run by pyDVL 0.10.

This script runs INSIDE the separate pyDVL environment (``bench/pydvl_env.py`` builds it:
pyDVL needs numpy < 2), so it imports nothing from cfgraph. It reads one task from a JSON
file, plays the same game as a cfgraph world, and prints one JSON object on stdout.

The game, as cfgraph defines it (``cfgraph/estimators.py``, ``cfgraph/evaluate.py``):

- the data is a scikit-learn bundled dataset (``digits``, ``iris`` or ``breast_cancer``), X as
  float, labels as the target names, split into the task's exact train and test rows;
- a unit is a group of training rows (``groups[k]`` is the group of ``train[k]``, 0 .. n-1);
- the model is ``gnb`` (``GaussianNB()``) or ``logreg`` (``StandardScaler`` then
  ``LogisticRegression(max_iter=2000, random_state=seed)``);
- the utility of a training set is the accuracy of its model on every test row; a training set
  with one class predicts that class (cfgraph's ``constant`` rule, applied here inside the
  counting estimator); the empty set scores ``empty_value`` (cfgraph's seeded uniform guesser;
  pyDVL never fits it and returns its scorer's ``default``, which is set to that number).

Methods (``method`` in the task), with pyDVL 0.10's own classes:

- ``tmc``: ``TMCShapleyValuation(utility, truncation=RelativeTruncation(rtol, burn_in_fraction),
  is_done=MaxFits(budget), seed=seed)``, a permutation sampler with truncation (Ghorbani & Zou
  2019); pyDVL's defaults are rtol = 0.01, burn-in 0.4.
- ``msr``: ``MSRBanzhafValuation(utility, is_done=MaxFits(budget), batch_size=1, seed=seed)``,
  Maximum Sample Reuse (Wang & Jia 2023).
- ``exact-shapley`` / ``exact-banzhaf``: ``ShapleyValuation`` / ``BanzhafValuation`` with a
  ``DeterministicUniformSampler`` and ``NoStopping(sampler)``, with each training set fitted once
  (2^n - 1 fits instead of n 2^n: see ``CountingUtility``).

The budget is a number of fits: pyDVL has no stopping rule that counts them (``MaxUpdates``
counts permutations for TMC, ``MaxChecks`` and ``MaxSamples`` count samples, and an empty
sample costs no fit), so ``MaxFits`` is a small ``StoppingCriterion`` subclass, pyDVL's own
extension point, that reads the number of ``fit`` calls the counting estimator made. pyDVL
checks its stopping rule after each batch (one permutation for TMC, one subset for MSR), so TMC
may overshoot the budget by up to n - 1 fits; the output gives the fits actually made.

Task keys: dataset, train, test (row indices of the bundled dataset), groups (one per training
row), model, method, budget (fits, default 500), seed (the sampler's), model_seed (cfgraph's
model seed, default 0), empty_value (optional), truncation ({rtol, burn_in_fraction}, tmc only),
batch_size (msr only, default 1).

Output keys: method, pydvl, numpy, sklearn (versions), values, stderr, counts (per group, in
group order), fits (calls to fit, counted), utility_calls (including the empty set's), seconds
(wall time of ``valuation.fit`` only), cpu_seconds (its process time: steadier on a shared
machine), seconds_per_fit (wall), stopped_by.

The task file may hold a list of tasks: they run one after the other in one process (pyDVL's
import costs seconds) and the output is the list of their results.

Run: ``bench/.pydvl-venv/bin/python bench/pydvl_peer.py task.json`` (``--out result.json``
writes the result to a file too).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

warnings.simplefilter("ignore")  # pyDVL's deprecation notices on import and sklearn's on tiny sets
import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn import datasets as skdatasets  # noqa: E402
from sklearn.dummy import DummyClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score  # noqa: E402
from sklearn.naive_bayes import GaussianNB  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import pydvl  # noqa: E402
from pydvl.valuation import (  # noqa: E402
    BanzhafValuation,
    Dataset,
    DeterministicUniformSampler,
    GroupedDataset,
    ModelUtility,
    MSRBanzhafValuation,
    NoStopping,
    RelativeTruncation,
    ShapleyValuation,
    SupervisedScorer,
    TMCShapleyValuation,
)
from pydvl.valuation.stopping import StoppingCriterion  # noqa: E402
from pydvl.utils.status import Status  # noqa: E402

DATASETS = ("digits", "iris", "breast_cancer")
METHODS = ("tmc", "msr", "exact-shapley", "exact-banzhaf")

#: Calls to ``fit`` of every counting estimator in this process (n_jobs = 1: one process).
FITS = [0]
#: Training rows passed to those fits (the size of what was fitted).
ROWS = [0]
#: Calls to the utility of every training set, the empty one included (it costs no fit in pyDVL).
CALLS = [0]


def _counting(cls):
    """A subclass of estimator class ``cls`` whose ``fit`` is counted and predicts the one class of a one-class set.

    A subclass (not a wrapper object) keeps pyDVL's per-call ``clone`` as cheap as on the bare model.
    """

    def fit(self, X, y, **kwargs):
        FITS[0] += 1
        ROWS[0] += len(X)
        labels = np.unique(y)
        if len(labels) == 1:  # cfgraph's "constant" rule: logistic regression would refuse one class
            self.constant_ = labels[0]
            self.classes_ = labels
            return self
        self.constant_ = None
        return cls.fit(self, X, y, **kwargs)

    def predict(self, X):
        if self.constant_ is not None:
            return np.full(len(X), self.constant_)
        return cls.predict(self, X)

    return type(f"Counting{cls.__name__}", (cls,), {"fit": fit, "predict": predict, "__module__": __name__})


CountingGaussianNB = _counting(GaussianNB)
CountingLogisticRegression = _counting(LogisticRegression)


class CountingUtility(ModelUtility):
    """pyDVL's ``ModelUtility``, counting its calls (a subclass: pyDVL copies the utility it is given).

    With ``memo`` (exact modes only), each training set is fitted once: pyDVL 0.10's own cache keys
    a call by the whole ``Sample`` (its index and its subset's order), so it never hits across
    indices, and an exact Shapley run made 49,140 fits for 4,095 distinct sets at n = 12.
    """

    def __init__(self, *args, memo: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.memo = {} if memo else None

    def __call__(self, sample):
        CALLS[0] += 1
        if self.memo is None or sample is None:
            return super().__call__(sample)
        key = np.sort(sample.subset).tobytes()
        if key not in self.memo:
            self.memo[key] = super().__call__(sample)
        return self.memo[key]


def make_model(name: str, seed: int):
    """cfgraph's ``gnb`` or ``logreg`` (``cfgraph.estimators.MODELS``), with a counted fit."""
    if name == "gnb":
        return CountingGaussianNB()
    if name == "logreg":
        return make_pipeline(StandardScaler(), CountingLogisticRegression(max_iter=2000, random_state=seed))
    raise SystemExit(f"unknown model {name!r} (gnb or logreg)")


class MaxFits(StoppingCriterion):
    """Stop once the counting estimators have been fitted ``n_fits`` times (checked after each batch)."""

    def __init__(self, n_fits: int, modify_result: bool = True):
        super().__init__(modify_result=modify_result)
        self.n_fits = int(n_fits)

    def _check(self, result) -> Status:
        if FITS[0] >= self.n_fits:
            self._converged = np.full_like(result.indices, True, dtype=bool)
            return Status.Converged
        return Status.Pending

    def completion(self) -> float:
        return min(1.0, FITS[0] / self.n_fits)

    def __str__(self) -> str:
        return f"MaxFits(n_fits={self.n_fits})"


def load(task: dict):
    """Training data grouped into units and the test data, as cfgraph loads and splits them."""
    name = task["dataset"]
    if name not in DATASETS:
        raise SystemExit(f"unknown dataset {name!r} (one of {', '.join(DATASETS)})")
    bunch = getattr(skdatasets, f"load_{name}")()
    X = np.asarray(bunch.data, dtype=float)
    y = np.asarray(bunch.target_names)[bunch.target].astype(str)
    train, test = np.asarray(task["train"], dtype=int), np.asarray(task["test"], dtype=int)
    groups = np.asarray(task["groups"], dtype=int)
    if len(groups) != len(train):
        raise SystemExit("groups must give one group per training row")
    return GroupedDataset(X[train], y[train], data_groups=groups), Dataset(X[test], y[test])


def empty_value(task: dict, test: Dataset) -> float:
    """The empty training set's accuracy: the task's number, else cfgraph's seeded uniform guesser."""
    if task.get("empty_value") is not None:
        return float(task["empty_value"])
    X, y = test.data()
    classes = np.unique(np.concatenate([y, np.asarray(task.get("classes", []), dtype=str)]))
    guesser = DummyClassifier(strategy="uniform", random_state=int(task.get("model_seed", 0)))
    guesser.fit(np.zeros((len(classes), 1)), classes)
    return float(accuracy_score(y, guesser.predict(X)))


def make_valuation(task: dict, utility: ModelUtility):
    method, seed, budget = task["method"], int(task.get("seed", 0)), int(task.get("budget", 500))
    if method == "tmc":
        t = task.get("truncation", {})
        truncation = RelativeTruncation(rtol=float(t.get("rtol", 0.01)),
                                        burn_in_fraction=float(t.get("burn_in_fraction", 0.4)))
        return TMCShapleyValuation(utility, truncation=truncation, is_done=MaxFits(budget), seed=seed)
    if method == "msr":
        return MSRBanzhafValuation(utility, is_done=MaxFits(budget), batch_size=int(task.get("batch_size", 1)),
                                   seed=seed)
    if method in ("exact-shapley", "exact-banzhaf"):
        sampler = DeterministicUniformSampler()
        kind = ShapleyValuation if method == "exact-shapley" else BanzhafValuation
        return kind(utility, sampler, is_done=NoStopping(sampler))
    raise SystemExit(f"unknown method {method!r} (one of {', '.join(METHODS)})")


def run(task: dict) -> dict:
    """Value the task's groups with pyDVL; the result as a JSON-able dict."""
    train, test = load(task)
    scorer = SupervisedScorer("accuracy", test_data=test, default=empty_value(task, test), range=(0.0, 1.0))
    utility = CountingUtility(make_model(task["model"], int(task.get("model_seed", 0))), scorer, catch_errors=False,
                              show_warnings=False, memo=task["method"].startswith("exact"))
    valuation = make_valuation(task, utility)
    FITS[0] = CALLS[0] = ROWS[0] = 0
    with threadpool_limits(limits=1):  # one BLAS / OpenMP thread, as the cfgraph side
        started, cpu = time.perf_counter(), time.process_time()
        valuation.fit(train)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    result = valuation.result
    order = np.argsort(result.indices)  # values in group order 0 .. n-1
    fits = FITS[0]
    return {
        "method": task["method"], "pydvl": pydvl.__version__, "numpy": np.__version__, "sklearn": sklearn.__version__,
        "values": result.values[order].tolist(), "stderr": np.nan_to_num(result.stderr[order]).tolist(),
        "counts": result.counts[order].tolist(), "fits": fits, "rows": ROWS[0], "utility_calls": CALLS[0], "seconds": seconds,
        "cpu_seconds": cpu, "seconds_per_fit": seconds / fits if fits else None, "stopped_by": str(valuation.is_done),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", help="JSON file: dataset, train, test, groups, model, method, budget, seed")
    parser.add_argument("--out", help="also write the result to this JSON file")
    args = parser.parse_args()
    with open(args.task) as f:
        task = json.load(f)
    out = [run(t) for t in task] if isinstance(task, list) else run(task)  # a list: one start-up for many runs
    text = json.dumps(out)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
