"""A server per module and backend, for tests that share one set of tenants."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.databases import BACKENDS, temporary_database
from support.server import RunningServer, make_settings, run_server


@pytest.fixture(scope="module", params=BACKENDS)
def shared_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """The real application on SQLite and on PostgreSQL, kept for the whole module."""
    tmp_path = tmp_path_factory.mktemp(f"admin-{request.param}")
    with temporary_database(request.param, tmp_path) as url:
        with run_server(make_settings(tmp_path, url)) as running:
            yield running
