"""The view marginal: every add-one step's marginal contribution on every slice.

One row per edge S -> S + {i} of the Hasse diagram and (slice, metric, seed)
where both cells are stored: the score without and with the unit and their
difference. Averages over it are semivalues (the plain mean over a unit's rows
is its Banzhaf value); a poison unit's rows are the attack deltas f(S+P) - f(S).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

MARGINAL_VIEW = """
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
"""


def upgrade() -> None:
    op.execute(MARGINAL_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS marginal")
