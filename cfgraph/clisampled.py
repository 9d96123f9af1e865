"""The command line's sampled valuations: the shared sampler and stopping-rule options, and the
printout of estimates (value, standard error, 95% interval, samples) for ``run`` and ``values``.

Nothing heavy is imported at module level: the CLI's start-up stays light.
"""

from __future__ import annotations

import functools
import json

import click

from cfgraph.clitools import SEED
from cfgraph.display import fixed
from cfgraph.errors import CfgraphError
from cfgraph.render import render

#: The samplers the command line offers (cfgraph.samplers.SAMPLERS, spelled here so --help needs no import).
SAMPLER_NAMES = ("permutation", "tmc", "msr", "stratified", "uniform", "loo")
#: What each sampler estimates.
SAMPLER_METHODS = {"permutation": "shapley", "tmc": "shapley", "msr": "banzhaf", "stratified": "shapley or beta",
                   "uniform": "banzhaf or --semivalue", "loo": "loo"}
#: The methods of cfgraph.methods (spelled here so --help needs no import).
METHOD_NAMES = ("knn-shapley", "data-oob", "least-core", "datamodel")
#: Why each method takes no --seed.
METHOD_SEEDS = {
    "knn-shapley": "knn-shapley fits no model, so it has no seed",
    "data-oob": "data-oob fits every bag with the world's first seed",
    "least-core": "least-core uses the mean over the world's seeds",
    "datamodel": "datamodel uses the mean over the world's seeds",
}
#: Units shown at each end of a long value table (the rest is in --format csv or json).
SHOWN_EACH_END = 15


def sampler_options(command):
    """The options of a sampled valuation: sampler, its parameters and the stopping rules."""
    options = [
        click.option("--sampler", type=click.Choice(SAMPLER_NAMES),
                     help="Sample training sets instead of filling the lattice: tmc (truncated Monte Carlo Shapley), "
                          "permutation (antithetic permutations, Shapley), msr (Banzhaf by maximum sample reuse), "
                          "stratified (Shapley or Beta Shapley by coalition size), uniform (uniform coalitions), "
                          "loo (exact leave-one-out)."),
        click.option("--budget", type=click.IntRange(min=1), help="Stop after this many training sets (stored or new)."),
        click.option("--max-fits", type=click.IntRange(min=1), help="Stop after this many new fits."),
        click.option("--time-budget", "time_budget", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
                     help="Stop after this many seconds."),
        click.option("--stderr", "stderr_target", type=click.FloatRange(min=0, min_open=True),
                     help="Stop when every unit's standard error on the target slice is at most this."),
        click.option("--rank-stable", type=click.FloatRange(0, 1, min_open=True), metavar="RHO",
                     help="Stop when the Spearman correlation of the values between two checkpoints reaches RHO."),
        click.option("--sampler-seed", default=0, show_default=True, type=SEED,
                     help="The sampler's seed: the same seed proposes the same training sets (a re-run resumes); "
                          "also Data-OOB's bags and the datamodel's held-out split."),
        click.option("--truncation", type=click.FloatRange(min=0), metavar="TOL",
                     help="TMC: stop a permutation once its score is within TOL x |score of the full set| of it "
                          "(default 0.01)."),
        click.option("--semivalue", metavar="shapley|banzhaf|beta:A,B",
                     help="stratified and uniform samplers: the semivalue to estimate."),
        click.option("--target-slice", metavar="SLICE",
                     help="The slice that drives truncation and stopping (default: all); the methods' first slice."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), command)


def method_options(command):
    """The parameters of the methods beyond sampling (KNN-Shapley, Data-OOB, least core, datamodel)."""
    options = [
        click.option("--k", "k", type=click.IntRange(1, 10_000),
                     help="knn-shapley: neighbours K (default: the world's KNN model's, else 5)."),
        click.option("--bags", type=click.IntRange(1, 100_000), help="data-oob: bootstrap bags (default 100)."),
        click.option("--surrogate", type=click.Choice(["ridge", "lasso", "linear"]),
                     help="datamodel: the linear model (default ridge)."),
        click.option("--alpha", type=click.FloatRange(min=0, min_open=True),
                     help="datamodel: the ridge or lasso penalty."),
        click.option("--holdout", type=click.FloatRange(0, 1, min_open=True, max_open=True),
                     help="datamodel: share of stored training sets held out for the LDS (default 0.2)."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), command)


