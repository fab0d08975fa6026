"""rights records with evidence, territory rules, blackout windows; tenants.rights_required

Revision ID: 0008_rights
Revises: 0007_programme_details
Create Date: 2026-11-29 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import palinsesto.db.base

revision: str = "0008_rights"
down_revision: str | Sequence[str] | None = "0007_programme_details"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = palinsesto.db.base.UTCDateTime(timezone=True)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        # Existing tenants keep distributing as before; new ones get it from the admin API.
        batch.add_column(
            sa.Column("rights_required", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "rights_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("item_type", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("licence_ref", sa.String(length=200), nullable=False),
        sa.Column("starts_at", _TIME, nullable=False),
        sa.Column("ends_at", _TIME, nullable=True),
        sa.Column("territories", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        _tenant_fk("rights_records"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_records")),
    )
    op.create_index(
        "ix_rights_records_item", "rights_records", ["tenant_id", "item_type", "item_id"]
    )
    op.create_table(
        "rights_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["rights_records.id"],
            name=op.f("fk_rights_evidence_record_id_rights_records"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_evidence")),
    )
    op.create_index(op.f("ix_rights_evidence_record_id"), "rights_evidence", ["record_id"])
    op.create_table(
        "territory_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("item_type", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("allowed", sa.JSON(), nullable=False),
        sa.Column("blocked", sa.JSON(), nullable=False),
        sa.Column("deny_unknown", sa.Boolean(), nullable=False),
        _tenant_fk("territory_rules"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_territory_rules")),
        sa.UniqueConstraint(
            "tenant_id",
            "item_type",
            "item_id",
            name=op.f("uq_territory_rules_tenant_id_item_type_item_id"),
        ),  # fmt: skip
    )
    op.create_table(
        "blackout_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("item_type", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", _TIME, nullable=False),
        sa.Column("ends_at", _TIME, nullable=False),
        sa.Column("countries", sa.JSON(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        _tenant_fk("blackout_windows"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blackout_windows")),
    )
    op.create_index(
        "ix_blackout_windows_item", "blackout_windows", ["tenant_id", "item_type", "item_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_blackout_windows_item", table_name="blackout_windows")
    op.drop_table("blackout_windows")
    op.drop_table("territory_rules")
    op.drop_index(op.f("ix_rights_evidence_record_id"), table_name="rights_evidence")
    op.drop_table("rights_evidence")
    op.drop_index("ix_rights_records_item", table_name="rights_records")
    op.drop_table("rights_records")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("rights_required")
