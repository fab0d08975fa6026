"""streaming nodes: what a node registers (RTMP address, capacity, version), draining,
and the play-token signing key ring

Revision ID: 0012_nodes
Revises: 0011_m3u_sources
Create Date: 2026-11-29 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import palinsesto.db.base

revision: str = "0012_nodes"
down_revision: str | Sequence[str] | None = "0011_m3u_sources"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("servers") as batch:
        batch.add_column(sa.Column("rtmp_url", sa.String(500), nullable=False, server_default=""))
        batch.add_column(sa.Column("egress_mbps", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("max_channels", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("cpus", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("version", sa.String(40), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("draining", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_index(batch.f("ix_servers_token_hash"), ["token_hash"], unique=False)
    op.create_table(
        "play_signing_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", palinsesto.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", palinsesto.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_play_signing_keys")),
    )


def downgrade() -> None:
    op.drop_table("play_signing_keys")
    with op.batch_alter_table("servers") as batch:
        batch.drop_index(batch.f("ix_servers_token_hash"))
        for name in ("draining", "version", "cpus", "max_channels", "egress_mbps", "rtmp_url"):
            batch.drop_column(name)
