"""What a world's faces read about its sampled valuations: estimates with error bars, and traces.

A sampled valuation (:mod:`cfgraph.valuation`) stores one row per unit x slice x
metric x seed in the ``estimate`` table, and a trace of its target column's
estimates at checkpoints. The reads here pick the latest valuation of a
method, one (slice, metric, seed) column of it with each unit's rank, and one
unit's convergence (value and 95% band against training sets used).
:class:`cfgraph.world.World` mixes them in; they work on sampled and exhaustive
worlds alike (samplers run on an exhaustive world's stored cells too).
"""

from __future__ import annotations

import math
import re

from cfgraph.errors import CfgraphError
from cfgraph.world_sampled import int_arg, quoted

__all__ = ["EstimateReads", "parse_method", "ESTIMATE_SORTS", "Z95"]

#: How the estimates of a column can be ordered (query argument ``sort``).
ESTIMATE_SORTS = ("value", "rank", "unit", "stderr", "n_samples")
#: A normal distribution's 97.5% quantile: the convergence band is value ± this x stderr.
Z95 = 1.959963984540054


def parse_method(name: str) -> tuple[str, tuple]:
    """A stored estimate's method as an exact method of :func:`cfgraph.summaries.parse_methods`.

    Examples
    --------
    >>> parse_method("beta(4,1)"), parse_method("shapley")
    (('beta', (4.0, 1.0)), ('shapley', ()))
    """
    found = re.fullmatch(r"\s*beta\(\s*([^,\s]+)\s*,\s*([^)\s]+)\s*\)\s*", name or "")
    if found:
        return "beta", (float(found.group(1)), float(found.group(2)))
    return (name or "").strip().lower(), ()


