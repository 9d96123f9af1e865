"""Ready-made lab states for a world: leave-one-out, world against variant, seed against seed, slice against slice.

Each preset is a :class:`~cfgraph.lab_state.LabState` (so a link), built from
what the world has: its full training set and slices, its stored seeds, its
variants (or its parent, for a variant world). Every preset but leave-one-out uses
matched pairing (``p.pairing=matched``): a world against its variant pairs each
training set and slice with the same one in the variant; a variant that adds units
(poisoning's E) also gets "T against T + E", within the variant and from the parent,
so the attack shows as a training addition, and "the same set in both worlds" is
labelled as the control it is (the variant copies every set without E: no change); seed against seed pairs each cell with
itself; slice X against slice Y pairs each training set with itself
(``p.match=train``).
"""

from __future__ import annotations

from cfgraph.lab_state import ANY, CellRef, LabState
from cfgraph.world import World

__all__ = ["presets"]

#: Parameters a preset sets itself (a kept parameter of the current state must not override them).
_PAIRING = ("pairing", "add", "match")


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
    keep = tuple((k, v) for k, v in params if k not in _PAIRING)

    def state(a, b, **pairing):
        own = {"pairing": "matched", **pairing} if pairing.get("pairing", "matched") != "all" else {}
        return LabState(a=a, b=b, params=tuple(sorted(dict(keep, **own).items())))

    full = (1 << n) - 1
    first = world.find_slice(slice_name).name
    out = [(f"A = full set {world.label_of(full)}, B = each leave-one-out set (slice {first})",
            state((CellRef(name, world.label_of(full), first),),
                  tuple(CellRef(name, world.label_of(full & ~(1 << i)), first) for i in range(n)), pairing="all"))]
    lineage = [(world, World.open(world.session, v["name"]), v["move"]) for v in world.variants()]
    parent = world.parent() if world.kind == "variant" else None
    if parent is not None:
        lineage.append((parent, world, None))
    for base, variant, move in lineage:
        every_a, every_b = CellRef(base.name, ANY, ANY), CellRef(variant.name, ANY, ANY)
        what = f"its variant {variant.name} ({move})" if move else f"{variant.name} (this variant)"
        title = f"A = {base.name}{' (parent)' if base is parent else ''}, B = {what}"
        same = state((every_a,), (every_b,))
        added = "+".join(u for u in variant.letters if u not in base.letters)
        if not added:
            out.append((f"{title}: each training set and slice against the same in B", same))
            continue
        # A variant that adds units (poisoning's E) copies every set without them from its parent, so
        # the same set in both worlds cannot differ: the attack is the unit joining (T against T + E).
        out.append((f"In {variant.name}: each training set T against T + {added} (the unit {added} joins)",
                    state((every_b,), (every_b,), add=added)))
        out.append((f"A = {base.name} T, B = {variant.name} T + {added}, each training set and slice",
                    state((every_a,), (every_b,), add=added)))
        out.append((f"{title}: each training set and slice against the same in B — control: without {added} "
                    "the variant trains the same sets, expect no change", same))
    seeds = world.seeds
    if len(seeds) >= 2:
        s0, s1 = seeds[0], seeds[1]
        out.append((f"A = seed {s0}, B = seed {s1}: each training set and slice against itself",
                    state((CellRef(name, ANY, ANY, seed=s0),), (CellRef(name, ANY, ANY, seed=s1),))))
    slices = [s.name for s in world.slices]
    if len(slices) >= 2:
        x, y = slices[0], slices[1]
        out.append((f"A = slice {x}, B = slice {y}: each training set on {x} against itself on {y}",
                    state((CellRef(name, ANY, x),), (CellRef(name, ANY, y),), match="train")))
    return out
