"""Plain data types the store reads and writes: a world's lattice table, and unit and slice specs.

Nothing here imports SQLAlchemy: the maths (:mod:`cfgraph.values`,
:mod:`cfgraph.summaries`, :mod:`cfgraph.questions`) and the faces take these
objects without knowing where they came from (:mod:`cfgraph.store.cells` reads
them from the database; a test or a notebook may build one by hand).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cfgraph import lattice
from cfgraph.errors import CfgraphError, NotFound

__all__ = ["UnitSpec", "SliceSpec", "LatticeTable"]


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
    world : str
        The world's name.
    letters : list of str
        Unit labels in bit order ("A", "B", ...), length n.
    labels : list of str
        Training-set label of every mask, length 2**n.
    slices : list of str
        Evaluation slice names, length m.
    slice_masks : list of int or None
        The training set each slice coincides with (None for "all" or a class slice).
    values : ndarray, shape (2**n, m)
        Cell values; NaN where a cell is missing or failed.
    status : ndarray of str, shape (2**n, m)
        "ok", "baseline", "constant", "failed" or "" (missing).

    Examples
    --------
    >>> import numpy as np
    >>> t = LatticeTable(world="w", letters=["A"], labels=["∅", "A"], slices=["all"], slice_masks=[None],
    ...                  metric="accuracy", seed=0, values=np.array([[0.5], [0.9]]),
    ...                  status=np.array([["baseline"], ["ok"]], dtype=object))
    >>> t.n, float(t.column("all")[t.mask_of("A")]), t.complete
    (1, 0.9, 1.0)
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
        """Position of a slice among the columns.

        Raises
        ------
        NotFound
            If the world has no slice of that name.
        """
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
