"""Fixtures for the viewer surfaces: a running server with a known catalogue."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from support.player_catalog import Catalog, populate
from support.server import RunningServer


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
