"""What a world's faces read about its *stored* lattice: training sets, neighbours and estimates.

An exhaustive world holds all 2^n training sets; a sampled world holds those a
sampler visited (:mod:`cfgraph.valuation`). The reads here work on both, and
never on all 2^n: a page of stored training sets (filtered by a unit they
contain and a size range), one stored node with its stored add-one /
remove-one neighbours (the ``edge`` table), and each sampled valuation's
estimates and convergence trace. :class:`cfgraph.world.World` mixes them in.

Errors are one line: :class:`~cfgraph.errors.CfgraphError` (400) for a bad
filter or page, :class:`~cfgraph.errors.NotFound` (404) for an unknown
training set, and :class:`NotExhaustive` (400) when a summary needs every
training set of a sampled world.
"""

from __future__ import annotations

import math
import re

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import aliased

from cfgraph import bitsets
from cfgraph.errors import CfgraphError, NotFound

__all__ = ["SampledReads", "NotExhaustive", "possible_text", "natural_key", "parse_method", "ESTIMATE_SORTS"]

#: How the estimates of a column can be ordered (query argument ``sort``).
ESTIMATE_SORTS = ("value", "rank", "unit", "stderr", "n_samples")
#: A normal distribution's 97.5% quantile: the convergence band is value ± this x stderr.
Z95 = 1.959963984540054


class NotExhaustive(CfgraphError):
    """A page or summary needs every training set, and the world's lattice is sampled."""


def possible_text(n: int) -> str:
    """How many training sets n units make, short: the number up to 2^20, else ``2^n``.

    Examples
    --------
    >>> possible_text(4), possible_text(45)
    ('16', '2^45')
    """
    return str(1 << n) if n <= 20 else f"2^{n}"


def natural_key(text: str) -> tuple:
    """Sort key that orders numbers inside names by value: ``r2`` before ``r10``.

    Examples
    --------
    >>> sorted(["r10", "r2", "A"], key=natural_key)
    ['A', 'r2', 'r10']
    """
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in re.split(r"(\d+)", str(text)) if p)


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


def _int_arg(text, what: str, low: int | None = None, high: int | None = None) -> int | None:
    """An optional whole number from a query argument, within [low, high] (CfgraphError otherwise)."""
    if text is None or str(text).strip() == "":
        return None
    text = str(text).strip()
    if not re.fullmatch(r"[+-]?\d{1,9}", text):
        raise CfgraphError(f"{what} must be a whole number, not {text[:20]!r}")
    value = int(text)
    if (low is not None and value < low) or (high is not None and value > high):
        raise CfgraphError(f"{what}={value} is out of range {low}..{high}")
    return value


