"""Data-OOB on a world: each bootstrap bag is a training set of the world, fitted once and stored.

:func:`data_oob_run` draws B bootstrap bags of the world's units
(:func:`cfgraph.values.oob.bootstrap_bags`), fits each bag through cfgraph's
engine (:func:`cfgraph.evaluate.run`) with ``predict_train`` on, so every fit
also predicts every training row, and values each unit by its out-of-bag score
(:func:`cfgraph.values.oob.data_oob`). A bag not yet stored becomes a training
set of the world with all its cells (every slice and metric, for the world's
first seed), so the fits Data-OOB pays for serve every later sampler and
question. A bag already stored (an exhaustive world's nodes, or a set a
sampler or an earlier run stored) is fitted again for its training-row
predictions only, which the store does not keep; its cells are not rewritten.

Data-OOB uses one model seed: the world's first. The bagging seed (``seed``)
picks the bags; the same seed draws the same bags, so a second run fits
nothing new into the store and gives the same values.
"""

from __future__ import annotations

import dataclasses
import time
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from cfgraph import bitsets, evaluate
from cfgraph.executors import Executor
from cfgraph.store import catalog, cells, nodes
from cfgraph.store.locks import world_lock
from cfgraph.values.oob import OOBEstimate, bootstrap_bags, data_oob, oob_scores

__all__ = ["OOBRun", "data_oob_run"]

#: Bags drawn when none is asked for (the default of Kwon & Zou's experiments is 1,000).
DEFAULT_BAGS = 1000


@dataclass
class OOBRun:
    """What one Data-OOB run found and cost.

    Attributes
    ----------
    world : str
    units : list of str
        Unit labels in bit order.
    values, stderr : ndarray of float, shape (n_units,)
        Data-OOB value of each unit and its standard error (NaN: never out of bag / fewer than 2 bags).
    n_samples : ndarray of int, shape (n_units,)
        Bags each unit was out of (and scored in).
    in_bag : ndarray of bool, shape (bags, n_units)
        The bags drawn.
    bags : int
        Bags drawn (B); a training set drawn twice counts twice in the values.
    seed : int
        The bagging seed.
    model_seed : int
        The model seed of every fit: the world's first seed.
    evaluations : int
        Bags used (= ``bags``).
    fits : int
        Distinct training sets fitted and stored by this run (cells written).
    reused : int
        Bags whose cells were already stored or fitted earlier in this run (``bags - fits``).
    prediction_fits : int
        Distinct stored training sets fitted again for their predictions only (cells kept).
    seconds : float
    """

    world: str
    units: list[str]
    values: np.ndarray
    stderr: np.ndarray
    n_samples: np.ndarray
    in_bag: np.ndarray
    bags: int
    seed: int
    model_seed: int
    evaluations: int
    fits: int
    reused: int
    prediction_fits: int
    seconds: float

    @property
    def params(self) -> dict:
        """The run's parameters, as a valuation stores them."""
        return {"bags": self.bags, "seed": self.seed, "model_seed": self.model_seed}

    def estimate(self):
        """The values as a one-column :class:`cfgraph.values.sampled.Estimate`, shape (n_units, 1)."""
        return OOBEstimate(self.values, self.stderr, self.n_samples).as_estimate()


class _PredictionSink:
    """The engine's sink for bags: keeps each fit's ``train_pred``, stores only the new training sets' cells.

    ``train_pred`` is not a cell (no store sink knows the key), so it is taken off every row
    before the rows of training sets not yet stored go to ``open_sink()`` (opened on first use).
    """

    def __init__(self, open_sink, new_masks: set[int], stored: int):
        self._open, self.new, self.stored = open_sink, new_masks, stored
        self.sink = None
        self.predictions: dict[int, np.ndarray | None] = {}

    def write(self, rows: list[dict]) -> None:
        for r in rows:
            if "train_pred" in r:
                self.predictions[int(r["mask"])] = r.pop("train_pred")
        keep = [r for r in rows if int(r["mask"]) in self.new]
        if keep:
            self.sink = self.sink or self._open()
            self.sink.write(keep)

    def finish(self) -> None:
        if self.sink is not None:  # only a run that stored cells marks the world's fitting time
            self.sink.finish()


