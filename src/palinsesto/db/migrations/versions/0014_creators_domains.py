"""creators and custom domains: channel owners, creator invites, tenant domains, branding

Revision ID: 0014_creators_domains
Revises: 0013_legal_ops
Create Date: 2026-11-29 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import palinsesto.db.base

revision: str = "0014_creators_domains"
down_revision: str | Sequence[str] | None = "0013_legal_ops"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = palinsesto.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(
            sa.Column("brand_name", sa.String(length=200), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("brand_color", sa.String(length=7), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("brand_accent", sa.String(length=7), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("brand_logo", sa.LargeBinary(), nullable=True))
        batch.add_column(
            sa.Column("brand_logo_type", sa.String(length=32), nullable=False, server_default="")
        )
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("owner_user_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_channels_owner_user_id"), ["owner_user_id"], unique=False)
        batch.create_foreign_key(
            batch.f("fk_channels_owner_user_id_admin_users"),
            "admin_users",
            ["owner_user_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "tenant_domains",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("checked_at", UTC_TIME, nullable=True),
        sa.Column("dns_ok", sa.Boolean(), nullable=False),
        sa.Column("dns_detail", sa.String(length=500), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_domains_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_domains")),
        sa.UniqueConstraint("host", name=op.f("uq_tenant_domains_host")),
    )
    op.create_index(
        op.f("ix_tenant_domains_tenant_id"), "tenant_domains", ["tenant_id"], unique=False
    )
    op.create_table(
        "creator_invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by", sa.Integer(), nullable=True),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.Column("used_at", UTC_TIME, nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invited_by"],
            ["admin_users.id"],
            name=op.f("fk_creator_invites_invited_by_admin_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["admin_users.id"],
            name=op.f("fk_creator_invites_user_id_admin_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_creator_invites_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_creator_invites")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_creator_invites_secret_hash")),
    )
    op.create_index(
        op.f("ix_creator_invites_tenant_id"), "creator_invites", ["tenant_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_creator_invites_tenant_id"), table_name="creator_invites")
    op.drop_table("creator_invites")
    op.drop_index(op.f("ix_tenant_domains_tenant_id"), table_name="tenant_domains")
    op.drop_table("tenant_domains")
    with op.batch_alter_table("channels") as batch:
        batch.drop_constraint(batch.f("fk_channels_owner_user_id_admin_users"), type_="foreignkey")
        batch.drop_index(batch.f("ix_channels_owner_user_id"))
        batch.drop_column("owner_user_id")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("brand_logo_type")
        batch.drop_column("brand_logo")
        batch.drop_column("brand_accent")
        batch.drop_column("brand_color")
        batch.drop_column("brand_name")
