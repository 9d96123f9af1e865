"""The lattice store: world, unit, node, edge, eval_slice, cell and the grid view.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GRID_VIEW = """
CREATE VIEW grid AS
SELECT w.name AS world,
       n.label AS train_set,
       s.name AS eval_slice,
       c.metric AS metric,
       c.seed AS seed,
       c.value AS value,
       c.status AS status,
       n.mask AS train_mask,
       n.size AS train_size
FROM cell c
JOIN node n ON n.id = c.node_id
JOIN eval_slice s ON s.id = c.slice_id
JOIN world w ON w.id = n.world_id
"""


def upgrade() -> None:
    op.create_table(
        "world",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("dataset", sa.String(500), nullable=True),
        sa.Column("split", sa.JSON(), nullable=True),
        sa.Column("grouping", sa.JSON(), nullable=True),
        sa.Column("model_spec", sa.String(500), nullable=True),
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column("eval_slices", sa.String(20), nullable=False),
        sa.Column("n_units", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=True),
        sa.Column("versions", sa.JSON(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_world")),
        sa.UniqueConstraint("name", name=op.f("uq_world_name")),
    )
    op.create_table(
        "unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("world_id", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(8), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("definition", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["world_id"], ["world.id"], name=op.f("fk_unit_world_id_world"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit")),
        sa.UniqueConstraint("world_id", "idx", name=op.f("uq_unit_world_id_idx")),
        sa.UniqueConstraint("world_id", "label", name=op.f("uq_unit_world_id_label")),
    )
    op.create_table(
        "node",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("world_id", sa.Integer(), nullable=False),
        sa.Column("mask", sa.BigInteger(), nullable=False),
        sa.Column("label", sa.String(40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["world_id"], ["world.id"], name=op.f("fk_node_world_id_world"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_node")),
        sa.UniqueConstraint("world_id", "mask", name=op.f("uq_node_world_id_mask")),
        sa.UniqueConstraint("world_id", "label", name=op.f("uq_node_world_id_label")),
    )
    op.create_index("ix_node_world_id_size", "node", ["world_id", "size"])
    op.create_table(
        "edge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("world_id", sa.Integer(), nullable=False),
        sa.Column("src_node_id", sa.Integer(), nullable=False),
        sa.Column("dst_node_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["world_id"], ["world.id"], name=op.f("fk_edge_world_id_world"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["src_node_id"], ["node.id"], name=op.f("fk_edge_src_node_id_node"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["dst_node_id"], ["node.id"], name=op.f("fk_edge_dst_node_id_node"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_edge_unit_id_unit"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edge")),
        sa.UniqueConstraint("src_node_id", "unit_id", name=op.f("uq_edge_src_node_id_unit_id")),
    )
    op.create_index("ix_edge_dst_node_id", "edge", ["dst_node_id"])
    op.create_index(op.f("ix_edge_world_id"), "edge", ["world_id"])
    op.create_table(
        "eval_slice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("world_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("mask", sa.BigInteger(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("definition", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["world_id"], ["world.id"], name=op.f("fk_eval_slice_world_id_world"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_slice")),
        sa.UniqueConstraint("world_id", "name", name=op.f("uq_eval_slice_world_id_name")),
    )
    op.create_table(
        "cell",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("slice_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("fit_seconds", sa.Float(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('ok', 'baseline', 'single_class', 'failed')", name=op.f("ck_cell_status")),
        sa.CheckConstraint("status = 'failed' OR value IS NOT NULL", name=op.f("ck_cell_value_unless_failed")),
        sa.ForeignKeyConstraint(["node_id"], ["node.id"], name=op.f("fk_cell_node_id_node"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["slice_id"], ["eval_slice.id"], name=op.f("fk_cell_slice_id_eval_slice"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cell")),
        sa.UniqueConstraint("node_id", "slice_id", "metric", "seed", name=op.f("uq_cell_node_id_slice_id_metric_seed")),
    )
    op.create_index("ix_cell_slice_id", "cell", ["slice_id"])
    op.execute(GRID_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS grid")
    op.drop_table("cell")
    op.drop_table("eval_slice")
    op.drop_table("edge")
    op.drop_table("node")
    op.drop_table("unit")
    op.drop_table("world")