class SampledReads:
    """Reads of a world's stored training sets and estimates (mixed into :class:`cfgraph.world.World`,
    which provides ``session``, ``record``, ``name``, ``n``, ``units``, ``slices``, ``lattice``)."""

    # ------------------------------------------------------------------ what is stored

    @property
    def sampled(self) -> bool:
        return self.lattice == "sampled"

    @property
    def possible(self) -> str:
        """The number of training sets that exist, as text (``16``, ``2^45``)."""
        return possible_text(self.n)

    def stored_count(self) -> int:
        """Training sets stored as nodes (all 2^n for an exhaustive world)."""
        if "_stored_count" not in self.__dict__:
            from cfgraph.store import nodes

            self.__dict__["_stored_count"] = int(nodes.count_nodes(self.session, self.record))
        return self.__dict__["_stored_count"]

    def require_exhaustive(self, what: str) -> None:
        """Refuse a summary that reads every training set on a sampled world.

        Raises
        ------
        NotExhaustive
            On a sampled world.
        """
        if self.sampled:
            raise NotExhaustive(f"world {self.name!r} is sampled ({self.possible} training sets exist, "
                                f"{self.stored_count()} stored): {what} needs all of them; see its values and "
                                f"training sets instead")

    def unit_index(self, text: str) -> int:
        """A unit's bit position from its label or name.

        Raises
        ------
        CfgraphError
            If no unit has that label or name.
        """
        text = str(text).strip()
        for i, u in enumerate(self.units):
            if text == u.label:
                return i
        for i, u in enumerate(self.units):
            if text == u.name:
                return i
        raise CfgraphError(f"world {self.name!r} has no unit {text[:40]!r}")

    # ------------------------------------------------------------------ cells of stored nodes

    def stored_column(self, node_ids, slice_name: str | None, metric: str | None, seed) -> tuple:
        """Cells of some stored nodes on one slice: (values (b,), status (b,) of ok / failed / missing,
        metric, seed or None for the mean over seeds)."""
        from cfgraph.store import cells

        the_slice = self.find_slice(slice_name)
        if seed is None or str(seed).strip() == "":
            metric, _ = self.choose(metric)
            seeds, used = list(self.seeds), (None if len(self.seeds) > 1 else self.seeds[0])
        else:
            metric, used = self.choose(metric, seed)
            seeds = [used]
        ids = np.asarray(node_ids, dtype=np.int64)
        if len(ids) == 0:
            return np.empty(0), np.empty(0, dtype=object), metric, used
        values, present = cells.cells_of_nodes(self.session, self.record, ids, [metric], seeds)
        j = [s.id for s in self.slices].index(the_slice.id)
        values, present = values[:, :, j, 0], present[:, :, j, 0]
        with np.errstate(invalid="ignore"):
            value = values.mean(axis=1)
        status = np.where(~np.isnan(value), "ok",
                          np.where(present.all(axis=1), "failed", "missing")).astype(object)
        return value, status, metric, used

    def _labels(self, node_ids) -> dict[int, str]:
        from cfgraph.store.models import Node

        ids = [int(i) for i in node_ids]
        out = {}
        for start in range(0, len(ids), 500):
            out.update(self.session.execute(
                select(Node.id, Node.label).where(Node.id.in_(ids[start:start + 500]))).all())
        return out

    def stored_training_sets(self, *, contains: str | None = None, min_size=None, max_size=None, page=None,
                             per_page: int = 50, slice_name: str | None = None, metric: str | None = None,
                             seed=None) -> dict:
        """One page of the stored training sets, filtered, with their cell on one slice.

        Parameters
        ----------
        contains : str, optional
            A unit's label or name: only training sets holding it.
        min_size, max_size : int or str, optional
            Size range (inclusive).
        page : int or str, optional
            1-based page of ``per_page`` rows (default 1).
        slice_name, metric, seed : optional
            The cell shown (default: slice ``all`` when present, the world's metric, the mean over seeds).

        Returns
        -------
        dict
            ``possible`` (text), ``stored`` (all stored), ``matched`` (after the filters),
            ``page``, ``pages``, ``first``, ``last`` (1-based, 0 when empty), ``slice``,
            ``metric``, ``seed``, ``filters`` and ``rows`` (label, size, value, status).

        Raises
        ------
        CfgraphError
            On an unknown unit, a size that is not a whole number in 0..n, min above max,
            or a page out of range.
        """
        from cfgraph.store import nodes

        unit = None if contains is None or str(contains).strip() == "" else self.unit_index(contains)
        low = _int_arg(min_size, "min_size", 0, self.n)
        high = _int_arg(max_size, "max_size", 0, self.n)
        if low is not None and high is not None and low > high:
            raise CfgraphError(f"min_size={low} is above max_size={high}")
        the_slice = self.find_slice(slice_name or ("all" if any(s.name == "all" for s in self.slices) else None))
        matched = int(nodes.count_nodes(self.session, self.record, contains=unit, min_size=low, max_size=high))
        pages = max(1, -(-matched // per_page))
        number = _int_arg(page, "page", 1, pages) or 1
        ids, members = nodes.stored_members(self.session, self.record, contains=unit, min_size=low,
                                            max_size=high, limit=per_page, offset=(number - 1) * per_page)
        values, status, metric, used = self.stored_column(ids, the_slice.name, metric, seed)
        labels = self._labels(ids)
        sizes = np.asarray(members, dtype=bool).sum(axis=1) if len(ids) else np.empty(0, dtype=np.int64)
        rows = [{"label": labels.get(int(i), ""), "size": int(k), "value": _num(v), "status": str(s)}
                for i, k, v, s in zip(np.asarray(ids).tolist(), sizes.tolist(), values.tolist(), status.tolist())]
        first = (number - 1) * per_page + 1 if rows else 0
        return {"possible": self.possible, "n_units": self.n, "stored": self.stored_count(), "matched": matched,
                "page": number, "pages": pages, "per_page": per_page, "first": first,
                "last": first + len(rows) - 1 if rows else 0, "slice": the_slice.name, "metric": metric, "seed": used,
                "filters": {"contains": None if unit is None else self.units[unit].label,
                            "min_size": low, "max_size": high},
                "rows": rows}

    # ------------------------------------------------------------------ one stored node

    def stored_node(self, label: str) -> dict:
        """A stored training set by label: ``id``, ``label``, ``size``, ``members`` (bool (n,)).

        Raises
        ------
        NotFound
            If the world stores no training set of that label.
        """
        from cfgraph.store.models import Node

        row = self.session.execute(select(Node.id, Node.label, Node.size, Node.members).where(
            Node.world_id == self.record.id, Node.label == str(label))).one_or_none()
        if row is None:
            raise NotFound(f"world {self.name!r} stores no training set {str(label)[:60]!r} "
                           f"({self.stored_count()} of {self.possible} stored)")
        members = bitsets.unpack([row.members], self.n)[0]
        return {"id": int(row.id), "label": row.label, "size": int(row.size), "members": members}

    def default_node(self) -> str:
        """The label the lattice page opens on: the stored training set with the most stored
        neighbours (the largest on a tie), so the first view shows some of the stored lattice.

        Raises
        ------
        NotFound
            If the world stores no training set yet.
        """
        from sqlalchemy import func, union_all

        from cfgraph.store.models import Edge, Node

        ends = union_all(select(Edge.src_node_id.label("node_id")).where(Edge.world_id == self.record.id),
                         select(Edge.dst_node_id.label("node_id")).where(Edge.world_id == self.record.id)).subquery()
        degree = select(ends.c.node_id, func.count().label("degree")).group_by(ends.c.node_id).subquery()
        label = self.session.scalar(
            select(Node.label).outerjoin(degree, degree.c.node_id == Node.id).where(Node.world_id == self.record.id)
            .order_by(func.coalesce(degree.c.degree, 0).desc(), Node.size.desc(), Node.id).limit(1))
        if label is None:
            raise NotFound(f"world {self.name!r} stores no training set yet (run a sampler on it)")
        return label

    def stored_neighbours(self, node_id: int) -> dict:
        """A node's stored add-one (``up``) and remove-one (``down``) neighbours from the edge table.

        Returns
        -------
        dict
            ``up`` and ``down``: lists of dict ``unit`` (bit position), ``id``, ``label``, ``size``,
            in unit order.
        """
        from cfgraph.store.models import Edge, Node, Unit

        other = aliased(Node)
        out = {}
        for key, mine, theirs in (("up", Edge.src_node_id, Edge.dst_node_id),
                                  ("down", Edge.dst_node_id, Edge.src_node_id)):
            rows = self.session.execute(
                select(Unit.idx, other.id, other.label, other.size)
                .join(Edge, Edge.unit_id == Unit.id).join(other, other.id == theirs)
                .where(mine == int(node_id)).order_by(Unit.idx)).all()
            out[key] = [{"unit": int(r.idx), "id": int(r.id), "label": r.label, "size": int(r.size)} for r in rows]
        return out

    def stored_training_set(self, label: str, metric: str | None = None, seed=None, members_shown: int | None = 50
                            ) -> dict:
        """A stored training set's cells on every slice and its stored neighbours' score changes.

        Across seeds (none named, two or more stored) scores are means over seeds.

        Returns
        -------
        dict
            ``label``, ``size``, ``members`` (the first ``members_shown`` unit records, all when None),
            ``metric``, ``seed`` (None: mean over seeds), ``slices``, ``scores``, ``status``,
            ``neighbours`` (direction, unit label and name, label, size, scores, deltas),
            ``up_count``, ``down_count``.

        Raises
        ------
        NotFound
            On an unknown label, metric or seed.
        """
        node = self.stored_node(label)
        hood = self.stored_neighbours(node["id"])
        others = [("add", nb) for nb in hood["up"]] + [("remove", nb) for nb in hood["down"]]
        ids = [node["id"]] + [nb["id"] for _, nb in others]
        columns = [self.stored_column(ids, s.name, metric, seed) for s in self.slices]
        table = np.array([c[0] for c in columns], dtype=float).T  # (len(ids), slices)
        status = [str(c[1][0]) for c in columns]
        used_metric, used_seed = columns[0][2], columns[0][3]
        inside = np.flatnonzero(node["members"])
        shown = inside if members_shown is None else inside[:members_shown]
        mine = table[0]
        neighbours = [{"direction": d, "unit": self.units[nb["unit"]].label, "unit_name": self.units[nb["unit"]].name,
                       "label": nb["label"], "size": nb["size"], "scores": [_num(x) for x in row],
                       "deltas": [_num(x) for x in row - mine]}
                      for (d, nb), row in zip(others, table[1:])]
        return {"label": node["label"], "size": node["size"], "n_units": self.n,
                "members": [self.units[i].to_dict() for i in shown.tolist()], "members_total": int(len(inside)),
                "metric": used_metric, "seed": used_seed, "seeds": list(self.seeds),
                "slices": [s.name for s in self.slices], "scores": [_num(x) for x in mine], "status": status,
                "neighbours": neighbours, "up_count": len(hood["up"]), "down_count": len(hood["down"])}

    # ------------------------------------------------------------------ estimates

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
            raise CfgraphError(f"world {self.name!r} has no estimates of method {method[:40]!r} "
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
            chosen = _int_arg(seed, "seed")
            if chosen not in seeds:
                listed = ", ".join("mean" if s is None else str(s) for s in seeds)
                raise CfgraphError(f"no estimates for seed {chosen} (seeds: {listed})")
        if (slice_name, metric, chosen) not in columns:
            raise CfgraphError(f"no estimates on slice {slice_name[:60]!r}, metric {metric[:60]!r}, seed "
                               f"{'mean' if chosen is None else chosen}")
        return slice_name, metric, chosen

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
