"""The ``cfgraph`` command line: a thin layer over the library.

Every command that meets bad input prints one line starting with ``error:``
and exits with code 2; the database is left as it was.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import click

from cfgraph.clisampled import (
    METHOD_NAMES,
    METHOD_SEEDS,
    SAMPLER_METHODS,
    echo_cost,
    echo_estimates,
    echo_method_notes,
    method_options,
    method_params,
    method_rows,
    run_valuation,
    sampler_options,
    sampler_params,
    stored_method,
)
from cfgraph.clitools import SEED, cap_jobs, executor_options, render_units, store_of
from cfgraph.display import brief_list, fixed
from cfgraph.errors import CfgraphError
from cfgraph.render import FORMATS, render
from cfgraph.resources import seed_file
from cfgraph.sql import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_MS, run_query

# Start-up: `cfgraph --help` and `cfgraph sql` import neither scikit-learn, scipy nor Alembic
# (tests/test_startup.py checks it). Commands import what they need when they run.


class CfgraphGroup(click.Group):
    """Turns library errors into one line on stderr and exit code 2, never a traceback."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:  # a bad option value: one line, not click's usage block
            hint = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
            click.echo(f"error: {exc.format_message()}{hint}", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx):
        # Warnings raised on the way to a refusal (numpy overflow, scikit-learn checks) are held
        # back so bad input prints one line; a command that succeeds shows them at its end.
        refused = False
        try:
            with warnings.catch_warnings(record=True) as held:
                return self._invoke(ctx)
        except click.exceptions.Exit as exc:
            refused = exc.exit_code == 2
            raise
        finally:
            for w in [] if refused else held:  # shown once the recorder is gone
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)

    def _invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CfgraphError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)
        except Exception as exc:
            database_errors = sys.modules.get("sqlalchemy.exc")  # loaded by any command that opened a store
            if database_errors is None or not isinstance(exc, database_errors.SQLAlchemyError):
                raise
            click.echo(f"error: database: {str(exc.orig if getattr(exc, 'orig', None) else exc).splitlines()[0]}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted: cells computed so far are stored; run the same command to resume", err=True)
            ctx.exit(130)


@click.group(cls=CfgraphGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="PATH|URL", help="Database file or SQLAlchemy URL "
              "(default: $CFGRAPH_DATABASE_URL, else ./cfgraph.db).")
@click.option("--allow-module", "allow", multiple=True, metavar="PACKAGE",
              help="Also allow model classes from this package by dotted path (scikit-learn, cfgraph and "
                   "diffprivlib always are; repeatable; or $CFGRAPH_ALLOW_MODULES). Only for packages you trust: "
                   "importing a module runs its code.")
@click.version_option(package_name="cfgraph")
@click.pass_context
def main(ctx, db, allow):
    """cfgraph: the lattice of data counterfactuals, stored in a database."""
    ctx.ensure_object(dict)
    ctx.obj["db"] = db
    if allow:
        from cfgraph.estimators import allow_modules

        allow_modules(allow)


@main.command()
@click.pass_context
def init(ctx):
    """Create or upgrade the database schema (Alembic upgrade head)."""
    store = store_of(ctx)
    click.echo(f"database ready: {store.describe()}")


@main.command()
@click.option("--world", "name", help="Name of the world (default: DATASET-MODEL-GROUPINGn).")
@click.option("--dataset", type=str,
              help="A dataset scikit-learn ships: iris, wine, breast_cancer, digits (classification), "
                   "diabetes (regression).")
@click.option("--csv", "csv_path", type=str,
              help="Your own CSV with a header row; features may be numbers or text, values may be missing "
                   "(empty, NA, N/A, NaN, ?).")
@click.option("--target", help="The CSV column to predict: class labels, or numbers for regression.")
@click.option("--task", type=click.Choice(["classification", "regression"]),
              help="Default: the dataset's, or inferred from the CSV's target: text or two whole numbers -> "
                   "classification; fractions or over 20 whole numbers -> regression; 3 to 20 whole numbers: "
                   "say which.")
@click.option("--features", metavar="COL,...", help="The CSV's feature columns (default: all but target and group).")
@click.option("--drop", metavar="COL,...", help="CSV columns not to use as features.")
@click.option("--group-by", default="kmeans", show_default=True,
              help="kmeans, class (classification only), random, or a CSV column (a missing value: unit (missing)).")
