"""A separate virtual environment for pyDVL, the peer of the sampled-values benchmark.

pyDVL 0.10 needs numpy < 2 and cfgraph needs numpy >= 2, so pyDVL can never be a dependency of
cfgraph (not at run time, not in the tests): the benchmark builds this environment once, at
``bench/.pydvl-venv`` (or ``$CFGRAPH_PYDVL_VENV``), and runs ``bench/pydvl_peer.py`` inside it.
scikit-learn is pinned to cfgraph's own version, so both sides fit the same code and the time
per fit compares the valuation machinery, not two releases of the models.

The environment is reused while its marker file lists the same requirements; a failed install
prints one line and gives None, so the rest of the benchmark still runs and reports pyDVL as
unavailable.

Run: ``.venv/bin/python bench/pydvl_env.py`` (prints the environment's python; ``--rebuild``
starts it again).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: What the environment holds: versions that install together on Python 3.11 (tried 2026-12-02).
REQUIREMENTS = ("pydvl==0.10.0", "numpy==1.26.4", "scikit-learn==1.8.0")

#: Written last, so an interrupted install is redone rather than trusted.
MARKER = "cfgraph-pydvl.txt"


def venv_dir() -> Path:
    """Where the environment lives: ``$CFGRAPH_PYDVL_VENV``, else ``bench/.pydvl-venv``."""
    return Path(os.environ.get("CFGRAPH_PYDVL_VENV") or HERE / ".pydvl-venv")


def venv_python(path: Path | None = None) -> Path:
    """The environment's interpreter."""
    path = path or venv_dir()
    return path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _ready(path: Path) -> bool:
    marker = path / MARKER
    return venv_python(path).exists() and marker.exists() and marker.read_text().split() == list(REQUIREMENTS)


def ensure_env(*, rebuild: bool = False, timeout: float = 1200.0) -> Path | None:
    """The python of a ready pyDVL environment, building it first if needed; None when it cannot be built.

    Parameters
    ----------
    rebuild : bool
        Start the environment again even when it is ready.
    timeout : float
        Seconds allowed for creating the environment and installing into it.

    Returns
    -------
    pathlib.Path or None
        The environment's python, or None after printing one line saying why.
    """
    path = venv_dir()
    if not rebuild and _ready(path):
        return venv_python(path)
    print(f"building the pyDVL environment at {path} ({' '.join(REQUIREMENTS)}) ...", flush=True)
    python = os.environ.get("CFGRAPH_PYDVL_PYTHON") or sys.executable  # venv resolves a venv's python to its base
    steps = [
        [python, "-m", "venv", "--clear", str(path)],
        [str(venv_python(path)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"pyDVL unavailable: {' '.join(step[:4])}: {type(exc).__name__}: {exc}".splitlines()[0])
            return None
        if done.returncode != 0:
            errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")] or \
                     done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
            print(f"pyDVL unavailable: {' '.join(step[2:4])} failed: {errors[0][:300]}")
            return None
    (path / MARKER).write_text("\n".join(REQUIREMENTS) + "\n")
    return venv_python(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="build the environment again")
    args = parser.parse_args()
    python = ensure_env(rebuild=args.rebuild)
    if python is None:
        sys.exit(1)
    print(python)


if __name__ == "__main__":
    main()
