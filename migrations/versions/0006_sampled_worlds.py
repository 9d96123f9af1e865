"""Sampled worlds: training sets of any number of units, and stored estimates.

- ``world.lattice``: "exhaustive" (all 2^n training sets, n <= 16) or "sampled"
  (a training set becomes a node the first time it is fitted).
- ``node.members``: the training set as a packed bitset (bit i of byte i // 8 is
  unit i, the bit order of ``get_bit``); ``node.digest``: its 63-bit Zobrist digest,
  unique per world (how a sampled world finds a node and its stored neighbours).
  ``node.mask`` becomes nullable: a training set of more than 62 units has none.
  Existing nodes are backfilled from their masks.
- ``unit.label`` widens to 40 characters (units beyond 26 are named, e.g. "r123").
- Tables ``valuation`` (one estimator run) and ``estimate`` (its values with errors).

The views name ``node`` and ``unit`` columns: PostgreSQL refuses to change the type of
a column a view reads, and SQLite to rebuild a table a view names, so they are dropped
first and recreated after, on every dialect.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import numpy as np
import sqlalchemy as sa
from alembic import op

from cfgraph import bitsets

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: Rows per executemany of the backfill.
BATCH = 5000

VIEWS = {
    "grid": """
CREATE VIEW grid AS
SELECT w.name AS world, n.label AS train_set, s.name AS eval_slice, c.metric AS metric,
       c.seed AS seed, c.value AS value, c.status AS status, n.mask AS train_mask, n.size AS train_size
FROM cell c
JOIN node n ON n.id = c.node_id
JOIN eval_slice s ON s.id = c.slice_id
JOIN world w ON w.id = n.world_id
""",
    "variant_delta": """
CREATE VIEW variant_delta AS
SELECT v.name AS world,
       p.name AS parent_world,
       v.recipe AS recipe,
       vn.label AS train_set,
       vs.name AS eval_slice,
       vc.metric AS metric,
       vc.seed AS seed,
       pc.value AS base_value,
       vc.value AS variant_value,
       vc.value - pc.value AS delta
FROM world v
JOIN world p ON p.id = v.parent_world_id
JOIN node vn ON vn.world_id = v.id
JOIN cell vc ON vc.node_id = vn.id
JOIN eval_slice vs ON vs.id = vc.slice_id
JOIN node pn ON pn.world_id = p.id AND pn.label = vn.label
JOIN eval_slice ps ON ps.world_id = p.id AND ps.name = vs.name
JOIN cell pc ON pc.node_id = pn.id AND pc.slice_id = ps.id AND pc.metric = vc.metric AND pc.seed = vc.seed
""",
    "marginal": """
CREATE VIEW marginal AS
SELECT w.name AS world,
       u.label AS unit,
       a.label AS train_set,
       b.label AS with_unit,
       a.size AS train_size,
       s.name AS eval_slice,
       ca.metric AS metric,
       ca.seed AS seed,
       ca.value AS base_value,
       cb.value AS value,
       cb.value - ca.value AS delta
FROM edge e
JOIN world w ON w.id = e.world_id
JOIN unit u ON u.id = e.unit_id
JOIN node a ON a.id = e.src_node_id
JOIN node b ON b.id = e.dst_node_id
JOIN cell ca ON ca.node_id = a.id
JOIN cell cb ON cb.node_id = b.id AND cb.slice_id = ca.slice_id AND cb.metric = ca.metric AND cb.seed = ca.seed
JOIN eval_slice s ON s.id = ca.slice_id
WHERE ca.value IS NOT NULL AND cb.value IS NOT NULL
""",
    "grid_summary": """
CREATE VIEW grid_summary AS
SELECT w.name AS world,
       n.label AS train_set,
       s.name AS eval_slice,
       d.metric AS metric,
       CASE WHEN min(d.value) = max(d.value) THEN min(d.value) ELSE avg(d.value) END AS mean,
       CASE WHEN count(*) < 2 THEN NULL
            WHEN min(d.value) = max(d.value) THEN 0.0
            ELSE sqrt(sum((d.value - d.cell_mean) * (d.value - d.cell_mean)) / (count(*) - 1))
       END AS std,
       count(*) AS n
FROM (SELECT node_id, slice_id, metric, value,
             avg(value) OVER (PARTITION BY node_id, slice_id, metric) AS cell_mean
      FROM cell WHERE value IS NOT NULL) d
