"""Run the real ``palinsesto`` command in a child process against a test database."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

from palinsesto.db import make_engine

BIN = Path(sys.executable).with_name("palinsesto")


@dataclass
class Cli:
    """The command line bound to one data dir and one database."""

    data_dir: Path
    database_url: str
    # More PALINSESTO_* settings for the command, e.g. the outbound allow list.
    settings: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PALINSESTO_")}
        env.update(
            PALINSESTO_DATA_DIR=str(self.data_dir),
            PALINSESTO_DATABASE_URL=self.database_url,
            PALINSESTO_SECRET_KEY="cli-test-secret-" + "x" * 32,
            COLUMNS="200",
        )
        env.update(self.settings)
        return env

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def count(self, table: str, where: str = "", **params: object) -> int:
        """Rows of ``table`` (optionally filtered by a SQL condition), read directly."""
        engine = make_engine(self.database_url)
        try:
            with engine.connect() as conn:
                sql = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")
                return int(conn.execute(text(sql), params).scalar_one())
        finally:
            engine.dispose()

    def rows(self, sql: str, **params: object) -> list[tuple]:
        engine = make_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.execute(text(sql), params)]
        finally:
            engine.dispose()

    def execute(self, sql: str, **params: object) -> None:
        """Change the database behind the command's back (to set up a case)."""
        engine = make_engine(self.database_url)
        try:
            with engine.begin() as conn:
                conn.execute(text(sql), params)
        finally:
            engine.dispose()
