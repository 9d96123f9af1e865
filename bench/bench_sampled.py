"""Sampled values: accuracy and cost against pyDVL, reuse of stored training sets, and scale (issue 10).

(a) Against pyDVL 0.10 (its own environment, ``bench/pydvl_env.py``: pyDVL needs numpy < 2):
    TMC Shapley (Ghorbani & Zou 2019) and MSR Banzhaf (Wang & Jia 2023) on n = 12 random groups
    of digits, GaussianNB, accuracy on every test row. Both sides play the same game (same rows,
    groups, model and empty-set value); the reference is the exact Shapley and Banzhaf values of
    cfgraph's exhaustive table of the same world (4,096 training sets; ``--check-game`` checks that
    pyDVL's exact values match it). At 500, 1,000 and 2,000 fits: RMSE against the exact values
    over ``--repeats`` sampler seeds, and time per fit (the best run's wall time, and CPU time
    over all runs: the machine is shared), cfgraph's over pyDVL's. Each cfgraph run uses a fresh
    sampled world, so every training set it uses costs a fit. What the clocks time: on cfgraph's
    side the whole ``estimate`` call on a world already created (reading the world, preparing its
    data, about 8 ms CPU once, every fit, scoring the world's 11 slices, "all" and one per class,
    since a sampled world always slices its test rows by class, storing each training set with
    its 11 cells and its edges, in transactions of up to 128 fits or 2 s, and storing the
    estimates); on pyDVL's side ``valuation.fit``
    (fits, one score each, its bookkeeping; nothing stored). Imports, world creation and pyDVL's
    data loading are outside both clocks. So cfgraph does more per fit than pyDVL, never less:
    the value compared is slice "all" only. pyDVL truncates TMC after a burn-in
    of 40% of each permutation (its default), cfgraph has none: TMC is run on pyDVL's side a
    second time without burn-in, the same rule as cfgraph's.
(b) Reuse: TMC with a budget of B training sets on a sampled world, then MSR Banzhaf and
    stratified Beta(4, 1) Shapley (Kwon & Zou 2022) with the same budget on the same world: how
    many training sets each reused and its new fits over B (pyDVL pays B each time).
(c) Scale: a sampled world of 2,000 points (make_classification) filled with 20,000 training sets
    by MSR: database size, fill time per fit against a bare fit + predict of the same sets, time
    to compute every value again from the store, peak memory at half and all of the stored sets,
    and the values page against reading its estimates.

Everything runs with one BLAS / OpenMP thread; (a) and (b) with one job on both sides.
Run: ``.venv/bin/python bench/bench_sampled.py`` (about 10 minutes on 2 shared cores); ``--quick``
(about 1 minute): 500 fits and 2 seeds in (a), 2,000 stored training sets in (c); ``--only a``
(or b, c) runs one part.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
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
    """Exact Shapley and Banzhaf values of the world's "all" slice, from its exhaustive table (2^n fits)."""
    from cfgraph import values
    from cfgraph.store import open_store
    from cfgraph.world import World
    from cfgraph.worlds import build_world

    store = open_store(tmp / "exact.db")
    build_world(store, "exact", spec, progress=False)
    with World.open(store, "exact") as world:
        column = world.table().column("all")
    store.close()
    return {"shapley": values.shapley(column), "banzhaf": values.banzhaf(column)}


def sampled_spec(**changes) -> dict:
    """The recipe of (a) and (b): digits, n = 12 random groups, GaussianNB, accuracy, one model seed."""
    from cfgraph.worlds import make_spec

    recipe = dict(dataset="digits", group_by="random", units=12, model="gnb", metrics=["accuracy"], seeds=[0], seed=0,
                  eval_slices="units", lattice="sampled")
    return make_spec(**{**recipe, **changes})


