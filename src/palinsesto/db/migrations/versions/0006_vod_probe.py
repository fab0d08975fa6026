"""VOD probe results on movies and episodes

Revision ID: 0006_vod_probe
Revises: 0005_totp
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_vod_probe"
down_revision: str | Sequence[str] | None = "0005_totp"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("movies", "episodes")


def upgrade() -> None:
    for table in TABLES:
        # batch mode: SQLite cannot add a NOT NULL column in place with every dialect option.
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("media_info", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
            )
            batch.add_column(
                sa.Column("probe_error", sa.String(length=500), nullable=False, server_default="")
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("probe_error")
            batch.drop_column("media_info")
