"""Summaries by layer (all training sets of one size): layer means, the scaling curve, the best of a size."""

from __future__ import annotations

import numpy as np

from cfgraph.errors import CfgraphError, MissingCells
from cfgraph.lattice import sizes
from cfgraph.values._common import n_units_of


def layer_means(v: np.ndarray, size=None, n_layers: int | None = None):
    """Mean of the cells present in each layer (all cells of one size), with counts.

    Parameters
    ----------
    v : ndarray, shape (c,) or (c, m)
        Cells; NaN for a missing one (left out of the mean and counted).
    size : array_like of int, shape (c,), optional
        The layer of each cell. By default ``v`` is a whole lattice (c = 2^n)
        and a cell's layer is its training set's size.
    n_layers : int, optional
        Number of layers (default n + 1 for a lattice, else ``max(size) + 1``).

    Returns
    -------
    mean : ndarray, shape (n_layers,) or (n_layers, m)
        NaN where no cell of the layer is present.
    present : ndarray of int, same shape
        How many cells of each layer are present.
    total : ndarray of int, shape (n_layers,)
        How many cells each layer has, present or not.

    References
    ----------
    Hestness et al. (2017), "Deep learning scaling is predictable, empirically";
    Kaplan et al. (2020), "Scaling laws for neural language models".

    Examples
    --------
    >>> mean, present, total = layer_means(np.array([0.0, 1.0, np.nan, 3.0]))
    >>> mean.tolist(), present.tolist(), total.tolist()
    ([0.0, 1.0, 3.0], [1, 1, 1], [1, 2, 1])
    """
    v = np.asarray(v, dtype=float)
    if size is None:
        n = n_units_of(v)
        size, n_layers = sizes(n), n + 1
    size = np.asarray(size, dtype=np.int64)
    if size.shape != v.shape[:1] or (size < 0).any():
        raise CfgraphError(f"layer_means needs one size >= 0 per cell: {size.shape} sizes for {v.shape[0]} cells")
    n_layers = int(size.max(initial=-1)) + 1 if n_layers is None else int(n_layers)
    columns = v.reshape(len(v), -1)
    present = ~np.isnan(columns)
    filled = np.where(present, columns, 0.0)
    # One bincount per slice: a loop over the m slices, not over cells.
    sums = np.stack([np.bincount(size, weights=filled[:, j], minlength=n_layers) for j in range(columns.shape[1])],
                    axis=-1).reshape((n_layers,) + v.shape[1:])
    count = np.stack([np.bincount(size, weights=present[:, j], minlength=n_layers) for j in range(columns.shape[1])],
                     axis=-1).astype(np.int64).reshape((n_layers,) + v.shape[1:])
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, sums / np.maximum(count, 1), np.nan)
    return mean, count, np.bincount(size, minlength=n_layers)


def scaling_curve(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean score of the training sets of each size k (a data scaling curve).

    Missing cells are left out of the mean and counted (see :func:`layer_means`).

    Returns
    -------
    mean : ndarray, shape (n+1,) or (n+1, m)
        Mean over the cells present in layer k (NaN where none is).
    count : ndarray of int, shape (n+1,) or (n+1, m)
        How many cells of layer k are present.

    References
    ----------
    Hestness et al. (2017), "Deep learning scaling is predictable, empirically";
    Kaplan et al. (2020), "Scaling laws for neural language models".

    Examples
    --------
    >>> scaling_curve(np.array([0.0, 1.0, 2.0, 4.0]))[0].tolist()
    [0.0, 1.5, 4.0]
    """
    mean, count, _ = layer_means(v)
    return mean, count


def best_of_size(v: np.ndarray, k: int) -> tuple[int, float, int]:
    """Budgeted subset scan: the best training set of size k among stored cells.

    Parameters
    ----------
    v : ndarray, shape (2**n,)
    k : int

    Returns
    -------
    mask : int
        The best training set of size k (lowest mask on ties).
    value : float
    missing : int
        How many cells of layer k are missing (the answer is exact when 0).

    Raises
    ------
    CfgraphError
        If k is out of range or ``v`` has more than one slice.
    MissingCells
        If no cell of layer k is present.

    References
    ----------
    Mirzasoleiman, Bilmes & Leskovec (2020), "Coresets for data-efficient training of
    machine learning models" (the subset-selection problem this solves exactly).

    Examples
    --------
    >>> best_of_size(np.array([0.1, 0.5, 0.6, 0.9]), 1)
    (2, 0.6, 0)
    """
    v = np.asarray(v, dtype=float)
    n = n_units_of(v)
    if v.ndim != 1:
        raise CfgraphError("best_of_size takes one slice")
    if not 0 <= k <= n:
        raise CfgraphError(f"layer k={k} is out of range 0..{n}")
    masks = np.flatnonzero(sizes(n) == k)
    cells = v[masks]
    present = ~np.isnan(cells)
    if not present.any():
        raise MissingCells(masks.tolist(), None, f"the best training set of size {k}")
    best = masks[present][np.argmax(cells[present])]
    return int(best), float(v[best]), int((~present).sum())

