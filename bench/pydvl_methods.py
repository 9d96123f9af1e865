"""The pyDVL side of the noisy-label benchmark: KNN-Shapley and Data-OOB, run by pyDVL 0.10.

This script runs INSIDE the separate pyDVL environment (``bench/pydvl_env.py`` builds it: pyDVL
needs numpy < 2), so it imports nothing from cfgraph. It reads one task, or a list of tasks, as
JSON on stdin and prints one JSON line: the result, or the list of results. The task carries its
rows (``X_train``, ``y_train``, ``X_test``, ``y_test`` as lists: JSON floats round-trip exactly),
so both sides read the same numbers; labels are the integers 0 .. C-1 (pyDVL's pointwise accuracy
casts ``y_pred == y_true`` to the labels' dtype, so text labels would give text scores).

Methods (``method`` in the task), with pyDVL 0.10's own classes:

- ``knn-shapley``: ``KNNShapleyValuation(KNeighborsClassifier(n_neighbors=k, algorithm=...),
  test_data)`` (Jia et al. 2019). pyDVL orders the training points of each test point by
  ``model.kneighbors(x, n_neighbors=N)`` (Euclidean; the order of tied distances is sklearn's,
  not fixed by row index), runs the recursion s_N = 1[y_N = y] / N,
  s_i = s_{i+1} + (1[y_i = y] - 1[y_{i+1} = y]) / max(K, i), and returns the mean over test points.
- ``data-oob``: ``BaggingClassifier(model, n_estimators=bags, random_state=seed)`` fitted on the
  training rows, then ``DataOOBValuation(bagging).fit(data)`` (Kwon & Zou 2023): each point's value
  is the mean 0-1 accuracy of the bags that left it out. ``model`` is ``logreg``
  (``StandardScaler`` then ``LogisticRegression(max_iter=2000)``, cfgraph's ``logreg``) or ``gnb``.

Task keys: method, X_train, y_train, X_test, y_test (knn-shapley), k (default 5), algorithm
(KNeighborsClassifier's, default "auto"), bags (default 100), seed (default 0), model (default
logreg).

Output keys: method, pydvl, numpy, sklearn (versions), values (one per training row, in row
order), counts, seconds (wall time of pyDVL's fit, and for Data-OOB of the bagging fit as well),
fit_seconds and value_seconds (Data-OOB: the bagging fit and the valuation apart), cpu_seconds,
in_bag (Data-OOB: the distinct training rows of each bag, sorted).

Run: ``bench/.pydvl-venv/bin/python bench/pydvl_methods.py < task.json``.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

warnings.simplefilter("ignore")  # pyDVL's deprecation notices on import
import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.ensemble import BaggingClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.naive_bayes import GaussianNB  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import pydvl  # noqa: E402
from pydvl.valuation import Dataset  # noqa: E402
from pydvl.valuation.methods.data_oob import DataOOBValuation  # noqa: E402
from pydvl.valuation.methods.knn_shapley import KNNShapleyValuation  # noqa: E402

MODELS = {
    "logreg": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
    "gnb": GaussianNB,
}


def rows(task: dict, part: str) -> tuple[np.ndarray, np.ndarray]:
    """The task's ``X_part`` (float) and ``y_part`` (int) arrays."""
    return np.asarray(task[f"X_{part}"], dtype=float), np.asarray(task[f"y_{part}"], dtype=int)


def knn_shapley(task: dict) -> dict:
    """pyDVL's exact KNN-Shapley values of the training rows against the test rows."""
    X, y = rows(task, "train")
    X_test, y_test = rows(task, "test")
    model = KNeighborsClassifier(n_neighbors=int(task.get("k", 5)), algorithm=task.get("algorithm", "auto"))
    valuation = KNNShapleyValuation(model, Dataset(X_test, y_test), progress=False)
    data = Dataset(X, y)
    started, cpu = time.perf_counter(), time.process_time()
    valuation.fit(data)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    result = valuation.result
    order = np.argsort(result.indices)
    return {"values": result.values[order].tolist(), "counts": result.counts[order].tolist(), "seconds": seconds,
            "cpu_seconds": cpu}


def data_oob(task: dict) -> dict:
    """pyDVL's Data-OOB values of the training rows from a freshly fitted bagging ensemble."""
    X, y = rows(task, "train")
    name = task.get("model", "logreg")
    if name not in MODELS:
        raise SystemExit(f"unknown model {name!r} (one of {', '.join(MODELS)})")
    bagging = BaggingClassifier(MODELS[name](), n_estimators=int(task.get("bags", 100)),
                                random_state=int(task.get("seed", 0)), n_jobs=1)
    started, cpu = time.perf_counter(), time.process_time()
    bagging.fit(X, y)
    fitted = time.perf_counter()
    valuation = DataOOBValuation(bagging).fit(Dataset(X, y))
    done = time.perf_counter()
    result = valuation.result
    order = np.argsort(result.indices)
    return {"values": result.values[order].tolist(), "counts": result.counts[order].tolist(),
            "seconds": done - started, "fit_seconds": fitted - started, "value_seconds": done - fitted,
            "cpu_seconds": time.process_time() - cpu,
            "in_bag": [np.unique(sample).tolist() for sample in bagging.estimators_samples_]}


METHODS = {"knn-shapley": knn_shapley, "data-oob": data_oob}


def run(task: dict) -> dict:
    """One task's result, with the versions that produced it."""
    method = task.get("method")
    if method not in METHODS:
        raise SystemExit(f"unknown method {method!r} (one of {', '.join(METHODS)})")
    with threadpool_limits(limits=1):  # one BLAS / OpenMP thread, as the cfgraph side
        out = METHODS[method](task)
    return {"method": method, "pydvl": pydvl.__version__, "numpy": np.__version__, "sklearn": sklearn.__version__,
            **out}


def main() -> None:
    task = json.load(sys.stdin)
    out = [run(t) for t in task] if isinstance(task, list) else run(task)  # a list: one start-up for many runs
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
