"""Valuations and their estimates: every estimator run kept, with its error bars and trace.

A *valuation* is one run of an estimator (sampler x semivalue x stopping rule) on
a world: its parameters, seed, how many training sets it used (``evaluations``),
how many it had to fit (``fits``) and reused (``reused``), why it stopped, and a
trace of checkpoints. Its *estimates* are one row per unit x slice x metric x
seed (seed NULL: the estimate on the mean over the world's seeds): value,
standard error, samples and 95% interval. Runs are never overwritten, so a
world's history of estimates stays comparable in SQL::

    SELECT u.label, e.value, e.stderr FROM estimate e JOIN unit u ON u.id = e.unit_id
    WHERE e.valuation_id = (SELECT max(id) FROM valuation WHERE method = 'shapley')

Functions take a ``session`` and do not commit.
"""

from __future__ import annotations

import math

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from cfgraph.errors import CfgraphError, NotFound
from cfgraph.store.catalog import utcnow
from cfgraph.store.models import Estimate, EvalSlice, Unit, Valuation, World

__all__ = ["write_valuation", "latest_estimates", "list_valuations", "valuation_trace"]

_VALUATION_FIELDS = ("id", "method", "params", "sampler_seed", "evaluations", "fits", "reused", "seconds",
                     "stopped_by", "created_at")


def _number(x):
    """A float for SQL: NaN and None are NULL (SQLite stores NaN as NULL anyway)."""
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def write_valuation(session: Session, world: World, *, method: str, params: dict | None, sampler_seed: int | None,
                    evaluations: int, fits: int, reused: int, seconds: float | None, stopped_by: str | None,
                    trace: list | None, rows: list[dict]) -> int:
    """Store one valuation and its estimates (one executemany).

    Parameters
    ----------
    world : World
    method : str
        "shapley", "banzhaf", "beta(a,b)", "loo", ...
    params : dict
        The sampler's parameters (JSON).
    sampler_seed : int, optional
    evaluations, fits, reused : int
        Training sets the estimator used (stored or new), new fits, and reused ones.
    seconds : float, optional
    stopped_by : str, optional
        The stopping rule that ended the run (its ``str``).
    trace : list of dict, optional
        Checkpoints ``{"evaluations", "fits", "value": [n], "stderr": [n]}`` of the target column.
    rows : list of dict
        One per estimate: ``unit_idx``, ``slice`` (name), ``metric``, ``seed`` (or None), ``value``,
        ``stderr``, ``n_samples``, ``ci_low``, ``ci_high``.

    Returns
    -------
    int
        The valuation's id.

    Raises
    ------
    CfgraphError
        On a unit index or slice name the world does not have.

    Examples
    --------
    >>> from cfgraph.store.nodes import _example_world
    >>> store, world = _example_world(2)
    >>> with store.transaction() as session:
    ...     vid = write_valuation(session, world, method="shapley", params={"tol": 0.01}, sampler_seed=0,
    ...                           evaluations=10, fits=6, reused=4, seconds=0.5, stopped_by="MaxEvaluations(10)",
    ...                           trace=[], rows=[{"unit_idx": i, "slice": "all", "metric": "accuracy", "seed": None,
    ...                                            "value": 0.1 * i, "stderr": 0.01, "n_samples": 5,
    ...                                            "ci_low": 0.0, "ci_high": 0.2} for i in range(2)])
    ...     [(r["unit"], r["value"]) for r in latest_estimates(session, world)]
    [('A', 0.0), ('B', 0.1)]
    """
    units = dict(session.execute(select(Unit.idx, Unit.id).where(Unit.world_id == world.id)).all())
    slices = dict(session.execute(select(EvalSlice.name, EvalSlice.id).where(EvalSlice.world_id == world.id)).all())
    for row in rows:
        if row["unit_idx"] not in units:
            raise CfgraphError(f"world {world.name!r} has units 0 to {len(units) - 1}, not {row['unit_idx']}")
        if row["slice"] not in slices:
            raise CfgraphError(f"world {world.name!r} has no evaluation slice {str(row['slice'])[:80]!r}")
    now = utcnow()
    valuation_id = session.execute(insert(Valuation.__table__).values(
        world_id=world.id, method=method, params=params, sampler_seed=sampler_seed, evaluations=int(evaluations),
        fits=int(fits), reused=int(reused), seconds=_number(seconds), stopped_by=stopped_by, trace=trace,
        created_at=now,
    )).inserted_primary_key[0]
    if rows:
        session.execute(insert(Estimate.__table__), [{
            "valuation_id": valuation_id, "world_id": world.id, "method": method, "params": params,
            "unit_id": units[r["unit_idx"]], "slice_id": slices[r["slice"]], "metric": r["metric"],
            "seed": None if r.get("seed") is None else int(r["seed"]), "value": _number(r["value"]),
            "stderr": _number(r.get("stderr")), "n_samples": int(r.get("n_samples") or 0),
            "ci_low": _number(r.get("ci_low")), "ci_high": _number(r.get("ci_high")), "fits": int(fits),
            "created_at": now,
        } for r in rows])
    return int(valuation_id)


