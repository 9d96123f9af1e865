"""Detecting flipped labels, and KNN-Shapley and Data-OOB against pyDVL (issue 11).

(detect) The task data valuation benchmarks rank methods on (OpenDataVal; Jiang et al. 2023): flip
    10% of the training labels of a bundled dataset (breast_cancer by default: 170 training rows,
    399 test rows; every training row a unit of a sampled world; logistic regression; accuracy on
    every test row), value the points, and call the lowest values flipped. For each method: the ROC
    AUC of -value against "flipped", the F1 of a 2-means split of the values (the cluster of lower
    mean is called flipped), wall seconds, new fits and reused training sets; and a random baseline.
    Methods, in this order on ONE world (a later method reuses what an earlier one stored, so the
    order changes their wall times, not their values): LOO (n + 1 training sets), TMC Shapley
    (Ghorbani & Zou 2019), MSR Banzhaf (Wang & Jia 2023) and Beta(4, 1) Shapley (stratified sampler;
    Kwon & Zou 2022) at a budget of B training sets each, KNN-Shapley (Jia et al. 2019; k = 5, no
    fit) and Data-OOB (Kwon & Zou 2023; B bags). Repeated over flip seeds: mean ± std.
(knn) KNN-Shapley on the whole digits training set (75/25 stratified split, k = 5, 1,347 x 450):
    pyDVL 0.10's KNNShapleyValuation against cfgraph.values.knn.knn_shapley (mean over test rows),
    on the same rows: time ratio and the largest difference of values, on the raw digits (integer
    pixels: many tied distances, ordered by sklearn on pyDVL's side and by row index on cfgraph's)
    and on digits plus a 1e-6 jitter (no ties: the two games are the same).
(oob) Data-OOB on the noisy-label world of the first flip seed with the same number of bags:
    pyDVL's BaggingClassifier + DataOOBValuation against cfgraph's Data-OOB on a fresh world (every
    bag a fit): detection AUC of each, and time per bag.

pyDVL runs in its own environment (``bench/pydvl_env.py``) through ``bench/pydvl_methods.py``.
Everything runs with one BLAS / OpenMP thread and one job.
Run: ``.venv/bin/python bench/bench_noisy.py`` (B = 2,000, 3 flip seeds); ``--quick`` (B = 200, one
flip seed); ``--only detect`` (or knn, oob) runs one part.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import tempfile
import time
from pathlib import Path

THREADS = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
# Before numpy loads: threadpoolctl limits only the libraries already loaded, and scikit-learn's and
# scipy's load later, lazily. Two OpenBLAS threads on a busy 2-core machine cost 50-80 ms of CPU per
# logreg fit of 170 points instead of 3 (measured 2026-12-02).
for _name, _count in THREADS.items():
    os.environ.setdefault(_name, _count)

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from pydvl_env import ensure_env  # noqa: E402

HERE = Path(__file__).resolve().parent
PEER = HERE / "pydvl_methods.py"


def pydvl_run(task: dict | list[dict], timeout: float = 900.0):
    """Run task(s) through ``bench/pydvl_methods.py`` in pyDVL's environment; None (after one line) if unavailable."""
    python = ensure_env()
    if python is None:
        return None
    try:
        done = subprocess.run([str(python), str(PEER)], input=json.dumps(task), capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, **THREADS})
    except subprocess.TimeoutExpired:
        print(f"    pyDVL unavailable: the peer took more than {timeout:.0f} s")
        return None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        print(f"    pyDVL unavailable: the peer failed: {last[:300]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- the noisy-label world ------------------------------------------------------------------------

def noisy_world(dataset: str, *, test_size: float, fraction: float, split_seed: int, flip_seed: int,
                path: Path) -> tuple[dict, np.ndarray]:
    """A CSV world of ``dataset`` with ``fraction`` of its training labels flipped, and which units are flipped.

    cfgraph splits a CSV with ``train_test_split(stratify=labels, random_state=split_seed)``, whose
    choice depends on the labels by position only. So the flipped labels are chosen first, and the
    CSV's rows are laid out so that the split of those labels puts only unflipped rows (clean labels)
    in the test slots and every flipped row in training. Features are standardised with the
    training rows' mean and deviation (KNN-Shapley's distances then weigh features alike; the
    ``logreg`` model standardises anyway). A flipped label becomes another class drawn uniformly.

    Returns
    -------
    spec : dict
        The world's recipe (every training row a unit, sampled lattice, logreg, accuracy).
    flipped : ndarray of bool, shape (n_units,)
        Whether each unit's (training row's) label was flipped, in unit order.
    """
    from sklearn.model_selection import train_test_split

    from cfgraph.data import load_builtin
    from cfgraph.worlds import make_spec, prepare

    data = load_builtin(dataset)
    X, y = data.X, data.y
    n_rows = len(y)
    n_train = n_rows - math.ceil(test_size * n_rows)
    rng = np.random.default_rng(flip_seed)
    classes = np.unique(y)
    is_flipped = np.zeros(n_rows, bool)
    is_flipped[rng.choice(n_rows, round(fraction * n_train), replace=False)] = True
    noisy = y.copy()
    for row in np.flatnonzero(is_flipped):
        noisy[row] = rng.choice(classes[classes != y[row]])
    slot_labels = np.sort(noisy)  # the CSV's label column, slot by slot
    _, test_slots = train_test_split(np.arange(n_rows), test_size=test_size, random_state=split_seed,
                                     stratify=slot_labels)
    in_test = np.zeros(n_rows, bool)
    in_test[test_slots] = True
    row_at = np.empty(n_rows, int)
    for c in classes:
        slots = np.flatnonzero(slot_labels == c)
        members = rng.permutation(np.flatnonzero(noisy == c))
        members = members[np.argsort(is_flipped[members], kind="stable")]  # clean rows first: they fill the tests
        if (~is_flipped[members]).sum() < in_test[slots].sum():
            raise SystemExit(f"too few clean rows of class {c} for the test split")
        row_at[slots[in_test[slots]]] = members[:in_test[slots].sum()]
        row_at[slots[~in_test[slots]]] = rng.permutation(members[in_test[slots].sum():])
    train_rows = row_at[~in_test]
    mean, std = X[train_rows].mean(axis=0), X[train_rows].std(axis=0)
    features = (X[row_at] - mean) / np.where(std > 0, std, 1.0)
    names = [f"x{j}" for j in range(X.shape[1])]
    with open(path, "w") as f:
        f.write(",".join(names + ["label"]) + "\n")
        for vector, label in zip(features, noisy[row_at]):
            f.write(",".join(repr(float(v)) for v in vector) + f",{label}\n")
    spec = make_spec(csv_path=str(path), target="label", group_by="point", units=None, model="logreg",
                     metrics=["accuracy"], seeds=[0], seed=split_seed, test_size=test_size, lattice="sampled")
    prepared = prepare(spec)
    problem = prepared.problem
    flipped_csv = is_flipped[row_at]
    if flipped_csv[prepared.test_ids].any() or not np.array_equal(problem.y_test, y[row_at][prepared.test_ids]):
        raise SystemExit("the noisy world's split did not keep the test labels clean (sklearn's split changed?)")
    flipped = np.zeros(len(prepared.units), bool)
    flipped[problem.train_unit] = flipped_csv[prepared.train_ids]
    if flipped.sum() != is_flipped.sum():
        raise SystemExit("a flipped row did not land in training")
    return spec, flipped


# ---- detection figures --------------------------------------------------------------------------

def detection(values: np.ndarray, flipped: np.ndarray) -> dict:
    """ROC AUC of -values for "flipped", and the F1 of a 2-means split (lower-mean cluster = flipped).

    Units without a value (a sampler that never reached them) get the median value: no vote either way.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import f1_score, roc_auc_score

    values = np.asarray(values, dtype=float)
    missing = ~np.isfinite(values)
    values = np.where(missing, np.nanmedian(values) if (~missing).any() else 0.0, values)
    auc = roc_auc_score(flipped, -values)
    if np.ptp(values) == 0:
        return {"auc": auc, "f1": 0.0, "missing": int(missing.sum())}
    km = KMeans(n_clusters=2, n_init=10, random_state=0).fit(values.reshape(-1, 1))
    low = int(np.argmin(km.cluster_centers_[:, 0]))
    return {"auc": auc, "f1": f1_score(flipped, km.labels_ == low), "missing": int(missing.sum())}


def random_baseline(flipped: np.ndarray, repeats: int = 200) -> dict:
    """Random scores (AUC) and a random split flagging as many units as are flipped (F1), mean over seeds."""
    from sklearn.metrics import f1_score, roc_auc_score

    aucs, f1s = [], []
    for seed in range(repeats):
        rng = np.random.default_rng(seed)
        aucs.append(roc_auc_score(flipped, rng.random(len(flipped))))
        flag = np.zeros(len(flipped), bool)
        flag[rng.choice(len(flipped), flipped.sum(), replace=False)] = True
        f1s.append(f1_score(flipped, flag))
    return {"auc": float(np.mean(aucs)), "f1": float(np.mean(f1s))}


# ---- the methods ----------------------------------------------------------------------------------

def methods(budget: int, bags: int, k: int, n: int) -> list[tuple[str, object]]:
    """(label, call(store, world) -> Valuation) in the order they run on one world of ``n`` units.

    The stratified sampler gives each unit in turn ``strata`` pairs (S, S + i), so a turn of every
    unit costs 2 strata n training sets: strata is the most that fits in the budget (1 to 32).
    """
    from cfgraph.valuation import estimate

    strata = int(np.clip(budget // (2 * n), 1, 32))

    def sampled(sampler, **params):
        return lambda store, world: estimate(store, world, sampler, budget=budget, seed=0, jobs=1, progress=False,
                                             **params)

    def other(method, **params):
        def call(store, world):
            from cfgraph.methods import value  # the lead's module: may not exist yet

            return value(store, world, method, jobs=1, progress=False, **params)
        return call

    return [("LOO", lambda store, world: estimate(store, world, "loo", seed=0, jobs=1, progress=False)),
            ("TMC Shapley", sampled("tmc")),
            ("MSR Banzhaf", sampled("msr")),
            (f"Beta(4,1) Shapley (strata={strata})", sampled("stratified", semivalue="beta", alpha=4, beta=1,
                                                            strata=strata)),
            (f"KNN-Shapley (k={k})", other("knn-shapley", k=k)),
            ("Data-OOB", other("data-oob", bags=bags, seed=0))]


def run_method(call, store, world: str) -> dict:
    """One method's valuation: values of the target column, fits, reused, seconds; or why it is not available."""
    started, cpu = time.perf_counter(), time.process_time()
    try:
        v = call(store, world)
    except Exception as exc:  # a method still being written reports "not available" and the bench goes on
        return {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:120]}
    return {"values": np.asarray(v.estimate.values[:, 0], dtype=float), "fits": v.fits, "reused": v.reused,
            "seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu}


def pm(xs, fmt: str) -> str:
    """Mean ± std over runs (just the number for one run)."""
    xs = np.asarray(xs, dtype=float)
    return format(xs.mean(), fmt) if len(xs) == 1 else f"{xs.mean():{fmt}} ± {xs.std(ddof=1):{fmt}}"


def bench_detect(args, tmp: Path) -> None:
    from cfgraph.store import open_store
    from cfgraph.worlds import build_world

    results, baselines = {}, []
    for flip_seed in args.flip_seeds:
        spec, flipped = noisy_world(args.dataset, test_size=args.test_size, fraction=args.fraction,
                                    split_seed=0, flip_seed=flip_seed, path=tmp / f"noisy-{flip_seed}.csv")
        calls = methods(args.budget, args.bags, args.k, len(flipped))
        if flip_seed == args.flip_seeds[0]:
            print(f"(detect) {args.dataset}: {len(flipped)} training points (units), {flipped.sum()} labels flipped "
                  f"({args.fraction:.0%}), test split {args.test_size:.0%} with clean labels; logreg, accuracy of "
                  f"slice all; B = {args.budget:,} training sets (Data-OOB: {args.bags:,} bags); flip seeds "
                  f"{', '.join(map(str, args.flip_seeds))}; one world per flip seed, methods in the order shown")
        store = open_store(tmp / f"noisy-{flip_seed}.db")
        build_world(store, "noisy", spec, progress=False)
        for label, call in calls:
            out = run_method(call, store, "noisy")
            if "values" in out:
                out.update(detection(out.pop("values"), flipped))
            results.setdefault(label, []).append(out)
            print(f"    flip seed {flip_seed}: {label}: " + (out["error"] if "error" in out else
                  f"AUC {out['auc']:.3f} F1 {out['f1']:.3f} {out['seconds']:.1f} s ({out['cpu']:.1f} CPU), "
                  f"{out['fits']} fits, {out['reused']} reused"), flush=True)
        store.close()
        baselines.append(random_baseline(flipped))
    print(f"    {'method':30s} {'ROC AUC':>15s} {'F1 (2-means)':>15s} {'wall s':>13s} {'CPU s':>13s} "
          f"{'new fits':>9s} {'reused':>7s}")
    for label, runs in results.items():
        done = [r for r in runs if "error" not in r]
        if not done:
            print(f"    {label:30s} not available ({runs[0]['error']})")
            continue
        note = f"  ({sum(r['missing'] for r in done)} unit values missing)" if any(r["missing"] for r in done) else ""
        print(f"    {label:30s} {pm([r['auc'] for r in done], '.3f'):>15s} {pm([r['f1'] for r in done], '.3f'):>15s} "
              f"{pm([r['seconds'] for r in done], '.1f'):>13s} {pm([r['cpu'] for r in done], '.1f'):>13s} "
              f"{np.mean([r['fits'] for r in done]):9.0f} {np.mean([r['reused'] for r in done]):7.0f}{note}")
    print(f"    {'random':30s} {pm([b['auc'] for b in baselines], '.3f'):>15s} "
          f"{pm([b['f1'] for b in baselines], '.3f'):>15s}   (200 random scorings / random splits flagging "
          f"{args.fraction:.0%}, per flip seed)")
    print("    wall s and new fits depend on the order: each method runs after the ones above it on the same world "
          "and reuses the training sets they stored (reused); alone on a fresh world it would fit them all.")


# ---- KNN-Shapley against pyDVL ----------------------------------------------------------------------

def best_of(repeats: int, call):
    """(shortest wall seconds, last result) of ``repeats`` calls."""
    times, out = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        out = call()
        times.append(time.perf_counter() - started)
    return min(times), out


def bench_knn(args, tmp: Path) -> None:
    from sklearn.model_selection import train_test_split

    from cfgraph.data import load_builtin

    data = load_builtin("digits")
    X, labels = data.X, data.y
    y = np.unique(labels, return_inverse=True)[1]  # pyDVL's pointwise scores need numeric labels
    train, test = train_test_split(np.arange(len(y)), test_size=0.25, random_state=0, stratify=y)
    print(f"(knn) digits, {len(train):,} training x {len(test)} test rows (75/25 stratified, seed 0), k = {args.k}; "
          f"values = mean over test rows of Jia's exact per-test-point Shapley values; one thread; best of "
          f"{args.repeats}")
    try:
        from cfgraph.values.knn import knn_shapley
    except ImportError as exc:
        knn_shapley = None
        print(f"    cfgraph's KNN-Shapley not available ({exc})")
    jitter = np.random.default_rng(0).normal(scale=1e-6, size=X.shape)
    print(f"    {'features':28s} {'pyDVL s':>8s} {'cfgraph s':>9s} {'ratio':>6s} {'max |diff|':>10s} "
          f"{'max |value|':>11s}")
    for name, features in (("digits (ties)", X), ("digits + 1e-6 jitter (no ties)", X + jitter)):
        task = {"method": "knn-shapley", "k": args.k, "X_train": features[train].tolist(), "y_train": y[train].tolist(),
                "X_test": features[test].tolist(), "y_test": y[test].tolist()}
        theirs = pydvl_run([task] * args.repeats)
        peer = None if theirs is None else (min(r["seconds"] for r in theirs), np.asarray(theirs[0]["values"]))
        ours = None
        if knn_shapley is not None:
            seconds, per_test = best_of(args.repeats, lambda f=features: knn_shapley(
                f[train], y[train], f[test], y[test], args.k))
            ours = (seconds, per_test.mean(axis=0))
        if peer is None or ours is None:
            side = ours or peer
            print(f"    {name:28s} only {'cfgraph' if ours else 'pyDVL' if peer else 'neither'}"
                  + (f": {side[0]:.3f} s" if side else ""))
            continue
        print(f"    {name:28s} {peer[0]:8.3f} {ours[0]:9.4f} {ours[0] / peer[0]:6.3f} "
              f"{np.abs(ours[1] - peer[1]).max():10.1e} {np.abs(peer[1]).max():11.1e}  "
              f"({tied_rows(features[train], y[train], features[test])} test rows with a tie of differently "
              f"labelled training rows)")


def tied_rows(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray) -> int:
    """Test rows for which two training rows of different labels are at exactly the same distance
    (where the tie-breaking order can change KNN-Shapley values)."""
    from scipy.spatial.distance import cdist

    d = cdist(X_test, X_train, "sqeuclidean")
    order = np.argsort(d, axis=1, kind="stable")
    d, labels = np.take_along_axis(d, order, axis=1), y_train[order]
    return int(((d[:, 1:] == d[:, :-1]) & (labels[:, 1:] != labels[:, :-1])).any(axis=1).sum())


# ---- Data-OOB against pyDVL -----------------------------------------------------------------------

def bench_oob(args, tmp: Path) -> None:
    from cfgraph.store import open_store
    from cfgraph.worlds import build_world, prepare

    flip_seed = args.flip_seeds[0]
    spec, flipped = noisy_world(args.dataset, test_size=args.test_size, fraction=args.fraction, split_seed=0,
                                flip_seed=flip_seed, path=tmp / f"oob-{flip_seed}.csv")
    problem = prepare(spec).problem
    order = np.argsort(problem.train_unit)  # training rows in unit order: unit k is one row
    y = np.unique(problem.y_train, return_inverse=True)[1]
    print(f"(oob) Data-OOB on the noisy {args.dataset} world (flip seed {flip_seed}, {len(flipped)} points, "
          f"{flipped.sum()} flipped), logreg, {args.bags:,} bags each side, seed 0, one job")
    task = {"method": "data-oob", "model": "logreg", "bags": args.bags, "seed": 0,
            "X_train": problem.X_train[order].tolist(), "y_train": y[order].tolist()}
    theirs = pydvl_run(task)
    store = open_store(tmp / f"oob-{flip_seed}.db")  # a fresh world: every bag is a fit
    build_world(store, "noisy", spec, progress=False)
    ours = run_method(methods(args.budget, args.bags, args.k, len(flipped))[-1][1], store, "noisy")
    store.close()
    print(f"    {'side':8s} {'ROC AUC':>8s} {'F1':>6s} {'wall s':>7s} {'ms/bag':>7s} {'CPU ms/bag':>10s}  detail")
    if theirs is not None:
        d = detection(theirs["values"], flipped)
        print(f"    {'pyDVL':8s} {d['auc']:8.3f} {d['f1']:6.3f} {theirs['seconds']:7.2f} "
              f"{1e3 * theirs['seconds'] / args.bags:7.2f} {1e3 * theirs['cpu_seconds'] / args.bags:10.2f}  "
              f"BaggingClassifier fit {theirs['fit_seconds']:.2f} s (bootstrap with repeats), valuation "
              f"{theirs['value_seconds']:.2f} s")
    if "error" in ours:
        print(f"    {'cfgraph':8s} not available ({ours['error']})")
    else:
        d = detection(ours["values"], flipped)
        print(f"    {'cfgraph':8s} {d['auc']:8.3f} {d['f1']:6.3f} {ours['seconds']:7.2f} "
              f"{1e3 * ours['seconds'] / args.bags:7.2f} {1e3 * ours['cpu'] / args.bags:10.2f}  {ours['fits']} fits, "
              f"{ours['reused']} reused (a bag = its distinct points, stored as a training set with its cells)")
    try:
        from cfgraph.values.oob import bootstrap_bags
    except ImportError:
        return
    bags = bootstrap_bags(len(flipped), args.bags, 0)
    wall, cpu = floor_per_bag(problem, order, bags)
    print(f"    {'floor':8s} {'':8s} {'':6s} {wall * args.bags:7.2f} {1e3 * wall:7.2f} {1e3 * cpu:10.2f}  bare logreg "
          f"fit on each bag's distinct points + predict of the training and test rows, no store")
    if theirs is not None:
        same = np.array_equal(bags, np.array([np.isin(np.arange(len(flipped)), b) for b in theirs["in_bag"]]))
        gap = "" if "error" in ours else \
            f"; max |value difference| {np.abs(ours['values'] - np.asarray(theirs['values'])).max():.3f}"
        print(f"    the bags' distinct points: {'the same' if same else 'NOT the same'} on both sides (pyDVL fits "
              f"the repeats of a bootstrap draw, cfgraph each point once){gap}")


def floor_per_bag(problem, order: np.ndarray, bags: np.ndarray) -> tuple[float, float]:
    """Mean wall and CPU seconds of a bare fit on a bag's distinct points and a prediction of every
    training and test row."""
    from cfgraph.estimators import make_estimator

    X, y = problem.X_train[order], problem.y_train[order]
    started, cpu = time.perf_counter(), time.process_time()
    for bag in bags:
        model = make_estimator("logreg", 0, task=problem.task).fit(X[bag], y[bag])
        model.predict(X), model.predict(problem.X_test)
    return (time.perf_counter() - started) / len(bags), (time.process_time() - cpu) / len(bags)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="B = 200, 200 bags, one flip seed, one repeat")
    parser.add_argument("--only", choices=["detect", "knn", "oob"], action="append", help="run only these parts")
    parser.add_argument("--dataset", default="breast_cancer", choices=["breast_cancer", "wine", "iris", "digits"])
    parser.add_argument("--test-size", type=float, default=0.7, help="test share (0.7: 170 training points)")
    parser.add_argument("--fraction", type=float, default=0.1, help="share of training labels flipped")
    parser.add_argument("--budget", type=int, default=2000, help="B: training sets per sampled method")
    parser.add_argument("--bags", type=int, default=None, help="Data-OOB bags (default B)")
    parser.add_argument("--k", type=int, default=5, help="KNN-Shapley's K")
    parser.add_argument("--flip-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of (knn), best kept")
    args = parser.parse_args()
    if args.quick:
        args.budget, args.flip_seeds, args.repeats = min(args.budget, 200), args.flip_seeds[:1], 1
    args.bags = args.bags or args.budget
    parts = {"detect": bench_detect, "knn": bench_knn, "oob": bench_oob}
    # Load the BLAS and OpenMP libraries first, so the limit reaches them (under bench/run.py numpy may
    # have loaded before this module set the environment variables).
    import scipy.optimize  # noqa: F401
    import sklearn.cluster  # noqa: F401

    import cfgraph.estimators  # noqa: F401

    started = time.perf_counter()
    with threadpool_limits(limits=1), tempfile.TemporaryDirectory() as tmp:
        for key, part in parts.items():
            if not args.only or key in args.only:
                part(args, Path(tmp))
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
