"""World lifecycle: create, find, get, delete and list the worlds of a store.

Functions take a ``session`` and do not commit: the caller owns the
transaction (``with store.transaction() as session: ...``). Creating an
exhaustive world writes its units, all 2^n nodes, and all n 2^(n-1) edges in
one set-based ``INSERT ... SELECT``; a sampled world starts with its units and
slices only (:mod:`cfgraph.store.nodes` adds training sets as they are fitted).
"""

from __future__ import annotations

from contextlib import contextmanager

from datetime import datetime, timezone

from sqlalchemy import and_, case, delete, func, insert, literal, select, text
from sqlalchemy.orm import Session, aliased

import numpy as np

from cfgraph import bitsets
from cfgraph import lattice as lattice_module
from cfgraph.errors import CfgraphError, NotFound, WorldExists
from cfgraph.store.models import LATTICES, TASKS, Cell, Edge, EvalSlice, Node, Unit, World
from cfgraph.tables import SliceSpec, UnitSpec

__all__ = ["check_world_name", "create_world", "find_world", "get_world", "world_by_id", "delete_world",
           "list_worlds", "mark_finished", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


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
    task: str = "classification",
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
    labels: list[str] | None = None,
    lattice: str = "exhaustive",
) -> World:
    """Create a world with its units and slices, and (exhaustive) all 2^n nodes and n 2^(n-1) edges.

    A variant world (kind "variant") passes the id of the world it derives from
    and the recipe (kind, parameters, seed) that rebuilds it. Units are labelled
    A, B, C, ... in bit order unless ``labels`` gives one character per unit
    (an imported grid keeps its own letters, e.g. C, M, W). A sampled world of
    more than 26 units is labelled U1, U2, ... unless ``labels`` names them (up
    to 40 characters each, e.g. "r123" for the point of row 123).

    Parameters
    ----------
    lattice : {"exhaustive", "sampled"}
        "exhaustive": 1 to 16 units, every training set stored now. "sampled": 1 to
        :data:`cfgraph.bitsets.MAX_SAMPLED_UNITS` units, no training set yet.

    Raises
    ------
    CfgraphError
        If a world of that name exists, n is out of range for the lattice, or names or labels repeat.

    Examples
    --------
    >>> from cfgraph.store import open_store
    >>> from cfgraph.tables import SliceSpec, UnitSpec
    >>> store = open_store("sqlite://")
    >>> with store.transaction() as session:
    ...     world = create_world(session, "big", kind="trained", units=[UnitSpec(f"p{i}") for i in range(40)],
    ...                          slices=[SliceSpec("all")], metric="accuracy", eval_slices="units",
    ...                          lattice="sampled")
    ...     [(w["lattice"], w["n_units"], w["training_sets"]) for w in list_worlds(session)]
    [('sampled', 40, 0)]
    """
    n = len(units)
    if lattice not in LATTICES:
        raise CfgraphError(f"a world's lattice is one of {', '.join(LATTICES)}, not {str(lattice)[:40]!r}")
    sampled = lattice == "sampled"
    if not sampled and not 1 <= n <= lattice_module.MAX_UNITS:
        raise CfgraphError(
            f"an exhaustive lattice needs 1 to {lattice_module.MAX_UNITS} units, not {n} "
            f"(2^{n} training sets); a sampled world takes more"
        )
    if sampled and not 1 <= n <= bitsets.MAX_SAMPLED_UNITS:
        raise CfgraphError(f"a sampled world needs 1 to {bitsets.MAX_SAMPLED_UNITS:,} units, not {n:,}")
    check_world_name(name)
    if session.scalar(select(World.id).where(World.name == name)) is not None:
        raise WorldExists(f"world {name!r} already exists (choose another name, or replace it)")
    if len({s.name for s in slices}) != len(slices):
        raise CfgraphError("evaluation slice names must be unique")
    if len({u.name for u in units}) != len(units):
        raise CfgraphError("unit names must be unique")
    if task not in TASKS:
        raise CfgraphError(f"a world's task is one of {', '.join(TASKS)}, not {task!r}")
    letters = _unit_labels(n, labels, sampled)
    world = World(
        name=name, kind=kind, task=task, dataset=dataset, split=split, grouping=grouping,
        model_spec=model_spec, metric=metric, seed=seed, eval_slices=eval_slices,
        n_units=n, spec=spec, versions=versions, description=description, created_at=utcnow(),
        parent_world_id=parent_world_id, recipe=recipe, lattice=lattice,
    )
    session.add(world)
    session.flush()
    session.execute(insert(Unit), [
        {"world_id": world.id, "idx": i, "label": letters[i], "name": u.name, "size": u.size,
         "definition": u.definition}
        for i, u in enumerate(units)
    ])
    if not sampled:
        _create_lattice(session, world, letters)
    session.execute(insert(EvalSlice), [
        {"world_id": world.id, "name": s.name, "position": p, "mask": s.mask, "size": s.size,
         "definition": s.definition}
        for p, s in enumerate(slices)
    ])
    session.flush()
    return world


