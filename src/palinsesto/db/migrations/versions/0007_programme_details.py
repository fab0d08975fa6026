"""programme details (sub-title, categories, episode-num, rating) kept from XMLTV

Revision ID: 0007_programme_details
Revises: 0006_vod_probe
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_programme_details"
down_revision: str | Sequence[str] | None = "0006_vod_probe"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("epg_programmes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("epg_programmes", schema=None) as batch_op:
        batch_op.drop_column("details")
