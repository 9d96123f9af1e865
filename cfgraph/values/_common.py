"""What every summary of a lattice array shares: its number of units, and the check for missing cells."""

from __future__ import annotations

import numpy as np

from cfgraph.errors import CfgraphError, MissingCells


def n_units_of(v: np.ndarray) -> int:
    """Number of units n of a lattice array of length 2^n.

    Raises
    ------
    CfgraphError
        If the first dimension is not a power of two.

    Examples
    --------
    >>> n_units_of(np.zeros((8, 3)))
    3
    """
    size = np.shape(v)[0] if np.ndim(v) else 0
    n = size.bit_length() - 1
    if size < 1 or 1 << n != size:
        raise CfgraphError(f"a lattice has 2^n cells per slice, not {size}")
    return n


def _require(v: np.ndarray, masks: np.ndarray, what: str, labels=None) -> None:
    """Raise MissingCells if any of ``v[masks]`` is NaN (in any slice)."""
    masks = np.unique(np.asarray(masks, dtype=np.int64))
    cells = v[masks]
    bad = np.isnan(cells)
    if bad.ndim > 1:
        bad = bad.any(axis=tuple(range(1, bad.ndim)))
    if bad.any():
        missing = masks[bad]
        raise MissingCells(
            missing.tolist(),
            [labels[m] for m in missing] if labels is not None else None,
            what,
        )

