"""The demo's worlds, built by one call (``cfgraph demo``, the tests' ``demo_db`` fixture).

``build_demo(store)`` imports the seed's toy grid, trains the digits world and imports the
bundled related-work snapshot; running it again computes nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cfgraph.grids import import_grid
from cfgraph.resources import seed_file
from cfgraph.worlds import build_world, make_spec

__all__ = ["DEMO_WORLD", "DEMO_SPEC", "DemoReport", "build_demo"]

DEMO_WORLD = "digits"
DEMO_SPEC = dict(dataset="digits", group_by="kmeans", units=4, model="logreg", metrics=["accuracy"], seeds=[0],
                 seed=0, test_size=0.3, eval_slices="units")


@dataclass
class DemoReport:
    """What :func:`build_demo` did, one line per world (``lines``), for the CLI to print."""

    lines: list[str] = field(default_factory=list)


def build_demo(store, *, jobs: int = 1, progress: bool | None = None) -> DemoReport:
    """Build (or resume) the demo worlds in ``store``.

    Parameters
    ----------
    store : cfgraph.store.Store
        An open store; the worlds ``toy`` and ``digits`` are written into it.
    jobs : int
        Parallel fits.
    progress : bool, optional
        Show a progress bar (default: when on a terminal).

    Returns
    -------
    DemoReport

    Raises
    ------
    CfgraphError
        If a seed file cannot be read.
    """
    report = DemoReport()
    toy = import_grid(store, seed_file("toy_grid.csv"), "toy", replace=True,
                      description="The seed's four-object toy grid: four known rows, twelve missing.")
    report.lines.append(f"toy world: {toy['cells']} cells imported from seed_data/toy_grid.csv "
                        "(12 rows missing by design)")
    run = build_world(store, DEMO_WORLD, make_spec(**DEMO_SPEC), jobs=jobs, progress=progress)
    report.lines.append(f"digits world: {run.fits} fits now, {run.skipped_cells} cells were already stored, "
                        f"{run.failed} failed")
    try:
        from cfgraph.semble.service import import_snapshot
    except ImportError:
        return report
    report.lines.append(f"related work: {import_snapshot(store, seed_file('semble_snapshot.json'))}")
    return report
