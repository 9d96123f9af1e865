"""Semble connections: related_connection, typed edges between related-work papers.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "related_connection",
        sa.Column("uri", sa.String(512), nullable=False),
        sa.Column("cid", sa.String(128), nullable=False),
        sa.Column("did", sa.String(256), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("source_card_uri", sa.String(512), nullable=False),
        sa.Column("target_card_uri", sa.String(512), nullable=False),
        sa.Column("connection_type", sa.String(20), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_card_uri"], ["related_card.uri"],
            name=op.f("fk_related_connection_source_card_uri_related_card"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_card_uri"], ["related_card.uri"],
            name=op.f("fk_related_connection_target_card_uri_related_card"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("uri", name=op.f("pk_related_connection")),
    )
    op.create_index(op.f("ix_related_connection_did"), "related_connection", ["did"])
    op.create_index(op.f("ix_related_connection_source_card_uri"), "related_connection", ["source_card_uri"])
    op.create_index(op.f("ix_related_connection_target_card_uri"), "related_connection", ["target_card_uri"])


def downgrade() -> None:
    op.drop_table("related_connection")
