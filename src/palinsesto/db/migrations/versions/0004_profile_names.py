"""transcode profiles: the first wave's spellings (h264-480p) become the registry's names

The admin API stored ``h264-480p`` while the live engine knew only ``h264_480p``
(catalog/profiles.py is now the one registry). Rows are rewritten; the readers still
accept the old spellings for a node that reads an older database.

Revision ID: 0004_profile_names
Revises: 0003_notices
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_profile_names"
down_revision: str | Sequence[str] | None = "0003_notices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RENAMED = {
    "h264-360p": "h264_360p",
    "h264-480p": "h264_480p",
    "h264-720p": "h264_720p",
    "h264-1080p": "h264_1080p",
}

channels = sa.table("channels", sa.column("transcode_profile", sa.String(64)))


def _rename(mapping: dict[str, str]) -> None:
    for old, new in mapping.items():
        op.execute(
            channels.update()
            .where(channels.c.transcode_profile == old)
            .values(transcode_profile=new)
        )


def upgrade() -> None:
    _rename(RENAMED)


def downgrade() -> None:
    _rename({new: old for old, new in RENAMED.items()})