@click.option("--units", type=int, default=None, help="Number of units (data objects); 4 for kmeans/random.")
@click.option("--model", help="Classification: logreg (default), gnb, tree, knn, forest, gbc; regression: ridge "
              "(default), linear, tree, knn, forest, gbr; either: knn-utility(n_neighbors=K), the utility KNN-Shapley "
              "values (Jia et al. 2019); or a dotted scikit-learn class path, e.g. sklearn.svm.SVC(C=2).")
@click.option("--metric", help="scikit-learn scorer name(s), comma-separated (default: accuracy, or r2 for regression); "
              "also true_class_probability (the mean predicted probability of the true class).")
@click.option("--seeds", default="0", show_default=True,
              help="Model seeds: a list and ranges, e.g. 0-9 or 0,2,5-7 (each 0 to 2**32-1); one fit per training set per seed.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of the split and the grouping.")
@click.option("--test-size", default=0.3, show_default=True, type=float)
@click.option("--eval-slices", default="units", show_default=True, type=click.Choice(["units", "powerset", "classes"]),
              help="One slice per unit (+ all), one per non-empty union of units, or one per class (+ all; "
                   "the only choice for points and sampled worlds, made for them).")
@click.option("--jobs", default=1, show_default=True, type=int, callback=cap_jobs,
              help="Parallel fits (joblib n_jobs; -1 = all cores; at most the number of CPUs).")
