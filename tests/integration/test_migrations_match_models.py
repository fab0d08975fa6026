"""The migrations build exactly the schema the models describe, on each backend: a column
type, index or constraint written one way in a migration and another way in a model shows
up here, before it shows up as a difference between a fresh install and an upgraded one."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import palinsesto.db.models  # noqa: F401 - every model registers on Base.metadata
from palinsesto.db.base import Base


def test_the_migrated_schema_is_the_models_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
