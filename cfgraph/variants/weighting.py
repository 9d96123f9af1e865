"""Weighting: a unit present at weight w in (0, 1], giving points on the edge S -> S + i.

The unit's training rows get sample weight w (every other row 1), passed to
the model's ``fit`` (to the last step of a pipeline: a scaler before it still
sees the rows unweighted). A weight world's cell at S + i sits between
f(S) (w -> 0) and f(S + i) (w = 1); a sweep of w shows how the score moves
along the edge. Training sets without unit i are copied from the parent.

Two limits of "w -> 0 approaches S" that the cells show: at S = empty the
unit trains alone, and a fit is scale-free in the weights, so the edge
empty -> {i} jumps at once; and a class that only unit i holds keeps, in
Gaussian naive Bayes, its own fitted Gaussian at any weight (only its prior
shrinks), so the score approaches f(S) only when S already holds i's classes.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cfgraph import values as V
from cfgraph.variants.derived import Derived, unit_rows


def derive(prepared, recipe: dict, letters: list[str]) -> Derived:
    """The parent's problem with unit i's rows at sample weight w."""
    problem = prepared.problem
    i = letters.index(recipe["unit"])
    weight = np.ones(len(problem.y_train))
    weight[unit_rows(problem, [i])] = recipe["weight"]
    return Derived(problem=dataclasses.replace(problem, sample_weight=weight), units=list(prepared.units),
                   model_spec=problem.model, copy_bits=1 << i)


def edge_sweep(base: np.ndarray, weighted: dict[float, np.ndarray],
               i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores along every edge S -> S + i, from w = 0 (the parent's f(S)) to w = 1.

    Parameters
    ----------
    base : ndarray, shape (2**n,) or (2**n, m)
        The parent's cells.
    weighted : dict float -> ndarray of the same shape
        The cells of the weight world with unit i at weight w, for each w.
    i : int
        The weighted unit.

    Returns
    -------
    coalitions : ndarray of int, shape (2**(n-1),)
        The masks S without i.
    weights : ndarray, shape (k + 2,)
        0, the sorted weights, 1 (1 is not repeated if it was swept).
    scores : ndarray, shape (2**(n-1), k + 2) or (2**(n-1), k + 2, m)
        ``scores[s, j]`` is the score of S + i at ``weights[j]``; column 0 is
        f(S) and the last column f(S + i).

    References
    ----------
    Koh & Liang (2017), "Understanding black-box predictions via influence functions"
    (upweighting a training point by a small amount); Kamiran & Calders (2012),
    "Data preprocessing techniques for classification without discrimination" (reweighing).

    Examples
    --------
    >>> c, w, s = edge_sweep(np.array([0.0, 1.0, 0.5, 0.9]), {0.5: np.array([0.0, 0.7, 0.5, 0.8])}, 0)
    >>> w.tolist(), s.tolist()
    ([0.0, 0.5, 1.0], [[0.0, 0.7, 1.0], [0.5, 0.8, 0.9]])
    """
    base = np.asarray(base, dtype=float)
    coalitions, _ = V.marginal_contributions(base, i)
    added = coalitions | (1 << i)
    swept = sorted(w for w in weighted if w < 1.0)
    columns = [base[coalitions]] + [np.asarray(weighted[w], dtype=float)[added] for w in swept] + [base[added]]
    return coalitions, np.array([0.0] + swept + [1.0]), np.stack(columns, axis=1)
