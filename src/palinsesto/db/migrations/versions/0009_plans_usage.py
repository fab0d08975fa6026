"""self-service panels: plans on tenants, metered usage per tenant per day

Revision ID: 0009_plans_usage
Revises: 0008_rights
Create Date: 2026-11-29 01:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import palinsesto.db.base

revision: str = "0009_plans_usage"
down_revision: str | Sequence[str] | None = "0008_rights"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("plan", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("max_viewers", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("max_storage_gb", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("trial_ends_at", palinsesto.db.base.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "usage_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("viewer_seconds", sa.BigInteger(), nullable=False),
        sa.Column("peak_viewers", sa.Integer(), nullable=False),
        sa.Column("egress_bytes", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_usage_days_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_days")),
        sa.UniqueConstraint("tenant_id", "day", name=op.f("uq_usage_days_tenant_id_day")),
    )
    op.create_index(op.f("ix_usage_days_tenant_id"), "usage_days", ["tenant_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_usage_days_tenant_id"), table_name="usage_days")
    op.drop_table("usage_days")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("trial_ends_at")
        batch.drop_column("max_storage_gb")
        batch.drop_column("max_viewers")
        batch.drop_column("plan")
