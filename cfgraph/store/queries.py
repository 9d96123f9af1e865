"""Reading and writing worlds, their lattices and cells.

Functions take a ``session`` and do not commit: the caller owns the
transaction (``with store.transaction() as session: ...``). Bulk writes use
Core ``insert()`` with executemany, and the edge table is filled by one
set-based ``INSERT ... SELECT``; reading a lattice is one query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import networkx as nx
import numpy as np
from sqlalchemy import and_, case, delete, func, insert, literal, select
from sqlalchemy.orm import Session, aliased

from cfgraph import lattice
from cfgraph.errors import CfgraphError, NotFound
from cfgraph.store.models import Cell, Edge, EvalSlice, Node, Unit, World


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class UnitSpec:
    """A unit to create: name, training rows, and how it was defined."""

    name: str
    size: int | None = None
    definition: str | None = None


@dataclass
class SliceSpec:
    """An evaluation slice to create."""

    name: str
    mask: int | None = None
    size: int | None = None
    definition: str | None = None


@dataclass
class LatticeTable:
    """The cells of one world for one metric and seed, as arrays indexed by bitmask.

    Attributes
    ----------
    values : ndarray, shape (2**n, m)
        Cell values; NaN where a cell is missing or failed.
    status : ndarray of str, shape (2**n, m)
        "ok", "baseline", "single_class", "failed" or "" (missing).
    """

    world: str
    letters: list[str]
    labels: list[str]
    slices: list[str]
    slice_masks: list[int | None]
    metric: str
    seed: int
    values: np.ndarray
    status: np.ndarray

    @property
    def n(self) -> int:
        return len(self.letters)

    def column(self, slice_name: str) -> np.ndarray:
        """Values on one slice, shape (2**n,).

        Raises
        ------
        NotFound
            If the world has no slice of that name.
        """
        return self.values[:, self.slice_index(slice_name)]

    def slice_index(self, slice_name: str) -> int:
        try:
            return self.slices.index(slice_name)
        except ValueError:
            raise NotFound(
                f"world {self.world!r} has no evaluation slice {slice_name[:60]!r} "
                f"(slices: {', '.join(self.slices[:12])}{' ...' if len(self.slices) > 12 else ''})"
            ) from None

    def mask_of(self, label: str) -> int:
        """Bitmask of a training-set label of this world (raises NotFound on a bad label)."""
        try:
            return lattice.parse_label(label, self.letters)
        except CfgraphError as exc:
            raise NotFound(f"world {self.world!r}: {exc}") from None

    @property
    def complete(self) -> float:
        """Fraction of cells present."""
        return float((~np.isnan(self.values)).mean()) if self.values.size else 0.0


def check_world_name(name: str) -> str:
    """A world's name must fit in a URL path segment and on one line.

    Raises
    ------
    CfgraphError
        On an empty name, one over 200 characters, or one with "/", "\\" or a control character.
    """
    if not name or len(name) > 200:
        raise CfgraphError("a world needs a name of 1 to 200 characters")
    if any(ch in "/\\" or ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise CfgraphError(f"a world name may not contain '/', '\\' or control characters: {name[:60]!r}")
    return name


def create_world(
    session: Session,
    name: str,
    *,
    kind: str,
    units: list[UnitSpec],
    slices: list[SliceSpec],
    metric: str,
    eval_slices: str,
    dataset: str | None = None,
    split: dict | None = None,
    grouping: dict | None = None,
    model_spec: str | None = None,
    seed: int | None = None,
    spec: dict | None = None,
    versions: dict | None = None,
    description: str | None = None,
    parent_world_id: int | None = None,
    recipe: dict | None = None,
) -> World:
    """Create a world with its units, all 2^n nodes, all n 2^(n-1) edges and its slices.

    A variant world (kind "variant") passes the id of the world it derives from
    and the recipe (kind, parameters, seed) that rebuilds it.

    Raises
    ------
    CfgraphError
        If a world of that name exists, n is outside 1..16, or names repeat.
    """
    n = len(units)
    if not 1 <= n <= lattice.MAX_UNITS:
        raise CfgraphError(
            f"an exhaustive lattice needs 1 to {lattice.MAX_UNITS} units, not {n} "
            f"(2^{n} training sets); sampling larger worlds is not supported yet"
        )
    check_world_name(name)
    if session.scalar(select(World.id).where(World.name == name)) is not None:
        raise CfgraphError(f"world {name!r} already exists (choose another --world or pass --replace)")
    if len({s.name for s in slices}) != len(slices):
        raise CfgraphError("evaluation slice names must be unique")
    if len({u.name for u in units}) != len(units):
        raise CfgraphError("unit names must be unique")
    world = World(
        name=name, kind=kind, dataset=dataset, split=split, grouping=grouping,
        model_spec=model_spec, metric=metric, seed=seed, eval_slices=eval_slices,
        n_units=n, spec=spec, versions=versions, description=description, created_at=utcnow(),
        parent_world_id=parent_world_id, recipe=recipe,
    )
    session.add(world)
    session.flush()
    letters = lattice.unit_letters(n)
    session.execute(insert(Unit), [
        {"world_id": world.id, "idx": i, "label": letters[i], "name": u.name, "size": u.size,
         "definition": u.definition}
        for i, u in enumerate(units)
    ])
    labels = lattice.all_labels(letters)
    size = lattice.sizes(n)
    session.execute(insert(Node), [
        {"world_id": world.id, "mask": m, "label": labels[m], "size": int(size[m])}
        for m in range(1 << n)
    ])
    src, dst = aliased(Node), aliased(Node)
    # One set-based statement: every (S, i) with i not in S gives the edge S -> S | 1 << i.
    bit = literal(1).op("<<")(Unit.idx)
    edges = (
        select(literal(world.id), src.id, dst.id, Unit.id)
        .select_from(src)
        .join(Unit, and_(Unit.world_id == src.world_id, src.mask.op("&")(bit) == 0))
        .join(dst, and_(dst.world_id == src.world_id, dst.mask == src.mask.op("|")(bit)))
        .where(src.world_id == world.id)
    )
    session.execute(
        insert(Edge).from_select(["world_id", "src_node_id", "dst_node_id", "unit_id"], edges)
    )
    session.execute(insert(EvalSlice), [
        {"world_id": world.id, "name": s.name, "position": p, "mask": s.mask, "size": s.size,
         "definition": s.definition}
        for p, s in enumerate(slices)
    ])
    session.flush()
    return world


def find_world(session: Session, name: str) -> World | None:
    """The world called ``name``, or None."""
    return session.scalar(select(World).where(World.name == name))


def get_world(session: Session, name: str) -> World:
    """The world called ``name``.

    Raises
    ------
    NotFound
        If there is none; the message lists the stored worlds.
    """
    world = find_world(session, name)
    if world is None:
        names = session.scalars(select(World.name).order_by(World.name)).all()
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        raise NotFound(f"no world named {name[:80]!r} (stored: {shown or 'none'})")
    return world


def delete_world(session: Session, name: str, kind: str | None = None) -> None:
    """Delete a world and everything in it (cascades to units, nodes, edges, slices, cells).

    Parameters
    ----------
    kind : str, optional
        Only delete a world of this kind ("trained", "imported", "variant"), so that
        replacing one kind of world never destroys another.

    Raises
    ------
    CfgraphError
        If the world is of another kind, or variant worlds derive from it.
    """
    world = get_world(session, name)
    if kind is not None and world.kind != kind:
        article = "an" if world.kind[0] in "aeiou" else "a"
        raise CfgraphError(f"world {name!r} is {article} {world.kind} world, not {kind}; choose another name")
    children = session.scalars(select(World.name).where(World.parent_world_id == world.id)).all()
    if children:
        raise CfgraphError(
            f"world {name!r} has {len(children)} variant world(s) ({', '.join(children[:5])}); delete them first"
        )
    session.execute(delete(World).where(World.id == world.id))


def list_worlds(session: Session) -> list[dict]:
    """Every world with its size and how complete its lattice is (cells present / expected)."""
    cells = (
        select(Node.world_id, func.count(Cell.id).label("cells"),
               func.sum(case((Cell.status == "failed", 1), else_=0)).label("failed"))
        .join(Cell, Cell.node_id == Node.id)
        .group_by(Node.world_id)
        .subquery()
    )
    slices = select(EvalSlice.world_id, func.count().label("slices")).group_by(EvalSlice.world_id).subquery()
    rows = session.execute(
        select(World, func.coalesce(cells.c.cells, 0), func.coalesce(cells.c.failed, 0),
               func.coalesce(slices.c.slices, 0))
        .outerjoin(cells, cells.c.world_id == World.id)
        .outerjoin(slices, slices.c.world_id == World.id)
        .order_by(World.created_at, World.id)
    ).all()
    out = []
    for world, n_cells, n_failed, n_slices in rows:
        seeds = (world.spec or {}).get("seeds") or [world.seed or 0]
        metrics = (world.spec or {}).get("metrics") or [world.metric]
        expected = (1 << world.n_units) * n_slices * len(seeds) * len(metrics)
        out.append({
            "name": world.name, "kind": world.kind, "dataset": world.dataset,
            "model": world.model_spec, "metric": world.metric, "n_units": world.n_units,
            "slices": n_slices, "cells": n_cells, "failed": n_failed, "expected_cells": expected,
            "complete": n_cells / expected if expected else 0.0,
            "created_at": world.created_at, "finished_at": world.finished_at,
        })
    return out


def node_ids(session: Session, world: World) -> np.ndarray:
    """Node id of every training set of a world, indexed by mask: shape (2**n,)."""
    ids = np.zeros(1 << world.n_units, dtype=np.int64)
    rows = session.execute(select(Node.mask, Node.id).where(Node.world_id == world.id)).all()
    masks, values = zip(*rows)
    ids[np.asarray(masks)] = values
    return ids


def slice_ids(session: Session, world: World) -> dict[str, int]:
    return dict(session.execute(
        select(EvalSlice.name, EvalSlice.id).where(EvalSlice.world_id == world.id)
    ).all())


def write_cells(session: Session, rows: list[dict]) -> int:
    """Insert cells in one executemany. Each row: node_id, slice_id, metric, seed, value,
    fit_seconds, status, error. A second write of the same cell violates the unique key."""
    if rows:
        session.execute(insert(Cell), rows)
    return len(rows)


def stored_cells(session: Session, world: World, metrics: list[str], seeds: list[int]) -> np.ndarray:
    """Which cells of a world are stored, as a boolean array (one indexed query per metric and seed).

    Returns
    -------
    ndarray of bool, shape (len(seeds), 2**n, number of slices, len(metrics))
        True where the cell (training set, slice, metric, seed) is stored, whatever its status.
    """
    present = np.zeros((len(seeds), 1 << world.n_units, len(world.slices), len(metrics)), dtype=bool)
    position = {s.id: p for p, s in enumerate(world.slices)}
    lookup = np.zeros(max(position, default=0) + 1, dtype=np.int64)
    lookup[list(position)] = list(position.values())
    for si, seed in enumerate(seeds):
        for mi, metric in enumerate(metrics):
            data = _cell_rows(session, (
                select(Node.mask, Cell.slice_id).join(Cell, Cell.node_id == Node.id)
                .where(Node.world_id == world.id, Cell.metric == metric, Cell.seed == seed)
            ))
            if len(data):
                present[si, data[:, 0].astype(np.int64), lookup[data[:, 1].astype(np.int64)], mi] = True
    return present


def count_cells(session: Session, world: World) -> int:
    """Number of cells stored for a world."""
    return session.scalar(select(func.count()).select_from(Cell).join(Node, Node.id == Cell.node_id)
                          .where(Node.world_id == world.id))


def metrics_and_seeds(session: Session, world: World) -> tuple[list[str], list[int]]:
    """The metrics and seeds of a world (its default metric first).

    Read from the world's recipe (``spec``) when it lists them, so no cell is
    scanned; otherwise from the distinct (metric, seed) pairs of its cells.
    """
    spec = world.spec or {}
    if spec.get("metrics") and spec.get("seeds") is not None:
        metrics = list(dict.fromkeys([world.metric] + list(spec["metrics"])))
        return metrics, sorted({int(s) for s in spec["seeds"]}) or [world.seed or 0]
    rows = session.execute(
        select(Cell.metric, Cell.seed).distinct()
        .join(Node, Node.id == Cell.node_id).where(Node.world_id == world.id)
    ).all()
    metrics = sorted({m for m, _ in rows}, key=lambda m: (m != world.metric, m))
    seeds = sorted({s for _, s in rows})
    return metrics or [world.metric], seeds or [world.seed or 0]


def choose_metric_seed(session: Session, world: World, metric: str | None = None,
                       seed: int | str | None = None) -> tuple[str, int]:
    """Check a requested metric and seed; default to the world's metric and its lowest seed.

    Raises
    ------
    NotFound
        On a metric or seed the world has no cells for, or a seed that is not an integer.
    """
    metrics, seeds = metrics_and_seeds(session, world)
    metric = metric or metrics[0]
    if metric not in metrics:
        raise NotFound(f"world {world.name!r} has no cells for metric {metric!r} (metrics: {', '.join(metrics)})")
    if seed is None or str(seed).strip() == "":
        return metric, seeds[0]
    try:
        seed = int(seed)
    except ValueError:
        raise CfgraphError(f"seed must be an integer, not {str(seed)[:20]!r}") from None
    if seed not in seeds:
        raise NotFound(f"world {world.name!r} has no cells for seed {seed} (seeds: {', '.join(map(str, seeds))})")
    return metric, seed


_STATUS = np.array(["ok", "baseline", "single_class", "failed"], dtype=object)
_STATUS_CODE = case(
    (Cell.status == "ok", 0), (Cell.status == "baseline", 1), (Cell.status == "single_class", 2), else_=3
)


def _cell_rows(session: Session, query) -> np.ndarray:
    """Run a query of numeric columns and return its rows as a float array (None -> NaN).

    On SQLite the rows come from the DB-API cursor of the session's own connection
    (same transaction), skipping SQLAlchemy's row objects: about three times faster
    for the 65,536 cells of an n = 16 lattice.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        compiled = query.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
        params = [compiled.params[name] for name in compiled.positiontup]
        rows = connection.connection.driver_connection.execute(str(compiled), params).fetchall()
    else:
        rows = connection.execute(query).all()
    return np.array(rows, dtype=float).reshape(len(rows), len(query.selected_columns))


