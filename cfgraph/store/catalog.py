"""World lifecycle: create, find, get, delete and list the worlds of a store.

Functions take a ``session`` and do not commit: the caller owns the
transaction (``with store.transaction() as session: ...``). Creating a world
writes its units, all 2^n nodes, and all n 2^(n-1) edges in one set-based
``INSERT ... SELECT``.
"""

from __future__ import annotations

from contextlib import contextmanager

from datetime import datetime, timezone

from sqlalchemy import and_, case, delete, func, insert, literal, select
from sqlalchemy.orm import Session, aliased

from cfgraph import lattice
from cfgraph.errors import CfgraphError, NotFound, WorldExists
from cfgraph.store.models import TASKS, Cell, Edge, EvalSlice, Node, Unit, World
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
) -> World:
    """Create a world with its units, all 2^n nodes, all n 2^(n-1) edges and its slices.

    A variant world (kind "variant") passes the id of the world it derives from
    and the recipe (kind, parameters, seed) that rebuilds it. Units are labelled
    A, B, C, ... in bit order unless ``labels`` gives one character per unit
    (an imported grid keeps its own letters, e.g. C, M, W).

    Raises
    ------
    CfgraphError
        If a world of that name exists, n is outside 1..16, or names or labels repeat.
    """
    n = len(units)
    if not 1 <= n <= lattice.MAX_UNITS:
        raise CfgraphError(
            f"an exhaustive lattice needs 1 to {lattice.MAX_UNITS} units, not {n} "
            f"(2^{n} training sets); sampling larger worlds is not supported yet"
        )
    check_world_name(name)
    if session.scalar(select(World.id).where(World.name == name)) is not None:
        raise WorldExists(f"world {name!r} already exists (choose another name, or replace it)")
    if len({s.name for s in slices}) != len(slices):
        raise CfgraphError("evaluation slice names must be unique")
    if len({u.name for u in units}) != len(units):
        raise CfgraphError("unit names must be unique")
    if task not in TASKS:
        raise CfgraphError(f"a world's task is one of {', '.join(TASKS)}, not {task!r}")
    letters = lattice.unit_letters(n) if labels is None else list(labels)
    if len(letters) != n or len(set(letters)) != n or any(len(x) != 1 for x in letters):
        raise CfgraphError(f"unit labels must be {n} distinct single characters, not {', '.join(letters)[:60]}")
    world = World(
        name=name, kind=kind, task=task, dataset=dataset, split=split, grouping=grouping,
        model_spec=model_spec, metric=metric, seed=seed, eval_slices=eval_slices,
        n_units=n, spec=spec, versions=versions, description=description, created_at=utcnow(),
        parent_world_id=parent_world_id, recipe=recipe,
    )
    session.add(world)
    session.flush()
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
    with _readable_json("a stored world"):
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


def mark_finished(session: Session, world: World) -> None:
    world.finished_at = utcnow()
