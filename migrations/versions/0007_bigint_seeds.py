"""Seeds as 64-bit integers on PostgreSQL.

A seed is any of numpy's ``random_state`` values, 0 to 2^32 - 1, but PostgreSQL's
INTEGER ends at 2^31 - 1; SQLite's INTEGER is already 64-bit, so only PostgreSQL
changes. PostgreSQL refuses to change the type of a column a view reads, so the
views are dropped first and recreated after from their own stored definitions.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: In creation order (a later view may read an earlier one).
VIEWS = ("grid", "variant_delta", "marginal", "grid_summary")
COLUMNS = (("world", "seed"), ("cell", "seed"), ("valuation", "sampler_seed"), ("estimate", "seed"))


def _retype(kind) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    definitions = {view: bind.execute(sa.text("SELECT pg_get_viewdef(CAST(:v AS regclass), true)"),
                                      {"v": view}).scalar() for view in VIEWS}
    for view in reversed(VIEWS):
        op.execute(f"DROP VIEW {view}")
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=kind)
    for view in VIEWS:
        op.execute(f"CREATE VIEW {view} AS {definitions[view]}")


def upgrade() -> None:
    _retype(sa.BigInteger())


def downgrade() -> None:
    _retype(sa.Integer())