def lattice_table(session: Session, world: World | str, metric: str | None = None,
                  seed: int | str | None = None) -> LatticeTable:
    """All cells of a world for one metric and seed, in one query, as a :class:`LatticeTable`.

    Parameters
    ----------
    metric : str, optional
        Defaults to the world's metric.
    seed : int, optional
        Defaults to the lowest seed with cells.

    Raises
    ------
    NotFound
        If the world, or cells for that metric / seed, do not exist.
    """
    if isinstance(world, str):
        world = get_world(session, world)
    metric, seed = choose_metric_seed(session, world, metric, seed)
    n = world.n_units
    letters = [u.label for u in world.units]
    slices = list(world.slices)
    position = np.zeros(max([s.id for s in slices], default=0) + 1, dtype=np.int64)
    position[[s.id for s in slices]] = np.arange(len(slices))
    values = np.full((1 << n, len(slices)), np.nan)
    status = np.full(values.shape, "", dtype=object)
    data = _cell_rows(session, (
        select(Node.mask, Cell.slice_id, Cell.value, _STATUS_CODE)
        .join(Cell, Cell.node_id == Node.id)
        .where(Node.world_id == world.id, Cell.metric == metric, Cell.seed == seed)
    ))
    if len(data):
        masks, cols = data[:, 0].astype(np.int64), position[data[:, 1].astype(np.int64)]
        values[masks, cols] = data[:, 2]
        status[masks, cols] = _STATUS[data[:, 3].astype(np.int64)]
    return LatticeTable(
        world=world.name, letters=letters, labels=lattice.all_labels(letters),
        slices=[s.name for s in slices], slice_masks=[s.mask for s in slices],
        metric=metric, seed=seed, values=values, status=status,
    )


