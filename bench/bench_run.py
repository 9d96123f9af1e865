"""The cost of building a world against the cost of its fits alone.

(a) For a digits world of n = 12 KMeans units (13 evaluation slices: one per unit and
    "all"), with GaussianNB and with logistic regression: the wall time of the real
    build (``worlds.build_world`` into a fresh SQLite file: data, grouping, preflight,
    planning, 4096 fits, scoring 13 slices each, writing 53,248 cells) against the
    floor, the sum over all 2^n training sets of one bare ``fit`` plus one ``predict``
    on the test rows, timed in this process. The ratio is what cfgraph adds.
    Also a regression world: diabetes, n = 10, ridge, scored with R^2.
(b) The build time for n = 10, 12 and 14 (GaussianNB, units drawn at random: KMeans leaves
    one of 14 clusters without test rows): time per fit stays flat, so the cost grows as
    2^n fits.

Everything runs in one process with one BLAS / OpenMP thread (build and floor alike), and
each figure of (a) is the best of ``--repeat`` runs, so other work on the machine blurs
the ratio less.

Run: ``.venv/bin/python bench/bench_run.py`` (or ``make bench``); ``--quick`` skips
logistic regression and n = 14.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

from threadpoolctl import threadpool_limits

from cfgraph.estimators import make_estimator
from cfgraph.store import open_store
from cfgraph.worlds import build_world, make_spec, prepare


def digits_spec(n: int, model: str, group_by: str = "kmeans") -> dict:
    return make_spec(dataset="digits", group_by=group_by, units=n, model=model, metrics=["accuracy"],
                     seeds=[0], seed=0, eval_slices="units")


def floor_seconds(spec: dict) -> float:
    """Sum over every training set of one bare fit plus one predict on all test rows."""
    problem = prepare(spec).problem
    n = int(problem.train_unit.max()) + 1
    total = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings on tiny sets: the build records them
        for mask in range(1, 1 << n):
            rows = ((mask >> problem.train_unit) & 1).astype(bool)
            X, y = problem.X_train[rows], problem.y_train[rows]
            model = make_estimator(spec["model"], 0, task=problem.task)
            started = time.perf_counter()
            try:
                model.fit(X, y).predict(problem.X_test)
            except ValueError:  # one class: logistic regression refuses it (the build predicts it instead)
                pass
            total += time.perf_counter() - started
    return total


def build_seconds(spec: dict, tmp: Path) -> tuple[float, int, int]:
    """Wall time of the real build into a fresh SQLite file; (seconds, fits, cells)."""
    store = open_store(Path(tempfile.mkdtemp(dir=tmp)) / "cfgraph.db")
    started = time.perf_counter()
    report = build_world(store, "digits", spec, progress=False)
    seconds = time.perf_counter() - started
    store.close()
    return seconds, report.fits, report.cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="GaussianNB only, n = 10 and 12")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each figure of (a); the best is kept")
    args = parser.parse_args()
    with threadpool_limits(limits=1):
        run(args)


def run(args) -> None:
    models = ["gnb"] if args.quick else ["gnb", "logreg"]
    sizes = [10, 12] if args.quick else [10, 12, 14]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print("(a) digits, n = 12 units, 13 slices, 1 seed, 1 job: build against fit + predict alone")
        for model in models:
            spec = digits_spec(12, model)
            builds, floors = [], []
            for _ in range(args.repeat if model == "gnb" else 1):
                build, fits, cells = build_seconds(spec, tmp)
                builds.append(build)
                floors.append(floor_seconds(spec))
            build, floor = min(builds), min(floors)
            print(f"  {model:7s} build {build:7.2f} s  floor {floor:7.2f} s  ratio {build / floor:5.2f}  "
                  f"({fits} fits, {cells} cells)")
        spec = make_spec(dataset="diabetes", group_by="kmeans", units=10, model="ridge", metrics=["r2"], seeds=[0],
                         seed=0, eval_slices="units")
        build, fits, cells = build_seconds(spec, tmp)
        floor = floor_seconds(spec)
        print(f"  diabetes, n = 10, 11 slices, ridge, r2: build {build:5.2f} s  floor {floor:5.2f} s  "
              f"ratio {build / floor:5.2f}  ({fits} fits, {cells} cells)")
        print("(b) GaussianNB build time by n, random units (KMeans leaves a unit without test rows at n = 14)")
        for n in sizes:
            build, fits, _ = build_seconds(digits_spec(n, "gnb", "random"), tmp)
            print(f"  n = {n:2d}  {fits:6d} fits  {build:7.2f} s  {1e3 * build / fits:6.3f} ms per fit")


if __name__ == "__main__":
    main()
