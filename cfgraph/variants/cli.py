"""``cfgraph variant ...``, ``cfgraph strike``, ``cfgraph budget`` and ``cfgraph envelope``.

Thin commands over :mod:`cfgraph.variants`: build a variant world (or a few),
then print the table that answers its question. Bad input raises
:class:`~cfgraph.errors.CfgraphError`, which the ``cfgraph`` group turns into
one ``error:`` line and exit code 2; recipes are checked before anything is
written.
"""

from __future__ import annotations

import json

import click

from cfgraph.clitools import SEED, cap_jobs, lattice_of, store_of
from cfgraph.errors import CfgraphError
from cfgraph.render import FORMATS, render


def _floats(text: str, what: str) -> list[float]:
    try:
        out = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise CfgraphError(f"{what} takes comma-separated numbers, not {text!r}") from None
    if not out:
        raise CfgraphError(f"{what} needs at least one number")
    return out


def _units(values: tuple[str, ...]) -> list[str]:
    return [u.strip() for v in values for u in v.split(",") if u.strip()]


def _show(rows: list[dict], fmt: str, columns: list[str] | None = None) -> None:
    columns = columns or (list(rows[0]) if rows else [])
    click.echo(render(columns, [[r.get(c) for c in columns] for r in rows], fmt))


def _build(ctx, parent, recipes_, names, jobs, replace, progress, slice_name=None):
    """Validate every recipe (and the slice to print) first, so bad input stores nothing; then build."""
    from cfgraph.store import catalog
    from cfgraph.variants import build_variant, normalise
    from cfgraph.variants.recipes import resolve

    if jobs == 0:
        raise CfgraphError("--jobs must be a positive number of workers, or -1 for all cores")
    recipes_ = [normalise(r) for r in recipes_]
    store = store_of(ctx)
    with store.session() as session:
        world = catalog.get_world(session, parent)
        letters = [u.label for u in world.units]
        slices = [s.name for s in world.slices]
    for r in recipes_:
        resolve(r, letters)
    if slice_name is not None and slice_name not in slices:
        raise CfgraphError(f"world {parent!r} has no evaluation slice {slice_name!r} (slices: {', '.join(slices)})")
    reports = []
    for recipe, name in zip(recipes_, names or [None] * len(recipes_)):
        report = build_variant(store, parent, recipe, name=name, jobs=jobs, replace=replace, progress=progress)
        click.echo(f"variant {report.name} ({report.move}): {report.copied} cells copied from {parent}, "
                   f"{report.run.fits} fits, {report.run.cells} new cells, {report.run.failed} failed", err=True)
        reports.append(report)
    return store, reports


def build_options(f):
    """Options every building command shares."""
    for option in reversed([
        click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of the recipe's randomness."),
        click.option("--jobs", default=1, show_default=True, type=int, callback=cap_jobs,
                     help="Parallel fits (joblib n_jobs; at most the number of CPUs)."),
        click.option("--replace", is_flag=True, help="Rebuild a variant of that name that has another recipe."),
        click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal)."),
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True),
    ]):
        f = option(f)
    return f


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def variant():
    """Variant worlds: a trained world changed by a recipe, cell by cell comparable with it.

    \b
    Each variant keeps its parent's units and slices, records parent and recipe,
    and is compared with the parent in SQL by the view variant_delta:
      cfgraph sql "SELECT * FROM variant_delta WHERE world='digits~corrupt-B-labels0.3'"
    The exact lattice questions need no new world: cfgraph strike, cfgraph budget,
    cfgraph envelope.
    """


@variant.command()
@click.argument("parent")
@click.option("--unit", "units", multiple=True, required=True, help="Unit(s) to corrupt (repeat, or B,C).")
@click.option("--labels", default=0.0, show_default=True, type=float,
              help="Fraction r in [0, 1] of each unit's training labels flipped to another class "
                   "(classification only).")
@click.option("--features", default=0.0, show_default=True, type=float,
              help="Gaussian feature noise, sigma in feature standard deviations.")
@click.option("--name", help="Variant name (default: PARENT~corrupt-...).")
@build_options
@click.pass_context
def corrupt(ctx, parent, units, labels, features, name, seed, jobs, replace, progress, fmt):
    """Corrupt units' training rows (label and/or feature noise) and print the delta grid.

    Label noise needs classes; a regression world takes feature noise only.
    Feature noise touches numeric columns; text columns stay as they are.
    """
    recipe = {"kind": "corrupt", "units": _units(units), "labels": labels, "features": features, "seed": seed}
    store, (report,) = _build(ctx, parent, [recipe], [name] if name else None, jobs, replace, progress)
    _delta(store, report.name, fmt)


@variant.command()
@click.argument("parent")
@click.option("--unit", "units", multiple=True, required=True, help="Unit(s) to replace (repeat, or B,C).")
@click.option("--components", default=1, show_default=True, type=int, help="Gaussian mixture components per class.")
@click.option("--covariance", default="diag", show_default=True,
              type=click.Choice(["full", "tied", "diag", "spherical"]), help="GaussianMixture covariance_type.")
