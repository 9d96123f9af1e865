"""What a recipe does to the parent's prepared problem: the variant's problem, units and copy rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from cfgraph.errors import CfgraphError
from cfgraph.evaluate import Problem
from cfgraph.tables import UnitSpec


@dataclass
class Derived:
    """A variant world ready to build.

    Attributes
    ----------
    problem : cfgraph.evaluate.Problem
        Training and test data, model and metrics of the variant.
    units : list of UnitSpec
        The parent's units (plus the poison unit for a poison recipe).
    model_spec : str
        The model the variant trains (a DP model for a dp recipe).
    copy_bits, copy_if_clear : int, bool
        Training sets whose data the recipe leaves exactly as in the parent:
        those with no bit of ``copy_bits`` (``copy_if_clear``) or with all of
        them (not ``copy_if_clear``). Their cells are copied from the parent,
        not refitted. ``copy_bits = 0`` copies nothing.
    runner : callable, optional
        ``runner(store, name, problem, seeds, jobs, progress) -> RunReport`` for
        kinds whose cells are not plain fits (unlearning); None means
        :func:`cfgraph.evaluate.run`.
    notes : list of str
        What the derivation observed (e.g. caught library warnings), kept in
        the world's description.
    """

    problem: Problem
    units: list[UnitSpec]
    model_spec: str
    copy_bits: int = 0
    copy_if_clear: bool = True
    runner: Callable | None = None
    notes: list[str] = field(default_factory=list)


def unit_rows(problem: Problem, indices) -> np.ndarray:
    """Training-row indices of the given units, ascending."""
    return np.flatnonzero(np.isin(problem.train_unit, list(indices)))


def bits(indices) -> int:
    """Bitmask of unit indices."""
    mask = 0
    for i in indices:
        mask |= 1 << int(i)
    return mask


def need_classes(prepared, what: str) -> None:
    """Refuse a recipe that works on classes when the parent world is a regression.

    Raises
    ------
    CfgraphError
        If the parent's task is not classification.
    """
    task = prepared.spec.get("task", "classification")
    if task != "classification":
        raise CfgraphError(f"{what} works on classes, and this world is a {task} task with a numeric target")


def need_numeric(prepared, what: str) -> None:
    """Refuse a recipe that works on raw feature vectors when some feature is text or missing.

    Raises
    ------
    CfgraphError
        If the parent's table has a text column or a missing value.
    """
    data = prepared.dataset
    if data.categorical or data.has_missing:
        kind = "text columns" if data.categorical else "missing values"
        raise CfgraphError(f"{what} needs numeric features with no missing value, and this world's table has {kind} "
                           "(build the parent on its numeric columns only)")
