"""storage metering: usage_days.storage_bytes (the day's highest storage sample)

Revision ID: 0017_storage_usage
Revises: 0016_vod_delivery
Create Date: 2026-11-29 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_storage_usage"
down_revision: str | Sequence[str] | None = "0016_vod_delivery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("usage_days") as batch:
        batch.add_column(
            sa.Column("storage_bytes", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("usage_days") as batch:
        batch.drop_column("storage_bytes")
