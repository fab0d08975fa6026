"""notices, the actions taken on them, trusted notifiers

Revision ID: 0003_notices
Revises: 0002_audit_chain
Create Date: 2026-11-29 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import palinsesto.db.base

revision: str = "0003_notices"
down_revision: str | Sequence[str] | None = "0002_audit_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = palinsesto.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "trusted_notifiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_trusted_notifiers_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trusted_notifiers")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_trusted_notifiers_key_hash")),
    )
    op.create_index(op.f("ix_trusted_notifiers_tenant_id"), "trusted_notifiers", ["tenant_id"])
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("receipt", sa.String(length=32), nullable=False),
        sa.Column("regime", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("trusted", sa.Boolean(), nullable=False),
        sa.Column("notifier_id", sa.Integer(), nullable=True),
        sa.Column("notifier_name", sa.String(length=200), nullable=False),
        sa.Column("notifier_email", sa.String(length=254), nullable=False),
        sa.Column("notifier_address", sa.String(length=500), nullable=False),
        sa.Column("notifier_phone", sa.String(length=40), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("work", sa.Text(), nullable=False),
        sa.Column("locations", sa.JSON(), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("good_faith", sa.Boolean(), nullable=False),
        sa.Column("accurate", sa.Boolean(), nullable=False),
        sa.Column("authorised", sa.Boolean(), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.Column("decided_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_notices_tenant_id_tenants"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["notifier_id"],
            ["trusted_notifiers.id"],
            name=op.f("fk_notices_notifier_id_trusted_notifiers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("receipt", name=op.f("uq_notices_receipt")),
    )
    op.create_index("ix_notices_tenant_received", "notices", ["tenant_id", "received_at"])
    op.create_table(
        "notice_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("expires_at", _TIME, nullable=True),
        sa.Column("statement", sa.JSON(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notices.id"],
            name=op.f("fk_notice_actions_notice_id_notices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_actions")),
    )
    op.create_index(op.f("ix_notice_actions_notice_id"), "notice_actions", ["notice_id"])


def downgrade() -> None:
    op.drop_table("notice_actions")
    op.drop_table("notices")
    op.drop_table("trusted_notifiers")
