"""Summaries over a lattice of cells: leave-one-out, semivalues, interactions, scaling, seeds.

Every function takes ``v``, the utility of every training set, as a numpy array
indexed by bitmask: shape ``(2**n,)`` for one evaluation slice or
``(2**n, m)`` for m slices at once. A missing cell is ``NaN``. Each summary
either computes from the cells it needs or raises
:class:`~cfgraph.errors.MissingCells` naming them (the local ones can instead
return NaN with ``missing="nan"``). Nothing here knows of SQL.

This package is the one implementation of these formulas: the grid's questions,
the graph's lenses, the value tables and the variant reports all call it.
One module per family, all re-exported here (``from cfgraph import values``):

- :mod:`~cfgraph.values.semivalues`: Shapley, Banzhaf, Beta Shapley and any
  semivalue. All weight a coalition only by its size, so they are small dot
  products over :func:`~cfgraph.lattice.layer_sums`, one O(2^n) pass of matrix
  products over the table.
- :mod:`~cfgraph.values.ablations`: marginal contributions, leave-one-out,
  group leave-one-out (a data strike) and pair interactions: the local ones.
- :mod:`~cfgraph.values.layers`: layer means, the scaling curve and the best
  training set of a size.
- :mod:`~cfgraph.values.surrogates`: the linear datamodel of a table, and
  datamodels (ridge, lasso, least squares) of any stored training sets with
  their linear datamodeling score.
- :mod:`~cfgraph.values.leastcore`: the least core by linear programming,
  exact or on sampled coalitions.
- :mod:`~cfgraph.values.knn`: exact KNN-Shapley in closed form.
- :mod:`~cfgraph.values.oob`: Data-OOB's bootstrap bags and out-of-bag values.
- :mod:`~cfgraph.values.scaling`: the scaling curve against training rows and its
  fitted power law (Hestness et al. 2017; Kaplan et al. 2020).
- :mod:`~cfgraph.values.intervals`: mean over seeds with a Student-t interval.
- :mod:`~cfgraph.values.sampled`: estimates from samples (values, standard
  errors, intervals), running moments and the sampled estimators' maths, for
  the samplers of :mod:`cfgraph.samplers`.
"""

from cfgraph.lattice import layer_sums
from cfgraph.values._common import n_units_of
from cfgraph.values.ablations import (
    MISSING_POLICIES,
    group_leave_one_out,
    leave_one_out,
    marginal_contributions,
    pair_interaction,
)
from cfgraph.values.intervals import seed_interval
from cfgraph.values.sampled import Estimate, RunningMoments, table_utility
from cfgraph.values.layers import best_of_size, layer_means, scaling_curve
from cfgraph.values.semivalues import (
    banzhaf,
    beta_shapley,
    semivalue,
    semivalue_from_layer_sums,
    semivalue_table,
    semivalue_weights,
    shapley,
)
from cfgraph.values.knn import knn_shapley, knn_shapley_slices
from cfgraph.values.leastcore import LeastCore, least_core, least_core_table
from cfgraph.values.oob import bootstrap_bags, data_oob
from cfgraph.values.scaling import NoFit, PowerLaw, power_law_fit, scaling_points
from cfgraph.values.surrogates import Datamodel, datamodel, fit_datamodel

__all__ = [
    "n_units_of",
    "marginal_contributions",
    "semivalue_weights",
    "layer_sums",
    "semivalue_from_layer_sums",
    "semivalue_table",
    "semivalue",
    "shapley",
    "banzhaf",
    "beta_shapley",
    "leave_one_out",
    "group_leave_one_out",
    "pair_interaction",
    "layer_means",
    "scaling_curve",
    "best_of_size",
    "datamodel",
    "Datamodel",
    "fit_datamodel",
    "LeastCore",
    "least_core",
    "least_core_table",
    "knn_shapley",
    "knn_shapley_slices",
    "bootstrap_bags",
    "data_oob",
    "seed_interval",
    "Estimate",
    "RunningMoments",
    "table_utility",
    "power_law_fit",
    "scaling_points",
    "PowerLaw",
    "NoFit",
]
