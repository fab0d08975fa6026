"""line blocks: a notice decision that stops one line playing one item

Revision ID: 0019_line_blocks
Revises: 0018_syndication
Create Date: 2026-11-29 08:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_line_blocks"
down_revision: str | Sequence[str] | None = "0018_syndication"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "line_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("item_type", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["notice_actions.id"],
            name=op.f("fk_line_blocks_action_id_notice_actions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["lines.id"],
            name=op.f("fk_line_blocks_line_id_lines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_line_blocks_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_blocks")),
    )
    with op.batch_alter_table("line_blocks", schema=None) as batch_op:
        batch_op.create_index("ix_line_blocks_line", ["line_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_line_blocks_action_id"), ["action_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("line_blocks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_line_blocks_action_id"))
        batch_op.drop_index("ix_line_blocks_line")
    op.drop_table("line_blocks")