def method_params(method: str, *, k=None, bags=None, surrogate=None, alpha=None, holdout=None, seed=None) -> dict:
    """A method's parameters from the command line; a parameter of another method is an error.

    Examples
    --------
    >>> method_params("data-oob", bags=20, seed=3)
    {'bags': 20, 'seed': 3}
    """
    given = {"k": k, "bags": bags, "model": surrogate, "alpha": alpha, "holdout": holdout}
    takes = {"knn-shapley": {"k"}, "data-oob": {"bags"}, "least-core": set(),
             "datamodel": {"model", "alpha", "holdout"}}[method]
    wrong = [name for name, value in given.items() if value is not None and name not in takes]
    if wrong:
        flags = ", ".join("--surrogate" if w == "model" else f"--{w}" for w in wrong)
        raise CfgraphError(f"{flags} do{'es' if len(wrong) == 1 else ''} not apply to --method {method}")
    params = {name: value for name, value in given.items() if value is not None}
    if method in ("data-oob", "datamodel") and seed is not None:
        params["seed"] = seed
    return params


def method_rows(valuation) -> list[dict]:
    """A method's estimate rows with its per-slice facts: the least core's ``subsidy``, the datamodel's ``lds``."""
    from cfgraph.methods import slice_facts

    rows = valuation.rows()
    for key in ("subsidy", "lds"):
        if any(key in point for point in valuation.trace):
            for r in rows:
                r[key] = (slice_facts(valuation.trace, r["slice"]) or {}).get(key)
    return rows


def echo_method_notes(valuation) -> None:
    """The least core's subsidy and the datamodel's LDS of each slice, one line each."""
    from cfgraph.methods import trace_notes

    for line in trace_notes(valuation.method, valuation.trace):
        click.echo(line)


def sampler_params(truncation, semivalue) -> dict:
    """The sampler's own parameters from the command line."""
    params = {}
    if truncation is not None:
        params["tol"] = truncation
    if semivalue:
        text = semivalue.strip().lower()
        if text in ("shapley", "banzhaf"):
            params["semivalue"] = text
        elif text.startswith("beta"):
            try:
                alpha, beta = (float(x) for x in text.split(":", 1)[1].split(","))
            except (IndexError, ValueError):
                raise CfgraphError(f"a Beta semivalue is written beta:ALPHA,BETA (e.g. beta:16,1), not "
                                   f"{semivalue[:40]!r}") from None
            params.update(semivalue="beta", alpha=alpha, beta=beta)
        else:
            raise CfgraphError(f"the semivalue is shapley, banzhaf or beta:ALPHA,BETA, not {semivalue[:40]!r}")
    return params


def stored_method(text: str) -> str:
    """A method as stored estimates name it: ``beta:4,1`` (the command line's spelling) is ``beta(4,1)``.

    Examples
    --------
    >>> stored_method("beta:4,1"), stored_method("Shapley"), stored_method("beta(16,1)")
    ('beta(4,1)', 'shapley', 'beta(16,1)')
    """
    text = text.strip().lower()
    if text.startswith("beta:"):
        try:
            alpha, beta = (float(x) for x in text[5:].split(","))
        except ValueError:
            raise CfgraphError(f"a Beta semivalue is written beta:ALPHA,BETA (e.g. beta:16,1), not {text[:40]!r}") \
                from None
        return f"beta({alpha:g},{beta:g})"
    return text


def run_valuation(store, world: str, *, sampler, budget, max_fits, time_budget, stderr_target, rank_stable,
                  sampler_seed, truncation, semivalue, target_slice, jobs=1, progress=None, metric=None,
                  executor=None):
    """Call :func:`cfgraph.valuation.estimate` with the command line's options."""
    from cfgraph.valuation import estimate

    return estimate(store, world, sampler, budget=budget, max_fits=max_fits, seconds=time_budget,
                    stderr=stderr_target, rank_stable=rank_stable, seed=sampler_seed, jobs=jobs, executor=executor,
                    slice=target_slice, metric=metric, progress=progress,
                    **sampler_params(truncation, semivalue))