def sampler_params(method: str, budget: int) -> dict:
    """cfgraph's sampler parameters at a budget: TMC truncates as pyDVL (rtol 0.01); both run
    budget / 40 samples a round (TMC's own default), so a budget is overshot by at most 2.5%."""
    batch = int(np.clip(budget // 40, 8, 64))
    return {"tol": 0.01, "batch": batch} if method == "tmc" else {"batch": batch}


def cfgraph_run(spec: dict, method: str, budget: int, seed: int, tmp: Path) -> dict:
    """cfgraph's side of (a): one valuation on a fresh sampled world, so every training set costs a fit.

    Returns
    -------
    dict
        ``values`` (n,) of slice "all", ``fits`` (new fits = training sets used), ``seconds``
        (wall time of ``estimate``), ``cpu_seconds`` (its process time; one job, so every fit is in it).
    """
    from cfgraph.store import open_store
    from cfgraph.valuation import estimate
    from cfgraph.worlds import build_world

    path = tmp / f"{method}-{budget}-{seed}.db"
    store = open_store(path)
    build_world(store, "w", spec, progress=False)
    started, cpu = time.perf_counter(), time.process_time()
    result = estimate(store, "w", method, budget=budget, seed=seed, jobs=1, progress=False,
                      **sampler_params(method, budget))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    rows = fitted_rows(store, spec)
    store.close()
    path.unlink()
    return {"values": result.estimate.values[:, 0], "fits": result.fits, "seconds": seconds, "cpu_seconds": cpu,
            "counts": result.estimate.n_samples[:, 0], "rows": rows}


def fitted_rows(store, spec: dict) -> int:
    """Training rows of every training set stored in a fresh world's store (each was one fit)."""
    from cfgraph.store import catalog
    from cfgraph.store.nodes import stored_members
    from cfgraph.worlds import prepare

    per_unit = np.bincount(prepare(spec).problem.train_unit)
    with store.session() as session:
        _, members = stored_members(session, catalog.get_world(session, "w"))
    return int((members @ per_unit).sum())


def rmse(estimate, exact) -> float:
    """Root mean squared error over units."""
    return float(np.sqrt(np.mean((np.asarray(estimate) - np.asarray(exact)) ** 2)))


def summary(results: list[dict], exact: np.ndarray) -> dict:
    """One side's figure over seeds: RMSE (root of the mean squared RMSE), mean fits, the best run's wall
    ms per fit and the CPU ms per fit over all runs."""
    fits = sum(r["fits"] for r in results)
    return {"rmse": np.sqrt(np.mean([rmse(r["values"], exact) ** 2 for r in results])), "fits": fits / len(results),
            "samples": np.mean([np.mean(r["counts"]) for r in results]),
            "wall": 1e3 * min(r["seconds"] / r["fits"] for r in results),
            "rows": sum(r.get("rows", 0) for r in results) / fits,
            "cpu": 1e3 * sum(r["cpu_seconds"] for r in results) / fits}


def bench_pydvl(args, tmp: Path) -> None:
    exhaustive = sampled_spec(lattice="exhaustive")
    task = task_from_spec(exhaustive)
    exact = exact_values(exhaustive, tmp)
    spec = sampled_spec()
    print(f"(a) digits, n = 12 random groups, GaussianNB, accuracy of slice all; RMSE against the exact values "
          f"(cfgraph's exhaustive table) over {args.repeats} seeds; one job, one thread each side")
    print(f"    TMC truncation: |u(N) - u(prefix)| < 0.01 |u(N)| on both sides; pyDVL checks it only after "
          f"{args.burn_in:.0%} of each permutation (burn_in_fraction), cfgraph from the first prefix (no burn-in)")
    print("    each cfgraph run on a fresh sampled world: a training set used = a fit; pyDVL refits repeated sets; "
          f"RMS of the exact values: Shapley {np.sqrt(np.mean(exact['shapley'] ** 2)):.4f}, "
          f"Banzhaf {np.sqrt(np.mean(exact['banzhaf'] ** 2)):.4f}")
    if args.check_game:  # pyDVL's exact values of its game against cfgraph's table: the same game, or no comparison
        for kind in ("shapley", "banzhaf"):
            theirs = pydvl_run({**task, "method": f"exact-{kind}", "seed": 0})
            if theirs is not None:
                gap = np.abs(np.asarray(theirs["values"]) - exact[kind]).max()
                print(f"    same game: pyDVL's exact {kind} values differ from cfgraph's by at most {gap:.1e}")
    print(f"    {'sampler, budget':23s} | {'RMSE pyDVL':>10s} {'cfgraph':>8s} {'ratio':>5s} | "
          f"{'fits pyDVL':>10s} {'cfgraph':>7s} | {'samples/unit pyDVL':>18s} {'cfgraph':>7s} | "
          f"{'wall ms/fit pyDVL':>17s} {'cfgraph':>7s} {'ratio':>5s} | "
          f"{'CPU ms/fit pyDVL':>16s} {'cfgraph':>7s} {'ratio':>5s} | "
          f"{'rows/fit pyDVL':>14s} {'cfgraph':>7s} | {'CPU us/row ratio':>16s}")
    burn_ins = [args.burn_in] + ([0.0] if args.burn_in else [])  # then pyDVL with cfgraph's rule: no burn-in
    for method, kind in METHODS.items():
        for budget in args.budgets:
            # pyDVL, then cfgraph, figure by figure: a shared machine's load changes between figures
            variants = [[{**task, "method": method, "budget": budget, "seed": s, "batch_size": 1,
                          "truncation": {"rtol": 0.01, "burn_in_fraction": b}} for s in range(args.repeats)]
                        for b in (burn_ins if method == "tmc" else burn_ins[:1])]
            theirs = pydvl_run([t for tasks in variants for t in tasks]) or [None] * len(variants[0]) * len(variants)
            ours = summary([cfgraph_run(spec, method, budget, s, tmp) for s in range(args.repeats)], exact[kind])
            for k, burn_in in enumerate(burn_ins[:len(variants)]):
                line = f"    {method} {kind:8s} {budget:5d} fits |" if k == 0 else f"    {'  pyDVL burn-in 0':23s} |"
                runs = theirs[k * args.repeats:(k + 1) * args.repeats]
                if None in runs:
                    print(f"{line} pyDVL n/a; cfgraph RMSE {ours['rmse']:.4f} ({ours['fits']:.0f} fits) "
                          f"{ours['wall']:.2f} ms/fit wall, {ours['cpu']:.2f} CPU", flush=True)
                    break
                if method == "msr":  # pyDVL counts an MSR sample for the units in it only: count its draws
                    runs = [{**r, "counts": [r["utility_calls"]]} for r in runs]
                peer = summary(runs, exact[kind])
                print(f"{line} {peer['rmse']:10.4f} {ours['rmse']:8.4f} {ours['rmse'] / peer['rmse']:5.2f} | "
                      f"{peer['fits']:10.0f} {ours['fits']:7.0f} | {peer['samples']:18.0f} {ours['samples']:7.0f} | "
                      f"{peer['wall']:17.2f} {ours['wall']:7.2f} "
                      f"{ours['wall'] / peer['wall']:5.2f} | {peer['cpu']:16.2f} {ours['cpu']:7.2f} "
                      f"{ours['cpu'] / peer['cpu']:5.2f} | {peer['rows']:14.0f} {ours['rows']:7.0f} | "
                      f"{(ours['cpu'] / ours['rows']) / (peer['cpu'] / peer['rows']):16.2f}", flush=True)
    print("    RMSE: root mean square over seeds; samples/unit: each side's own count (TMC: permutations, MSR: "
          "training sets drawn, repeats included), mean over units and seeds; wall: the best run's; CPU: total over "
          "runs / total fits; rows/fit: training rows per fit (what a fit costs grows with them); CPU us/row: "
          "CPU time over training rows fitted, cfgraph's over pyDVL's")


def bench_reuse(args, tmp: Path) -> None:
    """(b) TMC, then MSR, then Beta(4, 1) Shapley on one sampled world, each with the same budget."""
    from cfgraph.store import catalog, open_store
    from cfgraph.valuation import estimate
    from cfgraph.worlds import build_world

    budget = args.reuse_budget
    store = open_store(tmp / "reuse.db")
    build_world(store, "w", sampled_spec(), progress=False)
    print(f"(b) reuse on one sampled world (the world of (a)), a budget of B = {budget:,} training sets each, in turn; "
          f"pyDVL fits B for each (its cache does not hit across methods)")
    print(f"    {'sampler':28s} {'used':>6s} {'reused':>6s} {'new fits':>8s} {'new fits / B':>12s} "
          f"{'stored after':>12s}")
    runs = (("tmc", "TMC Shapley", sampler_params("tmc", budget)),
            ("msr", "MSR Banzhaf", sampler_params("msr", budget)),
            ("stratified", "stratified Beta(4,1) Shapley", {"semivalue": "beta", "alpha": 4, "beta": 1}))
    for sampler, name, params in runs:
        result = estimate(store, "w", sampler, budget=budget, seed=0, jobs=1, progress=False, **params)
        with store.session() as session:
            stored = {w["name"]: w for w in catalog.list_worlds(session)}["w"]["training_sets"]
        print(f"    {name:28s} {result.evaluations:6d} {result.reused:6d} {result.fits:8d} "
              f"{result.fits / budget:12.2f} {stored:12,d}", flush=True)
    store.close()


def points_spec(tmp: Path) -> dict:
    """(c)'s recipe: make_classification(2,500 x 20, random_state=0) as a CSV, 20% test rows,
    every training row a unit."""
    from sklearn.datasets import make_classification

    from cfgraph.worlds import make_spec

    X, y = make_classification(n_samples=2500, n_features=20, random_state=0)
    path = tmp / "points.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", comments="", fmt=["%.8g"] * 20 + ["%d"],
               header=",".join([f"x{i}" for i in range(20)] + ["label"]))
    return make_spec(csv_path=str(path), target="label", group_by="point", units=None, model="gnb",
                     metrics=["accuracy"], seeds=[0], seed=0, test_size=0.2, lattice="sampled")


def database_size(path: Path) -> str:
    """The database file's size (with its WAL), and how much of it holds training sets and estimates (dbstat)."""
    import sqlite3

    size = path.stat().st_size + sum(p.stat().st_size for p in path.parent.glob(path.name + "-*"))
    text = f"{size / 2**20:.1f} MiB"
    con = sqlite3.connect(path)
    try:
        pages = dict(con.execute("SELECT m.tbl_name, SUM(d.pgsize) FROM dbstat d JOIN sqlite_master m ON "
                                 "m.name = d.name GROUP BY m.tbl_name").fetchall())
    except sqlite3.Error:  # SQLite built without dbstat: the file size only
        return text
    finally:
        con.close()
    sets, values = (sum(pages.get(t, 0) for t in tables)
                    for tables in (("node", "edge", "cell"), ("valuation", "estimate")))
    return (f"{text}: training sets (nodes, edges, cells, their indexes) {sets / 2**20:.1f} MiB, "
            f"estimates (valuations with their traces) {values / 2**20:.1f} MiB")


def best_of(repeats: int, call) -> float:
    """The shortest wall time of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def floor_per_fit(spec: dict, members: np.ndarray) -> float:
    """Mean seconds of one bare GaussianNB fit + predict on the test rows, over the given training sets."""
    from cfgraph.estimators import make_estimator
    from cfgraph.worlds import prepare

    problem = prepare(spec).problem
    total = 0.0
    for row in members:
        rows = row[problem.train_unit]
        X, y = problem.X_train[rows], problem.y_train[rows]
        started = time.perf_counter()
        make_estimator(spec["model"], 0, task=problem.task).fit(X, y).predict(problem.X_test)
        total += time.perf_counter() - started
    return total / len(members)


def peak_bytes(call) -> int:
    """Peak traced Python allocation (tracemalloc) during ``call()``."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def bench_scale(args, tmp: Path) -> None:
    """(c) A sampled world of 2,000 points filled with MSR: size, fill, values from the store, memory, values page."""
    from cfgraph.store import catalog, nodes, open_store
    from cfgraph.valuation import estimate
    from cfgraph.worlds import build_world

    spec, sets, path = points_spec(tmp), args.scale_sets, tmp / "points.db"
    n = spec["units"]
    store = open_store(path)
    build_world(store, "points", spec, progress=False)
    print(f"(c) scale: make_classification, {n:,} training points (units), GaussianNB, MSR with a budget of "
          f"{sets:,} training sets, {args.jobs} jobs")
    halves = []  # the fill in two halves, the second resuming the first: time per fit should not grow
    for budget in (sets // 2, sets):
        started = time.perf_counter()
        fill = estimate(store, "points", "msr", budget=budget, seed=0, jobs=args.jobs, progress=False)
        halves.append((time.perf_counter() - started, fill.fits))
    fill_seconds, fits = sum(h[0] for h in halves), sum(h[1] for h in halves)
    with store.session() as session:
        world = catalog.get_world(session, "points")
        stored = nodes.count_nodes(session, world)
        _, sample = nodes.stored_members(session, world, limit=args.floor_sets)
    floor = floor_per_fit(spec, sample)
    print(f"    stored {stored:,} training sets ({fits:,} fits); database {database_size(path)}")
    print(f"    fill {fill_seconds:7.1f} s  {1e3 * fill_seconds / fits:6.2f} ms/fit  floor (bare fit + predict, "
          f"{len(sample)} sets, one core) {1e3 * floor:6.2f} ms/fit  ratio {fill_seconds / fits / floor:5.2f} "
          f"({args.jobs} jobs: no overhead and a free core each would be {1 / args.jobs:.2f})")
    print(f"    by half: {1e3 * halves[0][0] / halves[0][1]:6.2f} ms/fit for the first {halves[0][1]:,} fits, "
          f"{1e3 * halves[1][0] / halves[1][1]:6.2f} for the next {halves[1][1]:,} (a run that resumes: it first "
          f"reads the first half back from the store)")
    again = best_of(1, lambda: estimate(store, "points", "msr", budget=sets, seed=0, jobs=args.jobs, progress=False))
    print(f"    every value again from the store (same seed, 0 fits): {again:6.1f} s, "
          f"{again / fill_seconds:5.2f} x the fill")
    peaks = [peak_bytes(lambda b=b: estimate(store, "points", "msr", budget=b, seed=0, progress=False, save=False))
             for b in (sets // 2, sets)]
    unpacked = stored * n  # bytes of the stored training sets as one bool matrix
    print(f"    peak traced memory reading values from the store: {peaks[0] / 2**20:6.1f} MiB at {sets // 2:,} "
          f"training sets, {peaks[1] / 2**20:6.1f} MiB at {sets:,} (ratio {peaks[1] / peaks[0]:4.2f} for 2x the sets; "
          f"{peaks[1] / unpacked:4.2f} x the sets as a bool matrix, 2^{n} never touched); "
          f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    store.close()
    times = page_times(path)
    if "error" in times:
        print(f"    values page: {times['error']}")
        return
    print(f"    values page {1e3 * times['page']:7.1f} ms  floor (read the {times['rows']:,} latest estimates) "
          f"{1e3 * times['floor']:7.1f} ms  ratio {times['page'] / times['floor']:5.2f}  (best of 5)")


#: The values page timing, in a child process: a crash of the page (see the report of issue 10's
#: benchmark: a segfault after a few requests on this world) must not take the benchmark with it.
PAGE_TIMER = """
import json, sys, time
from cfgraph.store import catalog, estimates, open_store
from cfgraph.web import create_app
path = sys.argv[1]
client = create_app({"DATABASE_URL": path, "TESTING": True}).test_client()
store = open_store(path, create=False)
def best(call):
    times = []
    for _ in range(5):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)
def page():
    assert client.get("/world/points/values").status_code == 200
def read():
    with store.session() as session:
        return estimates.latest_estimates(session, catalog.get_world(session, "points"))
print(json.dumps({"rows": len(read()), "page": best(page), "floor": best(read)}))
"""


def page_times(path: Path) -> dict:
    """Best of 5 values-page GETs (Flask test client) and of 5 reads of the latest estimates, in a child process.

    Returns
    -------
    dict
        ``rows``, ``page`` and ``floor`` (seconds), or ``error`` (one line) when the child failed.
    """
    threads = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", PAGE_TIMER, str(path)], capture_output=True, text=True,
                          env={**os.environ, **threads}, timeout=600)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [""])[-1][:200]
        return {"error": f"the page timer failed (exit status {done.returncode}) {last}".strip()}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 fits and 2 seeds in (a), 2,000 training sets in (c)")
    parser.add_argument("--repeats", type=int, default=5, help="sampler seeds per figure of (a)")
    parser.add_argument("--budgets", type=int, nargs="+", help="budgets of (a) (default 500 1000 2000)")
    parser.add_argument("--burn-in", type=float, default=0.4,
                        help="pyDVL's burn_in_fraction of TMC truncation (its default 0.4; cfgraph has none)")
    parser.add_argument("--reuse-budget", type=int, default=1000, help="B of (b)")
    parser.add_argument("--scale-sets", type=int, default=20000, help="training sets stored in (c)")
    parser.add_argument("--floor-sets", type=int, default=500, help="training sets timed for (c)'s floor")
    parser.add_argument("--jobs", type=int, default=2, help="jobs of (c)'s fill")
    parser.add_argument("--only", choices=["a", "b", "c"], action="append", help="run only these parts")
    parser.add_argument("--check-game", action="store_true",
                        help="first check that pyDVL's exact values equal cfgraph's table (2 x 4,095 pyDVL fits)")
    args = parser.parse_args()
    args.budgets = args.budgets or (BUDGETS[:1] if args.quick else BUDGETS)
    if args.quick:
        args.repeats = min(args.repeats, 2)
        args.scale_sets = min(args.scale_sets, 2000)
    parts = {"a": bench_pydvl, "b": bench_reuse, "c": bench_scale}
    started = time.perf_counter()
    with threadpool_limits(limits=1), tempfile.TemporaryDirectory() as tmp:
        for key, part in parts.items():
            if not args.only or key in args.only:
                part(args, Path(tmp))
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
