"""Sampled values: accuracy and cost against pyDVL, reuse of stored training sets, and scale (issue 10).

(a) Against pyDVL 0.10 (its own environment, ``bench/pydvl_env.py``: pyDVL needs numpy < 2):
    TMC Shapley (Ghorbani & Zou 2019) and MSR Banzhaf (Wang & Jia 2023) on n = 12 random groups
    of digits, GaussianNB, accuracy on every test row. Both sides play the same game (same rows,
    groups, model and empty-set value); the reference is the exact Shapley and Banzhaf values of
    cfgraph's exhaustive table of the same world (4,096 training sets). For 500, 1,000 and 2,000
    fits: the RMSE against the exact values over ``--repeats`` sampler seeds, and the wall time
    per fit, each side's against the other's.
(b) Reuse: after TMC with a budget B on a sampled world, MSR and Beta Shapley on the same world
    cost fewer than B new fits; how many training sets each reused.
(c) Scale: a sampled world of 2,000 points with 20,000 stored training sets: database size, time
    to compute every value from the store, values page time, peak memory.

Everything runs with one BLAS / OpenMP thread and one job on both sides.
Run: ``.venv/bin/python bench/bench_sampled.py`` (``--quick``: 500 fits, 2 seeds, (a) only).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from pydvl_env import ensure_env

HERE = Path(__file__).resolve().parent
PEER = HERE / "pydvl_peer.py"
BUDGETS = (500, 1000, 2000)
METHODS = {"tmc": "shapley", "msr": "banzhaf"}  # sampler -> the exact semivalue it estimates


def pydvl_run(task: dict | list[dict], timeout: float = 900.0) -> dict | list[dict] | None:
    """Run one task (or a list, in one process) through pyDVL in its own environment.

    Parameters
    ----------
    task : dict or list of dict
        The keys ``bench/pydvl_peer.py`` reads: dataset, train, test, groups, model, method
        (tmc, msr, exact-shapley, exact-banzhaf), budget, seed (the sampler's), model_seed, empty_value.
    timeout : float
        Seconds before the peer is stopped.

    Returns
    -------
    dict or list of dict or None
        The peer's result(s) (values, stderr, counts, fits, seconds, seconds_per_fit, ...), or
        None after printing one line saying why pyDVL is unavailable.
    """
    python = ensure_env()
    if python is None:
        return None
    threads = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "task.json"
        path.write_text(json.dumps(task))
        try:
            done = subprocess.run([str(python), str(PEER), str(path)], capture_output=True, text=True,
                                  timeout=timeout, env={**os.environ, **threads})
        except subprocess.TimeoutExpired:
            print(f"pyDVL unavailable: the peer took more than {timeout:.0f} s")
            return None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        print(f"pyDVL unavailable: the peer failed: {last[:300]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def task_from_spec(spec: dict, model_seed: int = 0) -> dict:
    """The pyDVL peer's task for a cfgraph world recipe: its rows, groups and empty-set value."""
    from cfgraph.evaluate import fit_node
    from cfgraph.worlds import prepare

    prepared = prepare(spec)
    problem = prepared.problem
    if problem.preprocessor is not None or problem.sample_weight is not None or spec["csv"]:
        raise SystemExit("the pyDVL peer plays bundled datasets without preprocessing or weights only")
    everything = [s.name for s in prepared.slices].index("all")
    empty = fit_node(problem, 0, model_seed, [(everything, spec["metrics"][0])])[0]["value"]
    return {"dataset": spec["dataset"], "train": prepared.train_ids.tolist(), "test": prepared.test_ids.tolist(),
            "groups": problem.train_unit.tolist(), "model": spec["model"], "empty_value": empty,
            "classes": [str(c) for c in problem.classes], "model_seed": model_seed}


def exact_values(spec: dict, tmp: Path) -> dict[str, np.ndarray]:
    """Exact Shapley and Banzhaf values of the world's "all" slice, from its exhaustive table."""
    from cfgraph import values
    from cfgraph.store import open_store
    from cfgraph.store.cells import lattice_table
    from cfgraph.worlds import build_world

    store = open_store(tmp / "exact.db")
    build_world(store, "exact", spec, progress=False)
    column = lattice_table(store.session(), "exact").column("all")
    store.close()
    return {"shapley": values.shapley(column), "banzhaf": values.banzhaf(column)}


def cfgraph_run(spec: dict, method: str, budget: int, seed: int, tmp: Path) -> dict | None:
    """cfgraph's side of (a): the same estimate on a sampled world of the same recipe.

    To wire (lead): a fresh sampled world of ``spec`` (``lattice="sampled"``), then
    ``valuation.estimate(store, world, sampler=method, budget=budget, seed=seed, jobs=1)``;
    return ``{"values": (n,), "fits": new fits, "seconds": wall time of estimate}``.
    """
    return None


def rmse(estimate, exact) -> float:
    """Root mean squared error over units."""
    return float(np.sqrt(np.mean((np.asarray(estimate) - np.asarray(exact)) ** 2)))


def bench_pydvl(args, tmp: Path) -> None:
    from cfgraph.worlds import make_spec

    spec = make_spec(dataset="digits", group_by="random", units=12, model=args.model, metrics=["accuracy"],
                     seeds=[0], seed=0, eval_slices="units", lattice="exhaustive")
    task = task_from_spec(spec)
    exact = exact_values(spec, tmp)
    print(f"(a) digits, n = 12 random groups, {args.model}, accuracy; RMSE against exact values over "
          f"{args.repeats} seeds, one job")
    if args.check_game:  # pyDVL's exact values of its game against cfgraph's table: the same game, or no comparison
        for kind in ("shapley", "banzhaf"):
            theirs = pydvl_run({**task, "method": f"exact-{kind}", "seed": 0})
            if theirs is not None:
                gap = np.abs(np.asarray(theirs["values"]) - exact[kind]).max()
                print(f"  same game: pyDVL's exact {kind} values differ from cfgraph's table by at most {gap:.1e} "
                      f"({theirs['fits']} fits)")
    for method, kind in METHODS.items():
        for budget in args.budgets:
            # pyDVL, then cfgraph, figure by figure: a shared machine's load changes between figures
            tasks = [{**task, "method": method, "budget": budget, "seed": s} for s in range(args.repeats)]
            theirs = pydvl_run(tasks) or [None] * len(tasks)
            ours = [cfgraph_run(spec, method, budget, t["seed"], tmp) for t in tasks]
            line = f"  {method} {kind:8s} {budget:5d} fits:"
            for side, results in (("pyDVL", theirs), ("cfgraph", ours)):
                if None in results:
                    line += f"  {side} n/a"
                    continue
                error = np.sqrt(np.mean([rmse(r["values"], exact[kind]) ** 2 for r in results]))
                fits = sum(r["fits"] for r in results)
                per_fit = sum(r["seconds"] for r in results) / fits
                line += f"  {side} RMSE {error:.4f} ({fits / len(results):.0f} fits) {1e3 * per_fit:6.3f} ms/fit"
            print(line, flush=True)
    # TODO(lead): ratios cfgraph / pyDVL of RMSE and of time per fit on each line, once cfgraph_run is wired.


def bench_reuse(args, tmp: Path) -> None:
    """(b) To wire (lead): TMC with budget B, then MSR and Beta(16, 1) on the same sampled world;
    print each one's new fits and reused training sets (``ValuationResult.fits`` / ``.reused``)."""
    print("(b) reuse: not wired yet")


def bench_scale(args, tmp: Path) -> None:
    """(c) To wire (lead): digits (or breast_cancer) with ``group_by="point"``, 2,000 points, tmc or uniform
    until 20,000 stored training sets; database size (file bytes), time of every value from the store,
    values page time (Flask test client), peak memory (tracemalloc) against 2^n never touched."""
    print("(c) scale: not wired yet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 fits, 2 seeds, (a) only")
    parser.add_argument("--repeats", type=int, default=5, help="sampler seeds per figure of (a)")
    parser.add_argument("--model", default="gnb", choices=["gnb", "logreg"])
    parser.add_argument("--check-game", action="store_true",
                        help="first check that pyDVL's exact values equal cfgraph's table (2 x 4,095 pyDVL fits)")
    args = parser.parse_args()
    args.budgets = BUDGETS[:1] if args.quick else BUDGETS
    if args.quick:
        args.repeats = min(args.repeats, 2)
    with threadpool_limits(limits=1), tempfile.TemporaryDirectory() as tmp:
        bench_pydvl(args, Path(tmp))
        if not args.quick:
            bench_reuse(args, Path(tmp))
            bench_scale(args, Path(tmp))


if __name__ == "__main__":
    main()
