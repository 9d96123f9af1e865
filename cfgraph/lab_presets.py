"""Ready-made lab states for a world: leave-one-out, world against variant, seed against seed, slice against slice.

Each preset is a :class:`~cfgraph.lab_state.LabState` (so a link), built from
what the world has: its full training set and slices, its stored seeds, its
variants (or its parent, for a variant world).
"""

from __future__ import annotations

from cfgraph.lab_state import ANY, CellRef, LabState

__all__ = ["presets"]


def presets(world, slice_name: str | None = None, params=()) -> list[tuple[str, LabState]]:
    """The lab's presets for a world, as (title, state).

    Parameters
    ----------
    world : cfgraph.world.World
        An exhaustive world.
    slice_name : str, optional
        The slice of the leave-one-out preset (default: the first).
    params : tuple of (str, str)
        Parameters every preset keeps (the picked world, the tolerance ...).

    Returns
    -------
    list of (str, LabState)

    Examples
    --------
    >>> from cfgraph.store import open_store
    >>> from cfgraph.resources import seed_file
    >>> from cfgraph.grids import import_grid
    >>> from cfgraph.world import World
    >>> store = open_store("sqlite://")
    >>> _ = import_grid(store, seed_file("toy_grid.csv"), "toy")
    >>> with World.open(store, "toy") as toy:
    ...     title, state = presets(toy)[0]
    >>> title, [c.train for c in state.a], [c.train for c in state.b]
    ('A = full set ABCD, B = each leave-one-out set (slice A)', ['ABCD'], ['BCD', 'ACD', 'ABD', 'ABC'])
    """
    name, n = world.name, world.n
    full = (1 << n) - 1
    first = world.find_slice(slice_name).name
    out = [(f"A = full set {world.label_of(full)}, B = each leave-one-out set (slice {first})",
            LabState(a=(CellRef(name, world.label_of(full), first),),
                     b=tuple(CellRef(name, world.label_of(full & ~(1 << i)), first) for i in range(n)),
                     params=params))]
    everything = CellRef(name, ANY, ANY)
    for v in world.variants():
        out.append((f"A = {name}, B = its variant {v['name']} ({v['move']}), every cell",
                    LabState(a=(everything,), b=(CellRef(v["name"], ANY, ANY),), params=params)))
    parent = world.parent() if world.kind == "variant" else None
    if parent is not None:
        out.append((f"A = {parent.name} (parent), B = {name}, every cell",
                    LabState(a=(CellRef(parent.name, ANY, ANY),), b=(everything,), params=params)))
    seeds = world.seeds
    if len(seeds) >= 2:
        s0, s1 = seeds[0], seeds[1]
        out.append((f"A = seed {s0}, B = seed {s1}, every cell",
                    LabState(a=(CellRef(name, ANY, ANY, seed=s0),), b=(CellRef(name, ANY, ANY, seed=s1),),
                             params=params)))
    slices = [s.name for s in world.slices]
    if len(slices) >= 2:
        x, y = slices[0], slices[1]
        out.append((f"A = slice {x} column, B = slice {y} column (every training set)",
                    LabState(a=(CellRef(name, ANY, x),), b=(CellRef(name, ANY, y),), params=params)))
    return out