def cells_at(session: Session, world: World, masks, metric: str, seed: int,
             slice_ids: list[int] | None = None) -> np.ndarray:
    """Cells of a few training sets on every slice (or on ``slice_ids``), in one indexed query.

    Parameters
    ----------
    masks : sequence of int
        The training sets (repeats allowed).
    slice_ids : list of int, optional
        Restrict to these slices (ids); columns follow this order. Default: all, in position order.

    Returns
    -------
    ndarray, shape (len(masks), m)
        NaN where a cell is missing or failed.
    """
    masks = np.asarray([int(m) for m in masks], dtype=np.int64)
    if slice_ids is None:
        slice_ids = [s.id for s in world.slices]
    out = np.full((len(masks), len(slice_ids)), np.nan)
    if not len(masks) or not slice_ids:
        return out
    query = (
        select(Node.mask, Cell.slice_id, Cell.value)
        .join(Cell, Cell.node_id == Node.id)
        .where(Node.world_id == world.id, Node.mask.in_(np.unique(masks).tolist()),
               Cell.slice_id.in_(list(slice_ids)), Cell.metric == metric, Cell.seed == seed)
    )
    data = _cell_rows(session, query)
    if len(data):
        column = {int(sid): j for j, sid in enumerate(slice_ids)}
        row_of = {int(m): np.flatnonzero(masks == m) for m in np.unique(masks)}
        for mask, slice_id, value in data:  # at most (few masks) x m rows
            out[row_of[int(mask)], column[int(slice_id)]] = value
    return out


