"""Variant worlds in the store: their parents, and the parent's cells a variant can reuse.

Functions take a ``session`` and do not commit. :mod:`cfgraph.variants` builds
and reads variant worlds through them, so its SQL lives here.
"""

from __future__ import annotations

from sqlalchemy import and_, exists, insert, select
from sqlalchemy.orm import Session, aliased

from cfgraph.store.catalog import get_world
from cfgraph.store.models import Cell, EvalSlice, Node, World

__all__ = ["variant_worlds", "copy_parent_cells"]


def variant_worlds(session: Session, parent: str | None = None) -> list[tuple[World, str | None, int | None]]:
    """Variant worlds (of the world called ``parent``, or all), oldest first, each with its
    parent's name and number of units (None once the parent is deleted).

    Raises
    ------
    NotFound
        If ``parent`` is given and does not exist.
    """
    parent_world = aliased(World)
    query = (select(World, parent_world.name, parent_world.n_units)
             .outerjoin(parent_world, parent_world.id == World.parent_world_id)
             .where(World.kind == "variant").order_by(World.created_at, World.id))
    if parent is not None:
        query = query.where(World.parent_world_id == get_world(session, parent).id)
    return [tuple(row) for row in session.execute(query).all()]


def copy_parent_cells(session: Session, variant: World, parent_id: int, copy_bits: int, if_clear: bool) -> int:
    """Copy the parent's cells at training sets the recipe leaves unchanged; cells already there are kept.

    A training set is unchanged when it has none of ``copy_bits`` (``if_clear``)
    or all of them (not ``if_clear``). One ``INSERT ... SELECT``.

    Returns
    -------
    int
        Cells copied.
    """
    if not copy_bits:
        return 0
    pn, vn, ps, vs, mine = aliased(Node), aliased(Node), aliased(EvalSlice), aliased(EvalSlice), aliased(Cell)
    chosen = pn.mask.op("&")(copy_bits)
    rows = (
        select(vn.id, vs.id, Cell.metric, Cell.seed, Cell.value, Cell.fit_seconds, Cell.status, Cell.error)
        .select_from(Cell)
        .join(pn, pn.id == Cell.node_id)
        .join(ps, ps.id == Cell.slice_id)
        .join(vn, and_(vn.world_id == variant.id, vn.mask == pn.mask))
        .join(vs, and_(vs.world_id == variant.id, vs.name == ps.name))
        .where(pn.world_id == parent_id, chosen == 0 if if_clear else chosen == copy_bits)
        .where(~exists().where(mine.node_id == vn.id, mine.slice_id == vs.id, mine.metric == Cell.metric,
                               mine.seed == Cell.seed))
    )
    result = session.execute(insert(Cell).from_select(
        ["node_id", "slice_id", "metric", "seed", "value", "fit_seconds", "status", "error"], rows
    ))
    return int(result.rowcount or 0)