def _unit_labels(n: int, labels: list[str] | None, sampled: bool) -> list[str]:
    """Unit labels: given, else letters (n <= 26), else U1, U2, ... (sampled worlds only)."""
    if labels is None:
        return lattice_module.unit_letters(n) if n <= len(lattice_module.LETTERS) else [f"U{i + 1}" for i in range(n)]
    labels = [str(x) for x in labels]
    longest = 40 if sampled else 1
    if len(labels) != n or len(set(labels)) != n or any(not 1 <= len(x) <= longest for x in labels):
        what = "labels of 1 to 40 characters" if sampled else "single characters"
        raise CfgraphError(f"unit labels must be {n} distinct {what}, not {', '.join(labels)[:60]}")
    return labels


def _create_lattice(session: Session, world: World, letters: list[str]) -> None:
    """All 2^n nodes (mask, label, size, packed members, digest) and all n 2^(n-1) edges."""
    n = world.n_units
    labels = lattice_module.all_labels(letters)
    masks = np.arange(1 << n, dtype=np.int64)
    members = lattice_module.membership(masks, n)
    packed, digests, size = bitsets.pack(members), bitsets.digest(members), members.sum(axis=1)
    session.execute(insert(Node.__table__), [
        {"world_id": world.id, "mask": m, "label": labels[m], "size": int(size[m]), "members": packed[m],
         "digest": int(digests[m])}
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


def find_world(session: Session, name: str) -> World | None:
    """The world called ``name``, or None.

    Raises
    ------
    CfgraphError
        If its stored JSON (spec, recipe, split, ...) does not parse: a database edited by hand.
    """
    with _readable_json(f"world {name[:80]!r}"):
        return session.scalar(select(World).where(World.name == name))


@contextmanager
def _readable_json(what: str):
    """Turn a JSON column that does not parse (SQLAlchemy decodes it on load) into one line."""
    try:
        yield
    except ValueError as exc:  # json.JSONDecodeError, or a number too long to read
        raise CfgraphError(f"{what}: its stored JSON (recipe or metadata) does not parse ({str(exc)[:80]}); "
                           "was the database edited by hand?") from None


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


def world_by_id(session: Session, world_id: int | None) -> World | None:
    """The world with this primary key (e.g. a variant's ``parent_world_id``), or None."""
    return session.get(World, world_id) if world_id is not None else None


def delete_world(session: Session, name: str, kind: str | None = None) -> None:
    """Delete a world and everything in it (cascades to units, nodes, edges, slices, cells, valuations
    and estimates).

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
    """Every world with its size, its stored training sets and how complete its lattice is.

    Each row has ``lattice`` ("exhaustive" or "sampled") and ``training_sets`` (stored
    nodes). ``expected_cells`` counts every cell of every training set of an exhaustive
    world, and of the *stored* training sets of a sampled one (its lattice is never whole).
    Three grouped queries, whatever the number of worlds.
    """
    cells = (
        select(Node.world_id, func.count(Cell.id).label("cells"),
               func.sum(case((Cell.status == "failed", 1), else_=0)).label("failed"))
        .join(Cell, Cell.node_id == Node.id)
        .group_by(Node.world_id)
        .subquery()
    )
    slices = select(EvalSlice.world_id, func.count().label("slices")).group_by(EvalSlice.world_id).subquery()
    nodes = select(Node.world_id, func.count().label("nodes")).group_by(Node.world_id).subquery()
    with _readable_json("a stored world"):
        rows = session.execute(
            select(World, func.coalesce(cells.c.cells, 0), func.coalesce(cells.c.failed, 0),
                   func.coalesce(slices.c.slices, 0), func.coalesce(nodes.c.nodes, 0))
            .outerjoin(cells, cells.c.world_id == World.id)
            .outerjoin(slices, slices.c.world_id == World.id)
            .outerjoin(nodes, nodes.c.world_id == World.id)
            .order_by(World.created_at, World.id)
        ).all()
    out = []
    for world, n_cells, n_failed, n_slices, n_nodes in rows:
        seeds = (world.spec or {}).get("seeds") or [world.seed or 0]
        metrics = (world.spec or {}).get("metrics") or [world.metric]
        training_sets = n_nodes if world.lattice == "sampled" else 1 << world.n_units
        expected = training_sets * n_slices * len(seeds) * len(metrics)
        out.append({
            "name": world.name, "kind": world.kind, "lattice": world.lattice, "dataset": world.dataset,
            "model": world.model_spec, "metric": world.metric, "n_units": world.n_units,
            "training_sets": n_nodes, "slices": n_slices, "cells": n_cells, "failed": n_failed,
            "expected_cells": expected, "complete": n_cells / expected if expected else 0.0,
            "created_at": world.created_at, "finished_at": world.finished_at,
        })
    return out


#: The tables a world's build fills, whose statistics :func:`mark_finished` refreshes on PostgreSQL.
BUILT_TABLES = ("world", "unit", "eval_slice", "node", "edge", "cell")


def mark_finished(session: Session, world: World) -> None:
    """Stamp ``world.finished_at``; on PostgreSQL also refresh the statistics of :data:`BUILT_TABLES`.

    Until autovacuum's next pass the planner takes freshly filled tables for nearly empty and joins
    the views' cells by nested loops: ``SELECT * FROM variant_delta`` on a 16-set variant ran past
    the SQL page's one-second deadline. ``ANALYZE`` samples a bounded number of rows per table.
    """
    world.finished_at = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"ANALYZE {', '.join(BUILT_TABLES)}"))
