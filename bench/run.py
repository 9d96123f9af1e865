"""Run every benchmark in bench/ (each module's main()), in one process, one after the other."""

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    sys.path.insert(0, str(HERE))
    names = sys.argv[1:] or sorted(p.stem for p in HERE.glob("bench_*.py"))
    for name in names:
        print(f"== {name}", flush=True)
        sys.argv = [name]  # each benchmark parses its own (default) options
        importlib.import_module(name).main()


if __name__ == "__main__":
    main()