def latest_estimates(session: Session, world: World, method: str | None = None) -> list[dict]:
    """The estimates of the latest valuation of each method (or of ``method``) of a world.

    Returns
    -------
    list of dict
        Keys ``valuation_id``, ``method``, ``params``, ``unit_idx``, ``unit`` (label),
        ``unit_name``, ``slice``, ``metric``, ``seed``, ``value``, ``stderr``, ``n_samples``,
        ``ci_low``, ``ci_high``, ``fits``, ``created_at``; by method, slice, metric, seed, unit.

    Examples
    --------
    >>> store, world = _example_valuations()
    >>> with store.session() as session:
    ...     [(r["method"], r["unit"], r["value"]) for r in latest_estimates(session, world, "banzhaf")]
    [('banzhaf', 'A', 0.3)]
    """
    latest = select(func.max(Valuation.id)).where(Valuation.world_id == world.id)
    if method is not None:
        latest = latest.where(Valuation.method == method)
    latest = latest.group_by(Valuation.method)
    rows = session.execute(
        select(Estimate.valuation_id, Estimate.method, Estimate.params, Unit.idx, Unit.label, Unit.name,
               EvalSlice.name, Estimate.metric, Estimate.seed, Estimate.value, Estimate.stderr,
               Estimate.n_samples, Estimate.ci_low, Estimate.ci_high, Estimate.fits, Estimate.created_at)
        .join(Unit, Unit.id == Estimate.unit_id).join(EvalSlice, EvalSlice.id == Estimate.slice_id)
        .where(Estimate.valuation_id.in_(latest))
        .order_by(Estimate.method, EvalSlice.position, Estimate.metric, Estimate.seed, Unit.idx)
    ).all()
    keys = ("valuation_id", "method", "params", "unit_idx", "unit", "unit_name", "slice", "metric", "seed",
            "value", "stderr", "n_samples", "ci_low", "ci_high", "fits", "created_at")
    return [dict(zip(keys, row)) for row in rows]


def list_valuations(session: Session, world: World) -> list[dict]:
    """Every valuation of a world, oldest first (without traces).

    Returns
    -------
    list of dict
        Keys ``id``, ``method``, ``params``, ``sampler_seed``, ``evaluations``, ``fits``,
        ``reused``, ``seconds``, ``stopped_by``, ``created_at``.

    Examples
    --------
    >>> store, world = _example_valuations()
    >>> with store.session() as session:
    ...     [(v["method"], v["evaluations"]) for v in list_valuations(session, world)]
    [('shapley', 8), ('shapley', 16), ('banzhaf', 24)]
    """
    columns = [getattr(Valuation, name) for name in _VALUATION_FIELDS]
    rows = session.execute(select(*columns).where(Valuation.world_id == world.id)
                           .order_by(Valuation.created_at, Valuation.id)).all()
    return [dict(zip(_VALUATION_FIELDS, row)) for row in rows]


def valuation_trace(session: Session, valuation_id: int) -> dict:
    """One valuation with its trace (checkpoints of estimate and standard error against evaluations).

    Returns
    -------
    dict
        The keys of :func:`list_valuations`, plus ``world`` (name) and ``trace`` (list of dict).

    Raises
    ------
    NotFound
        If there is no valuation with that id.

    Examples
    --------
    >>> store, world = _example_valuations()
    >>> with store.session() as session:
    ...     valuation_trace(session, 1)["trace"]
    [{'evaluations': 8, 'fits': 8, 'value': [0.1], 'stderr': [0.05]}]
    """
    columns = [getattr(Valuation, name) for name in _VALUATION_FIELDS]
    row = session.execute(select(*columns, Valuation.trace, World.name)
                          .join(World, World.id == Valuation.world_id).where(Valuation.id == valuation_id)).first()
    if row is None:
        raise NotFound(f"no valuation with id {valuation_id}")
    out = dict(zip(_VALUATION_FIELDS, row))
    out["trace"], out["world"] = row[-2] or [], row[-1]
    return out


def _example_valuations():
    """A store with a one-unit sampled world and three valuations (for the examples)."""
    from cfgraph.store.nodes import _example_world

    store, world = _example_world(1)
    with store.transaction() as session:
        for method, evaluations, value in (("shapley", 8, 0.1), ("shapley", 16, 0.2), ("banzhaf", 24, 0.3)):
            write_valuation(session, world, method=method, params={}, sampler_seed=0, evaluations=evaluations,
                            fits=evaluations, reused=0, seconds=None, stopped_by=None,
                            trace=[{"evaluations": evaluations, "fits": evaluations, "value": [value],
                                    "stderr": [0.05]}],
                            rows=[{"unit_idx": 0, "slice": "all", "metric": "accuracy", "seed": None, "value": value,
                                   "stderr": 0.05, "n_samples": evaluations, "ci_low": None, "ci_high": None}])
    return store, world
