"""A window of a Hasse diagram too large to draw whole, laid out in layers by size (pure: no Flask, no SQL).

Beyond :data:`WHOLE_LATTICE_MAX_UNITS` units the lattice page draws only some
training sets: the current node, its add-one and remove-one neighbours, the walked
path and the training sets a lens reads. Those a path needs are always drawn (a
data strike or a permutation path has at most n + 1); a lens over a whole layer
or a whole sweep (C(n, k) or 2^(n-1) edges) is windowed to :data:`LAYER_WINDOW`
training sets per layer, and the page says how many it left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cfgraph.web.lenses import Placed

__all__ = ["LAYER_WINDOW", "Window", "layered_layout"]

#: Training sets drawn per layer at most, beyond those a path needs (a wider layer is windowed).
LAYER_WINDOW = 12
#: Vertical distance between layers, and the margins above the top and below the bottom layer
#: (each node has its label and its value written under it).
LAYER_GAP = 100
TOP, BOTTOM = 40, 64


@dataclass
class Window:
    """A layered drawing of some training sets, and what it left out.

    Attributes
    ----------
    placed : list of Placed
        The drawn training sets with their coordinates.
    width, height : int
        The SVG's size (the page scales it with its viewBox).
    layers : list of (y, k)
        The drawn layers: y coordinate and training-set size.
    groups_drawn, groups_left : int
        How many of the optional groups (a layer's training sets, a sweep's edges) fit, and how many did not.

    Examples
    --------
    >>> Window().groups_left
    0
    """

    placed: list[Placed] = field(default_factory=list)
    width: int = 360
    height: int = 200
    layers: list[tuple[float, int]] = field(default_factory=list)
    groups_drawn: int = 0
    groups_left: int = 0


def layered_layout(kept, optional=(), labels=None, window: int = LAYER_WINDOW, label_chars: int = 8,
                   key=None) -> Window:
    """Lay out training sets in layers by size, largest at the top, each layer centred.

    Parameters
    ----------
    kept : iterable of int
        Masks always drawn (the current node, its neighbours, paths).
    optional : sequence of tuple of int
        Groups of masks in priority order, each drawn whole or not at all (a sweep's
        edge is a pair); a group is left out when a layer it touches already holds
        ``window`` training sets.
    labels : mapping mask -> str
        Training-set labels: nodes within a layer are sorted by them.
    window : int
        Training sets per layer at most (``kept`` ones are drawn even beyond it).
    label_chars : int
        The longest label's length: nodes are spaced so labels do not overlap.
    key : callable mask -> sortable, optional
        The order within a layer (default: by label). A sweep of unit i orders by the label
        without i, so each edge's two ends sit at about the same place in their layers.

    Returns
    -------
    Window

    Examples
    --------
    >>> from cfgraph.lattice import all_labels
    >>> w = layered_layout([3, 1, 0], [(2,), (4,)], all_labels("ABC"), window=2)
    >>> [(p.mask, p.y) for p in w.placed], w.groups_drawn, w.groups_left
    ([(3, 40), (1, 140), (2, 140), (0, 240)], 1, 1)
    """
    by_size: dict[int, list[int]] = {}
    drawn: set[int] = set()

    def add(mask):
        drawn.add(mask)
        by_size.setdefault(int(mask).bit_count(), []).append(mask)

    for m in kept:
        if int(m) not in drawn:
            add(int(m))
    out = Window()
    for group in optional:
        new = sorted({int(m) for m in group} - drawn)
        extra: dict[int, int] = {}
        for m in new:
            extra[m.bit_count()] = extra.get(m.bit_count(), 0) + 1
        if all(len(by_size.get(k, ())) + c <= window for k, c in extra.items()):
            for m in new:
                add(m)
            out.groups_drawn += 1
        else:
            out.groups_left += 1
    sizes = sorted(by_size, reverse=True)
    spacing = max(72, 7 * label_chars + 24)
    widest = max((len(v) for v in by_size.values()), default=1)
    out.width = max(widest * spacing + 80, 360)
    out.height = TOP + BOTTOM + LAYER_GAP * max(len(sizes) - 1, 0)
    for row, k in enumerate(sizes):
        y = TOP + row * LAYER_GAP
        masks = sorted(by_size[k], key=key or (lambda m: (labels[m] if labels is not None else "", m)))
        left = (out.width - len(masks) * spacing) / 2
        out.placed += [Placed(m, left + spacing * (t + 0.5), y) for t, m in enumerate(masks)]
        out.layers.append((y, k))
    return out