def slice_column(session: Session, world: World, slice_id: int, metric: str, seed: int) -> np.ndarray:
    """Every training set's cell on one slice, shape (2^n,), NaN where missing (one indexed query)."""
    out = np.full(1 << world.n_units, np.nan)
    data = _cell_rows(session, (
        select(Node.mask, Cell.value).join(Cell, Cell.node_id == Node.id)
        .where(Cell.slice_id == slice_id, Cell.metric == metric, Cell.seed == seed)
    ))
    if len(data):
        out[data[:, 0].astype(np.int64)] = data[:, 1]
    return out


def node_neighbourhood(session: Session, world: World, mask: int) -> dict:
    """A node and its add-one / remove-one neighbours, from the edge table (two indexed queries).

    Returns
    -------
    dict
        ``{"node": (id, mask, label), "up": [(unit_label, mask, label)], "down": [...]}``.

    Raises
    ------
    NotFound
        If the world has no node with that mask.
    """
    node = session.execute(
        select(Node.id, Node.mask, Node.label).where(Node.world_id == world.id, Node.mask == mask)
    ).one_or_none()
    if node is None:
        raise NotFound(f"world {world.name!r} has no training set with mask {mask}")
    other = aliased(Node)
    up = session.execute(
        select(Unit.label, other.mask, other.label)
        .join(Edge, Edge.unit_id == Unit.id).join(other, other.id == Edge.dst_node_id)
        .where(Edge.src_node_id == node.id).order_by(Unit.idx)
    ).all()
    down = session.execute(
        select(Unit.label, other.mask, other.label)
        .join(Edge, Edge.unit_id == Unit.id).join(other, other.id == Edge.src_node_id)
        .where(Edge.dst_node_id == node.id).order_by(Unit.idx)
    ).all()
    return {"node": tuple(node), "up": [tuple(r) for r in up], "down": [tuple(r) for r in down]}


