"""The demo's worlds, built by one call (``cfgraph demo``, the tests' ``demo_db`` fixture).

``build_demo(store)`` imports the seed's toy grid, trains the digits world on two model
seeds, derives two variant worlds of it (a poisoned one and an approximate-unlearning one)
and imports the bundled related-work snapshot; running it again computes nothing new.
The guided scenarios (:mod:`cfgraph.scenarios`) are asked of exactly these worlds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cfgraph.grids import import_grid
from cfgraph.resources import seed_file
from cfgraph.worlds import build_world, make_spec

__all__ = ["DEMO_WORLD", "DEMO_SPEC", "TOY_WORLD", "POISON_WORLD", "POISON_RECIPE", "UNLEARN_WORLD",
           "UNLEARN_RECIPE", "DEMO_WORLDS", "DemoReport", "build_demo"]

TOY_WORLD = "toy"
DEMO_WORLD = "digits"
# Two model seeds so that cells can be compared across seeds. The logistic regression (lbfgs) is
# deterministic, so the seeds differ only where the seed enters: the uniform guesser at ∅.
DEMO_SPEC = dict(dataset="digits", group_by="kmeans", units=4, model="logreg", metrics=["accuracy"], seeds=[0, 1],
                 seed=0, test_size=0.3, eval_slices="units")
#: Poisoning: a fifth unit E of label-flipped copies of unit A's rows (Biggio et al. 2012).
POISON_WORLD = "digits-poison"
POISON_RECIPE = {"kind": "poison", "unit": "A", "method": "flip"}
#: Unlearning: unit A removed by SISA (drop A's shard), to audit against exact retraining (the parent).
UNLEARN_WORLD = "digits-unlearn"
UNLEARN_RECIPE = {"kind": "unlearn", "unit": "A", "method": "sisa"}
#: Every world the demo builds, in build order.
DEMO_WORLDS = (TOY_WORLD, DEMO_WORLD, POISON_WORLD, UNLEARN_WORLD)


@dataclass
class DemoReport:
    """What :func:`build_demo` did, one line per world (``lines``), for the CLI to print."""

    lines: list[str] = field(default_factory=list)


def build_demo(store, *, jobs: int = 1, progress: bool | None = None) -> DemoReport:
    """Build (or resume) the demo worlds in ``store``.

    Parameters
    ----------
    store : cfgraph.store.Store
        An open store; the worlds of :data:`DEMO_WORLDS` are written into it: ``toy``
        (the seed's grid, 4 of 16 rows known), ``digits`` (4 KMeans units, logistic
        regression, model seeds 0 and 1), ``digits-poison`` (digits plus a poison unit E)
        and ``digits-unlearn`` (unit A removed from every training set by SISA).
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

    References
    ----------
    Biggio, Nelson & Laskov (2012), "Poisoning attacks against support vector machines";
    Bourtoule et al. (2021), "Machine unlearning" (SISA).

    Examples
    --------
    >>> from cfgraph.store import open_store
    >>> store = open_store("sqlite://")
    >>> report = build_demo(store, progress=False)  # doctest: +SKIP
    >>> sorted(DEMO_WORLDS)
    ['digits', 'digits-poison', 'digits-unlearn', 'toy']
    """
    from cfgraph.variants import build_variant

    report = DemoReport()
    toy = import_grid(store, seed_file("toy_grid.csv"), TOY_WORLD, replace=True,
                      description="The seed's four-object toy grid: four known rows, twelve missing.")
    report.lines.append(f"toy world: {toy['cells']} cells imported from seed_data/toy_grid.csv "
                        "(12 rows missing by design)")
    run = build_world(store, DEMO_WORLD, make_spec(**DEMO_SPEC), jobs=jobs, progress=progress)
    report.lines.append(f"digits world: {run.fits} fits now, {run.skipped_cells} cells were already stored, "
                        f"{run.failed} failed (model seeds {', '.join(map(str, DEMO_SPEC['seeds']))})")
    for name, recipe in ((POISON_WORLD, POISON_RECIPE), (UNLEARN_WORLD, UNLEARN_RECIPE)):
        made = build_variant(store, DEMO_WORLD, recipe, name=name, jobs=jobs, progress=progress)
        report.lines.append(f"{name} world ({made.move}): {made.run.fits} fits now, "
                            f"{made.copied} cells copied from digits")
    try:
        from cfgraph.semble.service import import_snapshot
    except ImportError:
        return report
    report.lines.append(f"related work: {import_snapshot(store, seed_file('semble_snapshot.json'))}")
    return report
