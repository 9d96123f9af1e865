"""Variant worlds: a world may record its parent world and the recipe that derived it.

Adds world.parent_world_id and world.recipe, and the view variant_delta that
lines each variant's cells up with its parent's on the same (training set,
evaluation slice, metric, seed).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

VARIANT_DELTA_VIEW = """
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
"""


GRID_VIEW = """
CREATE VIEW grid AS
SELECT w.name AS world, n.label AS train_set, s.name AS eval_slice, c.metric AS metric,
       c.seed AS seed, c.value AS value, c.status AS status, n.mask AS train_mask, n.size AS train_size
FROM cell c
JOIN node n ON n.id = c.node_id
JOIN eval_slice s ON s.id = c.slice_id
JOIN world w ON w.id = n.world_id
"""


def upgrade() -> None:
    # SQLite rebuilds `world` in batch mode; a view over it must not exist meanwhile.
    op.execute("DROP VIEW IF EXISTS grid")
    with op.batch_alter_table("world") as batch:
        batch.add_column(sa.Column("parent_world_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("recipe", sa.JSON(), nullable=True))
        batch.create_foreign_key(
            "fk_world_parent_world_id_world", "world", ["parent_world_id"], ["id"], ondelete="SET NULL"
        )
    op.execute(GRID_VIEW)
    op.execute(VARIANT_DELTA_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS variant_delta")
    op.execute("DROP VIEW IF EXISTS grid")
    with op.batch_alter_table("world") as batch:
        batch.drop_constraint("fk_world_parent_world_id_world", type_="foreignkey")
        batch.drop_column("recipe")
        batch.drop_column("parent_world_id")
    op.execute(GRID_VIEW)