def hasse_diagram(session: Session, world: World | str, slice_name: str | None = None,
                  metric: str | None = None, seed: int | None = None) -> nx.DiGraph:
    """The Hasse diagram of a world's stored nodes and edges as a ``networkx.DiGraph``.

    Nodes are masks (attributes ``label``, ``size``, ``value`` on ``slice_name``);
    edges S -> S + {i} carry ``unit`` and ``delta`` (the marginal contribution).
    Paths through the lattice, e.g. ``nx.shortest_path(g, 0, full)``, come from it.
    """
    if isinstance(world, str):
        world = get_world(session, world)
    nodes = session.execute(
        select(Node.id, Node.mask, Node.label).where(Node.world_id == world.id)
    ).all()
    by_id = {r.id: r.mask for r in nodes}
    edge_rows = session.execute(
        select(Edge.src_node_id, Edge.dst_node_id, Unit.label)
        .join(Unit, Unit.id == Edge.unit_id).where(Edge.world_id == world.id)
    ).all()
    values = None
    if slice_name is not None:
        table = lattice_table(session, world, metric, seed)
        column = table.column(slice_name)
        values = {int(m): float(column[m]) for m in np.flatnonzero(~np.isnan(column))}
    return lattice.hasse_diagram(
        [r.mask for r in nodes], [r.label for r in nodes],
        ((by_id[s], by_id[d], u) for s, d, u in edge_rows), values,
    )


def mark_finished(session: Session, world: World) -> None:
    world.finished_at = utcnow()