def echo_cost(valuation) -> None:
    """One line: what the valuation used, fitted and reused, and why it stopped (and a note on stderr
    when some units got no sample at all)."""
    unsampled = int((valuation.estimate.n_samples[:, 0] == 0).sum())
    if valuation.sampler not in SAMPLER_NAMES:
        if unsampled:
            click.echo(f"note: {unsampled} of {len(valuation.units)} units got no value ({valuation.method}: "
                       f"never out of bag; give more --bags)", err=True)
        click.echo(f"{valuation.method} on world {valuation.world}: {valuation.evaluations} training sets used, "
                   f"{valuation.fits} new fits, {valuation.reused} reused from the store; {valuation.stopped_by}; "
                   f"{valuation.seconds:.1f} s (valuation {valuation.valuation_id})")
        return
    if unsampled:
        click.echo(f"note: {unsampled} of {len(valuation.units)} units have no sample yet (the stopping rule came "
                   f"first: a {valuation.sampler} sample can need up to n + 1 = {len(valuation.units) + 1} training "
                   f"sets); raise the budget, or use --sampler msr, whose every training set samples every unit",
                   err=True)
    click.echo(f"{valuation.sampler} ({valuation.method}) on world {valuation.world}: "
               f"{valuation.evaluations} training sets used, {valuation.fits} new fits, "
               f"{valuation.reused} reused from the store; stopped by {valuation.stopped_by}; "
               f"{valuation.seconds:.1f} s (valuation {valuation.valuation_id})")


def echo_estimates(rows: list[dict], fmt: str, *, all_rows: bool = False, slice_name: str | None = None,
                   exact: bool = False) -> None:
    """Print estimates: one row per unit (and slice), value, 95% interval, stderr, samples.

    The table format shows the target column only (or ``slice_name``), sorted by value,
    the top and bottom :data:`SHOWN_EACH_END` units of a long list unless ``all_rows``;
    csv and json give every row at full precision (with a method's per-slice facts, such
    as the least core's ``subsidy`` or the datamodel's ``lds``, when it has them).
    ``exact`` prints "exact" where a sampled estimate has its interval.
    """
    from cfgraph.methods import samples_meaning

    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False, default=str))
        return
    columns = ["unit", "method", "slice", "metric", "seed", "value", "stderr", "ci_low", "ci_high", "n_samples"]
    columns += [key for key in ("subsidy", "lds") if rows and key in rows[0]]
    if fmt == "csv":
        click.echo(render(columns, [[r.get(c) for c in columns] for r in rows], "csv"))
        return
    slices = list(dict.fromkeys(r["slice"] for r in rows))
    if slice_name is not None:
        rows = [r for r in rows if r["slice"] == slice_name]
    else:
        first = (rows[0]["slice"], rows[0]["metric"], rows[0]["seed"]) if rows else None
        rows = [r for r in rows if (r["slice"], r["metric"], r["seed"]) == first]
    rows = sorted(rows, key=lambda r: -(r["value"] if r["value"] is not None else float("-inf")))
    hidden = 0
    if not all_rows and len(rows) > 2 * SHOWN_EACH_END:
        hidden = len(rows) - 2 * SHOWN_EACH_END
        rows = rows[:SHOWN_EACH_END] + rows[-SHOWN_EACH_END:]
    shown = ["rank", "unit", "value", "95% interval", "stderr", "n_samples"]
    table = []
    for k, r in enumerate(rows):
        if exact:
            interval, error = "exact", "exact"
        elif r["ci_low"] is None or r["ci_high"] is None:
            interval, error = "", fixed(r["stderr"])
        else:
            interval, error = f"[{fixed(r['ci_low'])}, {fixed(r['ci_high'])}]", fixed(r["stderr"])
        rank = k + 1 if k < SHOWN_EACH_END or not hidden else k + 1 + hidden
        table.append([rank, r["unit"], fixed(r["value"]), interval, error, r["n_samples"]])
    if rows:
        r = rows[0]
        seed = ("no model seed" if r["method"] == "knn-shapley" else
                "mean over seeds" if r["seed"] is None else f"seed {r['seed']}")
        click.echo(f"{r['method']} on slice {r['slice']} ({r['metric']}, {seed}), highest first:")
    click.echo(render(shown, table, "table"))
    if hidden:
        click.echo(f"... {hidden} units in the middle not shown (--all, or --format csv for every row)")
    meaning = samples_meaning(rows[0]["method"]) if rows else None
    if meaning:
        click.echo(f"n_samples: {meaning}")
    if slice_name is None and len(slices) > 1:
        click.echo(f"{len(slices) - 1} more slices ({', '.join(slices[1:4])}{', ...' if len(slices) > 4 else ''}): "
                   "--slice NAME, or --format csv for every one")
