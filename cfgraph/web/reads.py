"""Turning URL parameters into a world's slices and training sets (404 on a bad name).

The cell reads themselves live in :mod:`cfgraph.store.queries` (``lattice_table``,
``cells_at``, ``slice_column``): a page about one node of a 2^16 lattice reads
only that node's neighbourhood.
"""

from __future__ import annotations

from cfgraph import lattice
from cfgraph.errors import NotFound
from cfgraph.store.models import World


def find_slice(world: World, name: str | None):
    """A slice of the world by name (default: the first).

    Raises
    ------
    NotFound
        If the world has no slice of that name.
    """
    slices = list(world.slices)
    if not slices:
        raise NotFound(f"world {world.name!r} has no evaluation slices")
    if name is None or name == "":
        return slices[0]
    for s in slices:
        if s.name == name:
            return s
    raise NotFound(f"world {world.name!r} has no evaluation slice {name[:60]!r}")


def parse_node(world: World, label: str) -> int:
    """The mask of a training-set label of this world.

    Raises
    ------
    NotFound
        On an unknown unit letter or a malformed label.
    """
    letters = [u.label for u in world.units]
    try:
        return lattice.parse_label(label, letters)
    except Exception as exc:  # CfgraphError: unknown unit, repeated unit
        raise NotFound(f"world {world.name!r}: {exc}") from None
