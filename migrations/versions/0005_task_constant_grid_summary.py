"""Any supervised task, a task-neutral status, and the per-cell summary over seeds.

- ``world.task``: "classification" or "regression" (existing worlds are classification).
- Cell status ``single_class`` becomes ``constant``: a training set whose target is
  constant predicts that constant, for a class label or a number alike.
- The view ``grid_summary``: for every cell (training set x slice x metric), the mean,
  sample standard deviation and count of its values over seeds.

On SQLite the cell table is rebuilt (batch mode) to change its CHECK constraint; the
views over it are dropped first and recreated after, since SQLite refuses to rename
a table that a view names.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OLD_STATUSES = "('ok', 'baseline', 'single_class', 'failed')"
BOTH_STATUSES = "('ok', 'baseline', 'single_class', 'constant', 'failed')"
NEW_STATUSES = "('ok', 'baseline', 'constant', 'failed')"

# The sample standard deviation in two passes: each value's distance from its cell's mean
# (a window average), so scores of any scale (an MSE in the thousands) lose no digits, as the
# one-pass sum-of-squares formula would; seeds that agree give their value and exactly 0.
GRID_SUMMARY_VIEW = """
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
"""


def _cell_table(statuses: str) -> sa.Table:
    """The cell table as migration 0001 made it, with the given status constraint."""
    return sa.Table(
        "cell",
        sa.MetaData(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("slice_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("fit_seconds", sa.Float(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(f"status IN {statuses}", name="ck_cell_status"),
        sa.CheckConstraint("status = 'failed' OR value IS NOT NULL", name="ck_cell_value_unless_failed"),
        sa.ForeignKeyConstraint(["node_id"], ["node.id"], name="fk_cell_node_id_node", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["slice_id"], ["eval_slice.id"], name="fk_cell_slice_id_eval_slice",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_cell"),
        sa.UniqueConstraint("node_id", "slice_id", "metric", "seed", name="uq_cell_node_id_slice_id_metric_seed"),
        sa.Index("ix_cell_slice_id", "slice_id"),
    )


def _set_status_constraint(old: str, new: str) -> None:
    with op.batch_alter_table("cell", copy_from=_cell_table(old)) as batch:
        batch.drop_constraint(op.f("ck_cell_status"), type_="check")
        batch.create_check_constraint(op.f("ck_cell_status"), f"status IN {new}")


def _drop_views() -> list[str]:
    """Drop the views (SQLite only) and return their CREATE statements, to recreate them."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return []
    views = bind.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY name")).all()
    for name, _ in views:
        op.execute(f'DROP VIEW "{name}"')
    return [sql for _, sql in views]


def upgrade() -> None:
    with op.batch_alter_table("world") as batch:
        batch.add_column(sa.Column("task", sa.String(20), nullable=False, server_default="classification"))
    views = _drop_views()
    _set_status_constraint(OLD_STATUSES, BOTH_STATUSES)
    op.execute("UPDATE cell SET status = 'constant' WHERE status = 'single_class'")
    _set_status_constraint(BOTH_STATUSES, NEW_STATUSES)
    for sql in views:
        op.execute(sql)
    op.execute(GRID_SUMMARY_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS grid_summary")
    views = _drop_views()
    _set_status_constraint(NEW_STATUSES, BOTH_STATUSES)
    op.execute("UPDATE cell SET status = 'single_class' WHERE status = 'constant'")
    _set_status_constraint(BOTH_STATUSES, OLD_STATUSES)
    with op.batch_alter_table("world") as batch:
        batch.drop_column("task")
    for sql in views:
        op.execute(sql)
