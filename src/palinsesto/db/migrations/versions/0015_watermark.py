"""forensic watermark: rights records that ask for it, and the marked plays

Revision ID: 0015_watermark
Revises: 0014_creators_domains
Create Date: 2026-11-29 07:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import palinsesto.db.base

revision: str = "0015_watermark"
down_revision: str | Sequence[str] | None = "0014_creators_domains"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = palinsesto.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("rights_records") as batch:
        batch.add_column(
            sa.Column("watermark", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "watermark_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("output", sa.String(length=8), nullable=False),
        sa.Column("slot_seconds", sa.Float(), nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_watermark_marks_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watermark_marks")),
    )
    op.create_index(
        "ix_watermark_marks_tenant_started",
        "watermark_marks",
        ["tenant_id", "started_at"],
        unique=False,
    )
    op.create_index("ix_watermark_marks_code", "watermark_marks", ["code"], unique=False)
    op.create_index("ix_watermark_marks_session", "watermark_marks", ["session_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_watermark_marks_session", table_name="watermark_marks")
    op.drop_index("ix_watermark_marks_code", table_name="watermark_marks")
    op.drop_index("ix_watermark_marks_tenant_started", table_name="watermark_marks")
    op.drop_table("watermark_marks")
    with op.batch_alter_table("rights_records") as batch:
        batch.drop_column("watermark")
