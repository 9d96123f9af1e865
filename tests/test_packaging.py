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


def test_every_third_party_import_is_a_core_dependency():
    """`make demo` installs only the core dependencies: cfgraph must import nothing else at module level.

    An optional extra (``pip install cfgraph[dask]``) may be imported inside a function only,
    where the feature that needs it runs.
    """
    import ast
    import re
    import sys
    from importlib.metadata import packages_distributions

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(requirements):
        return {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower().replace("_", "-") for d in requirements}

    declared = names(config["dependencies"])
    optional = names(d for extra, deps in config["optional-dependencies"].items() if extra != "test" for d in deps)
    optional |= {"distributed"} if "dask" in optional else set()  # dask[distributed] brings the distributed package
    owners = packages_distributions()
    missing = set()
    for path in (ROOT / "cfgraph").rglob("*.py"):
        tree = ast.parse(path.read_text())
        nested = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for n in ast.walk(f)}
        for node in ast.walk(tree):
            names_ = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            for name in names_:
                top = name.split(".")[0]
                if top == "cfgraph" or top in sys.stdlib_module_names:
                    continue
                dists = {d.lower().replace("_", "-") for d in owners.get(top, [top])}
                allowed = declared | optional if id(node) in nested else declared
                if not dists & allowed:
                    missing.add(f"{top} ({path.relative_to(ROOT)})")
    assert not missing, f"imported but not in [project.dependencies] (or, inside a function, an extra): {sorted(missing)}"
