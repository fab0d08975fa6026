"""M3U sources the panel re-imports on a schedule, and the channels each one brought

Revision ID: 0011_m3u_sources
Revises: 0010_media_library
Create Date: 2026-11-29 03:15:52.056430
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import palinsesto.db.base

revision: str = "0011_m3u_sources"
down_revision: str | Sequence[str] | None = "0010_media_library"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "m3u_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("bouquet_id", sa.Integer(), nullable=True),
        sa.Column("refresh_hours", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("last_run_at", palinsesto.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=16), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("last_summary", sa.JSON(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("next_run_at", palinsesto.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", palinsesto.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bouquet_id"],
            ["bouquets.id"],
            name=op.f("fk_m3u_sources_bouquet_id_bouquets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_m3u_sources_category_id_categories"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_m3u_sources_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_m3u_sources")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_m3u_sources_tenant_id_name")),
    )
    with op.batch_alter_table("m3u_sources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_m3u_sources_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "m3u_source_channels",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("disabled_by_source", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_m3u_source_channels_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["m3u_sources.id"],
            name=op.f("fk_m3u_source_channels_source_id_m3u_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_id", "channel_id", name=op.f("pk_m3u_source_channels")),
    )
    with op.batch_alter_table("m3u_source_channels", schema=None) as batch_op:
        batch_op.create_index("ix_m3u_source_channels_channel", ["channel_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("m3u_source_channels", schema=None) as batch_op:
        batch_op.drop_index("ix_m3u_source_channels_channel")

    op.drop_table("m3u_source_channels")
    with op.batch_alter_table("m3u_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_m3u_sources_tenant_id"))

    op.drop_table("m3u_sources")