@click.option("--name", help="Variant name (default: PARENT~synthetic-...).")
@build_options
@click.pass_context
def synthetic(ctx, parent, units, components, covariance, name, seed, jobs, replace, progress, fmt):
    """Replace units' training rows by samples of a per-class Gaussian mixture; print the delta grid.

    In a regression world one mixture models features and target together.
    Needs numeric features with no missing value.
    """
    recipe = {"kind": "synthetic", "units": _units(units), "components": components, "covariance": covariance,
              "seed": seed}
    store, (report,) = _build(ctx, parent, [recipe], [name] if name else None, jobs, replace, progress)
    _delta(store, report.name, fmt)


@variant.command()
@click.argument("parent")
@click.option("--unit", required=True, help="The source unit whose rows the poison copies.")
@click.option("--method", default="flip", show_default=True, type=click.Choice(["flip", "boundary"]),
              help="flip: label-flipped copies; boundary: copies moved towards the nearest other class.")
@click.option("--copies", default=1, show_default=True, type=int, help="Copies of each source row.")
@click.option("--shift", default=0.5, show_default=True, type=float,
              help="boundary: fraction of the way to the target class centroid.")
@click.option("--name", help="Variant name (default: PARENT~poison-...).")
@build_options
@click.pass_context
def poison(ctx, parent, unit, method, copies, shift, name, seed, jobs, replace, progress, fmt):
    """Add a poison unit P (the lattice gains a dimension); print the attack delta f(S+P) - f(S) and P's values.

    Classification only (the poison rows are relabelled as another class).
    """
    from cfgraph.variants.reports import poison_rows

    recipe = {"kind": "poison", "unit": unit, "method": method, "copies": copies, "shift": shift, "seed": seed}
    store, (report,) = _build(ctx, parent, [recipe], [name] if name else None, jobs, replace, progress)
    with store.session() as session:
        _show(poison_rows(session, report.name), fmt)


@variant.command()
@click.argument("parent")
@click.option("--epsilons", required=True, help="Privacy budgets, comma-separated (one world each), e.g. 0.1,1,10.")
@build_options
@click.pass_context
def dp(ctx, parent, epsilons, seed, jobs, replace, progress, fmt):
    """Train the lattice with a differentially private model (diffprivlib) for each epsilon.

    The parent's gnb becomes diffprivlib's GaussianNB, logreg its LogisticRegression,
    and for regression linear or ridge its LinearRegression, on features rescaled
    to [0, 1]. Prints each world's mean cell against the parent's.
    """
    from cfgraph.variants.reports import dp_rows

    recipes_ = [{"kind": "dp", "epsilon": e, "seed": seed} for e in _floats(epsilons, "--epsilons")]
    store, reports = _build(ctx, parent, recipes_, None, jobs, replace, progress)
    with store.session() as session:
        _show(dp_rows(session, [r.name for r in reports]), fmt)


@variant.command()
@click.argument("parent")
@click.option("--unit", required=True, help="The unit to weight.")
@click.option("--weights", required=True, help="Weights w in (0, 1], comma-separated (one world each).")
@click.option("--slice", "slice_name", default="all", show_default=True, help="Slice of the printed sweep.")
@build_options
@click.pass_context
def weight(ctx, parent, unit, weights, slice_name, seed, jobs, replace, progress, fmt):
    """Train with a unit at sample weight w; print the score along every edge S -> S + unit as w grows."""
    from cfgraph.variants.reports import weight_rows

    recipes_ = [{"kind": "weight", "unit": unit, "weight": w, "seed": seed} for w in _floats(weights, "--weights")]
    store, reports = _build(ctx, parent, recipes_, None, jobs, replace, progress, slice_name)
    with store.session() as session:
        _, rows = weight_rows(session, [r.name for r in reports], slice_name)
    _show(rows, fmt)


@variant.command()
@click.argument("parent")
@click.option("--unit", "units", multiple=True, help="Unit(s) to remove (default: every unit).")
@click.option("--method", default="sisa", show_default=True, type=click.Choice(["exact", "sisa", "warmstart"]),
              help="sisa: one shard per unit, drop the shard; warmstart: a few solver iterations from the old model.")
@click.option("--iterations", default=3, show_default=True, type=int, help="warmstart: solver iterations.")
@click.option("--tolerance", default=0.15, show_default=True, type=float, help="Largest acceptable gap.")
@build_options
@click.pass_context
def unlearn(ctx, parent, units, method, iterations, tolerance, seed, jobs, replace, progress, fmt):
    """Audit an approximate removal of each unit against exact retraining: gap per slice, pass/fail per unit."""
    from cfgraph.store import catalog
    from cfgraph.variants.reports import unlearn_rows

    if not tolerance >= 0:
        raise CfgraphError(f"--tolerance must be a number >= 0, not {tolerance}")
    chosen = _units(units)
    if not chosen:
        store = store_of(ctx)
        with store.session() as session:
            chosen = [u.label for u in catalog.get_world(session, parent).units]
    recipes_ = [{"kind": "unlearn", "unit": u, "method": method, "iterations": iterations, "seed": seed}
                for u in chosen]
    store, reports = _build(ctx, parent, recipes_, None, jobs, replace, progress)
    with store.session() as session:
        per_slice, per_unit = unlearn_rows(session, [r.name for r in reports], tolerance)
    _show(per_slice, fmt)
    if fmt == "table":
        click.echo("")
        _show(per_unit, fmt)


