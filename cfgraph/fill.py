"""Fill named training sets of a trained world: the missing cells a plan asks for.

:func:`compute_cells` fits the named training sets of a trained world (exhaustive or
sampled) through the engine of ``cfgraph run`` (:func:`cfgraph.evaluate.run`): the same
:class:`~cfgraph.evaluate.Problem` rebuilt from the world's recipe
(:func:`cfgraph.worlds.trained_problem`), the same sinks (each batch one transaction: a job
stopped halfway keeps whole fits only), the same seeds (``random_state=seed``), skipping cells
already stored (so it resumes), under the world's advisory lock on PostgreSQL
(:func:`cfgraph.store.locks.world_lock`). Each fit scores every slice and metric still missing.
"""

from __future__ import annotations

import numpy as np

from cfgraph import evaluate, lattice
from cfgraph.errors import CfgraphError
from cfgraph.executors import Executor
from cfgraph.store import catalog
from cfgraph.store.locks import world_lock
from cfgraph.store.sink import SampledSink, StoreSink

__all__ = ["compute_cells", "parse_training_sets"]


def parse_training_sets(training_sets, letters) -> list[int]:
    """Training sets as masks, from labels ("ACD", "A+C", "∅") or masks; duplicates dropped.

    Raises
    ------
    CfgraphError
        On an unknown unit or a mask outside the world.

    Examples
    --------
    >>> parse_training_sets(["AB", "∅", 3], "ABC")
    [3, 0]
    """
    n, out = len(letters), []
    for item in training_sets:
        if isinstance(item, (int, np.integer)):
            mask = int(item)
            if not 0 <= mask < 1 << n:
                raise CfgraphError(f"training set mask {mask} is outside a world of {n} units")
        else:
            mask = lattice.parse_label(str(item).replace(" ", ""), letters)
        out.append(mask)
    return list(dict.fromkeys(out))


def _choose(wanted, known: list, what: str, name: str) -> list:
    """Every value of the recipe (``wanted`` None or empty), or the wanted ones, checked; in the recipe's order."""
    if wanted is None or wanted == "" or (isinstance(wanted, (list, tuple)) and not wanted):
        return list(known)
    values = wanted if isinstance(wanted, (list, tuple)) else [wanted]
    out = []
    for value in values:
        value = int(value) if what == "seed" else str(value)
        if value not in known:
            raise CfgraphError(f"world {name!r} has no {what} {value!r} in its recipe ({what}s: "
                               f"{', '.join(map(str, known))})")
        out.append(value)
    return [v for v in known if v in out]


def compute_cells(store, world: str, training_sets, seed=None, metric: str | None = None, jobs: int = 1,
                  on_batch=None, executor: Executor | None = None, *, seeds=None,
                  on_plan=None) -> evaluate.RunReport:
    """Fit the named training sets of a trained world and store every missing cell of them.

    Parameters
    ----------
    store : cfgraph.store.Store
    world : str
        A trained world's name (exhaustive or sampled).
    training_sets : sequence of str or int
        Labels ("ACD", "A+C", "∅") or masks.
    seed : int, optional
        One model seed of the recipe (the same as ``seeds=[seed]``).
    metric : str, optional
        One metric of the recipe (default: every metric).
    jobs : int
        Parallel fits (joblib n_jobs).
    on_batch : callable, optional
        Called with the number of fits stored so far after each stored batch.
    executor : Executor, optional
        Where fits run; overrides ``jobs``.
    seeds : sequence of int, optional
        The model seeds to fill (default: every seed of the world's recipe). Each named
        training set is fitted once per seed that lacks one of its cells.
    on_plan : callable, optional
        Called once with the number of fits to make, before the first.

    Returns
    -------
    cfgraph.evaluate.RunReport
        Fits made and cells written (nothing when every cell was stored).

    Raises
    ------
    CfgraphError
        On a world without a model (imported), an unknown unit, seed or metric, both ``seed``
        and ``seeds``, or (on PostgreSQL) a world another run is filling; nothing is written then.
    NotFound
        On an unknown world.

    Examples
    --------
    >>> from cfgraph.store import open_store
    >>> from cfgraph.worlds import build_world, make_spec
    >>> store = open_store("sqlite://")
    >>> _ = build_world(store, "p", make_spec(dataset="iris", units=3, model="gnb", lattice="sampled",
    ...                                       eval_slices="classes"))
    >>> compute_cells(store, "p", ["AB", "A"]).fits, compute_cells(store, "p", ["AB"]).fits
    (2, 0)
    >>> compute_cells(store, "p", ["B"], seeds=[0]).fits
    1
    """
    from cfgraph.worlds import trained_problem

    with store.session() as session:
        record = catalog.get_world(session, world)
        name, kind, spec, sampled = record.name, record.kind, record.spec, record.lattice == "sampled"
        letters = [u.label for u in record.units]
    problem = trained_problem(name, kind, spec, "to fit missing cells with")
    masks = parse_training_sets(training_sets, letters)
    metrics = _choose(metric, spec["metrics"], "metric", name)
    if seed not in (None, "") and seeds not in (None, "", [], ()):
        raise CfgraphError("give seed or seeds, not both")
    seeds = _choose(seeds if seed in (None, "") else seed, spec["seeds"], "seed", name)
    if not masks:
        return evaluate.RunReport()
    with world_lock(store, world):  # PostgreSQL: refused in one line while another run fills it
        if sampled:
            sink = SampledSink.open(store, name, metrics, seeds)
            present = sink.present_for(_members(masks, len(letters)))  # (sets, seeds, slices, metrics)
            tasks = _tasks(masks, present, metrics, seeds)
        else:
            sink = StoreSink.open(store, name, metrics, seeds)
            tasks = evaluate.plan(sink.present, masks, metrics, seeds)
        if on_plan is not None:
            on_plan(len(tasks))
        return evaluate.run(tasks, problem, sink, executor or Executor(jobs=jobs), progress=False,
                            desc=f"filling {name}", on_batch=on_batch)


def _members(masks: list[int], n: int) -> np.ndarray:
    from cfgraph.store.nodes import masks_to_members

    return masks_to_members(masks, n)


def _tasks(masks: list[int], present: np.ndarray, metrics: list[str], seeds: list[int]) -> list[evaluate.Task]:
    """Tasks for a sampled world: one per (training set, seed) with a cell not stored."""
    out = []
    for k, si in zip(*np.nonzero(~present.all(axis=(2, 3)))):
        positions, metric_idx = np.nonzero(~present[k, si])
        out.append(evaluate.Task(masks[k], int(seeds[si]),
                                 tuple((int(p), metrics[m]) for p, m in zip(positions, metric_idx))))
    return out
