"""Building, rebuilding and reading variant worlds.

A variant world is derived from a trained parent world by a recipe (see
:mod:`cfgraph.variants.recipes`). It has the parent's units (plus the poison
unit for a poison recipe) and the parent's evaluation slices, so its cells
line up with the parent's on the same (training set, slice, metric, seed): the
``variant_delta`` SQL view compares them. It records ``parent_world_id`` and
``recipe``, from which :func:`rebuild_variant` builds it again.

Training sets whose data a recipe leaves exactly as in the parent (those
without a corrupted, replaced, weighted or poison unit) are not refitted: their
cells are copied from the parent in one ``INSERT ... SELECT``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cfgraph import evaluate
from cfgraph.errors import CfgraphError, NotFound
from cfgraph.executors import Executor
from cfgraph.store import catalog, cells, lineage
from cfgraph.store.lineage import copy_parent_cells
from cfgraph.tables import LatticeTable, SliceSpec
from cfgraph.store.sink import StoreSink
from cfgraph.variants import (
    corruption,
    poisoning,
    privacy,
    recipes,
    synthetic,
    unlearning,
    weighting,
)
from cfgraph.worlds import check_stored_spec, prepare, versions

DERIVE = {
    "corrupt": corruption.derive,
    "synthetic": synthetic.derive,
    "poison": poisoning.derive,
    "dp": privacy.derive,
    "weight": weighting.derive,
    "unlearn": unlearning.derive,
}


@dataclass
class VariantReport:
    """What building one variant world did."""

    name: str
    parent: str
    recipe: dict
    move: str
    copied: int = 0
    run: evaluate.RunReport = field(default_factory=evaluate.RunReport)


def build_variant(store, parent: str, recipe: dict, *, name: str | None = None, jobs: int = 1,
                  replace: bool = False, progress: bool | None = None) -> VariantReport:
    """Create (or resume) the variant world of ``parent`` made by ``recipe``, and compute its cells.

    Parameters
    ----------
    store : cfgraph.store.Store
    parent : str
        A trained world (one with data and a model: ``cfgraph run`` or the demo).
    recipe : dict
        ``{"kind": ..., parameters..., "seed": ...}``; see :func:`cfgraph.variants.recipes.normalise`.
    name : str, optional
        The variant's name; by default ``PARENT~KIND-PARAMS`` (:func:`~cfgraph.variants.recipes.default_name`).
    jobs : int
        Parallel fits (joblib n_jobs).
    replace : bool
        Rebuild a variant of that name that exists with another recipe.

    Returns
    -------
    VariantReport

    Raises
    ------
    CfgraphError
        On a bad recipe (unknown unit, value out of range, a poison unit past 16
        units, a model with no DP or warm-start counterpart), a parent that is
        not a trained world, or a name taken by another world. Nothing is
        written then.
    NotFound
        If the parent does not exist.

    Examples
    --------
    A variant needs its trained parent in the store (``cfgraph run`` or ``cfgraph demo``):

    >>> import pathlib, tempfile
    >>> from cfgraph.store import open_store
    >>> store = open_store(pathlib.Path(tempfile.mkdtemp()) / "cfgraph.db")
    >>> build_variant(store, "digits", {"kind": "corrupt", "units": ["B"], "labels": 0.3})
    Traceback (most recent call last):
    ...
    cfgraph.errors.NotFound: no world named 'digits' (stored: none)
    >>> store.close()
    """
    if jobs == 0:
        raise CfgraphError("parallel jobs must be a positive number of workers, or -1 for all cores")
    recipe = recipes.normalise(recipe)
    with store.session() as session:
        world = catalog.get_world(session, parent)
        if world.kind != "trained" or not world.spec:
            raise CfgraphError(
                f"world {parent!r} is of kind {world.kind}; variants derive from trained worlds (with data and a model)"
            )
        letters = [u.label for u in world.units]
        parent_units = [(u.name, u.size) for u in world.units]
        parent_slices = [SliceSpec(s.name, s.mask, s.size, s.definition) for s in world.slices]
        spec, parent_id = dict(world.spec), world.id
        parent_fields = dict(dataset=world.dataset, split=world.split, grouping=world.grouping,
                             metric=world.metric, seed=world.seed, eval_slices=world.eval_slices)
    # A stored spec may come from a database someone handed over: its model path passes the
    # same module allowlist as a typed one, and its seeds, metrics and units the same ranges,
    # before anything is imported or written.
    check_stored_spec(spec)
    recipes.resolve(recipe, letters)
    name = name or recipes.default_name(parent, recipe)
    if not 1 <= len(name) <= 200:
        raise CfgraphError("a world needs a name of 1 to 200 characters")
    prepared = prepare(spec)
    if [(u.name, u.size) for u in prepared.units] != parent_units or \
            [s.name for s in prepared.slices] != [s.name for s in parent_slices]:
        raise CfgraphError(
            f"world {parent!r} no longer rebuilds with the same units and slices here "
            "(different library versions?); rebuild the parent first"
        )
    derived = DERIVE[recipe["kind"]](prepared, recipe, letters)
    move = recipes.describe(recipe, poisoning.poison_letter(len(letters)))
    report = VariantReport(name=name, parent=parent, recipe=recipe, move=move)
    with store.transaction() as session:
        existing = catalog.find_world(session, name)
        if existing is not None and existing.kind != "variant":
            raise CfgraphError(
                f"world {name!r} is {'an' if existing.kind[0] in 'aeiou' else 'a'} {existing.kind} world, not a variant; "
                "choose another name"
            )
        if existing is not None and replace:
            catalog.delete_world(session, name)
            existing = None
        if existing is not None and (existing.kind != "variant" or existing.recipe != recipe
                                     or existing.parent_world_id != parent_id):
            raise CfgraphError(
                f"world {name!r} exists with a different recipe; replace it to rebuild it or choose another name"
            )
        if existing is None:
            made = versions()
            if recipe["kind"] == "dp":
                from importlib.metadata import version

                made["diffprivlib"] = version("diffprivlib")
            description = f"{move}, derived from {parent}"
            if derived.notes:
                description += f"; {len(derived.notes)} warning(s) while deriving, first: {derived.notes[0]}"
            existing = catalog.create_world(
                session, name, kind="variant", units=derived.units, slices=parent_slices,
                model_spec=derived.model_spec, spec={**spec, "model": derived.model_spec},
                versions=made, description=description, parent_world_id=parent_id, recipe=recipe,
                **parent_fields,
            )
        report.copied = copy_parent_cells(session, existing, parent_id, derived.copy_bits, derived.copy_if_clear)
    runner = derived.runner or _evaluate
    report.run = runner(store, name, derived.problem, spec["seeds"], jobs=jobs, progress=progress)
    return report


def _evaluate(store, name, problem, seeds, jobs=1, progress=None):
    """Fit and score every training set of the variant not stored yet (copied cells are skipped)."""
    sink = StoreSink.open(store, name, problem.metrics, seeds)
    tasks = evaluate.plan(sink.present, np.arange(1 << sink.n), problem.metrics, seeds)
    return evaluate.run(tasks, problem, sink, Executor(jobs=jobs), progress=progress, desc=f"fitting {name}")


def rebuild_variant(store, name: str, *, jobs: int = 1, progress: bool | None = None) -> VariantReport:
    """Delete a variant world and build it again from its stored parent and recipe.

    Raises
    ------
    CfgraphError
        If the world is not a variant or its parent was deleted.
    """
    with store.session() as session:
        world = catalog.get_world(session, name)
        if world.kind != "variant" or world.recipe is None:
            raise CfgraphError(f"world {name!r} is not a variant world")
        parent = catalog.world_by_id(session, world.parent_world_id)
        if parent is None:
            raise CfgraphError(f"the parent of variant {name!r} was deleted; it cannot be rebuilt")
        parent_name, recipe = parent.name, dict(world.recipe)
    return build_variant(store, parent_name, recipe, name=name, jobs=jobs, replace=True, progress=progress)


def list_variants(session, parent: str | None = None) -> list[dict]:
    """Variant worlds (of ``parent``, or all), oldest first: name, parent, recipe, move, model, cells.

    Raises
    ------
    NotFound
        If ``parent`` is given and does not exist.
    """
    out = []
    for world, parent_name, parent_n in lineage.variant_worlds(session, parent):
        letter = poisoning.poison_letter(parent_n) if parent_n else "P"
        out.append({"name": world.name, "parent": parent_name, "kind": world.recipe["kind"],
                    "move": recipes.describe(world.recipe, letter), "recipe": world.recipe,
                    "model": world.model_spec, "n_units": world.n_units})
    return out


@dataclass
class VariantPair:
    """A variant's cells next to its parent's, on the parent's training sets (masks < 2^n).

    Attributes
    ----------
    variant, parent : LatticeTable
    values, base : ndarray, shape (2**n, m)
        The variant's and the parent's cells on the parent's training sets.
    """

    variant: LatticeTable
    parent: LatticeTable
    recipe: dict
    values: np.ndarray
    base: np.ndarray

    @property
    def delta(self) -> np.ndarray:
        """``variant - parent`` per cell, shape (2**n, m) (NaN where either is missing)."""
        return self.values - self.base


def variant_pair(session, name: str, metric: str | None = None, seed: int | None = None,
                 kind: str | None = None) -> VariantPair:
    """A variant world's lattice and its parent's, aligned cell by cell.

    Parameters
    ----------
    kind : str, optional
        The recipe kind the caller needs ("poison", "dp", "unlearn", ...), checked before any cell is read.

    Raises
    ------
    NotFound
        If the world does not exist or is not a variant of a stored parent.
    CfgraphError
        If its recipe is of another kind than ``kind``.
    """
    world = catalog.get_world(session, name)
    if world.kind != "variant" or world.parent_world_id is None:
        raise NotFound(f"world {name!r} is not a variant of a stored world")
    if kind is not None and world.recipe["kind"] != kind:
        raise CfgraphError(f"world {name!r} is a {world.recipe['kind']} variant, not a {kind} one")
    parent = catalog.world_by_id(session, world.parent_world_id)
    variant_table = cells.lattice_table(session, world, metric, seed)
    parent_table = cells.lattice_table(session, parent, variant_table.metric, variant_table.seed)
    size = 1 << parent.n_units  # the parent's sets are the variant's first 2^n masks (P is the top bit)
    return VariantPair(variant=variant_table, parent=parent_table, recipe=dict(world.recipe),
                       values=variant_table.values[:size], base=parent_table.values)
