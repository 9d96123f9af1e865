"""Start-up: `cfgraph --help` and `cfgraph sql` load neither scikit-learn, scipy nor Alembic.

Each command runs in a fresh interpreter that imports the CLI, invokes it, then
prints the top-level packages it loaded; a heavy import slipping back into a
module imported at start-up fails here. Timings belong in bench/, not here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cfgraph.store.db import alembic_config, head_revision

HEAVY = {"sklearn", "scipy", "alembic"}

RUNNER = """
import json, sys
from cfgraph.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def loaded(*args: str) -> tuple[set[str], str]:
    done = subprocess.run([sys.executable, "-c", RUNNER, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    *output, modules = done.stdout.strip().splitlines()
    return set(json.loads(modules)), "\n".join(output)


def test_help_imports_no_heavy_package():
    modules, output = loaded("--help")
    assert "Commands:" in output and "grid" in output
    assert not modules & HEAVY, sorted(modules & HEAVY)


@pytest.fixture
def current_db(tmp_path):
    """A database at the head revision (created through Alembic in this process)."""
    from cfgraph.store import open_store

    path = tmp_path / "start.db"
    open_store(path).close()
    return path


def test_sql_on_a_current_store_imports_no_heavy_package(current_db):
    modules, output = loaded("--db", str(current_db), "sql", "SELECT 40 + 2 AS answer", "--format", "json")
    assert json.loads(output) == [{"answer": 42}]
    assert "sqlalchemy" in modules  # the store was opened, without Alembic
    assert not modules & HEAVY, sorted(modules & HEAVY)


def test_head_revision_without_alembic_agrees_with_alembic():
    from alembic.script import ScriptDirectory

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()