def _num(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


class EstimateReads:
    """Reads of a world's stored estimates (mixed into :class:`cfgraph.world.World`, which provides
    ``session``, ``record``, ``name``, ``units``, ``estimates()`` and ``valuations()``)."""

    def estimate_methods(self) -> list[str]:
        """Methods with stored estimates, newest valuation first."""
        return list(dict.fromkeys(v["method"] for v in self.valuations()))

    def estimate_table(self, method: str | None = None, slice_name: str | None = None, metric: str | None = None,
                       seed=None) -> dict:
        """The latest valuation of one method: every unit's estimate on one (slice, metric, seed) column.

        Parameters
        ----------
        method : str, optional
            Default: the method of the newest valuation.
        slice_name, metric : str, optional
            Default: the valuation's target column (slice ``all`` when stored, the world's metric).
        seed : int or str, optional
            ``""``/None/``"mean"``: the mean over seeds when stored, else the one seed.

        Returns
        -------
        dict
            ``method``, ``methods``, ``valuation`` (the run's record), ``valuations`` (every run),
            ``columns`` (stored (slice, metric, seed) dicts), ``column`` (the one shown) and
            ``rows``: per unit ``idx``, ``label``, ``name``, ``rank`` (1 = highest value),
            ``value``, ``stderr``, ``n_samples``, ``ci_low``, ``ci_high``; empty without valuations.

        Raises
        ------
        CfgraphError
            On a method, slice, metric or seed with no stored estimates.
        """
        valuations = self.valuations()
        methods = list(dict.fromkeys(v["method"] for v in valuations))
        empty = {"method": None, "methods": methods, "valuation": None, "valuations": valuations,
                 "columns": [], "column": None, "rows": []}
        if not methods:
            return empty
        method = method.strip() if method and method.strip() else methods[0]
        if method not in methods:
            raise CfgraphError(f"world {self.name!r} has no estimates of method {quoted(method)} "
                               f"(methods: {', '.join(methods)})")
        records = self.estimates(method)
        valuation = next(v for v in valuations if v["method"] == method)
        wanted = {r.get("valuation_id") for r in records} - {None}
        if wanted:
            valuation = next((v for v in valuations if v["id"] in wanted), valuation)
        columns = list(dict.fromkeys((r["slice"], r["metric"], r["seed"]) for r in records))
        column = self._pick_column(columns, slice_name, metric, seed)
        index = {u.label: i for i, u in enumerate(self.units)} | {u.name: i for i, u in enumerate(self.units)}
        rows = []
        for r in records:
            if (r["slice"], r["metric"], r["seed"]) != column:
                continue
            i = r.get("unit_idx")
            i = index.get(r.get("unit_label", r.get("unit"))) if i is None else int(i)
            if i is None:
                continue
            u = self.units[i]
            rows.append({"idx": i, "label": u.label, "name": u.name, "value": _num(r["value"]),
                         "stderr": _num(r.get("stderr")), "n_samples": int(r.get("n_samples") or 0),
                         "ci_low": _num(r.get("ci_low")), "ci_high": _num(r.get("ci_high"))})
        rows.sort(key=lambda row: row["idx"])
        order = sorted(range(len(rows)), key=lambda t: (rows[t]["value"] is None, -(rows[t]["value"] or 0.0),
                                                        rows[t]["idx"]))
        for rank, t in enumerate(order, 1):
            rows[t]["rank"] = rank
        return {**empty, "method": method, "valuation": valuation,
                "columns": [{"slice": s, "metric": m, "seed": sd} for s, m, sd in columns],
                "column": {"slice": column[0], "metric": column[1], "seed": column[2]}, "rows": rows}

    def _pick_column(self, columns: list[tuple], slice_name, metric, seed) -> tuple:
        if not columns:
            raise CfgraphError(f"world {self.name!r}: the valuation stored no estimates")
        slices = list(dict.fromkeys(c[0] for c in columns))
        metrics = list(dict.fromkeys(c[1] for c in columns))
        seeds = list(dict.fromkeys(c[2] for c in columns))
        if slice_name:
            if slice_name not in slices:
                raise CfgraphError(f"no estimates on slice {slice_name[:60]!r} (slices: {', '.join(slices)[:200]})")
        else:
            slice_name = "all" if "all" in slices else slices[0]  # the target a valuation defaults to
        if metric:
            if metric not in metrics:
                raise CfgraphError(f"no estimates for metric {metric[:60]!r} (metrics: {', '.join(metrics)})")
        else:
            metric = self.record.metric if self.record.metric in metrics else metrics[0]
        if seed is None or str(seed).strip() in ("", "mean"):
            chosen = None if None in seeds else min(s for s in seeds if s is not None)
        else:
            chosen = int_arg(seed, "seed")
            if chosen not in seeds:
                listed = ", ".join("mean" if s is None else str(s) for s in seeds)
                raise CfgraphError(f"no estimates for seed {chosen} (seeds: {listed})")
        if (slice_name, metric, chosen) not in columns:
            raise CfgraphError(f"no estimates on slice {slice_name[:60]!r}, metric {metric[:60]!r}, seed "
                               f"{'mean' if chosen is None else chosen}")
        return slice_name, metric, chosen

    def target_column(self, valuation_id: int) -> dict | None:
        """The column a valuation's trace follows (the one that drove truncation and stopping):
        ``slice``, ``metric``, ``seed`` (None: mean over seeds); None without estimates.

        A valuation writes its target column's estimates first, so it is the column of the
        valuation's lowest estimate id (one indexed query).
        """
        from sqlalchemy import func, select

        from cfgraph.store.models import EvalSlice, Estimate

        first = select(func.min(Estimate.id)).where(Estimate.valuation_id == int(valuation_id)).scalar_subquery()
        row = self.session.execute(select(EvalSlice.name, Estimate.metric, Estimate.seed)
                                   .join(EvalSlice, EvalSlice.id == Estimate.slice_id)
                                   .where(Estimate.id == first)).first()
        return None if row is None else {"slice": row[0], "metric": row[1], "seed": row[2]}

    def convergence(self, valuation_id: int, unit: int) -> dict:
        """One unit's estimate and 95% band at each checkpoint of a valuation's trace (its target column).

        Returns
        -------
        dict
            ``evaluations``, ``fits``, ``value``, ``stderr``, ``low``, ``high``: lists, one per
            checkpoint with a value (band: value ± 1.96 stderr; None where the stderr is unknown).
        """
        from cfgraph.store import estimates

        trace = estimates.valuation_trace(self.session, int(valuation_id))
        points = trace.get("trace", trace) if isinstance(trace, dict) else trace
        out = {key: [] for key in ("evaluations", "fits", "value", "stderr", "low", "high")}
        for point in points or []:
            values, errors = point.get("value") or [], point.get("stderr") or []
            value = _num(values[unit]) if unit < len(values) else None
            if value is None:
                continue
            err = _num(errors[unit]) if unit < len(errors) else None
            out["evaluations"].append(int(point.get("evaluations", 0)))
            out["fits"].append(int(point.get("fits", 0)))
            out["value"].append(value)
            out["stderr"].append(err)
            out["low"].append(None if err is None else value - Z95 * err)
            out["high"].append(None if err is None else value + Z95 * err)
        return out
