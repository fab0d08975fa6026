"""media libraries: folders scanned into movies and series, and their files

Revision ID: 0010_media_library
Revises: 0009_plans_usage
Create Date: 2026-11-29 03:15:34.370992
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import palinsesto.db.base

revision: str = "0010_media_library"
down_revision: str | Sequence[str] | None = "0009_plans_usage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media_libraries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("movie", "series", name="librarykind", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column(
            "scan_state",
            sa.Enum(
                "never", "running", "done", "failed", name="scanstate", native_enum=False, length=8
            ),
            nullable=False,
        ),
        sa.Column("scan_started_at", palinsesto.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("scan_finished_at", palinsesto.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("scan_summary", sa.JSON(), nullable=False),
        sa.Column("scan_error", sa.String(length=500), nullable=False),
        sa.Column("created_at", palinsesto.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_media_libraries_category_id_categories"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_media_libraries_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_libraries")),
        sa.UniqueConstraint("tenant_id", "path", name=op.f("uq_media_libraries_tenant_id_path")),
    )
    with op.batch_alter_table("media_libraries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_media_libraries_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "library_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("library_id", sa.Integer(), nullable=False),
        sa.Column("rel_path", sa.String(length=1000), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "ok", "broken", "missing", name="libraryfilestatus", native_enum=False, length=8
            ),
            nullable=False,
        ),
        sa.Column("probe_error", sa.String(length=500), nullable=False),
        sa.Column("movie_id", sa.Integer(), nullable=True),
        sa.Column("episode_id", sa.Integer(), nullable=True),
        sa.Column("probed_at", palinsesto.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["episode_id"],
            ["episodes.id"],
            name=op.f("fk_library_files_episode_id_episodes"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["library_id"],
            ["media_libraries.id"],
            name=op.f("fk_library_files_library_id_media_libraries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["movie_id"],
            ["movies.id"],
            name=op.f("fk_library_files_movie_id_movies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_library_files_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_files")),
        sa.UniqueConstraint(
            "library_id", "rel_path", name=op.f("uq_library_files_library_id_rel_path")
        ),
    )
    with op.batch_alter_table("library_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_library_files_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("library_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_library_files_tenant_id"))

    op.drop_table("library_files")
    with op.batch_alter_table("media_libraries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_libraries_tenant_id"))

    op.drop_table("media_libraries")
