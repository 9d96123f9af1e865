"""What a world's faces read about its *stored* lattice: training sets, neighbours and estimates.

An exhaustive world holds all 2^n training sets; a sampled world holds those a
sampler visited (:mod:`cfgraph.valuation`). The reads here work on both, and
never on all 2^n: a page of stored training sets (filtered by a unit they
contain and a size range), one stored node with its stored add-one /
remove-one neighbours (the ``edge`` table). :class:`cfgraph.world.World` mixes them in.

Errors are one line: :class:`~cfgraph.errors.CfgraphError` (400) for a bad
filter or page, :class:`~cfgraph.errors.NotFound` (404) for an unknown
training set, and :class:`NotExhaustive` (400) when a summary needs every
training set of a sampled world. Estimates are read by :mod:`cfgraph.world_estimates`.
"""

from __future__ import annotations

import math
import re

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import aliased

from cfgraph import bitsets
from cfgraph.errors import CfgraphError, NotFound
from cfgraph.store.models import CELL_STATUSES

__all__ = ["SampledReads", "NotExhaustive", "possible_text", "natural_key", "int_arg", "quoted"]


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


def quoted(text, limit: int = 40) -> str:
    """Text quoted for a one-line message, cut to ``limit`` characters with "…" when longer.

    Examples
    --------
    >>> quoted("r2"), quoted("a" * 50, 5)
    ("'r2'", "'aaaaa…'")
    """
    text = str(text)
    return repr(text) if len(text) <= limit else repr(text[:limit])[:-1] + "…" + repr(text[:limit])[-1]


def _num(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def int_arg(text, what: str, low: int | None = None, high: int | None = None) -> int | None:
    """An optional whole number from a query argument, within [low, high].

    Raises
    ------
    CfgraphError
        On text that is not a whole number, or a number out of range.

    Examples
    --------
    >>> int_arg(" 7 ", "page", 1, 9), int_arg("", "page")
    (7, None)
    >>> int_arg("99999999999999999999", "max_size", 0, 45)
    Traceback (most recent call last):
    ...
    cfgraph.errors.CfgraphError: max_size='99999999999999999999' is too large (range 0..45)
    >>> int_arg("2.5", "min_size")
    Traceback (most recent call last):
    ...
    cfgraph.errors.CfgraphError: min_size must be a whole number, not '2.5'
    """
    if text is None or str(text).strip() == "":
        return None
    text = str(text).strip()
    if re.fullmatch(r"[+-]?\d{10,}", text):  # a whole number, just far out of any range here
        low_end, high_end = ("" if low is None else low), ("" if high is None else high)
        raise CfgraphError(f"{what}={quoted(text, 20)} is too {'small' if text[0] == '-' else 'large'} "
                           f"(range {low_end}..{high_end})")
    if not re.fullmatch(r"[+-]?\d{1,9}", text):
        raise CfgraphError(f"{what} must be a whole number, not {quoted(text, 20)}")
    value = int(text)
    if (low is not None and value < low) or (high is not None and value > high):
        raise CfgraphError(f"{what}={value} is out of range {low}..{high}")
    return value


class SampledReads:
    """Reads of a world's stored training sets and neighbours (mixed into :class:`cfgraph.world.World`,
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
                                f"{self.stored_count()} stored): {what} would need all of them; see its values and "
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
        raise CfgraphError(f"world {self.name!r} has no unit {quoted(text)}")

    # ------------------------------------------------------------------ cells of stored nodes

    def stored_cells(self, node_ids, metric: str | None, seed) -> tuple:
        """Cells of some stored nodes on every slice (one query per chunk of nodes).

        Parameters
        ----------
        node_ids : array-like of int, shape (b,)
        metric : str, optional
            Default: the world's metric.
        seed : int or str, optional
            None or "": the mean over the world's seeds (NaN unless every seed holds the cell).

        Returns
        -------
        values : ndarray of float, shape (b, number of slices)
        status : ndarray of str, same shape: the stored status of a scored cell (``ok``, ``baseline``
            for the empty set, ``constant`` for a one-class training set), else ``failed`` (stored,
            no score) or ``missing``
        metric : str
        seed : int, or None for the mean over seeds
        """
        from cfgraph.store import cells

        if seed is None or str(seed).strip() == "":
            metric, _ = self.choose(metric)
            seeds, used = list(self.seeds), (None if len(self.seeds) > 1 else self.seeds[0])
        else:
            metric, used = self.choose(metric, seed)
            seeds = [used]
        ids = np.asarray(node_ids, dtype=np.int64)
        shape = (len(ids), len(self.slices))
        if len(ids) == 0:
            return np.empty(shape), np.empty(shape, dtype=object), metric, used
        values, present, codes = cells.cells_of_nodes(self.session, self.record, ids, [metric], seeds, status=True)
        values, present, codes = values[..., 0], present[..., 0], codes[..., 0]  # (b, seeds, slices)
        with np.errstate(invalid="ignore"):
            value = values.mean(axis=1)
        # A scored cell keeps the status the store gave it (the empty set's ``baseline``, a one-class
        # set's ``constant``): the value alone cannot tell those from an ``ok`` fit. Across seeds the
        # highest code shows (a degenerate seed marks the mean).
        stored = np.asarray(CELL_STATUSES, dtype=object)[np.maximum(codes.max(axis=1), 0)]
        status = np.where(~np.isnan(value), stored, np.where(present.all(axis=1), "failed", "missing")).astype(object)
        return value, status, metric, used

    def stored_column(self, node_ids, slice_name: str | None, metric: str | None, seed) -> tuple:
        """Cells of some stored nodes on one slice: like :meth:`stored_cells`, with values and
        status of shape (b,)."""
        j = [s.id for s in self.slices].index(self.find_slice(slice_name).id)
        values, status, metric, used = self.stored_cells(node_ids, metric, seed)
        return values[:, j], status[:, j], metric, used

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
        low = int_arg(min_size, "min_size", 0, self.n)
        high = int_arg(max_size, "max_size", 0, self.n)
        if low is not None and high is not None and low > high:
            raise CfgraphError(f"min_size={low} is above max_size={high}")
        the_slice = self.find_slice(slice_name or ("all" if any(s.name == "all" for s in self.slices) else None))
        matched = int(nodes.count_nodes(self.session, self.record, contains=unit, min_size=low, max_size=high))
        pages = max(1, -(-matched // per_page))
        number = int_arg(page, "page", 1, pages) or 1
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
            raise NotFound(f"world {self.name!r} stores no training set {quoted(label, 60)} "
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
        table, status, used_metric, used_seed = self.stored_cells(ids, metric, seed)  # (len(ids), slices)
        status = [str(x) for x in status[0]]
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
