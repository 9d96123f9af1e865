"""cfgraph: the lattice of data counterfactuals, stored in a database.

Every training set over n data objects (units A, B, C, ...) is a node of a
Boolean lattice; each cell (training set x evaluation slice x metric x seed)
holds one model's score and is computed once. Leave-one-out, Shapley, Banzhaf,
Beta Shapley and scaling curves are summaries over those cells.

>>> import cfgraph
>>> sorted(cfgraph.__all__)[:3]
['CfgraphError', 'MissingCells', 'NotFound']
"""

from cfgraph.errors import CfgraphError, MissingCells, NotFound

__version__ = "0.1.0"

__all__ = [
    "CfgraphError", "MissingCells", "NotFound", "__version__",
    "open_store", "build_world", "import_grid", "make_spec", "load_lattice", "list_worlds", "World", "estimate",
]
_API = ("open_store", "build_world", "import_grid", "make_spec", "load_lattice", "list_worlds", "World", "estimate")


def __getattr__(name):
    # The API pulls in scikit-learn and SQLAlchemy: load it on first use, not on `import cfgraph`.
    if name in _API:
        from cfgraph import api

        return getattr(api, name)
    raise AttributeError(f"module 'cfgraph' has no attribute {name!r}")
