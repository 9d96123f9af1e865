"""Counterfactuals beyond subsets: variant worlds and the questions the lattice answers exactly.

A *variant world* is derived from a trained world by a recipe and trained on
the same units and slices, so its cells line up with the parent's:

- corruption (:mod:`~cfgraph.variants.corruption`): label / feature noise on units;
- synthetic replacement (:mod:`~cfgraph.variants.synthetic`): a unit's rows
  replaced by samples of a per-class Gaussian mixture;
- poisoning (:mod:`~cfgraph.variants.poisoning`): an extra unit P, the lattice
  gains a dimension;
- differential privacy (:mod:`~cfgraph.variants.privacy`): diffprivlib models
  for a list of epsilons;
- weighting (:mod:`~cfgraph.variants.weighting`): a unit at weight w in (0, 1];
- unlearning (:mod:`~cfgraph.variants.unlearning`): approximate removal
  against exact retraining.

Pure numpy maths over a stored lattice, with no SQL:
:mod:`~cfgraph.variants.envelope` (DP envelope, Laplace release),
:mod:`~cfgraph.variants.leverage` (data strikes), :mod:`~cfgraph.variants.market`
(budgeted selection).

>>> from cfgraph.variants import normalise
>>> normalise({"kind": "dp", "epsilon": 1})["epsilon"]
1.0
"""

# The names below load on first use (PEP 562), so that importing a submodule such as
# cfgraph.variants.cli (the CLI does, at start-up) does not import scikit-learn.
_LAZY = {
    "cfgraph.variants.build": ["VariantPair", "VariantReport", "build_variant", "list_variants",
                               "rebuild_variant", "variant_pair"],
    "cfgraph.variants.envelope": ["dp_envelope", "laplace_release", "laplace_scale", "local_sensitivity"],
    "cfgraph.variants.leverage": ["coalition_drops", "strike_extremes", "strike_path"],
    "cfgraph.variants.market": ["best_affordable", "budget_report", "greedy_by_value", "random_affordable"],
    "cfgraph.variants.poisoning": ["attack_report"],
    "cfgraph.variants.recipes": ["KINDS", "default_name", "describe", "normalise"],
    "cfgraph.variants.unlearning": ["audit"],
    "cfgraph.variants.weighting": ["edge_sweep"],
}
_HOME = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))


__all__ = [
    "KINDS", "VariantPair", "VariantReport", "attack_report", "audit", "best_affordable", "budget_report",
    "build_variant", "coalition_drops", "default_name", "describe", "dp_envelope", "edge_sweep",
    "greedy_by_value", "laplace_release", "laplace_scale", "list_variants", "local_sensitivity", "normalise",
    "random_affordable", "rebuild_variant", "strike_extremes", "strike_path", "variant_pair",
]
