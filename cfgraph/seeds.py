"""Seeds with error bars: every seed's cells of one metric, and summaries across seeds.

Models trained with different seeds disagree, so a cell (training set x slice)
is a sample over seeds. :func:`load_seed_stack` reads every seed's cells in one
query into a :class:`SeedStack` of shape (s, 2**n, m); the stack gives

* ``mean_table()``: the mean grid, a :class:`~cfgraph.tables.LatticeTable`
  that every summary takes (NaN where any seed lacks the cell);
* ``cell_summary()``: per cell, the mean, standard deviation, half-width of a
  95% Student-t interval and the number of seeds that hold it;
* ``unit_values(methods)``: LOO, Shapley, Banzhaf and Beta values per seed, and
  their mean over seeds with a 95% Student-t interval.

Every value is linear in the cells, so when every seed holds every cell the
mean of the per-seed values equals the value of the mean grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cfgraph import lattice, summaries
from cfgraph.display import brief_list
from cfgraph.errors import CfgraphError, NotFound
from cfgraph.store import catalog, cells
from cfgraph.store.models import CELL_STATUSES
from cfgraph.store.seed_cells import MISSING, seed_cells
from cfgraph.tables import LatticeTable
from cfgraph.values import seed_interval

__all__ = ["SeedStack", "load_seed_stack"]

_STATUSES = np.array(CELL_STATUSES, dtype=object)  # indexed by the store's status codes
_FAILED = CELL_STATUSES.index("failed")


@dataclass
class SeedStack:
    """Every seed's cells of one world and metric, as one array indexed by (seed, mask, slice).

    Attributes
    ----------
    world : str
        The world's name.
    letters : list of str
        Unit labels in bit order, length n.
    labels : list of str
        Training-set label of every mask, length 2**n.
    slices : list of str
        Evaluation slice names, length m.
    slice_masks : list of int or None
        The training set each slice coincides with, length m.
    metric : str
    seeds : list of int
        Length s.
    values : ndarray, shape (s, 2**n, m)
        Cell values; NaN where a seed lacks the cell (missing or failed).
    status : ndarray of int8, shape (s, 2**n, m), optional
        Status codes: an index into ``cfgraph.store.models.CELL_STATUSES`` (ok,
        baseline, constant, failed), or -1 where the cell is not stored; by
        default "ok" where a value is present and -1 elsewhere.

    Examples
    --------
    >>> v = np.array([[[0.5], [0.7]], [[0.5], [0.9]]])  # 2 seeds, 1 unit, 1 slice
    >>> stack = SeedStack(world="w", letters=["A"], labels=["∅", "A"], slices=["all"], slice_masks=[None],
    ...                   metric="accuracy", seeds=[0, 1], values=v)
    >>> stack.mean_table().column("all").tolist()
    [0.5, 0.8]
    >>> stack.cell_summary()["std"][:, 0].round(4).tolist()
    [0.0, 0.1414]
    """

    world: str
    letters: list[str]
    labels: list[str]
    slices: list[str]
    slice_masks: list[int | None]
    metric: str
    seeds: list[int]
    values: np.ndarray
    status: np.ndarray | None = None

    def __post_init__(self):
        self.values = np.asarray(self.values, dtype=float)
        expected = (len(self.seeds), 1 << len(self.letters), len(self.slices))
        if self.values.shape != expected:
            raise CfgraphError(f"a seed stack's values have shape {self.values.shape}, not {expected} "
                               "(seeds, training sets, slices)")
        if self.status is None:
            self.status = np.where(np.isnan(self.values), MISSING, 0).astype(np.int8)

    @property
    def n(self) -> int:
        """Number of units."""
        return len(self.letters)

    def table(self, seed: int) -> LatticeTable:
        """One seed's cells as a :class:`~cfgraph.tables.LatticeTable`.

        Raises
        ------
        NotFound
            If the stack does not hold that seed.
        """
        if seed not in self.seeds:
            raise NotFound(f"world {self.world!r} has no cells for seed {seed} "
                           f"(seeds: {brief_list(self.seeds)})")
        k = self.seeds.index(seed)
        codes = self.status[k]
        status = np.where(codes >= 0, _STATUSES[np.maximum(codes, 0)], "")
        return self._table(seed, self.values[k], status)

    def mean_table(self) -> LatticeTable:
        """The mean grid over seeds, as a :class:`~cfgraph.tables.LatticeTable` (its ``seed`` is None).

        A cell is NaN unless every seed holds it, so a summary of the mean grid
        is the mean of the seeds' summaries. Its status is the seeds' status when
        they agree and "ok" otherwise; "failed" where a seed's fit failed, ""
        where a seed lacks the cell.

        Returns
        -------
        LatticeTable
            ``values`` of shape (2**n, m).
        """
        mean = self.values.mean(axis=0)  # NaN as soon as one seed lacks the cell
        codes = self.status
        agreed = (codes == codes[0]).all(axis=0)
        present = np.where(agreed, _STATUSES[np.maximum(codes[0], 0)], "ok")
        absent = np.where((codes == _FAILED).any(axis=0), "failed", "")
        return self._table(None, mean, np.where(np.isnan(mean), absent, present).astype(object))

    def cell_summary(self, confidence: float = 0.95) -> dict[str, np.ndarray]:
        """Mean, standard deviation, interval half-width and count over seeds, per cell.

        Each cell is summarised over the seeds that hold it (a cell one seed
        lacks still has a mean over the others; ``n`` says how many).

        Parameters
        ----------
        confidence : float
            Coverage of the Student-t interval ``mean ± half_width``.

        Returns
        -------
        dict
            ``mean``, ``std`` (ddof=1), ``half_width``: float arrays of shape
            (2**n, m); ``n``: int array of shape (2**n, m). std and half_width
            are NaN where fewer than two seeds hold the cell.

        References
        ----------
        Student (1908), "The probable error of a mean", Biometrika 6(1).
        """
        mean, std, half_width, count = seed_interval(self.values, axis=0, confidence=confidence)
        return {"mean": mean, "std": std, "half_width": half_width, "n": count}

    def unit_values(self, methods, slices: Sequence[str] | None = None,
                    confidence: float = 0.95) -> dict[str, dict[str, np.ndarray]]:
        """Each unit's LOO, Shapley, Banzhaf or Beta value per seed, and across seeds.

        The values of all seeds come from one call of
        :func:`cfgraph.summaries.value_arrays` (the seeds' tables side by side
        as columns), then each value is summarised over the seeds that have it.

        Parameters
        ----------
        methods : str or list of (str, tuple)
            ``"loo+shapley"``, ``"all"``, ``"beta:16,1"``, or the output of
            :func:`cfgraph.summaries.parse_methods`.
        slices : sequence of str, optional
            Slice names, k of them (default: every slice).
        confidence : float
            Coverage of the Student-t interval.

        Returns
        -------
        dict
            Method name ("loo", "shapley", "banzhaf", "beta(16,1)") -> dict with
            ``mean``, ``std``, ``half_width`` (float, shape (n, k)), ``n`` (int,
            shape (n, k): seeds with a value) and ``per_seed`` (shape (s, n, k),
            NaN where a seed lacks a cell the value needs).

        Raises
        ------
        CfgraphError
            On an unknown method; NotFound on an unknown slice.

        References
        ----------
        Ghorbani & Zou (2019), "Data Shapley", ICML; Wang & Jia (2023), "Data
        Banzhaf", AISTATS; Kwon & Zou (2022), "Beta Shapley", AISTATS;
        Student (1908), Biometrika 6(1).

        Examples
        --------
        >>> v = np.array([[[0.5], [0.7]], [[0.5], [0.9]]])
        >>> stack = SeedStack(world="w", letters=["A"], labels=["∅", "A"], slices=["all"], slice_masks=[None],
        ...                   metric="accuracy", seeds=[0, 1], values=v)
        >>> out = stack.unit_values("shapley")["shapley"]
        >>> out["per_seed"][:, 0, 0].round(4).tolist(), round(float(out["mean"][0, 0]), 4), int(out["n"][0, 0])
        ([0.2, 0.4], 0.3, 2)
        """
        if isinstance(methods, str):
            methods = summaries.parse_methods(methods)
        slices = list(self.slices) if not slices else list(slices)
        columns = [self._slice_index(name) for name in slices]
        s, k = len(self.seeds), len(columns)
        # (s, 2**n, k) -> (2**n, s*k): column seed * k + j is seed's slice j.
        side_by_side = np.moveaxis(self.values[:, :, columns], 0, 1).reshape(1 << self.n, s * k)
        names = [str(c) for c in range(s * k)]
        wide = self._table(None, side_by_side, np.full(side_by_side.shape, "", dtype=object), names)
        arrays, _ = summaries.value_arrays(wide, methods, names)
        out = {}
        for name, array in arrays.items():
            per_seed = np.moveaxis(array.reshape(self.n, s, k), 1, 0)
            mean, std, half_width, count = seed_interval(per_seed, axis=0, confidence=confidence)
            out[name] = {"mean": mean, "std": std, "half_width": half_width, "n": count, "per_seed": per_seed}
        return out

    def _slice_index(self, name: str) -> int:
        try:
            return self.slices.index(name)
        except ValueError:
            more = " ..." if len(self.slices) > 12 else ""
            raise NotFound(f"world {self.world!r} has no evaluation slice {str(name)[:60]!r} "
                           f"(slices: {', '.join(self.slices[:12])}{more})") from None

    def _table(self, seed, values, status, slices=None) -> LatticeTable:
        slices = list(self.slices) if slices is None else slices
        masks = list(self.slice_masks) if len(slices) == len(self.slices) else [None] * len(slices)
        return LatticeTable(world=self.world, letters=list(self.letters), labels=list(self.labels),
                            slices=slices, slice_masks=masks, metric=self.metric, seed=seed,
                            values=values, status=status)


def load_seed_stack(session, world, metric: str | None = None, seeds: Sequence[int] | None = None) -> SeedStack:
    """Every seed's cells of one metric of a world, read in one query.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    world : World or str
        The world's record or name.
    metric : str, optional
        Defaults to the world's metric.
    seeds : sequence of int, optional
        Seeds to read, in this order; default every seed with a cell of the
        metric, ascending.

    Returns
    -------
    SeedStack
        ``values`` of shape (s, 2**n, m), NaN where a seed lacks a cell.

    Raises
    ------
    NotFound
        On an unknown world or metric, a seed the world has no cells for, or a
        metric with no cells at all.
    CfgraphError
        On a seed named twice.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from cfgraph.grids import import_grid
    >>> from cfgraph.store import open_store
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "g.csv").write_text("train_set,eval_slice,value,seed\\n"
    ...                                   "A,all,0.6,0\\nA,all,0.8,1\\nA,all,0.7,2\\n")
    >>> store = open_store(folder / "g.db")
    >>> _ = import_grid(store, folder / "g.csv", "g")
    >>> with store.session() as session:
    ...     stack = load_seed_stack(session, "g")
    >>> stack.seeds, stack.values.shape
    ([0, 1, 2], (3, 2, 1))
    >>> summary = stack.cell_summary()
    >>> round(float(summary["mean"][1, 0]), 4), round(float(summary["std"][1, 0]), 4), int(summary["n"][1, 0])
    (0.7, 0.1, 3)
    >>> store.close()
    """
    if isinstance(world, str):
        world = catalog.get_world(session, world)
    metric, _ = cells.choose_metric_seed(session, world, metric)
    if seeds is not None:
        seeds = [int(s) for s in seeds]
        if len(set(seeds)) != len(seeds):
            raise CfgraphError(f"a seed is named twice in {brief_list(seeds)}")
        known = cells.metrics_and_seeds(session, world)[1]
        unknown = [s for s in seeds if s not in known]
        if unknown:
            raise NotFound(f"world {world.name!r} has no cells for seed {unknown[0]} "
                           f"(seeds: {brief_list(known)})")
    seeds, values, status = seed_cells(session, world, metric, seeds)
    if not seeds:
        raise NotFound(f"world {world.name!r} has no cells for metric {metric!r}")
    letters = [u.label for u in world.units]
    return SeedStack(world=world.name, letters=letters, labels=lattice.all_labels(letters),
                     slices=[s.name for s in world.slices], slice_masks=[s.mask for s in world.slices],
                     metric=metric, seeds=list(seeds), values=values, status=status)
