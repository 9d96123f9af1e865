"""The ORM models of the lattice store (SQLAlchemy 2.0 declarative).

Table and column names are a public interface: users query them with SQL.
The schema itself is created only by the Alembic migrations in ``migrations/``;
a test checks that these models and the migrations agree.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Cell statuses: a fitted model, the empty set's baseline (chance for classification,
#: the training split's mean target for regression), a training set whose target is
#: constant and so predicts that constant, or a fit/score that raised.
CELL_STATUSES = ("ok", "baseline", "constant", "failed")
#: The supervised tasks a world can hold.
TASKS = ("classification", "regression")
#: How a world holds its lattice: every training set up front, or those visited.
LATTICES = ("exhaustive", "sampled")

#: A seed column: 0 to 2^32 - 1 (numpy's random_state), past PostgreSQL's INTEGER; SQLite's is 64-bit already.
SEED = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class World(Base):
    """One universe: data, units, model, metric(s), seeds and evaluation slices."""

    __tablename__ = "world"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # trained | imported | variant
    task: Mapped[str] = mapped_column(String(20), server_default="classification")  # see TASKS
    lattice: Mapped[str] = mapped_column(String(20), server_default="exhaustive")  # see LATTICES
    dataset: Mapped[str | None] = mapped_column(String(500))
    split: Mapped[dict | None] = mapped_column(JSON)
    grouping: Mapped[dict | None] = mapped_column(JSON)
    model_spec: Mapped[str | None] = mapped_column(String(500))
    metric: Mapped[str] = mapped_column(String(100))
    seed: Mapped[int | None] = mapped_column(SEED)
    eval_slices: Mapped[str] = mapped_column(String(20))  # units | powerset | imported
    n_units: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict | None] = mapped_column(JSON)
    versions: Mapped[dict | None] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    # A variant world (corrupted, poisoned, DP, ...) records its parent and recipe.
    parent_world_id: Mapped[int | None] = mapped_column(ForeignKey("world.id", ondelete="SET NULL"))
    recipe: Mapped[dict | None] = mapped_column(JSON)

    units: Mapped[list[Unit]] = relationship(
        back_populates="world", order_by="Unit.idx", cascade="all, delete-orphan", passive_deletes=True
    )
    slices: Mapped[list[EvalSlice]] = relationship(
        back_populates="world", order_by="EvalSlice.position", cascade="all, delete-orphan", passive_deletes=True
    )


class Unit(Base):
    """A data object (one player): a point or a group of rows, labelled A, B, C, ... (or "r123", "U27")."""

    __tablename__ = "unit"
    __table_args__ = (
        UniqueConstraint("world_id", "idx"),
        UniqueConstraint("world_id", "label"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    world_id: Mapped[int] = mapped_column(ForeignKey("world.id", ondelete="CASCADE"))
    idx: Mapped[int] = mapped_column(Integer)  # bit position in a training set's mask
    label: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    size: Mapped[int | None] = mapped_column(Integer)  # training rows
    definition: Mapped[str | None] = mapped_column(Text)

    world: Mapped[World] = relationship(back_populates="units")


class Node(Base):
    """A training set: one node of the Boolean lattice.

    ``members`` is the packed bitset (:mod:`cfgraph.bitsets`; ``get_bit(members, unit.idx)``
    in SQL), ``digest`` its Zobrist digest, unique per world; ``mask`` the same set as an
    integer when the world has at most 62 units, else NULL.
    """

    __tablename__ = "node"
    __table_args__ = (
        UniqueConstraint("world_id", "mask"),
        UniqueConstraint("world_id", "label"),
        Index("ix_node_world_id_size", "world_id", "size"),
        Index("ix_node_world_id_digest", "world_id", "digest", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    world_id: Mapped[int] = mapped_column(ForeignKey("world.id", ondelete="CASCADE"))
    mask: Mapped[int | None] = mapped_column(BigInteger)
    label: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    members: Mapped[bytes] = mapped_column(LargeBinary)
    digest: Mapped[int] = mapped_column(BigInteger)


class Edge(Base):
    """One add-one step S -> S + {unit}; read backwards it is the remove-one step."""

    __tablename__ = "edge"
    __table_args__ = (
        UniqueConstraint("src_node_id", "unit_id"),
        Index("ix_edge_dst_node_id", "dst_node_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    world_id: Mapped[int] = mapped_column(ForeignKey("world.id", ondelete="CASCADE"), index=True)
    src_node_id: Mapped[int] = mapped_column(ForeignKey("node.id", ondelete="CASCADE"))
    dst_node_id: Mapped[int] = mapped_column(ForeignKey("node.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"))


class EvalSlice(Base):
    """An evaluation slice: the test rows of some units (or an imported benchmark)."""

    __tablename__ = "eval_slice"
    __table_args__ = (UniqueConstraint("world_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    world_id: Mapped[int] = mapped_column(ForeignKey("world.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    mask: Mapped[int | None] = mapped_column(BigInteger)  # union of units, when it is one
    size: Mapped[int | None] = mapped_column(Integer)  # test rows
    definition: Mapped[str | None] = mapped_column(Text)

    world: Mapped[World] = relationship(back_populates="slices")


class Cell(Base):
    """One score: training set x evaluation slice x metric x seed."""

    __tablename__ = "cell"
    __table_args__ = (
        UniqueConstraint("node_id", "slice_id", "metric", "seed"),
        Index("ix_cell_slice_id", "slice_id"),
        CheckConstraint(
            "status IN ('ok', 'baseline', 'constant', 'failed')", name="status"
        ),
        CheckConstraint("status = 'failed' OR value IS NOT NULL", name="value_unless_failed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("node.id", ondelete="CASCADE"))
    slice_id: Mapped[int] = mapped_column(ForeignKey("eval_slice.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(100))
    seed: Mapped[int] = mapped_column(SEED)
    value: Mapped[float | None] = mapped_column(Float)
    fit_seconds: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)


class Valuation(Base):
    """One run of an estimator on a world: its sampler, budget, stopping rule and trace."""

    __tablename__ = "valuation"
    __table_args__ = (Index("ix_valuation_world_id", "world_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    world_id: Mapped[int] = mapped_column(ForeignKey("world.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(40))  # shapley | banzhaf | beta(a,b) | loo
    params: Mapped[dict | None] = mapped_column(JSON)
    sampler_seed: Mapped[int | None] = mapped_column(SEED)
    evaluations: Mapped[int] = mapped_column(Integer)  # training sets used, stored or new
    fits: Mapped[int] = mapped_column(Integer)  # new fits
    reused: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float | None] = mapped_column(Float)
    stopped_by: Mapped[str | None] = mapped_column(String(200))
    trace: Mapped[list | None] = mapped_column(JSON)  # checkpoints of the target column
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Estimate(Base):
    """One estimated value: unit x slice x metric x seed (NULL: on the mean over seeds) of a valuation."""

    __tablename__ = "estimate"
    __table_args__ = (
        Index("ix_estimate_world_id_method", "world_id", "method"),
        Index("ix_estimate_valuation_id", "valuation_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    valuation_id: Mapped[int] = mapped_column(ForeignKey("valuation.id", ondelete="CASCADE"))
    world_id: Mapped[int] = mapped_column(ForeignKey("world.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict | None] = mapped_column(JSON)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"))
    slice_id: Mapped[int] = mapped_column(ForeignKey("eval_slice.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(100))
    seed: Mapped[int | None] = mapped_column(SEED)
    value: Mapped[float | None] = mapped_column(Float)
    stderr: Mapped[float | None] = mapped_column(Float)
    n_samples: Mapped[int] = mapped_column(Integer)
    ci_low: Mapped[float | None] = mapped_column(Float)
    ci_high: Mapped[float | None] = mapped_column(Float)
    fits: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