@executor_options
@click.option("--replace", is_flag=True, help="Delete an existing world of that name first.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
@sampler_options
@click.option("--all", "all_rows", is_flag=True, help="With a sampler: print every unit, not the top and bottom.")
@click.pass_context
def run(ctx, name, dataset, csv_path, target, task, features, drop, group_by, units, model, metric, seeds, seed,
        test_size, eval_slices, jobs, executor_name, scheduler, replace, progress, sampler, budget, max_fits, time_budget, stderr_target,
        rank_stable, sampler_seed, truncation, semivalue, target_slice, all_rows):
    """Train a model on every training set of a world and score it on every slice.

    Re-running the same command computes only the missing cells. With --sampler the
    world is *sampled*: its training sets are stored as the sampler visits them (up to
    thousands of units, e.g. --group-by point), and the units' values are estimated
    with standard errors until a stopping rule (--budget, --max-fits, --time-budget,
    --stderr, --rank-stable) is met. A re-run with the same --sampler-seed resumes.
    """
    from cfgraph.worlds import build_world, make_spec, parse_seeds

    if units is None and group_by in ("kmeans", "random"):
        units = 4
    spec = make_spec(dataset=dataset, csv_path=csv_path, target=target, task=task, features=features, drop=drop,
                     group_by=group_by, units=units, model=model,
                     metrics=None if metric is None else [m.strip() for m in metric.split(",") if m.strip()],
                     seeds=parse_seeds(seeds), seed=seed, test_size=test_size, eval_slices=eval_slices,
                     lattice="sampled" if sampler else "exhaustive")
    if sampler:
        from cfgraph.valuation import stopping_rule
        from cfgraph.worlds import prepare

        if target_slice is not None:  # refused before the world is created
            names = [s.name for s in prepare(spec).slices]
            if target_slice not in names:
                raise CfgraphError(f"no slice {target_slice[:60]!r} (slices: {', '.join(names)[:200]})")
        stopping_rule(budget=budget, max_fits=max_fits, seconds=time_budget, stderr=stderr_target,
                      rank_stable=rank_stable, sampler=sampler)  # refuse a run that could never stop, before fitting
        sampler_params(truncation, semivalue)
    if name is not None and not name.strip():
        raise CfgraphError("a world needs a name of 1 to 200 characters, not an empty one")
    if name is None:
        source = dataset or Path(csv_path).stem
        name = f"{source}-{spec['model'].split('(')[0].rsplit('.', 1)[-1]}-{group_by}{units or ''}"
    started = time.perf_counter()
    with make_executor(ctx, executor_name, jobs, scheduler) as executor:  # a Dask LocalCluster stops at the end
        executor.check()  # an absent scheduler is refused before the store is opened
        store = store_of(ctx)
        report = build_world(store, name, spec, jobs=jobs, replace=replace, progress=progress, executor=executor)
        if sampler:
            valuation = run_valuation(store, name, sampler=sampler, budget=budget, max_fits=max_fits,
                                      time_budget=time_budget, stderr_target=stderr_target, rank_stable=rank_stable,
                                      sampler_seed=sampler_seed, truncation=truncation, semivalue=semivalue,
                                      target_slice=target_slice, jobs=jobs, progress=progress, executor=executor)
    if sampler:
        echo_estimates(valuation.rows(), "table", all_rows=all_rows)
        echo_cost(valuation)
        return
    click.echo(f"world {name} ({spec['task']}): {report.fits} fits, {report.cells} new cells "
               f"({report.skipped_cells} already stored), {report.failed} failed, "
               f"{time.perf_counter() - started:.1f} s")


def make_executor(ctx: click.Context, name: str, jobs: int, scheduler: str | None):
    """The Executor of --executor, --jobs and --scheduler (a --scheduler typed with loky is refused)."""
    from click.core import ParameterSource

    from cfgraph.executors import Executor

    if name != "dask":
        if scheduler and ctx.get_parameter_source("scheduler") is ParameterSource.COMMANDLINE:
            raise CfgraphError("--scheduler needs --executor dask")
        return Executor(jobs=jobs)
    return Executor("dask", jobs, scheduler or None)


@main.command("import-grid")
@click.argument("file", type=str)
@click.option("--world", "name", required=True, help="Name of the new world.")
@click.option("--units", help="Units in bit order, comma-separated: letters (W,C,M) or names (code,math). "
                               "Default: the units the file's training sets use, sorted.")
@click.option("--replace", is_flag=True, help="Replace an existing world of that name.")
@click.pass_context
def import_grid_cmd(ctx, file, name, units, replace):
    """Store cells computed elsewhere (CSV or JSON of train_set, eval_slice, value[, metric, seed]).

    FILE holds one cell per record: a CSV with a header row, or a JSON list of
    objects (or {"cells": [...]}). metric defaults to "score" and seed to 0;
    cells not in the file stay missing.

    \b
    A training set (train_set) names its units in one of two styles:
      letters  CM, MWC or C+M: one letter per unit, in any order. The units
               are the letters seen, sorted (a file using C, M and W has the
               3 units C, M, W), and keep their letters as labels.
      names    code, code+math: names joined by '+' (or ','), used as soon
               as one label joins a name longer than one character, or is
               longer than one character and not all capitals (code). The
               units are the names seen, sorted, labelled A, B, C, ...
    The empty set is written as ∅, {}, empty, -, 0 or an empty field.

    In a letters file CM is always the units C and M; in a names file, CM beside
    the units C and M is ambiguous (one unit or two? write C+M) and refused.
    JSON train_set, eval_slice and metric must be strings (not lists), value a
    number or numeric string, seed a whole number in 0..2**32-1.

    --units fixes the units and their bit order (a unit no training set uses
    is kept, with no cells). A malformed or ambiguous file is refused with its
    line (record) number, and nothing is written.
    """
    from cfgraph.grids import import_grid

    unit_list = [u.strip() for u in units.split(",")] if units else None
    result = import_grid(store_of(ctx), file, name, unit_list, replace=replace)
    click.echo(f"world {result['world']}: {result['cells']} cells over {result['units']} units "
               f"and {result['slices']} slices")


@main.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.pass_context
def worlds(ctx, fmt):
    """List the stored worlds and how complete their lattices are."""
    from cfgraph.world import list_worlds

    listed = list_worlds(store_of(ctx, create=False))
    columns = ["name", "kind", "lattice", "dataset", "model", "metric", "n_units", "training_sets", "slices", "cells",
               "failed", "complete"]
    rows = [[w[c] if c != "complete" else round(w[c], 4) for c in columns] for w in listed]
    click.echo(render(columns, rows, fmt))


def grid_rows(table, summary: dict | None = None) -> tuple[list[str], list[list]]:
    """Rows = training sets sorted by size then label; columns = slices.

    With ``summary`` (a seed stack's ``cell_summary()``: mean, half_width, std, n of shape
    (2**n, m)) each cell is a dict of those four numbers instead of one value.
    """
    import numpy as np

    order = sorted(range(1 << table.n), key=lambda m: (m.bit_count(), table.labels[m]))
    columns = ["train_set"] + table.slices
    rows = []
    for m in order:
        row = [table.labels[m]]
        for j in range(len(table.slices)):
            v, s = table.values[m, j], table.status[m, j]
            if summary is not None:
                row.append(_interval(summary, m, j))
            else:
                row.append("failed" if s == "failed" else (None if np.isnan(v) else float(v)))
        rows.append(row)
    return columns, rows


def _interval(summary: dict, *index) -> dict | None:
    mean = float(summary["mean"][index])
    if mean != mean:
        return None
    half, std = float(summary["half_width"][index]), float(summary["std"][index])
    return {"mean": mean, "half_width": None if half != half else half, "std": None if std != std else std,
            "n": int(summary["n"][index])}


def _pm(cell) -> str | None:
    """A mean ± half-width cell as text: "0.9120 ± 0.0130" (blank when missing)."""
    if not isinstance(cell, dict):
        return cell
    half = cell["half_width"]
    return fixed(cell["mean"]) + ("" if half is None else f" ± {fixed(half)}")


def _seed_note(seeds: list[int], across: bool) -> str:
    if across:
        return (f"mean ± half-width of the 95% Student-t interval over n = {len(seeds)} seeds "
                f"({brief_list(seeds)}); --seed N shows one")
    return f"seed {seeds[0]}"


@main.command()
@click.argument("world")
@click.option("--metric", help="Metric (default: the world's).")
@click.option("--seed", type=SEED, help="One seed (default: the mean ± 95% interval across seeds when "
              "there are several, else the only one).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.pass_context
def grid(ctx, world, metric, seed, fmt):
    """Print a world's grid: rows = training sets, columns = evaluation slices (blank = missing).

    The unit legend (label, name, definition, training rows) follows the grid.
    Across several seeds the table shows "mean ± half-width" (4 places); --format csv
    gives full-precision numbers in four columns per slice: SLICE (the mean),
    SLICE_half_width, SLICE_std and SLICE_n; --format json gives each cell as
    {mean, half_width, std, n}.
    """
    from cfgraph.world import World

    with World.open(store_of(ctx, create=False), world) as w:
        shown, units = w.grid(metric, seed), w.units
    table = shown.table
    columns, rows = grid_rows(table, shown.summary)
    if fmt == "json":
        click.echo(json.dumps({"world": table.world, "metric": table.metric, "seeds": shown.seeds,
                               "seed": shown.seed, "units": [u.to_dict() for u in units],
                               "rows": [dict(zip(columns, row)) for row in rows]},
                              indent=2, ensure_ascii=False))
        return
    if fmt == "csv":
        columns, rows = _interval_columns(columns, rows, keep=1)
    else:
        rows = [[_pm(c) for c in row] for row in rows]
    click.echo(render(columns, rows, fmt))
    render_units(units, fmt, note=f"{table.metric}, {_seed_note(shown.seeds, shown.across_seeds)}")


@main.command("values")
@click.argument("world")
@click.option("--method", default="all", show_default=True,
              help="loo, shapley, banzhaf, beta:ALPHA,BETA, datamodel (joined with +), or all; or alone: "
                   "knn-shapley, data-oob, least-core or datamodel, computed and stored as estimates.")
@click.option("--slice", "slice_name", default="*", show_default=True,
              help="An evaluation slice by name (e.g. A, or all: the slice of every test row); * for every slice.")
@click.option("--metric", help="Metric (default: the world's).")
@click.option("--seed", type=SEED, help="One seed (default: the mean ± 95% interval across seeds when "
              "there are several, else the only one).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@sampler_options
@method_options
@click.option("--all", "all_rows", is_flag=True, help="Estimates: every unit, not the top and bottom of a long list.")
@click.option("--jobs", default=1, show_default=True, type=int, callback=cap_jobs,
              help="Parallel fits: a sampler's missing training sets on a sampled world, Data-OOB's bags.")
@executor_options
@click.pass_context
def values_cmd(ctx, world, method, slice_name, metric, seed, fmt, sampler, budget, max_fits, time_budget,
               stderr_target, rank_stable, sampler_seed, truncation, semivalue, target_slice, k, bags, surrogate,
               alpha, holdout, all_rows, jobs, executor_name, scheduler):
    """Leave-one-out, Shapley, Banzhaf and Beta Shapley values of each unit on each slice.

    With several seeds stored, each value is the mean over seeds ± the half-width of
    its 95% Student-t interval, and n is the number of seeds. The unit legend follows.
    --format csv gives full-precision numbers instead: one row per (slice, unit) and,
    per method, the columns METHOD (the mean), METHOD_half_width, METHOD_std and
    METHOD_n; --format json gives one record per value with value, half_width, std, n.

    With --sampler the values are estimated by sampling (on an exhaustive world from
    its stored cells, fitting nothing; on a sampled world asking the store first and
    fitting what is missing), printed with standard errors and 95% intervals and
    stored in the table ``estimate``. A sampled world without --sampler prints its
    latest stored estimates of each method.

    --method knn-shapley (exact, closed form; points as units), data-oob (--bags
    training sets of the world), least-core (its subsidy e is printed) or datamodel
    (ridge by default, its LDS printed) values the world and stores the estimates,
    on either lattice; --sampler-seed seeds Data-OOB's bags and the datamodel's
    held-out split.
    """
    from cfgraph.world import World

    store = store_of(ctx, create=False)
    chosen_method = method.strip().lower()
    if chosen_method in METHOD_NAMES and not sampler:
        from cfgraph.methods import value

        if seed is not None:
            raise CfgraphError(f"--seed picks one seed's values; {METHOD_SEEDS[chosen_method]}")
        params = method_params(chosen_method, k=k, bags=bags, surrogate=surrogate, alpha=alpha, holdout=holdout,
                               seed=sampler_seed)
        with make_executor(ctx, executor_name, jobs, scheduler) as executor:
            executor.check()
            valuation = value(store, world, chosen_method, slice=target_slice, metric=metric, executor=executor,
                              **params)
        if slice_name not in ("*", "all"):
            with World.open(store, world) as w:
                slice_name = w.find_slice(slice_name).name
        echo_estimates(method_rows(valuation), fmt, all_rows=all_rows,
                       slice_name=None if slice_name == "*" else slice_name,
                       exact=valuation.estimate.exact)
        if fmt == "table":
            echo_cost(valuation)
            echo_method_notes(valuation)
        return
    if any(x is not None for x in (k, bags, surrogate, alpha, holdout)):
        raise CfgraphError("--k, --bags, --surrogate, --alpha and --holdout apply to --method knn-shapley, data-oob "
                           "or datamodel")
    if sampler:
        if method != "all":
            raise CfgraphError(f"--method picks stored values; with --sampler the sampler sets the method "
                               f"({sampler}: {SAMPLER_METHODS[sampler]}, --semivalue for stratified and uniform)")
        if seed is not None:
            raise CfgraphError("--seed picks one seed's values; a sampler estimates every seed of the world and "
                               "their mean (see --format csv)")
        if slice_name != "*":
            with World.open(store, world) as w:
                slice_name = w.find_slice(slice_name).name
        with make_executor(ctx, executor_name, jobs, scheduler) as executor:
            executor.check()
            valuation = run_valuation(store, world, sampler=sampler, budget=budget, max_fits=max_fits,
                                      time_budget=time_budget, stderr_target=stderr_target, rank_stable=rank_stable,
                                      sampler_seed=sampler_seed, truncation=truncation, semivalue=semivalue,
                                      target_slice=target_slice, jobs=jobs, metric=metric, executor=executor)
        echo_estimates(valuation.rows(), fmt, all_rows=all_rows, slice_name=None if slice_name == "*" else slice_name)
        if fmt == "table":
            echo_cost(valuation)
        return
    with World.open(store, world) as w:
        if w.lattice == "sampled":
            if slice_name not in ("*", "all"):
                slice_name = w.find_slice(slice_name).name
            chosen_method = None if method == "all" else stored_method(method)
            rows = w.estimates(chosen_method)
            if not rows:
                stored = sorted({v["method"] for v in w.valuations()})
                if stored:
                    raise CfgraphError(f"world {world!r} has no {method} estimates (stored: {', '.join(stored)})")
                raise CfgraphError(f"world {world!r} is sampled and has no estimates yet: give --sampler "
                                   "(e.g. --sampler tmc --budget 1000)")
            if fmt != "table":
                echo_estimates(rows, fmt)
                return
            for chosen in dict.fromkeys(r["method"] for r in rows):
                echo_estimates([r for r in rows if r["method"] == chosen], fmt, all_rows=all_rows,
                               slice_name=None if slice_name == "*" else slice_name)
            return
        slice_names = [s.name for s in w.slices]
        if slice_name == "*" or (slice_name == "all" and "all" not in slice_names):
            chosen = None
        else:
            chosen = [w.find_slice(slice_name).name]
        result = w.values(method, chosen, metric, seed)
        units = w.units
    rows = result.rows()
    if fmt == "json":
        click.echo(json.dumps({"world": result.world, "metric": result.metric, "seeds": result.seeds,
                               "seed": None if result.across_seeds else result.seeds[0],
                               "units": [u.to_dict() for u in units], "values": rows,
                               "missing": result.problems}, indent=2, ensure_ascii=False))
        return
    click.echo(render(*_values_wide(rows, numbers=fmt == "csv"), fmt))
    render_units(units, fmt, note=f"{result.metric}, {_seed_note(result.seeds, result.across_seeds)}")
    for p in result.problems:
        unit = f" of unit {p['unit']}" if p.get("unit") else ""
        click.echo(f"note: {p['method']}{unit} on slice {p['slice']}: {p['error']}", err=True)


@main.command()
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--max-rows", default=DEFAULT_MAX_ROWS, show_default=True, type=click.IntRange(min=1))
@click.option("--timeout-ms", default=DEFAULT_TIMEOUT_MS, show_default=True, type=click.IntRange(min=1))
@click.pass_context
def sql(ctx, query, fmt, max_rows, timeout_ms):
    """Run one read-only SQL query over the store (tables and views are listed in the README)."""
    store = store_of(ctx, create=False)
    result = run_query(store.sqlite_path or store.url, query, max_rows=max_rows, timeout_ms=timeout_ms)
    click.echo(render(result.columns, result.rows, fmt))
    if result.truncated:
        click.echo(f"note: truncated at {max_rows} rows", err=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind; the default serves this machine only.")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--debug", is_flag=True, help="Flask debug mode (reloader and debugger): never on a shared host.")
@click.option("--allow-compute", is_flag=True,
              help="Let the plan page fit missing cells of trained worlds (a POST with a CSRF token, run in a "
                   "background thread); off by default, when no route writes.")
@click.pass_context
def serve(ctx, host, port, debug, allow_compute):
    """Run the web explorer: grid, lattice graph, values, plan, SQL and glossary pages, and a JSON API."""
    from cfgraph.web import create_app
    from cfgraph.web.db import get_store

    config = {"SERVE_HOST": f"[{host}]" if ":" in host else host, "ALLOW_COMPUTE": allow_compute}
    if ctx.obj.get("db"):
        config["DATABASE_URL"] = ctx.obj["db"]
    app = create_app(config)
    with app.app_context():
        where = get_store().describe()
    click.echo(f"cfgraph explorer on http://{host}:{port}/ (database: {where}); Ctrl-C stops it")
    if allow_compute:
        click.echo("compute is on: the plan page may fit missing cells of trained worlds", err=True)
    if host in ("0.0.0.0", "::", ""):
        click.echo("note: it answers only to the host names 127.0.0.1, localhost and [::1]; list the names "
                   "others will use in CFGRAPH_ALLOWED_HOSTS (comma-separated)", err=True)
    app.run(host=host, port=port, debug=debug, use_reloader=debug)


def _values_wide(rows: list[dict], numbers: bool = False) -> tuple[list[str], list[list]]:
    """Value rows pivoted to one line per (slice, unit) and one column per method.

    Rows across seeds (with ``half_width`` and ``n``) show "mean ± half-width" and a column n;
    with ``numbers`` (CSV) they give full-precision numbers in the columns METHOD (the mean),
    METHOD_half_width, METHOD_std and METHOD_n instead.
    """
    names = list(dict.fromkeys(r["method"] for r in rows))
    across = any("half_width" in r for r in rows)
    wide: dict = {}
    for r in rows:
        if across:
            cell = {"mean": r["value"], "half_width": r.get("half_width"), "std": r.get("std"), "n": r["n"]}
        else:
            cell = r["value"]
        entry = wide.setdefault((r["slice"], r["unit"]), {})
        entry[r["method"]] = cell
        if across:
            entry["n"] = max(entry.get("n", 0), r["n"])
    if across and numbers:
        columns = ["slice", "unit"] + names
        return _interval_columns(columns, [[s, u] + [v.get(n) for n in names] for (s, u), v in wide.items()], keep=2)
    columns = ["slice", "unit"] + names + (["n"] if across else [])
    return columns, [[s, u] + [_pm(v.get(n)) if n != "n" else v.get(n) for n in columns[2:]]
                     for (s, u), v in wide.items()]


def _interval_columns(columns: list[str], rows: list[list], keep: int) -> tuple[list[str], list[list]]:
    """Spread mean ± interval cells over four numeric columns: NAME, NAME_half_width, NAME_std, NAME_n.

    The first ``keep`` columns are labels and stay as they are; rows without interval cells
    (one seed) are returned unchanged. A missing cell leaves all four columns blank.
    """
    if not any(isinstance(c, dict) for row in rows for c in row[keep:]):
        return columns, rows
    out_columns = columns[:keep] + [f"{c}{suffix}" for c in columns[keep:]
                                    for suffix in ("", "_half_width", "_std", "_n")]
    out_rows = []
    for row in rows:
        out = list(row[:keep])
        for cell in row[keep:]:
            cell = cell if isinstance(cell, dict) else {}
            out += [cell.get("mean"), cell.get("half_width"), cell.get("std"), cell.get("n")]
        out_rows.append(out)
    return out_columns, out_rows


@main.command()
@click.option("--jobs", default=2, show_default=True, type=int, callback=cap_jobs)
@click.pass_context
def demo(ctx, jobs):
    """Build the demo worlds (the seed's toy grid, digits and two variants of it), then print the grid and values."""
    from cfgraph.demo import DEMO_WORLD, build_demo

    store = store_of(ctx)
    for line in build_demo(store, jobs=jobs).lines:
        click.echo(line)
    from cfgraph import values
    from cfgraph.world import World

    with World.open(store, DEMO_WORLD) as world:
        table = world.table()
        result = world.values("loo+shapley+banzhaf", seed=table.seed)
        units = world.units
    click.echo(f"\nGrid of world 'digits' (accuracy, model seed {table.seed}; rows = training sets, "
               "columns = evaluation slices):\n")
    columns, rows = grid_rows(table)
    click.echo(render(columns, rows))
    render_units(units)
    click.echo("\nValues of each unit on each slice (LOO from the full set; Shapley; Banzhaf):\n")
    click.echo(render(*_values_wide(result.rows())))
    prog = _program() + (f" --db {ctx.obj['db']}" if ctx.obj.get("db") else "")
    full = (1 << table.n) - 1
    gaps = [abs(values.shapley(table.column(s)).sum() - (table.column(s)[full] - table.column(s)[0]))
            for s in table.slices]
    click.echo(f"\nEfficiency: on every slice the Shapley values sum to v(ABCD) - v(∅) "
               f"(largest gap {max(gaps):.1e}).")
    click.echo(f"""
Where to look next (database: {store.describe()}):
  {prog} serve          the web explorer: open http://127.0.0.1:5000 (guided scenarios at /scenarios)
  {prog} grid toy       the seed's toy grid (missing rows blank)
  {prog} values digits --method beta:16,1
  {prog} run --dataset breast_cancer --group-by point --model gnb --world bc --sampler tmc --budget 2000
                        a sampled world: every training row a unit, values with 95% intervals
  {prog} sql "SELECT value FROM grid WHERE world='toy' AND train_set='ACD' AND eval_slice='B'"
  {prog} --help         every command; the README lists the tables to query""")


def _program() -> str:
    """How the user can call this program again: a path relative to here when it is not on PATH."""
    import os
    import shutil

    argv0 = os.path.abspath(sys.argv[0])
    if shutil.which("cfgraph") == argv0 or not os.path.exists(argv0):
        return "cfgraph"
    relative = os.path.relpath(argv0)
    return relative if not relative.startswith("..") else argv0


from cfgraph.semble.cli import related  # noqa: E402  (registered last: the group lives in its own package)

main.add_command(related)

# Variant worlds (issue 5): corruption, synthetic data, poisoning, DP, weighting, unlearning;
# strikes, budgets and the DP envelope over a stored lattice.
from cfgraph.variants.cli import budget, envelope, strike, variant  # noqa: E402

main.add_command(variant)
main.add_command(strike)
main.add_command(budget)
main.add_command(envelope)


if __name__ == "__main__":  # pragma: no cover
    main()
