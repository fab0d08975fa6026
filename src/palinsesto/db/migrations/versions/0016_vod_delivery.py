"""a remote movie's or episode's delivery: redirect (302) or proxy (streamed through us)

Revision ID: 0016_vod_delivery
Revises: 0015_watermark
Create Date: 2026-11-29 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_vod_delivery"
down_revision: str | Sequence[str] | None = "0015_watermark"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DELIVERY = sa.Enum("redirect", "proxy", name="remotedelivery", native_enum=False, length=8)


def upgrade() -> None:
    for table in ("movies", "episodes"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("delivery", DELIVERY, nullable=False, server_default="redirect")
            )


def downgrade() -> None:
    for table in ("movies", "episodes"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("delivery")
