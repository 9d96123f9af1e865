"""Benchmarks of the lattice approach against per-pair utility calls and plain Python loops.

(a) All of LOO + Shapley + Banzhaf + Beta on n = 8 groups of iris with GaussianNB:
    cfgraph fits each of the 2^n training sets once, stores the cells and reads every summary
    from them; the baseline computes each marginal contribution separately with two utility
    calls (two fits), method by method, as a per-pair utility without a shared table does.
(b) All semivalues from a complete table for n = 16 and n = 20 (vectorised numpy), against a
    plain Python loop over the 2^n coalitions at n = 16; plus reading an n = 16 lattice from
    the store.
(c) One semivalue at n = 16, 20 and 22 by the layer-sum table (``values.semivalue``): time and
    peak memory (tracemalloc) against the previous implementation (n passes over half the
    lattice, kept below as the reference peer) and against a floor of one ``np.sum`` over the
    whole lattice per unit; then Beta(alpha, beta) from the cached table, as the web does.

Every figure is printed with its ratio to a baseline measured in the same run.
Run: ``.venv/bin/python bench/bench_values.py`` (or ``make bench`` for every benchmark);
``bench/bench_values.py layers`` runs (c) alone.
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from cfgraph import lattice, values
from cfgraph.evaluate import fit_node
from cfgraph.grids import import_grid
from cfgraph.store import open_store
from cfgraph.store.cells import lattice_table
from cfgraph.worlds import build_world, make_spec, prepare

N_IRIS = 8


def per_pair_baseline(problem, n):
    """Each marginal contribution from two fresh utility calls; returns (fits, seconds, results)."""
    fits = 0

    def utility(mask):
        nonlocal fits
        fits += 1
        return fit_node(problem, mask, 0, [(len(problem.slice_rows) - 1, "accuracy")])[0]["value"]

    started = time.perf_counter()
    full = (1 << n) - 1
    loo = np.array([utility(full) - utility(full & ~(1 << i)) for i in range(n)])
    results = {"loo": loo}
    for kind, params in (("shapley", ()), ("banzhaf", ()), ("beta", (16.0, 1.0))):
        w = values.semivalue_weights(n, kind, *params)
        phi = np.zeros(n)
        for i in range(n):
            for s in range(1 << n):
                if not s >> i & 1:
                    phi[i] += w[s.bit_count()] * (utility(s | 1 << i) - utility(s))
        results[kind] = phi
    return fits, time.perf_counter() - started, results


def bench_iris(tmp: Path) -> list[str]:
    spec = make_spec(dataset="iris", group_by="random", units=N_IRIS, model="gnb", metrics=["accuracy"],
                     seeds=[0], seed=0, test_size=0.4)
    store = open_store(tmp / "iris8.db")
    started = time.perf_counter()
    report = build_world(store, "iris8", spec, progress=False)
    table = lattice_table(store.session(), "iris8")
    column = table.column("all")
    ours = {"loo": values.leave_one_out(column), "shapley": values.shapley(column),
            "banzhaf": values.banzhaf(column), "beta": values.beta_shapley(column, 16, 1)}
    lattice_seconds = time.perf_counter() - started
    fits, pair_seconds, theirs = per_pair_baseline(prepare(spec).problem, N_IRIS)
    for key in ours:
        assert np.allclose(ours[key], theirs[key]), key  # same answers, fewer fits
    return [
        f"(a) iris, n = {N_IRIS} random groups, GaussianNB, LOO + Shapley + Banzhaf + Beta(16,1):",
        f"    per-pair utility calls (baseline): {fits:6d} fits  {pair_seconds:7.2f} s",
        f"    cfgraph lattice (fit once, store):  {report.fits:6d} fits  {lattice_seconds:7.2f} s"
        f"   -> {fits / report.fits:.1f}x fewer fits, {pair_seconds / lattice_seconds:.1f}x faster",
    ]


def python_loop_semivalues(v, n):
    out = []
    for kind, params in (("shapley", ()), ("banzhaf", ()), ("beta", (16.0, 1.0))):
        w = values.semivalue_weights(n, kind, *params).tolist()
        vl = v.tolist()
        phi = [0.0] * n
        for i in range(n):
            bit = 1 << i
            for s in range(1 << n):
                if not s & bit:
                    phi[i] += w[bin(s).count("1")] * (vl[s | bit] - vl[s])
        out.append(phi)
    return out


def all_semivalues(v):
    return values.shapley(v), values.banzhaf(v), values.beta_shapley(v, 16, 1)


def timed(fn, *args, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - started)
    return best


def bench_table(tmp: Path) -> list[str]:
    rng = np.random.default_rng(0)
    v16 = rng.random(1 << 16)
    v20 = rng.random(1 << 20)
    loop16 = timed(python_loop_semivalues, v16, 16, repeat=1)
    np.testing.assert_allclose(np.array(python_loop_semivalues(v16, 16)), np.stack(all_semivalues(v16)))
    numpy16 = timed(all_semivalues, v16)
    numpy20 = timed(all_semivalues, v20)
    # Reading a stored n = 16 lattice (65,536 cells, one slice) back from SQLite.
    store = open_store(tmp / "n16.db")
    path = tmp / "n16.csv"
    letters = lattice.unit_letters(16)
    labels = lattice.all_labels(letters)
    path.write_text("train_set,eval_slice,value\n" + "\n".join(f"{labels[m]},all,{float(v16[m])!r}" for m in range(1 << 16)))
    from cfgraph.grids import import_grid

    import_grid(store, path, "n16", units=letters)
    read16 = timed(lambda: lattice_table(store.session(), "n16"), repeat=1)
    return [
        "(b) Shapley + Banzhaf + Beta(16,1) from a complete table:",
        f"    plain Python loop, n = 16 (baseline): {loop16 * 1000:9.1f} ms",
        f"    numpy, n = 16:                        {numpy16 * 1000:9.1f} ms   -> {loop16 / numpy16:.0f}x faster",
        f"    numpy, n = 20:                        {numpy20 * 1000:9.1f} ms   -> {loop16 / numpy20:.1f}x faster than the n = 16 loop, on 16x the cells",
        f"    reading the n = 16 lattice from SQLite: {read16 * 1000:7.1f} ms   ({read16 / loop16:.2f}x the loop's time)",
    ]


def previous_semivalue(v, weights):
    """The previous ``values.semivalue``: weight every cell for both roles, then per unit two
    plain sums over half the lattice (n passes, two weighted copies of the table)."""
    n = values.n_units_of(v)
    size = lattice.sizes(n)
    with_i = weights[np.maximum(size - 1, 0)].reshape((-1,) + (1,) * (v.ndim - 1)) * v
    without_i = weights[np.minimum(size, n - 1)].reshape((-1,) + (1,) * (v.ndim - 1)) * v
    tail = v.shape[1:]
    out = np.empty((n,) + tail)
    for i in range(n):
        shape = (1 << (n - 1 - i), 2, 1 << i) + tail
        out[i] = with_i.reshape(shape)[:, 1].sum(axis=(0, 1)) - without_i.reshape(shape)[:, 0].sum(axis=(0, 1))
    return out


def sum_per_unit_floor(v, n):
    """The floor: one np.sum over the whole lattice for each of the n units."""
    return [np.sum(v) for _ in range(n)]


def peak_bytes(fn, *args) -> int:
    """Peak memory that one call allocates (tracemalloc sees numpy's buffers)."""
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def bench_layers(_tmp: Path | None = None) -> list[str]:
    rng = np.random.default_rng(0)
    lines = ["(c) Shapley from a complete table (one slice): layer sums vs the previous code vs the floor",
             "      n    layer sums  (peak MB)   previous  (peak MB)   floor: n x np.sum   previous/new  new/floor"]
    for n in (16, 20, 22):
        v = rng.random(1 << n)
        w = values.semivalue_weights(n, "shapley")
        np.testing.assert_allclose(values.semivalue(v, w), previous_semivalue(v, w), rtol=0, atol=1e-12)
        new = timed(values.semivalue, v, w, repeat=5)
        old = timed(previous_semivalue, v, w, repeat=3)
        floor = timed(sum_per_unit_floor, v, n, repeat=5)
        new_mb = peak_bytes(values.semivalue, v, w) / 1e6
        old_mb = peak_bytes(previous_semivalue, v, w) / 1e6
        lines.append(f"    {n:3d} {new * 1000:10.1f} ms {new_mb:9.1f} {old * 1000:10.1f} ms {old_mb:9.1f}"
                     f" {floor * 1000:14.1f} ms {old / new:13.1f}x {new / floor:9.2f}x")
    table = values.layer_sums(v)
    beta = timed(lambda: values.semivalue_from_layer_sums(*table, values.semivalue_weights(n, "beta", 4, 2)),
                 repeat=20)
    lines.append(f"    Beta(4, 2) at n = {n} from the cached layer-sum table: {beta * 1e6:.0f} us "
                 f"({new / beta:.0f}x faster than summing the table again)")
    return lines


def main() -> None:
    sections = {"iris": bench_iris, "table": bench_table, "layers": bench_layers}
    chosen = [a for a in sys.argv[1:] if a in sections] or list(sections)
    with tempfile.TemporaryDirectory() as tmp:
        for name in chosen:
            for line in sections[name](Path(tmp)):
                print(line, flush=True)


if __name__ == "__main__":
    main()
