"""Fixtures for the viewer surfaces: a running server with a known catalogue."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.player_catalog import Catalog, populate
from support.server import RunningServer, make_settings, run_server


@dataclass
class Player:
    server: RunningServer
    catalog: Catalog

    @property
    def base(self) -> str:
        return self.server.base_url


@pytest.fixture
def player(sqlite_server: RunningServer) -> Player:
    """Protocol tests: SQLite only (they are not about storage)."""
    return Player(sqlite_server, populate(sqlite_server.ctx.db))


@pytest.fixture
def player_on_each_db(server: RunningServer) -> Player:
    """Storage-sensitive tests: once on SQLite, once on PostgreSQL."""
    return Player(server, populate(server.ctx.db))


@pytest.fixture
def player_behind_proxy(sqlite_url: str, tmp_path: Path) -> Iterator[Player]:
    """As ``player``, with 127.0.0.1 configured as a trusted reverse proxy, so a test can
    speak for many client addresses through X-Forwarded-For."""
    settings = make_settings(tmp_path, sqlite_url, trusted_proxies="127.0.0.1")
    with run_server(settings) as server:
        yield Player(server, populate(server.ctx.db))
