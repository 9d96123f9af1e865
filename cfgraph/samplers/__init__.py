"""Samplers: which training sets to evaluate next, and how their utilities become values.

A valuation is a sampler x a semivalue x a stopping rule (as in pyDVL). A
sampler proposes a batch of training sets, the driver evaluates them (from the
store or by fitting; in any order) and hands the utilities back::

    s = make_sampler("tmc", n, seed=0, columns=C)
    while (members := s.propose()) is not None:      # bool (b, n)
        s.update(utility(members))                    # float (b, C); NaN = failed cell
        if rule(State(s.evaluations, ..., s.estimate(), ...)):
            break

Determinism: all randomness comes from ``np.random.default_rng(seed)``,
consumed by a fixed number of draws per sample, and samples are merged into
the running moments in blocks of a fixed number of samples. So the same seed
proposes the same training sets and, given the same utilities, gives
bit-for-bit the same estimates, whatever the ``batch`` parameter and however
the driver splits its evaluation: a run killed and resumed with the same seed
ends where an uninterrupted run does.

``evaluations`` counts the *distinct* training sets a sampler has proposed
(by :func:`cfgraph.bitsets.digest`): a training set proposed twice (the empty
set in every permutation) costs one evaluation, as it costs one cell. Once a
sampler has proposed all 2^n training sets of a small lattice it is
*saturated*: no budget of evaluations can grow further, so ``propose``
returns None (after finishing the samples in flight).
"""

from __future__ import annotations

from cfgraph.errors import CfgraphError
from cfgraph.samplers.base import Sampler
from cfgraph.samplers.coalitions import LOOSampler, MSRSampler, StratifiedSampler, UniformSampler
from cfgraph.samplers.permutations import PermutationSampler, TMCSampler

__all__ = ["SAMPLERS", "make_sampler", "Sampler", "PermutationSampler", "TMCSampler", "MSRSampler",
           "StratifiedSampler", "UniformSampler", "LOOSampler"]


#: Sampler names, as the CLI and the store spell them.
SAMPLERS = {"permutation": PermutationSampler, "tmc": TMCSampler, "msr": MSRSampler,
            "stratified": StratifiedSampler, "uniform": UniformSampler, "loo": LOOSampler}

_PARAMS = {"permutation": {"batch"}, "tmc": {"batch", "tol"}, "msr": {"batch"},
           "stratified": {"semivalue", "alpha", "beta", "strata", "batch"},
           "uniform": {"semivalue", "alpha", "beta", "batch"}, "loo": set()}


def make_sampler(name: str, n: int, *, seed: int = 0, columns: int = 1, **params) -> Sampler:
    """A sampler by name, seeded.

    Parameters
    ----------
    name : str
        One of :data:`SAMPLERS`: ``permutation`` (``batch`` antithetic pairs per proposal),
        ``tmc`` (``batch`` permutations in lockstep, truncation ``tol`` relative to
        ``|u(N)|``, default 0.01), ``msr`` (``batch`` uniform training sets), ``stratified``
        (``semivalue`` shapley | beta | banzhaf, ``alpha``, ``beta``, ``strata`` pairs per
        unit turn), ``uniform`` (``semivalue``, default banzhaf) or ``loo``.
    n : int
        Units.
    seed : int
        The same seed proposes the same training sets.
    columns : int
        Value columns C of the utilities the driver will pass to ``update``.
    **params
        The sampler's parameters; None means the default.

    Returns
    -------
    Sampler

    Raises
    ------
    CfgraphError
        On an unknown sampler or parameter, or a parameter out of range.

    References
    ----------
    Ghorbani & Zou (2019), "Data Shapley", ICML; Mitchell et al. (2022), "Sampling permutations
    for Shapley value estimation", JMLR; Wang & Jia (2023), "Data Banzhaf", AISTATS; Kwon & Zou
    (2022), "Beta Shapley", AISTATS.

    Examples
    --------
    >>> s = make_sampler("tmc", 10, seed=1, tol=0.05)
    >>> s.method, s.params
    ('shapley', {'batch': 16, 'tol': 0.05})
    """
    if name not in SAMPLERS:
        raise CfgraphError(f"unknown sampler {str(name)[:40]!r} (samplers: {', '.join(SAMPLERS)})")
    params = {key: value for key, value in params.items() if value is not None}  # None: the default
    unknown = sorted(set(params) - _PARAMS[name])
    if unknown:
        raise CfgraphError(f"sampler {name} takes no parameter {unknown[0]!r} "
                           f"(it takes: {', '.join(sorted(_PARAMS[name])) or 'none'})")
    try:
        number = int(seed)
    except (TypeError, ValueError):
        number = -1
    if number < 0:
        raise CfgraphError(f"a sampler's seed is an integer >= 0, not {seed!r}")
    return SAMPLERS[name](n, seed=number, columns=columns, **params)
