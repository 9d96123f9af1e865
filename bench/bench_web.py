"""Benchmarks of the web explorer's two hot paths, each as a ratio to a baseline in the same run.

(a) The grid page of an n = 8 world with powerset evaluation slices (256 training sets x 255
    slices = 65,280 cells), rendered server-side with the question panel; baseline: the store's
    own full read of that lattice (``lattice_table``), the least any grid must do.
    The world is real by default: iris in 8 random units, GaussianNB, built with build_world
    (about 30 s); ``--synthetic`` imports a synthetic grid instead.
(b) A node's neighbourhood in an n = 16 world (65,536 training sets x 17 slices, a synthetic
    grid imported with import_grid): the training-set page, the lattice-graph page and the
    neighbours API; baseline: one full-lattice read of the same world.

Usage: ``python bench/bench_web.py [--synthetic] [--keep DIR] [--repeat R]``; ``make bench`` runs it.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cfgraph import lattice
from cfgraph.grids import import_grid
from cfgraph.store import open_store
from cfgraph.store.catalog import find_world
from cfgraph.store.cells import lattice_table
from cfgraph.web import create_app
from cfgraph.worlds import build_world, make_spec


def timed(fn, repeat: int) -> tuple[float, object]:
    """Median wall seconds of ``repeat`` calls (after one warm-up call), and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def synthetic_grid(path: Path, n: int, slice_masks: list[int], seed: int = 0) -> Path:
    """A CSV grid of a saturating utility: each unit adds weight, more so on slices that hold it."""
    rng = np.random.default_rng(seed)
    letters = lattice.unit_letters(n)
    labels = lattice.all_labels(letters)
    weights = rng.uniform(0.2, 1.0, n)
    masks = np.arange(1 << n)
    member = ((masks[:, None] >> np.arange(n)) & 1).astype(float)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["train_set", "eval_slice", "value"])
        for e in slice_masks:
            own = ((e >> np.arange(n)) & 1).astype(float)
            signal = member @ weights + 2.0 * (member @ own) / max(own.sum(), 1)
            score = 0.1 + 0.85 * (1 - np.exp(-signal / 2)) + rng.normal(0, 0.01, len(masks))
            name = "all" if e == (1 << n) - 1 else lattice.mask_label(e, letters)
            writer.writerows(zip(labels, [name] * len(masks), np.round(score, 6).tolist()))
    return path


def build_n8(store, workdir: Path, synthetic: bool) -> str:
    with store.session() as session:
        if find_world(session, "p8") is not None:
            return "existing"
    started = time.perf_counter()
    if synthetic:
        full = (1 << 8) - 1
        masks = sorted(range(1, full + 1), key=lambda m: (m.bit_count(), m))
        import_grid(store, synthetic_grid(workdir / "p8.csv", 8, masks), "p8")
        how = "synthetic grid, import_grid"
    else:
        spec = make_spec(dataset="iris", group_by="random", units=8, model="gnb", metrics=["accuracy"],
                         seeds=[0], seed=0, test_size=0.4, eval_slices="powerset")
        build_world(store, "p8", spec, jobs=2, progress=False)
        how = "iris, 8 random units, gnb, build_world"
    return f"{how}, {time.perf_counter() - started:.1f} s"


def build_n16(store, workdir: Path) -> str:
    with store.session() as session:
        if find_world(session, "n16") is not None:
            return "existing"
    started = time.perf_counter()
    masks = [1 << i for i in range(16)] + [(1 << 16) - 1]
    import_grid(store, synthetic_grid(workdir / "n16.csv", 16, masks), "n16")
    return f"synthetic grid, import_grid, {time.perf_counter() - started:.1f} s"


def full_read(store, world: str):
    def read():
        with store.session() as session:
            return lattice_table(session, world)
    return read


def get(client, url: str):
    def fetch():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:300])
        return response
    return fetch


def line(name: str, seconds: float, baseline: float, extra: str = "") -> str:
    return f"  {name:<58} {seconds * 1000:9.1f} ms  {seconds / baseline:7.3f} x baseline{extra}"


def main(argv: list[str] | None = None) -> None:
    """Build (or reuse) the two worlds, then print each figure with its ratio to its baseline.

    ``argv`` holds this benchmark's options; bench/run.py calls ``main()`` with none.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", action="store_true", help="import a synthetic n=8 grid instead of training")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the database in this folder")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv or [])
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        store = open_store(workdir / "bench_web.db")
        print(f"n=8 powerset world: {build_n8(store, workdir, args.synthetic)}", flush=True)
        print(f"n=16 world: {build_n16(store, workdir)}", flush=True)
        app = create_app({"DATABASE_URL": str(workdir / "bench_web.db")})
        client = app.test_client()

        print("(a) grid of the n=8 powerset world, 256 training sets x 255 slices = 65,280 cells")
        base, table = timed(full_read(store, "p8"), args.repeat)
        assert table.values.shape == (256, 255), table.values.shape
        print(line("baseline: full lattice read (lattice_table)", base, base))
        for name, url in (
            ("grid page, heat map + 12 questions", "/world/p8/grid"),
            ("grid page, raw values shown", "/world/p8/grid?raw=1"),
            ("grid page, LOO pair selected + Shapley column", "/world/p8/grid?cell=ABCDEFGH:all&cell=ABCDEFG:all"
                                                             "&col=all"),
            ("question panel alone (after a click)", "/world/p8/grid/panel?cell=ABCDEFGH:all&cell=ABCDEFG:all"),
            ("JSON API grid", "/api/worlds/p8/grid"),
        ):
            seconds, response = timed(get(client, url), args.repeat)
            print(line(name, seconds, base, f"  ({len(response.data) / 1e6:.2f} MB)"))

        print("(b) neighbourhood of node ACEGIKMO in the n=16 world, 65,536 training sets x 17 slices")
        base, table = timed(full_read(store, "n16"), max(1, args.repeat // 2))
        assert table.values.shape == (1 << 16, 17), table.values.shape
        print(line("baseline: full lattice read (lattice_table)", base, base))
        for name, url in (
            ("training-set page (17 slices x 16 neighbours)", "/world/n16/node/ACEGIKMO"),
            ("lattice graph page, local view + walked path", "/world/n16/graph?slice=all&node=ACEGIKMO"
                                                            "&path=ACEGIKM,ACEGIKMO"),
            ("lattice graph page, data-strike lens", "/world/n16/graph?slice=all&node=ACEGIKMO&lens=strike"
                                                    "&coalition=ACEG"),
            ("JSON API neighbours", "/api/worlds/n16/nodes/ACEGIKMO/neighbours"),
        ):
            seconds, _ = timed(get(client, url), args.repeat)
            print(line(name, seconds, base))
        app.extensions["cfgraph.store"].close()
        store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
