"""partner codes (private offers by code) and a total viewer cap on syndication offers

Revision ID: 0020_partner_codes_total_caps
Revises: 0019_line_blocks
Create Date: 2026-11-29 10:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from palinsesto.accounts.partner_codes import new_partner_code

revision: str = "0020_partner_codes_total_caps"
down_revision: str | Sequence[str] | None = "0019_line_blocks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

tenants = sa.table("tenants", sa.column("id", sa.Integer), sa.column("partner_code", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("partner_code", sa.String(length=16), nullable=True))
    # Every existing panel gets its own random code before the column becomes required.
    bind = op.get_bind()
    for (tenant_id,) in bind.execute(sa.select(tenants.c.id)).all():
        bind.execute(
            tenants.update()
            .where(tenants.c.id == tenant_id)
            .values(partner_code=new_partner_code())
        )
    with op.batch_alter_table("tenants") as batch:
        batch.alter_column("partner_code", existing_type=sa.String(length=16), nullable=False)
        batch.create_unique_constraint(batch.f("uq_tenants_partner_code"), ["partner_code"])
    with op.batch_alter_table("syndication_offers") as batch:
        batch.add_column(sa.Column("max_viewers_total", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("syndication_offers") as batch:
        batch.drop_column("max_viewers_total")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_constraint(batch.f("uq_tenants_partner_code"), type_="unique")
        batch.drop_column("partner_code")
