"""Related work from Semble: related_collection, related_card, related_note, related_link,
related_refresh and related_skip.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "related_collection",
        sa.Column("uri", sa.String(512), nullable=False),
        sa.Column("cid", sa.String(128), nullable=False),
        sa.Column("did", sa.String(256), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("access_type", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("uri", name=op.f("pk_related_collection")),
    )
    op.create_index(op.f("ix_related_collection_did"), "related_collection", ["did"])

    op.create_table(
        "related_card",
        sa.Column("uri", sa.String(512), nullable=False),
        sa.Column("cid", sa.String(128), nullable=False),
        sa.Column("did", sa.String(256), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("published_date", sa.Text(), nullable=True),
        sa.Column("site_name", sa.String(500), nullable=True),
        sa.Column("content_type", sa.String(100), nullable=True),
        sa.Column("doi", sa.String(300), nullable=True),
        sa.Column("isbn", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("uri", name=op.f("pk_related_card")),
    )
    op.create_index(op.f("ix_related_card_did"), "related_card", ["did"])

    op.create_table(
        "related_note",
        sa.Column("uri", sa.String(512), nullable=False),
        sa.Column("cid", sa.String(128), nullable=False),
        sa.Column("did", sa.String(256), nullable=False),
        sa.Column("card_uri", sa.String(512), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("citation_key", sa.String(200), nullable=True),
        sa.Column("entry_type", sa.String(50), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("authors", sa.JSON(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("venue", sa.Text(), nullable=True),
        sa.Column("doi", sa.String(300), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=True),
        sa.Column("abstract", sa.Text(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_uri"], ["related_card.uri"], name=op.f("fk_related_note_card_uri_related_card"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("uri", name=op.f("pk_related_note")),
    )
    op.create_index(op.f("ix_related_note_did"), "related_note", ["did"])
    op.create_index(op.f("ix_related_note_card_uri"), "related_note", ["card_uri"])

    op.create_table(
        "related_link",
        sa.Column("uri", sa.String(512), nullable=False),
        sa.Column("cid", sa.String(128), nullable=False),
        sa.Column("did", sa.String(256), nullable=False),
        sa.Column("collection_uri", sa.String(512), nullable=False),
        sa.Column("card_uri", sa.String(512), nullable=False),
        sa.Column("added_by", sa.String(256), nullable=True),
        sa.Column("added_at", sa.DateTime(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_uri"], ["related_collection.uri"],
            name=op.f("fk_related_link_collection_uri_related_collection"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["card_uri"], ["related_card.uri"], name=op.f("fk_related_link_card_uri_related_card"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("uri", name=op.f("pk_related_link")),
        sa.UniqueConstraint("collection_uri", "card_uri", name=op.f("uq_related_link_collection_uri_card_uri")),
    )
    op.create_index(op.f("ix_related_link_did"), "related_link", ["did"])
    op.create_index(op.f("ix_related_link_card_uri"), "related_link", ["card_uri"])

    op.create_table(
        "related_refresh",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(1000), nullable=False),
        sa.Column("did", sa.String(256), nullable=False),
        sa.Column("selection", sa.String(200), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_related_refresh")),
    )
    op.create_index(op.f("ix_related_refresh_did"), "related_refresh", ["did"])

    op.create_table(
        "related_skip",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("refresh_id", sa.Integer(), nullable=False),
        sa.Column("nsid", sa.String(200), nullable=True),
        sa.Column("uri", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["refresh_id"], ["related_refresh.id"], name=op.f("fk_related_skip_refresh_id_related_refresh"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_related_skip")),
    )
    op.create_index(op.f("ix_related_skip_refresh_id"), "related_skip", ["refresh_id"])


def downgrade() -> None:
    op.drop_table("related_skip")
    op.drop_table("related_refresh")
    op.drop_table("related_link")
    op.drop_table("related_note")
    op.drop_table("related_card")
    op.drop_table("related_collection")
