"""hash-chained audit log; entries outlive their tenant

Revision ID: 0002_audit_chain
Revises: 0001_initial
Create Date: 2026-11-29 00:40:00

Existing entries are chained in id order, so a database upgraded from the first schema
verifies like a new one. ``tenant_id`` now becomes NULL when its tenant is deleted instead
of taking the entries with it; ``tenant_ref`` keeps the original id for the chain.
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from palinsesto.trust.audit_chain import GENESIS, canonical_json, entry_digest

revision: str = "0002_audit_chain"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    "id, tenant_id, actor_id, actor, action, entity, entity_id, before, after, ip, created_at"
)


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("tenant_ref", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("row_hash", sa.String(length=64), nullable=True))

    bind = op.get_bind()
    audit = sa.table(
        "audit_log",
        sa.column("id", sa.Integer()),
        sa.column("tenant_ref", sa.Integer()),
        sa.column("seq", sa.Integer()),
        sa.column("prev_hash", sa.String()),
        sa.column("row_hash", sa.String()),
    )
    prev, seq = GENESIS, 0
    rows = bind.execute(sa.text(f"SELECT {_COLUMNS} FROM audit_log ORDER BY id")).mappings()
    for row in list(rows):
        seq += 1
        entry = dict(row)
        entry.update(
            seq=seq,
            tenant_ref=row["tenant_id"],
            before=canonical_json(_json(row["before"])),
            after=canonical_json(_json(row["after"])),
            created_at=_aware(row["created_at"]),
        )
        digest = entry_digest(prev, entry)
        bind.execute(
            audit.update()
            .where(audit.c.id == row["id"])
            .values(tenant_ref=row["tenant_id"], seq=seq, prev_hash=prev, row_hash=digest)
        )
        prev = digest

    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("row_hash", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint(op.f("uq_audit_log_seq"), ["seq"])
        batch.drop_constraint(op.f("fk_audit_log_tenant_id_tenants"), type_="foreignkey")
        batch.create_foreign_key(
            op.f("fk_audit_log_tenant_id_tenants"),
            "tenants",
            ["tenant_id"],
            ["id"],
            ondelete="SET NULL",
        )

    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.bulk_insert(head, [{"id": 1, "seq": seq, "row_hash": prev}])


def _json(value: object) -> object:
    # Raw rows: SQLite hands back JSON as text, PostgreSQL's driver as Python values.
    return json.loads(value) if isinstance(value, str) else value


def _aware(value: object) -> object:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def downgrade() -> None:
    op.drop_table("audit_chain_head")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint(op.f("fk_audit_log_tenant_id_tenants"), type_="foreignkey")
        batch.create_foreign_key(
            op.f("fk_audit_log_tenant_id_tenants"),
            "tenants",
            ["tenant_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.drop_constraint(op.f("uq_audit_log_seq"), type_="unique")
        batch.drop_column("row_hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
        batch.drop_column("tenant_ref")