def data_oob_run(store, world_name: str, *, bags: int = DEFAULT_BAGS, seed: int = 0, jobs: int = 1,
                 executor: Executor | None = None, progress: bool | None = None) -> OOBRun:
    """Value every unit of a world with Data-OOB, each bootstrap bag a stored training set.

    Parameters
    ----------
    store : cfgraph.store.Store
    world_name : str
        A trained world (exhaustive or sampled) whose recipe rebuilds its model.
    bags : int
        Bootstrap bags B, 1 to :data:`cfgraph.values.oob.MAX_BAGS`.
    seed : int
        The bagging seed (``random_state`` of scikit-learn's ``BaggingClassifier``).
    jobs : int
        Parallel fits (joblib workers; -1 for every core).
    executor : Executor, optional
        Overrides ``jobs`` (a joblib backend and workers).
    progress : bool, optional
        Show a progress bar (default: on a terminal).

    Returns
    -------
    OOBRun
        Values, standard errors and samples of shape (n_units,), and what the run fitted and reused.

    Raises
    ------
    NotFound
        If there is no such world.
    CfgraphError
        On a number of bags or a seed out of range, a world without a model
        (an imported grid), or (on PostgreSQL) bags to store in a world another
        run is filling (:func:`cfgraph.store.locks.world_lock`).

    References
    ----------
    Kwon & Zou, "Data-OOB: Out-of-bag Estimate as a Simple and Efficient Data Value", ICML 2023.

    Examples
    --------
    >>> from cfgraph.store import open_store
    >>> from cfgraph.worlds import build_world, make_spec
    >>> store = open_store("sqlite://")
    >>> spec = make_spec(dataset="iris", group_by="point", units=None, model="gnb", test_size=0.8)
    >>> _ = build_world(store, "pts", spec, progress=False)
    >>> run = data_oob_run(store, "pts", bags=8, seed=1)
    >>> run.values.shape, run.fits + run.reused == run.bags == 8
    ((30,), True)
    >>> data_oob_run(store, "pts", bags=8, seed=1).fits
    0
    """
    started = time.perf_counter()
    executor = executor or Executor(jobs=jobs)
    with store.session() as session:
        world = catalog.get_world(session, world_name)
        metrics, seeds = cells.metrics_and_seeds(session, world)
        n, lattice, kind, spec = world.n_units, world.lattice, world.kind, world.spec
        units = [u.label for u in world.units]
    in_bag = bootstrap_bags(n, bags, seed)
    problem = _problem(world_name, kind, spec)
    model_seed = int(seeds[0])

    distinct, first, inverse = np.unique(in_bag, axis=0, return_index=True, return_inverse=True)
    distinct = distinct[np.argsort(first)]  # in the order drawn, so tasks and nodes follow the draw
    order = np.argsort(np.argsort(first))
    inverse = order[np.asarray(inverse).reshape(-1)]
    masks = [bitsets.to_mask(row) for row in distinct]
    with store.session() as session:
        world = catalog.get_world(session, world_name)
        ids = nodes.find_nodes(session, world, distinct)
        present = cells.cells_of_nodes(session, world, ids, metrics, [model_seed])[1][:, 0]  # (sets, slices, metrics)
        stored_cells = cells.count_cells(session, world)
    tasks, new = [], set()
    for k, mask in enumerate(masks):
        missing = tuple((int(p), metrics[m]) for p, m in np.argwhere(~present[k]))  # (slice position, metric)
        if missing:
            new.add(mask)
        # A stored bag is fitted for its predictions only: one cheap cell, dropped by the sink.
        tasks.append(evaluate.Task(mask, model_seed, missing or ((0, metrics[0]),)))

    def open_sink():
        from cfgraph.store.sink import SampledSink, StoreSink

        kind = SampledSink if lattice == "sampled" else StoreSink
        return kind.open(store, world_name, metrics, [model_seed])

    sink = _PredictionSink(open_sink, new, stored_cells)
    # Only a run that stores new training sets fills the world; predictions alone write nothing.
    with world_lock(store, world) if new else nullcontext():
        evaluate.run(tasks, problem, sink, executor, progress=progress, desc=f"data-oob {world_name}")
    scores = oob_scores([sink.predictions.get(m) for m in masks], problem.y_train, problem.task)[inverse]
    result = data_oob(in_bag, scores, problem.train_unit)
    return OOBRun(world=world_name, units=units, values=result.values, stderr=result.stderr,
                  n_samples=result.n_samples, in_bag=in_bag, bags=len(in_bag), seed=int(seed),
                  model_seed=model_seed, evaluations=len(in_bag), fits=len(new), reused=len(in_bag) - len(new),
                  prediction_fits=len(masks) - len(new), seconds=time.perf_counter() - started)


def _problem(name: str, kind: str, spec: dict | None) -> evaluate.Problem:
    """The world's problem, rebuilt from its recipe, with every fit predicting every training row."""
    from cfgraph.worlds import trained_problem

    return dataclasses.replace(trained_problem(name, kind, spec, "to fit bags with"), predict_train=True)
