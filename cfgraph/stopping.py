"""Stopping rules of a sampled valuation, composable with ``|`` (either) and ``&`` (both).

A rule is called with the valuation's :class:`State` after every update and
says whether to stop. ``str(rule)`` names it (stored as
``valuation.stopped_by``) and ``rule.reason(state)`` names the part that fired::

    rule = MaxEvaluations(5000) | StderrBelow(0.01) | Exhausted()

As pyDVL's ``StoppingCriterion`` (TransferLab 2023, ``pydvl.value.stopping``), which composes the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["State", "StoppingRule", "AnyOf", "AllOf", "MaxEvaluations", "MaxFits", "MaxSeconds", "StderrBelow",
           "RankStable", "Exhausted"]


@dataclass
class State:
    """Where a valuation stands.

    Attributes
    ----------
    evaluations : int
        Training sets the sampler used, stored or new.
    fits : int
        New fits.
    seconds : float
        Wall time since the valuation started.
    estimate : Estimate or None
        The current :class:`~cfgraph.values.sampled.Estimate`.
    checkpoints : sequence
        Earlier estimates, oldest first: :class:`~cfgraph.values.sampled.Estimate`, trace
        dicts with a ``"value"`` list, or arrays of column-0 values.
    exhausted : bool
        The sampler has nothing left to propose.

    Examples
    --------
    >>> State(evaluations=10).fits
    0
    """

    evaluations: int = 0
    fits: int = 0
    seconds: float = 0.0
    estimate: object = None
    checkpoints: Sequence = field(default_factory=list)
    exhausted: bool = False


class StoppingRule:
    """A rule: ``rule(state) -> bool``; ``a | b`` stops when either does, ``a & b`` when both do.

    Examples
    --------
    >>> rule = MaxEvaluations(100) | (MaxFits(10) & MaxSeconds(60))
    >>> str(rule)
    'max_evaluations(100) | (max_fits(10) & max_seconds(60))'
    >>> rule(State(evaluations=5, fits=20, seconds=61.0)), rule.reason(State(fits=20, seconds=61.0))
    (True, 'max_fits(10) & max_seconds(60)')
    """

    def __call__(self, state: State) -> bool:
        raise NotImplementedError

    def __or__(self, other: "StoppingRule") -> "StoppingRule":
        return AnyOf(self, other)

    def __and__(self, other: "StoppingRule") -> "StoppingRule":
        return AllOf(self, other)

    def reason(self, state: State) -> str:
        """The name of what made the rule fire (its own name for a single rule).

        Examples
        --------
        >>> (MaxFits(3) | MaxSeconds(9)).reason(State(fits=3))
        'max_fits(3)'
        """
        return str(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self}>"


class _Composite(StoppingRule):
    symbol = ""

    def __init__(self, *rules: StoppingRule):
        flat = []
        for rule in rules:
            if not isinstance(rule, StoppingRule):
                raise TypeError(f"a stopping rule combines with stopping rules, not {type(rule).__name__}")
            flat.extend(rule.rules if type(rule) is type(self) else [rule])
        self.rules = tuple(flat)

    def __str__(self) -> str:
        return f" {self.symbol} ".join(f"({r})" if isinstance(r, _Composite) else str(r) for r in self.rules)


class AnyOf(_Composite):
    """Stops when any of its rules does (``a | b``).

    Examples
    --------
    >>> AnyOf(MaxFits(1), MaxEvaluations(2))(State(evaluations=2))
    True
    """

    symbol = "|"

    def __call__(self, state):
        return any(rule(state) for rule in self.rules)

    def reason(self, state):
        return " | ".join(rule.reason(state) for rule in self.rules if rule(state)) or str(self)


class AllOf(_Composite):
    """Stops when all of its rules do (``a & b``).

    Examples
    --------
    >>> AllOf(MaxFits(1), MaxEvaluations(2))(State(evaluations=2))
    False
    """

    symbol = "&"

    def __call__(self, state):
        return all(rule(state) for rule in self.rules)


class _Limit(StoppingRule):
    name = ""
    attribute = ""

    def __init__(self, limit: float):
        self.limit = limit

    def __call__(self, state):
        return getattr(state, self.attribute) >= self.limit

    def __str__(self):
        return f"{self.name}({self.limit:g})"


class MaxEvaluations(_Limit):
    """Stop once ``n`` training sets were used, stored or new (the fit budget).

    Examples
    --------
    >>> MaxEvaluations(5000)(State(evaluations=5000)), str(MaxEvaluations(5000))
    (True, 'max_evaluations(5000)')
    """

    name, attribute = "max_evaluations", "evaluations"


class MaxFits(_Limit):
    """Stop once ``n`` new fits were made.

    Examples
    --------
    >>> MaxFits(10)(State(evaluations=50, fits=9))
    False
    """

    name, attribute = "max_fits", "fits"


class MaxSeconds(_Limit):
    """Stop once ``seconds`` of wall time have passed.

    Examples
    --------
    >>> MaxSeconds(1.5)(State(seconds=2.0)), str(MaxSeconds(1.5))
    (True, 'max_seconds(1.5)')
    """

    name, attribute = "max_seconds", "seconds"


class StderrBelow(StoppingRule):
    """Stop once every unit has at least 2 samples and a column-0 standard error <= ``target``.

    An exact estimate (leave-one-out) meets any target.

    Examples
    --------
    >>> from cfgraph.values.sampled import Estimate
    >>> e = Estimate(np.zeros((2, 1)), np.array([[0.01], [0.02]]), np.array([[9], [9]]))
    >>> StderrBelow(0.02)(State(estimate=e)), StderrBelow(0.015)(State(estimate=e))
    (True, False)
    """

    def __init__(self, target: float):
        self.target = target

    def __call__(self, state):
        e = state.estimate
        if e is None:
            return False
        if getattr(e, "exact", False):
            return True
        err = np.asarray(e.stderr)[:, 0]
        return bool((np.asarray(e.n_samples)[:, 0] >= 2).all() and np.isfinite(err).all()
                    and err.max(initial=0.0) <= self.target)

    def __str__(self):
        return f"stderr_below({self.target:g})"


def _values_of(checkpoint) -> np.ndarray:
    if hasattr(checkpoint, "values") and not isinstance(checkpoint, Mapping):
        return np.asarray(checkpoint.values, dtype=float)[:, 0]
    if isinstance(checkpoint, Mapping):
        return np.asarray(checkpoint["value"], dtype=float)
    values = np.asarray(checkpoint, dtype=float)
    return values[:, 0] if values.ndim == 2 else values


class RankStable(StoppingRule):
    """Stop once the Spearman correlation of column-0 values between the last two checkpoints >= ``threshold``.

    Units without a value at either checkpoint are left out; fewer than two
    comparable units never stop.

    References
    ----------
    Spearman (1904), "The proof and measurement of association between two things".

    Examples
    --------
    >>> RankStable(0.99)(State(checkpoints=[[0.1, 0.5, 0.3], [0.2, 0.6, 0.4]]))
    True
    >>> RankStable(0.99)(State(checkpoints=[[0.1, 0.5, 0.3], [0.2, 0.3, 0.4]]))
    False
    """

    def __init__(self, threshold: float = 0.99):
        self.threshold = threshold

    def __call__(self, state):
        if len(state.checkpoints) < 2:
            return False
        from scipy.stats import rankdata

        a, b = _values_of(state.checkpoints[-2]), _values_of(state.checkpoints[-1])
        both = np.isfinite(a) & np.isfinite(b)
        if both.sum() < 2:
            return False
        ra, rb = rankdata(a[both]), rankdata(b[both])
        if ra.std() == 0 or rb.std() == 0:  # all tied: stable only if tied in both
            return bool(ra.std() == rb.std() == 0)
        return bool(np.corrcoef(ra, rb)[0, 1] >= self.threshold)

    def __str__(self):
        return f"rank_stable({self.threshold:g})"


class Exhausted(StoppingRule):
    """Stop when the sampler has nothing left to propose (exact leave-one-out is done).

    Examples
    --------
    >>> Exhausted()(State(exhausted=True)), str(Exhausted())
    (True, 'exhausted')
    """

    def __call__(self, state):
        return bool(state.exhausted)

    def __str__(self):
        return "exhausted"
