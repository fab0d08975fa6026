"""legal operations: counter-notices, action expiry and review, operator details and IP
retention per tenant, salted personal fields in the audit chain

Revision ID: 0013_legal_ops
Revises: 0012_nodes
Create Date: 2026-11-29 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import palinsesto.db.base

revision: str = "0013_legal_ops"
down_revision: str | Sequence[str] | None = "0012_nodes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = palinsesto.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("salts", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("redacted", sa.JSON(), nullable=True))
    with op.batch_alter_table("notice_actions") as batch:
        batch.add_column(sa.Column("reference", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("review_at", _TIME, nullable=True))
        batch.add_column(sa.Column("lifted_at", _TIME, nullable=True))
        batch.add_column(
            sa.Column("lift_reason", sa.String(length=16), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("lift_statement", sa.JSON(), nullable=True))
        batch.create_unique_constraint(op.f("uq_notice_actions_reference"), ["reference"])
    with op.batch_alter_table("tenants") as batch:
        for name, length in (
            ("operator_name", 200),
            ("operator_address", 500),
            ("operator_email", 254),
            ("security_contact", 254),
        ):
            batch.add_column(
                sa.Column(name, sa.String(length=length), nullable=False, server_default="")
            )
        batch.add_column(sa.Column("ip_truncate_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("ip_remove_days", sa.Integer(), nullable=True))
    op.create_table(
        "counter_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("receipt", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("good_faith", sa.Boolean(), nullable=False),
        sa.Column("consent_jurisdiction", sa.Boolean(), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.Column("notifier_told_at", _TIME, nullable=True),
        sa.Column("restore_due_at", _TIME, nullable=False),
        sa.Column("legal_action_at", _TIME, nullable=True),
        sa.Column("legal_action_note", sa.Text(), nullable=False),
        sa.Column("restored_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_counter_notices_tenant_id_tenants"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["notice_actions.id"],
            name=op.f("fk_counter_notices_action_id_notice_actions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notices.id"],
            name=op.f("fk_counter_notices_notice_id_notices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counter_notices")),
        sa.UniqueConstraint("receipt", name=op.f("uq_counter_notices_receipt")),
    )
    op.create_index(
        op.f("ix_counter_notices_action_id"), "counter_notices", ["action_id"], unique=False
    )
    op.create_index(
        "ix_counter_notices_tenant_received",
        "counter_notices",
        ["tenant_id", "received_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_counter_notices_tenant_received", table_name="counter_notices")
    op.drop_index(op.f("ix_counter_notices_action_id"), table_name="counter_notices")
    op.drop_table("counter_notices")
    with op.batch_alter_table("tenants") as batch:
        for name in (
            "ip_remove_days",
            "ip_truncate_days",
            "security_contact",
            "operator_email",
            "operator_address",
            "operator_name",
        ):
            batch.drop_column(name)
    with op.batch_alter_table("notice_actions") as batch:
        batch.drop_constraint(op.f("uq_notice_actions_reference"), type_="unique")
        for name in ("lift_statement", "lift_reason", "lifted_at", "review_at", "reference"):
            batch.drop_column(name)
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("redacted")
        batch.drop_column("salts")
