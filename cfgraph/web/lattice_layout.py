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

__all__ = ["LAYER_WINDOW", "Window", "layered_layout", "place_edge_labels"]

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


#: An edge label's box: pixels per character (10 px digits) and its height; the gap kept around it.
LABEL_CHAR, LABEL_HEIGHT, LABEL_GAP = 6.2, 12.0, 2.0
#: Where along an edge its label may sit (the midpoint first) and on which side of it.
ALONG = (0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78)


def _overlap(a, b) -> float:
    """The area two boxes (x0, y0, x1, y1) share."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def place_edge_labels(edges, obstacles, char: float = LABEL_CHAR, height: float = LABEL_HEIGHT):
    """Centres for edge labels: beside each edge, off the nodes, their labels and each other.

    Each label is tried at points along its edge (the midpoint first), pushed off the
    edge perpendicularly on either side by half its box's extent across the edge plus a
    gap, so it never sits on its own line; the first spot whose box meets no obstacle
    and no label already placed is taken, else the spot with the least overlap.

    Parameters
    ----------
    edges : sequence of (x1, y1, x2, y2, text)
        The labelled edges, in priority order.
    obstacles : sequence of (x0, y0, x1, y1)
        Boxes to keep clear: the node circles and the texts written beside them.
    char, height : float
        A label's width per character and its height, in SVG units.

    Returns
    -------
    list of (x, y)
        Each label's centre (text-anchor middle, dominant-baseline central).

    Examples
    --------
    >>> place_edge_labels([(0, 0, 100, 0, "+0.1"), (0, 0, 100, 0, "+0.2")], [])
    [(50.0, -9.0), (50.0, 9.0)]
    """
    obstacles, placed, out = list(obstacles), [], []
    for x1, y1, x2, y2, text in edges:
        w, h = char * len(text) + 2 * LABEL_GAP, height + 2 * LABEL_GAP
        dx, dy = x2 - x1, y2 - y1
        length = max((dx * dx + dy * dy) ** 0.5, 1e-9)
        nx, ny = -dy / length, dx / length  # the unit normal; -n is the other side
        if ny > 0 or (ny == 0 and nx < 0):  # the side above (or right of) the edge first
            nx, ny = -nx, -ny
        push = w / 2 * abs(nx) + h / 2 * abs(ny) + 1
        best, best_cost = None, None
        for t in ALONG:
            for side in (1, -1):
                cx = x1 + t * dx + side * push * nx
                cy = y1 + t * dy + side * push * ny
                box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
                cost = sum(_overlap(box, o) for o in obstacles + placed)
                if best_cost is None or cost < best_cost:
                    best, best_cost = (round(cx, 1), round(cy, 1), box), cost
                if cost == 0:
                    break
            if best_cost == 0:
                break
        placed.append(best[2])
        out.append(best[:2])
    return out
