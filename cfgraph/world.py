"""The application layer: one stored world as both faces see it.

A :class:`World` wraps a world of the store and the session that reads it.
The CLI and the web views call it, so a command or a view is a few library
calls and a render (as sqlite-utils' CLI reads over its ``Database``)::

    with World.open(store, "iris") as world:
        table = world.table()                  # LatticeTable, one metric and seed
        values = world.values("shapley")       # ValueTable, across seeds when there are several
        world.units                            # [UnitInfo(label, name, definition, size), ...]

Reads go through :mod:`cfgraph.store` (no SQL here); the maths is
:mod:`cfgraph.values` / :mod:`cfgraph.summaries` / :mod:`cfgraph.questions`.
Errors are :class:`~cfgraph.errors.CfgraphError` (400) or
:class:`~cfgraph.errors.NotFound` (404) with a one-line message that names
the problem, not an option of one face.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from cfgraph import lattice
from cfgraph.errors import NotFound
from cfgraph.store import catalog, cells, graph
from cfgraph.store.models import Unit
from cfgraph.store.seed_cells import seed_cells
from cfgraph.tables import LatticeTable
from cfgraph.world_estimates import EstimateReads
from cfgraph.world_sampled import NotExhaustive, SampledReads

__all__ = ["World", "UnitInfo", "SliceInfo", "Grid", "ValueTable", "Questions", "list_worlds",
           "default_world_name", "NotExhaustive"]


@dataclass(frozen=True)
class UnitInfo:
    """A unit of a world: its letter, name, how it was defined, and its training rows."""

    label: str
    name: str
    definition: str | None
    size: int | None

    def to_dict(self) -> dict:
        return {"label": self.label, "name": self.name, "definition": self.definition, "size": self.size}


@dataclass(frozen=True)
class SliceInfo:
    """An evaluation slice: its name, the training set it coincides with (if any), its test rows."""

    id: int
    name: str
    mask: int | None
    size: int | None
    definition: str | None

    def to_dict(self) -> dict:
        return {"name": self.name, "mask": self.mask, "size": self.size, "definition": self.definition}


@dataclass
class Grid:
    """A world's grid for one metric: one seed's cells, or their mean across seeds.

    Attributes
    ----------
    table : LatticeTable
        One seed's cells, or (across seeds) the per-cell mean over seeds, NaN where
        any seed lacks the cell; the maths and the questions read it either way.
    seeds : list of int
        The seeds behind ``table``.
    summary : dict of str to ndarray (2**n, m), or None
        Across seeds only: ``mean``, ``std``, ``half_width`` (95% Student-t) and ``n`` per cell.
    """

    table: LatticeTable
    seeds: list[int]
    summary: dict | None = None

    @property
    def across_seeds(self) -> bool:
        return self.summary is not None

    @property
    def seed(self) -> int | None:
        """The one seed shown, or None across seeds."""
        return None if self.across_seeds else self.seeds[0]

    def interval(self, mask: int, column: int) -> dict | None:
        """``{"mean", "half_width", "std", "n"}`` of one cell across seeds (None when missing or one seed)."""
        if self.summary is None:
            return None
        mean = _num(self.summary["mean"][mask, column])
        if mean is None:
            return None
        return {"mean": mean, "half_width": _num(self.summary["half_width"][mask, column]),
                "std": _num(self.summary["std"][mask, column]), "n": int(self.summary["n"][mask, column])}


@dataclass
class ValueTable:
    """Values of every unit on some slices, from one seed or summarised across seeds.

    Attributes
    ----------
    seeds : list of int
        The seeds behind the values; with two or more, ``mean`` is the mean over
        seeds and ``half_width`` the half-width of its 95% Student-t interval.
    mean : dict of str to ndarray, shape (n, k)
        Method name -> value of each unit (rows, in letter order) on each slice; NaN where undefined.
    half_width, std, count : dict of str to ndarray (n, k), or None
        Across seeds only: the interval's half-width, the standard deviation over
        seeds and the number of seeds behind each value.
    problems : list of dict
        ``{"method", "slice", "unit", "error", "missing"}`` per value that needs missing cells.
    """

    world: str
    metric: str
    seeds: list[int]
    letters: list[str]
    slices: list[str]
    mean: dict[str, np.ndarray]
    problems: list[dict]
    half_width: dict[str, np.ndarray] | None = None
    std: dict[str, np.ndarray] | None = None
    count: dict[str, np.ndarray] | None = None

    @property
    def methods(self) -> list[str]:
        return list(self.mean)

    @property
    def across_seeds(self) -> bool:
        return self.half_width is not None

    def missing_counts(self) -> list[dict]:
        """Per (method, slice) with missing cells: ``{"method", "slice", "count"}`` (distinct cells)."""
        lacking: dict[tuple[str, str], set] = {}
        for p in self.problems:
            lacking.setdefault((p["method"], p["slice"]), set()).update(p["missing"])
        return [{"method": m, "slice": s, "count": len(found)} for (m, s), found in lacking.items()]

    def rows(self) -> list[dict]:
        """One dict per computed value: method, slice, unit, value (and half_width, std, n across seeds).

        Examples
        --------
        >>> t = ValueTable(world="w", metric="accuracy", seeds=[0], letters=["A", "B"], slices=["all"],
        ...                mean={"loo": np.array([[0.25], [np.nan]])}, problems=[])
        >>> t.rows()
        [{'method': 'loo', 'slice': 'all', 'unit': 'A', 'value': 0.25}]
        """
        out = []
        for j, s in enumerate(self.slices):
            for name, values in self.mean.items():
                for i, unit in enumerate(self.letters):
                    if np.isnan(values[i, j]):
                        continue
                    row = {"method": name, "slice": s, "unit": unit, "value": float(values[i, j])}
                    if self.across_seeds:
                        row.update(half_width=_num(self.half_width[name][i, j]), std=_num(self.std[name][i, j]),
                                   n=int(self.count[name][i, j]))
                    out.append(row)
        return out


@dataclass
class Questions:
    """A grid selection, the focus it gives the questions, and their answers."""

    selection: object  # cfgraph.selection.Selection
    focus: object  # cfgraph.selection.Focus
    answers: list = field(default_factory=list)


def _num(x) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


class World(SampledReads, EstimateReads):
    """A stored world and the session that reads it.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Reads only; the caller (or :meth:`open` on a store) owns it.
    record : cfgraph.store.models.World
        The world's row.

    Examples
    --------
    >>> from cfgraph.store import open_store
    >>> from cfgraph.resources import seed_file
    >>> from cfgraph.grids import import_grid
    >>> store = open_store("sqlite://")
    >>> _ = import_grid(store, seed_file("toy_grid.csv"), "toy")
    >>> with World.open(store, "toy") as toy:
    ...     [u.label for u in toy.units], toy.table().column("B")[0b1101]
    (['A', 'B', 'C', 'D'], np.float64(0.55))
    """

    def __init__(self, session: Session, record, *, owns_session: bool = False):
        self.session = session
        self.record = record
        self._owns_session = owns_session

    @classmethod
    def open(cls, source, name: str) -> World:
        """The world called ``name`` in a store (a session of its own, closed by :meth:`close`
        or a ``with`` block) or in an open session.

        Raises
        ------
        NotFound
            If there is no such world; the message lists the stored ones.
        """
        if isinstance(source, Session):
            return cls(source, catalog.get_world(source, name))
        session = source.session()
        try:
            return cls(session, catalog.get_world(session, name), owns_session=True)
        except BaseException:
            session.close()
            raise

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<World {self.name!r}: {self.kind}, {self.n} units>"

    # ------------------------------------------------------------------ what it is

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def kind(self) -> str:
        return self.record.kind

    @property
    def task(self) -> str:
        return getattr(self.record, "task", None) or "classification"

    @property
    def description(self) -> str | None:
        return self.record.description

    @property
    def dataset(self) -> str | None:
        return self.record.dataset

    @property
    def model_spec(self) -> str | None:
        return self.record.model_spec

    @property
    def lattice(self) -> str:
        """``exhaustive`` (all 2^n training sets) or ``sampled`` (stored as a sampler visits them)."""
        return getattr(self.record, "lattice", None) or "exhaustive"

    def estimates(self, method: str | None = None) -> list[dict]:
        """The latest stored estimates of each sampled method (or of ``method``), one record per
        (unit, slice, metric, seed): unit (its name), method, value, stderr, ci_low, ci_high, n_samples."""
        from cfgraph.store import estimates

        return estimates.latest_estimates(self.session, self.record, method)

    def valuations(self) -> list[dict]:
        """Every sampled valuation of this world, newest first (method, parameters, cost, stopping reason)."""
        from cfgraph.store import estimates

        return list(reversed(estimates.list_valuations(self.session, self.record)))  # the store lists oldest first

    @property
    def n(self) -> int:
        """Number of units."""
        return self.record.n_units

    n_units = n

    @cached_property
    def units(self) -> list[UnitInfo]:
        """The units in bit order, with their names, definitions and training rows.

        Read as plain columns, not ORM objects: 4x faster for the 2,000 units of a sampled
        world, and the request no longer leaves thousands of ORM states as cyclic garbage
        (on CPython 3.11.7 collecting them crashed the values page of such a world).
        """
        rows = self.session.execute(select(Unit.label, Unit.name, Unit.definition, Unit.size)
                                    .where(Unit.world_id == self.record.id).order_by(Unit.idx)).all()
        return [UnitInfo(*row) for row in rows]

    @property
    def letters(self) -> list[str]:
        return [u.label for u in self.units]

    @cached_property
    def slices(self) -> list[SliceInfo]:
        """The evaluation slices in column order."""
        return [SliceInfo(s.id, s.name, s.mask, s.size, s.definition) for s in self.record.slices]

    def describe(self) -> dict:
        """The world's recipe, units and slices (the ``/api/worlds/<name>`` document)."""
        r = self.record
        return {
            "name": r.name, "kind": r.kind, "lattice": self.lattice, "task": self.task, "dataset": r.dataset,
            "model": r.model_spec,
            "metric": r.metric, "n_units": r.n_units, "eval_slices": r.eval_slices, "description": r.description,
            "metrics": self.metrics, "seeds": self.seeds,
            "units": [u.to_dict() for u in self.units], "slices": [s.to_dict() for s in self.slices],
        }

    def find_slice(self, name: str | None = None) -> SliceInfo:
        """A slice by name (default: the first).

        Raises
        ------
        NotFound
            If the world has no slice of that name.
        """
        if not self.slices:
            raise NotFound(f"world {self.name!r} has no evaluation slices")
        if name is None or name == "":
            return self.slices[0]
        for s in self.slices:
            if s.name == name:
                return s
        raise NotFound(f"world {self.name!r} has no evaluation slice {name[:60]!r} "
                       f"(slices: {', '.join(s.name for s in self.slices[:12])})")

    def mask_of(self, label: str) -> int:
        """The bitmask of a training-set label ("ACD", "∅").

        Raises
        ------
        NotFound
            On an unknown unit letter or a malformed label.
        """
        try:
            return lattice.parse_label(label, self.letters)
        except Exception as exc:  # CfgraphError: unknown unit, repeated unit
            raise NotFound(f"world {self.name!r}: {exc}") from None

    def label_of(self, mask: int) -> str:
        return lattice.mask_label(int(mask), self.letters)

    # ------------------------------------------------------------------ metrics and seeds

    @cached_property
    def _metrics_seeds(self) -> tuple[list[str], list[int]]:
        return cells.metrics_and_seeds(self.session, self.record)

    @property
    def metrics(self) -> list[str]:
        """The metrics with cells, the world's own first."""
        return self._metrics_seeds[0]

    @property
    def seeds(self) -> list[int]:
        """The model seeds with cells, ascending."""
        return self._metrics_seeds[1]

    def choose(self, metric: str | None = None, seed: int | str | None = None) -> tuple[str, int]:
        """A requested metric and seed, checked; by default the world's metric and its lowest seed.

        Raises
        ------
        NotFound
            On a metric or seed without cells; CfgraphError on a seed that is not an integer.
        """
        return cells.choose_metric_seed(self.session, self.record, metric, seed)

    def across_seeds(self, seed: int | str | None = None) -> bool:
        """Whether a summary asked for ``seed`` is taken across seeds: no seed named, and two or more stored."""
        return (seed is None or str(seed).strip() == "") and len(self.seeds) >= 2

    # ------------------------------------------------------------------ cells

    def table(self, metric: str | None = None, seed: int | str | None = None) -> LatticeTable:
        """All cells for one metric and seed (one query).

        Raises
        ------
        NotFound
            On a metric or seed without cells.
        """
        self.require_exhaustive("the whole grid")
        return cells.lattice_table(self.session, self.record, *self.choose(metric, seed))

    def grid(self, metric: str | None = None, seed: int | str | None = None) -> Grid:
        """The grid for one metric: the named seed's cells, or with no seed named and two or more
        stored, the mean over seeds with each cell's 95% interval.

        Raises
        ------
        NotFound
            On a metric or seed without cells.
        """
        if self.across_seeds(seed):
            stack = self.seed_stack(metric)
            return Grid(table=stack.mean_table(), seeds=list(stack.seeds), summary=stack.cell_summary())
        table = self.table(metric, seed)
        return Grid(table=table, seeds=[table.seed])

    def seed_stack(self, metric: str | None = None, seeds: list[int] | None = None):
        """Every seed's cells for one metric (:class:`cfgraph.seeds.SeedStack`)."""
        from cfgraph.seeds import load_seed_stack

        self.require_exhaustive("the grid across seeds")
        metric, _ = self.choose(metric)
        return load_seed_stack(self.session, self.record, metric=metric, seeds=seeds)

    def column(self, slice_name: str | None, metric: str | None = None, seed: int | str | None = None) -> np.ndarray:
        """Every training set's cell on one slice, shape (2**n,), NaN where missing (one indexed query)."""
        self.require_exhaustive("a whole slice's column")
        metric, seed = self.choose(metric, seed)
        return cells.slice_column(self.session, self.record, self.find_slice(slice_name).id, metric, seed)

    def cells_at(self, masks, metric: str | None = None, seed: int | str | None = None,
                 slice_names: list[str] | None = None) -> np.ndarray:
        """Cells of a few training sets, shape (len(masks), slices), NaN where missing."""
        metric, seed = self.choose(metric, seed)
        ids = None if slice_names is None else [self.find_slice(s).id for s in slice_names]
        return cells.cells_at(self.session, self.record, masks, metric, seed, ids)

    def cells_across_seeds(self, masks=None, slice_name: str | None = None,
                           metric: str | None = None) -> dict[str, np.ndarray]:
        """One slice's cells over every stored seed: the per-cell mean and its 95% interval.

        Reads every seed's cells of ``masks`` on that slice, or with ``masks=None``
        the slice's column (every training set), in one query whatever the number
        of seeds: never the other slices, and for a few masks never the whole lattice.

        Parameters
        ----------
        masks : sequence of int, optional
            The training sets (default: all 2**n, in mask order).
        slice_name : str, optional
            Default: the first slice.
        metric : str, optional
            Default: the world's metric.

        Returns
        -------
        dict
            ``mean`` (NaN unless every seed holds the cell, as the grid's mean table),
            ``std``, ``half_width`` (95% Student-t; NaN below two seeds) and ``n``
            (seeds holding the cell): arrays of shape (len(masks),) or (2**n,);
            ``seeds``: the seeds read.

        Raises
        ------
        NotFound
            On an unknown slice or metric.

        Examples
        --------
        >>> from cfgraph.store import open_store
        >>> from cfgraph.resources import seed_file
        >>> from cfgraph.grids import import_grid
        >>> store = open_store("sqlite://")
        >>> _ = import_grid(store, seed_file("toy_grid.csv"), "toy")
        >>> with World.open(store, "toy") as toy:
        ...     spread = toy.cells_across_seeds([0b1101], "B")
        >>> spread["mean"].tolist(), spread["n"].tolist()
        ([0.55], [1])
        """
        metric, _ = self.choose(metric)
        slice_id = self.find_slice(slice_name).id
        _, stack, _ = seed_cells(self.session, self.record, metric, self.seeds, masks=masks, slice_ids=[slice_id])
        stack = stack[:, :, 0]
        _, std, half_width, count = _seed_interval(stack)
        return {"mean": stack.mean(axis=0), "std": std, "half_width": half_width, "n": count,
                "seeds": list(self.seeds)}

    def neighbourhood(self, mask: int) -> dict:
        """A training set and its add-one / remove-one neighbours, from the edge table.

        Returns
        -------
        dict
            ``{"node": (id, mask, label), "up": [(unit_label, mask, label)], "down": [...]}``.
        """
        return graph.node_neighbourhood(self.session, self.record, mask)

    def training_set(self, label: str, metric: str | None = None, seed: int | str | None = None) -> dict:
        """One training set's score on every slice and each neighbour's score change.

        Reads only the node and its n neighbours. Across seeds (no seed named and
        two or more stored) scores are means over seeds, with ``half_width``,
        ``std`` and ``n`` per slice.

        Returns
        -------
        dict
            ``label``, ``mask``, ``size``, ``metric``, ``seed`` (None across seeds), ``seeds``,
            ``slices``, ``scores`` (None where missing), ``interval`` (list of dict or None),
            ``neighbours`` (dict: direction, unit, label, mask, scores, deltas).

        Raises
        ------
        NotFound
            On an unknown label, metric or seed.
        """
        self.require_exhaustive("a training set read by its mask")
        mask = self.mask_of(label)
        hood = self.neighbourhood(mask)
        others = ([("add", u, m, lab) for u, m, lab in hood["up"]]
                  + [("remove", u, m, lab) for u, m, lab in hood["down"]])
        masks = [mask] + [m for _, _, m, _ in others]
        interval = None
        if self.across_seeds(seed):
            metric, _ = self.choose(metric)
            _, stack, _ = seed_cells(self.session, self.record, metric, self.seeds, masks=masks)
            mean, std, half, count = _seed_interval(stack)
            rows, used_seed = mean, None
            interval = [{"mean": _num(m), "half_width": _num(h), "std": _num(s), "n": int(c)}
                        for m, h, s, c in zip(mean[0], half[0], std[0], count[0])]
        else:
            metric, used_seed = self.choose(metric, seed)
            rows = cells.cells_at(self.session, self.record, masks, metric, used_seed)
        mine = rows[0]
        neighbours = [{"direction": d, "unit": u, "label": lab, "mask": int(m),
                       "scores": _list(row), "deltas": _list(row - mine)}
                      for (d, u, m, lab), row in zip(others, rows[1:])]
        return {"label": hood["node"][2], "mask": mask, "size": mask.bit_count(), "metric": metric,
                "seed": used_seed, "seeds": self.seeds if used_seed is None else [used_seed],
                "slices": [s.name for s in self.slices], "scores": _list(mine), "interval": interval,
                "neighbours": neighbours}

    # ------------------------------------------------------------------ summaries

    def values(self, methods="all", slices: list[str] | None = None, metric: str | None = None,
               seed: int | str | None = None) -> ValueTable:
        """LOO, Shapley, Banzhaf and Beta values of every unit on some slices.

        Parameters
        ----------
        methods : str or list of (str, tuple)
            ``"all"``, ``"loo+shapley"``, ``"beta:16,1"`` ... (see :func:`cfgraph.summaries.parse_methods`).
        slices : list of str, optional
            Slice names (default: every slice).
        metric : str, optional
        seed : int, optional
            One seed's values. By default, with two or more seeds stored, the
            mean over seeds with a 95% Student-t interval (the values are linear in
            the cells, so the mean of per-seed values is the value of the mean grid).

        Raises
        ------
        CfgraphError
            On an unknown method; NotFound on an unknown slice, metric or seed.
        """
        from cfgraph import summaries

        self.require_exhaustive("exact values")
        if isinstance(methods, str):
            methods = summaries.parse_methods(methods)
        names = list(slices) if slices else [s.name for s in self.slices]
        for s in names:
            self.find_slice(s)
        if self.across_seeds(seed):
            stack = self.seed_stack(metric)
            summary = stack.unit_values(methods, names)
            _, problems = summaries.value_arrays(stack.mean_table(), methods, names)
            return ValueTable(
                world=self.name, metric=stack.metric, seeds=list(stack.seeds), letters=self.letters, slices=names,
                mean={k: v["mean"] for k, v in summary.items()}, problems=problems,
                half_width={k: v["half_width"] for k, v in summary.items()},
                std={k: v["std"] for k, v in summary.items()}, count={k: v["n"] for k, v in summary.items()},
            )
        table = self.table(metric, seed)
        arrays, problems = summaries.value_arrays(table, methods, names)
        return ValueTable(world=self.name, metric=table.metric, seeds=[table.seed], letters=self.letters,
                          slices=names, mean=arrays, problems=problems)

    def questions(self, table: LatticeTable, *, cells=(), rows=(), columns=(), layer=None,
                  keys: list[str] | None = None, **focus) -> Questions:
        """The grid's questions for a selection (URL form: ``cells=["ACD:B"]``, ``rows``, ``columns``, ``layer``).

        ``focus`` takes unit, pair, coalition, k, alpha, beta, tolerance (see
        :func:`cfgraph.selection.resolve`); ``keys`` picks questions (default: all, in order).

        Raises
        ------
        CfgraphError, NotFound
            On a malformed selection or an unknown question, unit, training set or slice.
        """
        from cfgraph import questions as Q
        from cfgraph.errors import CfgraphError

        selection = Q.parse_selection(table, cells, rows, columns, layer)
        chosen = Q.resolve(table, selection, **focus)
        for key in keys or ():
            if key not in Q.TITLES:
                raise CfgraphError(f"unknown question {key[:40]!r} (questions: {', '.join(Q.TITLES)})")
        answers = [Q.ask(table, chosen, key) for key in keys] if keys else Q.ask_all(table, chosen)
        return Questions(selection=selection, focus=chosen, answers=answers)

    # ------------------------------------------------------------------ lineage

    def parent(self) -> World | None:
        """The world a variant derives from (None for other kinds, or once the parent is deleted)."""
        record = catalog.world_by_id(self.session, self.record.parent_world_id)
        return None if record is None else World(self.session, record)

    def variants(self) -> list[dict]:
        """This world's variant worlds, oldest first (see :func:`cfgraph.variants.list_variants`)."""
        from cfgraph.variants import list_variants

        return list_variants(self.session, self.name)


def _seed_interval(samples: np.ndarray):
    """(mean, std, half_width, n) over axis 0, ignoring NaN: the maths helper's ``seed_interval``."""
    from cfgraph.values import seed_interval

    return seed_interval(samples, axis=0)


def _list(row: np.ndarray) -> list:
    return [None if np.isnan(x) else float(x) for x in np.asarray(row, dtype=float).tolist()]


def list_worlds(source) -> list[dict]:
    """Every stored world with its size, model, metric and completeness (a store or a session)."""
    if isinstance(source, Session):
        return catalog.list_worlds(source)
    with source.session() as session:
        return catalog.list_worlds(session)


def default_world_name(session: Session) -> str:
    """The world that world-independent links open: the first complete one, else the first.

    Raises
    ------
    NotFound
        When the store holds no world.
    """
    worlds = catalog.list_worlds(session)
    if not worlds:
        raise NotFound("the store holds no world yet (build one, e.g. the demo worlds)")
    complete = [w for w in worlds if w["complete"] >= 1.0]
    return (complete or worlds)[0]["name"]
