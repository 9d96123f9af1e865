"""cfgraph: the lattice of data counterfactuals, stored in a database.

Every training set over n data objects (units A, B, C, ...) is a node of a
Boolean lattice; each cell (training set x evaluation slice x metric x seed)
holds one model's score and is computed once. Leave-one-out, Shapley, Banzhaf,
Beta Shapley and scaling curves are summaries over those cells.
"""

from cfgraph.errors import CfgraphError, MissingCells, NotFound

__version__ = "0.1.0"

__all__ = ["CfgraphError", "MissingCells", "NotFound", "__version__"]
