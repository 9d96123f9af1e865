"""Dask against loky: cells per second with 1 and 2 workers on one world, and the cost of one task.

The world is digits in 10 KMeans units with logistic regression: 1,024 training sets
(``--quick``: 7 units, 128). Each executor fills the whole lattice through
:func:`cfgraph.evaluate.run` into a sink that only counts, so the figures are the
engine's and not the database's. A LocalCluster's start is timed apart (a real
cluster is started once, by its own command). The per-task overhead runs tasks that
do nothing but receive the world's data (shared: Dask scatters it once, joblib binds
it to the function) with 2 workers each; the printed ratios are Dask over loky.
loky with 1 job runs in this process (joblib's sequential path), Dask's 1 worker in another.

    python bench/bench_dask.py [--quick]
"""

from __future__ import annotations

import argparse
import time

from cfgraph import evaluate
from cfgraph.executors import Executor
from cfgraph.worlds import make_spec, prepare


class CountingSink:
    """Counts the cells it is handed and stores nothing."""

    stored = 0

    def __init__(self):
        self.cells = 0

    def write(self, rows):
        self.cells += len(rows)

    def finish(self):
        pass


def _noop(problem, item):
    """A task that does nothing with the world's data it received."""
    return item


def fill(problem, tasks, executor) -> tuple[float, int]:
    """Seconds to fill every task's cells on ``executor`` (after a warm-up batch), and the cells written."""
    evaluate.run(tasks[:8], problem, CountingSink(), executor, progress=False)  # warm: workers up, imports done
    sink = CountingSink()
    started = time.perf_counter()
    evaluate.run(tasks, problem, sink, executor, progress=False)
    return time.perf_counter() - started, sink.cells


def per_task(problem, executor, n: int) -> float:
    """Seconds per task of ``n`` tasks that only receive the world's data."""
    list(executor.map_unordered(_noop, range(8), problem))  # workers up, data sent
    started = time.perf_counter()
    done = sum(1 for _ in executor.map_unordered(_noop, range(n), problem))
    assert done == n
    return (time.perf_counter() - started) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="7 units (128 fits) and 300 tiny tasks")
    args = parser.parse_args()
    try:
        from cfgraph.dask_executor import local_cluster

        import distributed  # noqa: F401  (the optional extra)
    except ImportError:
        print("skipped: dask.distributed is not installed (pip install 'cfgraph[dask]')")
        return
    units, tiny = (7, 300) if args.quick else (10, 2000)
    spec = make_spec(dataset="digits", group_by="kmeans", units=units, model="logreg", seeds=[0], seed=0)
    problem = prepare(spec).problem
    wanted = tuple((p, m) for p in range(len(problem.slice_rows)) for m in problem.metrics)
    tasks = [evaluate.Task(mask, 0, wanted) for mask in range(1 << units)]
    print(f"digits, {units} units, logreg: {len(tasks)} fits x {len(wanted)} cells")

    rates, overhead = {}, {}
    for workers in (1, 2):
        seconds, cells = fill(problem, tasks, Executor("loky", workers))
        rates[("loky", workers)] = cells / seconds
        print(f"loky {workers} job(s): {seconds:6.1f} s, {cells / seconds:8.0f} cells/s", flush=True)
        started = time.perf_counter()
        with local_cluster(workers) as cluster, Executor("dask", scheduler=cluster.scheduler_address) as dask:
            dask.check()
            start = time.perf_counter() - started
            seconds, cells = fill(problem, tasks, dask)
            rates[("dask", workers)] = cells / seconds
            print(f"dask {workers} worker(s): {seconds:6.1f} s, {cells / seconds:8.0f} cells/s "
                  f"(LocalCluster start {start:.1f} s, not counted)", flush=True)
            if workers == 2:
                overhead["dask"] = per_task(problem, dask, tiny)
    overhead["loky"] = per_task(problem, Executor("loky", 2), tiny)

    print("\nratios (dask / loky):")
    for workers in (1, 2):
        print(f"  cells per second, {workers} worker(s): {rates[('dask', workers)] / rates[('loky', workers)]:.2f}")
    print(f"  scaling 1 -> 2 workers: loky x{rates[('loky', 2)] / rates[('loky', 1)]:.2f}, "
          f"dask x{rates[('dask', 2)] / rates[('dask', 1)]:.2f}")
    print(f"  per-task overhead ({tiny} empty tasks, 2 workers): dask {overhead['dask'] * 1e3:.2f} ms, "
          f"loky {overhead['loky'] * 1e3:.2f} ms, ratio {overhead['dask'] / overhead['loky']:.1f}")


if __name__ == "__main__":
    main()
