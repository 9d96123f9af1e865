"""Errors a user can cause and fix: each carries a one-line message naming the problem.

The CLI turns them into exit code 2, the web app into 400 (or 404 for
:class:`NotFound`); neither shows a traceback.
"""


class CfgraphError(Exception):
    """Bad input: an unknown name, a malformed file, a refused query."""

    status = 400


class NotFound(CfgraphError):
    """A world, training set, slice or unit that is not in the store."""

    status = 404


class StoreUnavailable(CfgraphError):
    """The store's database does not answer (a PostgreSQL server down or unreachable)."""

    status = 503


class WorldExists(CfgraphError):
    """A world of that name is already stored (perhaps created a moment ago by another run)."""


class MissingCells(CfgraphError):
    """A summary needs cells that the lattice does not hold (yet).

    Attributes
    ----------
    masks : list of int
        Bitmasks of the training sets whose cells are missing.
    labels : list of str
        The same training sets as labels ("ACD", "∅"); by default spelled with
        the unit letters A, B, C, ... in bit order, as every world names its units.
    """

    def __init__(self, masks, labels=None, what="this summary"):
        self.masks = sorted(set(int(m) for m in masks))
        if labels is None:
            from cfgraph.lattice import LETTERS, mask_label  # lattice imports this module

            labels = [mask_label(m, LETTERS) for m in self.masks]
        self.labels = labels
        shown = ", ".join(self.labels[:8]) + (" ..." if len(self.labels) > 8 else "")
        super().__init__(f"{what} needs {len(self.masks)} missing cell(s): {shown}")

