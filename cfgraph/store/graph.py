"""Graph queries: a node's add-one / remove-one neighbourhood and the Hasse diagram, from the edge table."""

from __future__ import annotations

import networkx as nx
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from cfgraph import lattice
from cfgraph.errors import NotFound
from cfgraph.store.catalog import get_world
from cfgraph.store.cells import lattice_table
from cfgraph.store.models import Edge, Node, Unit, World
from cfgraph.store.nodes import find_nodes, masks_to_members

__all__ = ["node_neighbourhood", "hasse_diagram"]


def node_neighbourhood(session: Session, world: World, mask: int) -> dict:
    """A node and its stored add-one / remove-one neighbours, from the edge table (two indexed queries).

    Masks are Python ints of any size, read from the nodes' packed bitsets, so a sampled
    world of thousands of units is served as an exhaustive one is; its node is found by digest.

    Returns
    -------
    dict
        ``{"node": (id, mask, label), "up": [(unit_label, mask, label)], "down": [...]}``.

    Raises
    ------
    NotFound
        If the world has no stored node with that mask.
    """
    mask = int(mask)
    if world.lattice == "sampled":
        found = -1 if mask < 0 or mask >> world.n_units else int(
            find_nodes(session, world, masks_to_members([mask], world.n_units))[0])
        where = [Node.id == found]
    else:
        where = [Node.world_id == world.id, Node.mask == mask] if 0 <= mask < 1 << 63 else [Node.id == -1]
    node = session.execute(select(Node.id, Node.members, Node.label).where(*where)).one_or_none()
    if node is None:
        raise NotFound(f"world {world.name!r} has no training set with mask {mask}")
    other = aliased(Node)
    up = session.execute(
        select(Unit.label, other.members, other.label)
        .join(Edge, Edge.unit_id == Unit.id).join(other, other.id == Edge.dst_node_id)
        .where(Edge.src_node_id == node.id).order_by(Unit.idx)
    ).all()
    down = session.execute(
        select(Unit.label, other.members, other.label)
        .join(Edge, Edge.unit_id == Unit.id).join(other, other.id == Edge.src_node_id)
        .where(Edge.dst_node_id == node.id).order_by(Unit.idx)
    ).all()

    def as_mask(rows):
        return [(a, int.from_bytes(bytes(bits), "little"), c) for a, bits, c in rows]

    return {"node": as_mask([node])[0], "up": as_mask(up), "down": as_mask(down)}


def hasse_diagram(session: Session, world: World | str, slice_name: str | None = None,
                  metric: str | None = None, seed: int | None = None) -> nx.DiGraph:
    """The Hasse diagram of a world's stored nodes and edges as a ``networkx.DiGraph``.

    Nodes are masks, Python ints of any size (attributes ``label``, ``size``, ``value`` on
    ``slice_name``, which needs a 2^n table: exhaustive worlds and sampled ones of n <= 16);
    edges S -> S + {i} carry ``unit`` and ``delta`` (the marginal contribution).
    Paths through the lattice, e.g. ``nx.shortest_path(g, 0, full)``, come from it.
    """
    if isinstance(world, str):
        world = get_world(session, world)
    nodes = [(i, int.from_bytes(bytes(bits), "little"), label) for i, bits, label in session.execute(
        select(Node.id, Node.members, Node.label).where(Node.world_id == world.id)
    )]
    by_id = {i: mask for i, mask, _ in nodes}
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
        [mask for _, mask, _ in nodes], [label for _, _, label in nodes],
        ((by_id[s], by_id[d], u) for s, d, u in edge_rows), values,
    )
