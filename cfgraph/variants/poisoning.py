"""Poisoning: an extra data object P joins the universe, and the lattice gains a dimension.

P is built from a source unit's training rows: label-flipped copies of them
("flip"), or copies moved part of the way towards the nearest other class and
labelled as that class ("boundary"). P has no test rows, so the evaluation
slices stay the honest ones. Training sets without P see exactly the parent's
data; their cells are copied from the parent, and only the 2^n sets with P
are fitted. The attack delta ``f(S + P) - f(S)`` is P's marginal contribution.

Both methods push rows across classes, so a regression world refuses them; and
they measure distances between raw feature vectors, so a table with text
columns or missing values refuses them too.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cfgraph import values as V
from cfgraph.lattice import unit_letters
from cfgraph.tables import UnitSpec
from cfgraph.variants.derived import Derived, need_classes, need_numeric, unit_rows


def poison_rows(X: np.ndarray, y: np.ndarray, rows: np.ndarray, classes: np.ndarray, *,
                method: str = "flip", copies: int = 1, shift: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """The poison object's rows, built from a source unit's rows.

    Each source row x of class c gets the target class t: the other class
    whose centroid (over all of ``X``) is nearest to x, i.e. the class the
    boundary is easiest to push it across.

    Parameters
    ----------
    X, y : ndarray, shapes (n_rows, d) and (n_rows,)
        The clean training split.
    rows : ndarray of int
        The source unit's rows.
    classes : ndarray, shape (c,), c >= 2
    method : {"flip", "boundary"}
        flip: copies of x labelled t (adversarial label flipping).
        boundary: copies of x moved to ``x + shift * (mu_t - x)`` and labelled t:
        points between the source cluster and the boundary, which drag the
        boundary into the source unit's region.
    copies : int
        Each source row is used this many times.
    shift : float in [0, 1]
        For boundary: 0 is flip, 1 puts the points on the target centroid.

    Returns
    -------
    X_p : ndarray, shape (copies * len(rows), d)
    y_p : ndarray, shape (copies * len(rows),)

    References
    ----------
    Biggio, Nelson & Laskov (2011), "Support vector machines under adversarial label noise";
    Biggio, Nelson & Laskov (2012), "Poisoning attacks against support vector machines".

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [10.0]]); y = np.array([0, 0, 1])
    >>> Xp, yp = poison_rows(X, y, np.array([0, 1]), np.array([0, 1]), method="boundary", shift=0.5)
    >>> Xp.ravel().tolist(), yp.tolist()
    ([5.0, 5.5], [1, 1])
    """
    centroids = np.stack([X[y == c].mean(axis=0) if (y == c).any() else np.full(X.shape[1], np.inf)
                          for c in classes])
    source = X[rows]
    distance = ((source[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    own = np.searchsorted(classes, y[rows])
    distance[np.arange(len(rows)), own] = np.inf
    target = distance.argmin(axis=1)
    moved = source if method == "flip" else source + shift * (centroids[target] - source)
    return np.tile(moved, (copies, 1)), np.tile(classes[target], copies)


def derive(prepared, recipe: dict, letters: list[str]) -> Derived:
    """The parent's problem with a poison unit appended as unit n (the next letter).

    Raises
    ------
    CfgraphError
        On a regression world, or a table with text columns or missing values.
    """
    need_classes(prepared, "poisoning (rows relabelled as the nearest other class)")
    need_numeric(prepared, "poisoning (distances to class centroids)")
    problem = prepared.problem
    n = len(letters)
    source = letters.index(recipe["unit"])
    rows = unit_rows(problem, [source])
    X_p, y_p = poison_rows(problem.X_train, problem.y_train, rows, problem.classes,
                           method=recipe["method"], copies=recipe["copies"], shift=recipe["shift"])
    how = ("label-flipped copies" if recipe["method"] == "flip"
           else f"copies moved {recipe['shift']:g} of the way to the nearest other class centroid")
    poison = UnitSpec(
        name="poison", size=len(y_p),
        definition=f"{how} of unit {recipe['unit']}'s {len(rows)} rows (x{recipe['copies']}), "
                   "labelled as the nearest other class",
    )
    problem = dataclasses.replace(
        problem,
        X_train=np.vstack([problem.X_train, X_p]),
        y_train=np.concatenate([problem.y_train, y_p]),
        train_unit=np.concatenate([problem.train_unit, np.full(len(y_p), n, dtype=problem.train_unit.dtype)]),
    )
    return Derived(problem=problem, units=list(prepared.units) + [poison], model_spec=problem.model,
                   copy_bits=1 << n)


def poison_letter(n_parent: int) -> str:
    """Letter of the poison unit of a parent with ``n_parent`` units."""
    return unit_letters(n_parent + 1)[-1]


def attack_report(v: np.ndarray, p: int | None = None) -> dict:
    """The attack delta and the values of every unit in a poisoned lattice.

    Parameters
    ----------
    v : ndarray, shape (2**(n+1), m)
        The poisoned world's cells on m slices; P is unit ``p`` (the last one by default).

    Returns
    -------
    dict
        ``coalitions`` (masks S without P, shape (2**n,)), ``attack``
        (``f(S + P) - f(S)``, shape (2**n, m)), ``attack_full`` (at the full
        honest set, shape (m,)), ``attack_mean`` (over all S, shape (m,)),
        ``loo`` and ``shapley`` (shape (n+1, m), LOO from the full set).

    Raises
    ------
    MissingCells
        If a cell the values need is missing.

    References
    ----------
    Biggio, Nelson & Laskov (2012), "Poisoning attacks against support vector machines";
    Ghorbani & Zou (2019), "Data Shapley" (values of the poison next to the honest units).

    Examples
    --------
    >>> v = np.array([[0.5], [0.9], [0.2], [0.4]])  # A honest, B = poison
    >>> r = attack_report(v)
    >>> r["attack"].ravel().tolist(), r["shapley"].ravel().round(2).tolist()
    ([-0.3, -0.5], [0.3, -0.4])
    """
    v = np.asarray(v, dtype=float)
    v2 = v if v.ndim == 2 else v[:, None]
    n1 = V.n_units_of(v2)
    p = n1 - 1 if p is None else int(p)
    shapley = V.shapley(v2)  # raises MissingCells first: everything below needs every cell
    coalitions, attack = V.marginal_contributions(v2, p)
    honest_full = ((1 << n1) - 1) & ~(1 << p)
    return {
        "coalitions": coalitions,
        "attack": attack,
        "attack_full": attack[np.searchsorted(coalitions, honest_full)],
        "attack_mean": attack.mean(axis=0),
        "loo": V.leave_one_out(v2),
        "shapley": shapley,
    }
