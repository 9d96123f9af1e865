"""Start-up time of the command line, as a ratio to a bare interpreter measured in the same run.

Times, each the median of R fresh processes: ``python -c pass`` (the floor),
``cfgraph --help``, ``cfgraph sql "SELECT 1"`` on a store at the schema's head
(no Alembic, scikit-learn or scipy is imported: tests/test_startup.py checks
that), and ``cfgraph grid toy``. Before issue 8 every command took about
1.45 s on the reference machine (2 cores): the CLI imported the whole library.

Usage: ``python bench/bench_startup.py [--repeat R]``; ``make bench`` runs it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "cfgraph.cli"]


def timed(command: list[str], repeat: int) -> float:
    """Median wall time of ``repeat`` fresh processes, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from cfgraph.grids import import_grid
    from cfgraph.resources import seed_file
    from cfgraph.store import open_store

    with tempfile.TemporaryDirectory() as folder:
        db = str(Path(folder) / "startup.db")
        store = open_store(db)
        import_grid(store, seed_file("toy_grid.csv"), "toy")
        store.close()
        floor = timed([sys.executable, "-c", "pass"], args.repeat)
        rows = [
            ("python -c pass (floor)", floor),
            ("cfgraph --help", timed(CLI + ["--help"], args.repeat)),
            ('cfgraph sql "SELECT 1"', timed(CLI + ["--db", db, "sql", "SELECT 1"], args.repeat)),
            ("cfgraph grid toy", timed(CLI + ["--db", db, "grid", "toy"], args.repeat)),
        ]
    print(f"start-up, median of {args.repeat} processes:")
    for name, seconds in rows:
        print(f"  {name:<28} {seconds:6.3f} s   {seconds / floor:5.1f} x floor")


if __name__ == "__main__":
    main()
