"""The wheel carries every sub-package, the migrations, the templates and the seed data."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_python_package_is_listed_for_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "cfgraph").rglob("__init__.py")}
    assert found <= listed, f"add to pyproject.toml packages: {sorted(found - listed)}"
    for package, folder in config["package-dir"].items():
        assert (ROOT / folder).is_dir() and package in listed


def test_shipped_resources_resolve():
    from cfgraph.resources import resource_dir, seed_file

    assert (resource_dir("migrations") / "env.py").is_file()
    assert (resource_dir("templates") / "base.html").is_file()
    assert seed_file("toy_grid.csv").is_file()
