"""What every command group of the CLI shares: the store named by the global ``--db``, and the
unit legend printed under a world's tables.

Nothing heavy is imported here: the store (SQLAlchemy) loads when a command opens it.
"""

from __future__ import annotations

import click

from cfgraph.render import render

#: A model or recipe seed on the command line: numpy's and scikit-learn's random_state range.
SEED = click.IntRange(0, 2**32 - 1)

#: Columns of the unit legend.
LEGEND_COLUMNS = ["unit", "name", "definition", "training_rows"]


def store_of(ctx: click.Context, create: bool = True):
    """The :class:`~cfgraph.store.Store` of the global ``--db`` option (else
    ``$CFGRAPH_DATABASE_URL``, else ./cfgraph.db).

    With ``create=False`` a missing or older database is refused rather than made.
    """
    from cfgraph.store import open_store

    return open_store((ctx.find_object(dict) or {}).get("db"), create=create)


def lattice_of(ctx: click.Context, world: str, metric: str | None = None, seed: int | None = None):
    """A world's cells for one metric and seed (a :class:`~cfgraph.tables.LatticeTable`), from the store of ``--db``."""
    from cfgraph.world import World

    with World.open(store_of(ctx, create=False), world) as w:
        return w.table(metric, seed)


def legend_rows(units) -> list[list]:
    """One row per unit: letter, name, definition, training rows."""
    return [[u.label, u.name, u.definition, u.size] for u in units]


def render_units(units, fmt: str = "table", note: str | None = None) -> None:
    """Print the unit legend after a table: as a second table on stdout, or on stderr for CSV
    (so stdout stays one CSV document). JSON output carries it as a ``units`` key instead."""
    if fmt == "csv":
        click.echo(render(LEGEND_COLUMNS, legend_rows(units), "csv"), err=True)
        return
    heading = f"\nunits ({note}):" if note else "\nunits:"
    click.echo(heading)
    click.echo(render(LEGEND_COLUMNS, legend_rows(units), "table"))


def cap_jobs(ctx: click.Context, param, jobs: int) -> int:
    """A ``--jobs`` callback: more workers than CPUs are capped to the CPUs, with a note.

    Each loky worker is a process holding the world's data: 64 jobs on 2 cores started 68
    processes and 3 GB for no speed. 0 stays an error (the engine names it); -1 means every CPU.
    """
    import os

    cpus = os.cpu_count() or 1
    if jobs is not None and jobs > cpus:
        click.echo(f"note: {param.opts[0]} {jobs} is more than this machine's {cpus} CPU(s); using {cpus}", err=True)
        return cpus
    return jobs


def executor_options(command):
    """--executor and --scheduler: where fits run."""
    command = click.option("--scheduler", envvar="CFGRAPH_DASK_SCHEDULER", metavar="tcp://HOST:PORT",
                           help="With --executor dask: a running Dask scheduler (default: a LocalCluster of --jobs "
                                "workers on 127.0.0.1).")(command)
    return click.option("--executor", "executor_name", default="loky", show_default=True,
                        type=click.Choice(["loky", "dask"]),
                        help="Where fits run: loky processes on this machine, or a Dask cluster "
                             "(pip install 'cfgraph[dask]').")(command)
