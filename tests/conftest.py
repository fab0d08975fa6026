"""Fixtures shared by every test: a database of each backend and a live server on it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support import media_cache  # noqa: E402
from support.databases import BACKENDS, temporary_database  # noqa: E402
from support.server import RunningServer, make_settings, run_server  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _shared_media_samples(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Sample media is made once per run: under pytest-xdist, in the controller's temporary
    directory (each worker's is a folder inside it), so every worker finds it."""
    base = tmp_path_factory.getbasetemp()
    run = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    media_cache.set_root(run / "media-samples")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database; every test that uses it runs on SQLite and on PostgreSQL."""
    with temporary_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    """An empty SQLite database, for tests that are not about storage."""
    with temporary_database("sqlite", tmp_path) as url:
        yield url


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """The real application under uvicorn on 127.0.0.1:0, on each database backend."""
    with run_server(make_settings(tmp_path, database_url)) as running:
        yield running


@pytest.fixture
def sqlite_server(sqlite_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    with run_server(make_settings(tmp_path, sqlite_url)) as running:
        yield running
