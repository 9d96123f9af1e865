"""Paths of the files that ship with cfgraph: migrations, templates, seed data.

In a checkout they are the top-level folders; in an installed wheel they are
the sub-packages ``cfgraph.migrations``, ``cfgraph.templates`` and
``cfgraph.seed_data`` (see ``pyproject.toml``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent


def resource_dir(name: str) -> Path:
    """Folder of the shipped resource ``name`` ("migrations", "templates", "seed_data").

    The checkout's own top-level folder when the code runs from a checkout (so code and
    templates always come from one tree, whatever an editable install elsewhere maps),
    else the installed sub-package."""
    if (_ROOT / name).is_dir() and (_ROOT / "pyproject.toml").is_file():
        return _ROOT / name
    try:
        found = Path(str(resources.files(f"cfgraph.{name}")))
        if found.is_dir():
            return found
    except ModuleNotFoundError:
        pass
    return _ROOT / name


def seed_file(filename: str) -> Path:
    """Path of a file in ``seed_data/``."""
    return resource_dir("seed_data") / filename