JOIN node n ON n.id = d.node_id
JOIN eval_slice s ON s.id = d.slice_id
JOIN world w ON w.id = n.world_id
GROUP BY d.node_id, d.slice_id, d.metric, w.name, n.label, s.name
""",
}


def _drop_views() -> None:
    for name in reversed(list(VIEWS)):
        op.execute(f"DROP VIEW IF EXISTS {name}")


def _create_views() -> None:
    for sql in VIEWS.values():
        op.execute(sql)


def _backfill() -> None:
    """Members and digest of every existing node, from its mask (worlds of n <= 16 units)."""
    bind = op.get_bind()
    worlds = bind.execute(sa.text("SELECT id, n_units FROM world")).all()
    update = sa.text("UPDATE node SET members = :members, digest = :digest WHERE id = :id")
    for world_id, n in worlds:
        rows = bind.execute(sa.text("SELECT id, mask FROM node WHERE world_id = :w ORDER BY id"),
                            {"w": world_id}).all()
        if not rows:
            continue
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        masks = np.array([r[1] for r in rows], dtype=np.int64)
        members = ((masks[:, None] >> np.arange(n)) & 1).astype(bool)
        packed, digests = bitsets.pack(members), bitsets.digest(members)
        for start in range(0, len(ids), BATCH):
            stop = start + BATCH
            bind.execute(update, [
                {"members": row, "digest": int(d), "id": int(i)}
                for row, d, i in zip(packed[start:stop], digests[start:stop], ids[start:stop])
            ])


def upgrade() -> None:
    _drop_views()
    with op.batch_alter_table("world") as batch:
        batch.add_column(sa.Column("lattice", sa.String(20), nullable=False, server_default="exhaustive"))
    with op.batch_alter_table("unit") as batch:
        batch.alter_column("label", existing_type=sa.String(8), type_=sa.String(40), existing_nullable=False)
    with op.batch_alter_table("node") as batch:
        batch.add_column(sa.Column("members", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("digest", sa.BigInteger(), nullable=True))
    _backfill()
    with op.batch_alter_table("node") as batch:
        batch.alter_column("members", existing_type=sa.LargeBinary(), nullable=False)
        batch.alter_column("digest", existing_type=sa.BigInteger(), nullable=False)
        batch.alter_column("mask", existing_type=sa.BigInteger(), nullable=True)
        batch.create_index("ix_node_world_id_digest", ["world_id", "digest"], unique=True)
    op.create_table(
        "valuation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("world_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(40), nullable=False),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("sampler_seed", sa.Integer(), nullable=True),
        sa.Column("evaluations", sa.Integer(), nullable=False),
        sa.Column("fits", sa.Integer(), nullable=False),
        sa.Column("reused", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("stopped_by", sa.String(200), nullable=True),
        sa.Column("trace", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["world_id"], ["world.id"], name=op.f("fk_valuation_world_id_world"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_valuation")),
    )
    op.create_index("ix_valuation_world_id", "valuation", ["world_id"])
    op.create_table(
        "estimate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("valuation_id", sa.Integer(), nullable=False),
        sa.Column("world_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(40), nullable=False),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("slice_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("stderr", sa.Float(), nullable=True),
        sa.Column("n_samples", sa.Integer(), nullable=False),
        sa.Column("ci_low", sa.Float(), nullable=True),
        sa.Column("ci_high", sa.Float(), nullable=True),
        sa.Column("fits", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["valuation_id"], ["valuation.id"], name=op.f("fk_estimate_valuation_id_valuation"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["world_id"], ["world.id"], name=op.f("fk_estimate_world_id_world"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_estimate_unit_id_unit"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["slice_id"], ["eval_slice.id"], name=op.f("fk_estimate_slice_id_eval_slice"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_estimate")),
    )
    op.create_index("ix_estimate_world_id_method", "estimate", ["world_id", "method"])
    op.create_index("ix_estimate_valuation_id", "estimate", ["valuation_id"])
    _create_views()


def downgrade() -> None:
    _drop_views()
    op.drop_index("ix_estimate_valuation_id", table_name="estimate")
    op.drop_index("ix_estimate_world_id_method", table_name="estimate")
    op.drop_table("estimate")
    op.drop_index("ix_valuation_world_id", table_name="valuation")
    op.drop_table("valuation")
    # Sampled worlds cannot be told in the older schema; child rows go explicitly, since
    # SQLite migrates with foreign keys (and so cascades) off.
    sampled = "SELECT id FROM world WHERE lattice = 'sampled'"
    op.execute(f"DELETE FROM cell WHERE node_id IN (SELECT id FROM node WHERE world_id IN ({sampled}))")
    for table in ("edge", "node", "unit", "eval_slice"):
        op.execute(f"DELETE FROM {table} WHERE world_id IN ({sampled})")
    op.execute("UPDATE world SET parent_world_id = NULL WHERE parent_world_id IN "
               f"(SELECT id FROM ({sampled}) AS s)")
    op.execute("DELETE FROM world WHERE lattice = 'sampled'")
    with op.batch_alter_table("node") as batch:
        batch.drop_index("ix_node_world_id_digest")
        batch.alter_column("mask", existing_type=sa.BigInteger(), nullable=False)
        batch.drop_column("digest")
        batch.drop_column("members")
    with op.batch_alter_table("unit") as batch:
        batch.alter_column("label", existing_type=sa.String(40), type_=sa.String(8), existing_nullable=False)
    with op.batch_alter_table("world") as batch:
        batch.drop_column("lattice")
    _create_views()