@variant.command("list")
@click.argument("parent", required=False)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.pass_context
def list_cmd(ctx, parent, fmt):
    """List variant worlds (of PARENT, or all) with their moves and recipes."""
    from cfgraph.variants import list_variants

    with store_of(ctx, create=False).session() as session:
        rows = list_variants(session, parent)
    for r in rows:
        r["recipe"] = json.dumps(r["recipe"], sort_keys=True)
    _show(rows, fmt, ["name", "parent", "kind", "move", "model", "recipe"])


@variant.command()
@click.argument("name")
@click.option("--metric", help="Metric (default: the world's).")
@click.option("--seed", type=SEED, help="Seed (default: the lowest stored).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.pass_context
def delta(ctx, name, metric, seed, fmt):
    """Print a variant's delta grid against its parent (variant - parent, per training set and slice)."""
    _delta(store_of(ctx, create=False), name, fmt, metric, seed)


def _delta(store, name, fmt, metric=None, seed=None):
    from cfgraph.variants.reports import delta_rows

    with store.session() as session:
        slices, rows = delta_rows(session, name, metric, seed)
    _show(rows, fmt, ["train_set"] + slices)


@variant.command()
@click.argument("name")
@click.option("--jobs", default=1, show_default=True, type=int, callback=cap_jobs)
@click.pass_context
def rebuild(ctx, name, jobs):
    """Delete a variant world and build it again from its stored parent and recipe."""
    from cfgraph.variants import rebuild_variant

    report = rebuild_variant(store_of(ctx), name, jobs=jobs)
    click.echo(f"variant {report.name} ({report.move}) rebuilt: {report.copied} cells copied, "
               f"{report.run.fits} fits, {report.run.failed} failed")


@click.command()
@click.argument("world")
@click.option("--coalition", help="Striking units, e.g. BC (omit to list only the strongest/weakest coalitions).")
@click.option("--order", help="The order they leave in, e.g. CB (default: as written in --coalition).")
@click.option("--slice", "slice_name", default="all", show_default=True)
@click.option("--metric", help="Metric (default: the world's).")
@click.option("--seed", type=SEED, help="Seed (default: the lowest stored).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.pass_context
def strike(ctx, world, coalition, order, slice_name, metric, seed, fmt):
    """Data strikes: a coalition's removal path from the full set, and each size's strongest and weakest coalition.

    Exact over the stored lattice (Vincent et al. 2021, "Data leverage").
    """
    from cfgraph.variants.reports import strike_rows

    path, extremes = strike_rows(lattice_of(ctx, world, metric, seed), slice_name, coalition, order)
    if path:
        _show(path, fmt)
        if fmt == "table":
            click.echo("")
    _show(extremes, fmt)


@click.command()
@click.argument("world")
@click.option("--prices", required=True, help="One price per unit: 1,2,1,3 or A=1,B=2,C=1,D=3.")
@click.option("--budget", required=True, type=float, help="The buyer's budget.")
@click.option("--slice", "slice_name", default="all", show_default=True)
@click.option("--trials", default=200, show_default=True, type=int, help="Random baseline draws.")
@click.option("--random-seed", default=0, show_default=True, type=int, help="Seed of the random baseline.")
@click.option("--metric", help="Metric (default: the world's).")
@click.option("--seed", type=SEED, help="Model seed of the cells (default: the lowest stored).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.pass_context
def budget(ctx, world, prices, budget, slice_name, trials, random_seed, metric, seed, fmt):
    """Budgeted selection: the best affordable training set (exact) against greedy and random baselines."""
    from cfgraph.variants.reports import budget_rows, parse_prices

    if trials < 1:
        raise CfgraphError("--trials must be at least 1")
    table = lattice_of(ctx, world, metric, seed)
    _show(budget_rows(table, parse_prices(prices, table.letters), budget, slice_name, random_seed, trials), fmt)


@click.command()
@click.argument("world")
@click.option("--epsilon", required=True, type=float, help="Privacy budget per released cell, > 0.")
@click.option("--release-seed", default=0, show_default=True, type=int, help="Seed of the Laplace noise.")
@click.option("--slice", "slice_name", help="One slice (default: all of them).")
@click.option("--metric", help="Metric (default: the world's).")
@click.option("--seed", type=SEED, help="Model seed of the cells (default: the lowest stored).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.pass_context
def envelope(ctx, world, epsilon, release_seed, slice_name, metric, seed, fmt):
    """The DP envelope: the largest change one unit makes between neighbouring training sets,
    the Laplace scale sensitivity/epsilon, and a noisy release of the full set's cell (Dwork 2006)."""
    from cfgraph.variants.reports import envelope_rows

    _show(envelope_rows(lattice_of(ctx, world, metric, seed), epsilon, release_seed, slice_name), fmt)
