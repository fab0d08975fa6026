"""Throwaway databases: a SQLite file, or a PostgreSQL database created and dropped per test.

Migrating an empty database costs about half a second, so each backend is migrated once per
test run into a template, and every test gets a copy of it (a file copy for SQLite,
``CREATE DATABASE … TEMPLATE`` for PostgreSQL). Tests of the migrations themselves ask for
an empty database with ``migrated=False``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from palinsesto.db import upgrade

PG_ADMIN_DSN = os.environ.get("PALINSESTO_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ("sqlite", "postgresql")
_PG_BASE = PG_ADMIN_DSN.rsplit("/", 1)[0]
_templates: dict[str, str] = {}
_lock = threading.Lock()


def _pg_admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql)


def _template(backend: str) -> str:
    """Path (SQLite) or database name (PostgreSQL) of this run's migrated template."""
    with _lock:
        if backend in _templates:
            return _templates[backend]
        if backend == "sqlite":
            folder = tempfile.mkdtemp(prefix="palinsesto-template-")
            atexit.register(shutil.rmtree, folder, True)
            path = Path(folder) / "template.db"
            upgrade(f"sqlite:///{path}")
            _templates[backend] = str(path)
        else:
            name = f"palinsesto_tpl_{uuid.uuid4().hex[:12]}"
            _pg_admin(f'CREATE DATABASE "{name}"')
            atexit.register(_pg_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            upgrade(f"{_PG_BASE}/{name}")
            _templates[backend] = name
        return _templates[backend]


@contextmanager
def temporary_database(backend: str, tmp_path: Path, migrated: bool = True) -> Iterator[str]:
    """Yield a SQLAlchemy URL for a database of ``backend``; remove it afterwards."""
    if backend == "sqlite":
        path = tmp_path / f"test-{uuid.uuid4().hex[:8]}.db"
        if migrated:
            shutil.copyfile(_template("sqlite"), path)
        yield f"sqlite:///{path}"
        return
    name = f"palinsesto_test_{uuid.uuid4().hex[:12]}"
    template = f' TEMPLATE "{_template("postgresql")}"' if migrated else ""
    _pg_admin(f'CREATE DATABASE "{name}"{template}')
    try:
        yield f"{_PG_BASE}/{name}"
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
