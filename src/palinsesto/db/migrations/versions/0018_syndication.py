"""syndication: channel offers between panels, partners' requests, read-only entries

Revision ID: 0018_syndication
Revises: 0017_storage_usage
Create Date: 2026-11-29 06:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import palinsesto.db.base

revision: str = "0018_syndication"
down_revision: str | Sequence[str] | None = "0017_storage_usage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = palinsesto.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "syndication_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("partner_tenant_id", sa.Integer(), nullable=True),
        sa.Column("until", UTC_TIME, nullable=True),
        sa.Column("territories", sa.JSON(), nullable=False),
        sa.Column("max_viewers", sa.Integer(), nullable=True),
        sa.Column("paid_bouquets", sa.Boolean(), nullable=False),
        sa.Column("auto_approve", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "withdrawn", name="offerstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_syndication_offers_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_tenant_id"],
            ["tenants.id"],
            name=op.f("fk_syndication_offers_partner_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_syndication_offers_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_syndication_offers")),
    )
    for column in ("channel_id", "partner_tenant_id", "tenant_id"):
        op.create_index(
            op.f(f"ix_syndication_offers_{column}"), "syndication_offers", [column], unique=False
        )
    op.create_table(
        "syndications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("owner_tenant_id", sa.Integer(), nullable=False),
        sa.Column("partner_tenant_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "requested",
                "active",
                "refused",
                "revoked",
                "ended",
                "cancelled",
                name="syndicationstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("requested_at", UTC_TIME, nullable=False),
        sa.Column("decided_at", UTC_TIME, nullable=True),
        sa.Column("ended_at", UTC_TIME, nullable=True),
        sa.Column("end_reason", sa.String(length=200), nullable=False),
        sa.Column("peak_viewers", sa.Integer(), nullable=False),
        sa.Column("watch_seconds", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["syndication_offers.id"],
            name=op.f("fk_syndications_offer_id_syndication_offers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_syndications_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_tenant_id"],
            ["tenants.id"],
            name=op.f("fk_syndications_owner_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_tenant_id"],
            ["tenants.id"],
            name=op.f("fk_syndications_partner_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_syndications")),
    )
    op.create_index(op.f("ix_syndications_offer_id"), "syndications", ["offer_id"], unique=False)
    op.create_index(
        "ix_syndications_partner_status",
        "syndications",
        ["partner_tenant_id", "status"],
        unique=False,
    )
    op.create_index(
        "ix_syndications_owner_status", "syndications", ["owner_tenant_id", "status"], unique=False
    )
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("syndication_id", sa.Integer(), nullable=True))
        batch.create_unique_constraint(batch.f("uq_channels_syndication_id"), ["syndication_id"])


def downgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.drop_constraint(batch.f("uq_channels_syndication_id"), type_="unique")
        batch.drop_column("syndication_id")
    op.drop_index("ix_syndications_owner_status", table_name="syndications")
    op.drop_index("ix_syndications_partner_status", table_name="syndications")
    op.drop_index(op.f("ix_syndications_offer_id"), table_name="syndications")
    op.drop_table("syndications")
    for column in ("tenant_id", "partner_tenant_id", "channel_id"):
        op.drop_index(op.f(f"ix_syndication_offers_{column}"), table_name="syndication_offers")
    op.drop_table("syndication_offers")
