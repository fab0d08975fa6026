"""``palinsesto panel`` has no data plane: a stream URL that no node takes is answered by
the panel itself, after checking the line, with the reason (not ``STREAM_OFFLINE``, which
read as an outage and, for an unknown username, told it apart from a wrong password)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from palinsesto.accounts.models import Line
from palinsesto.panel.playback.live_routes import NO_SERVER
from support.node_world import PASSWORD, make_tenant
from support.server import RunningServer, make_settings, run_server


@pytest.fixture
def panel(sqlite_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    settings = make_settings(tmp_path, sqlite_url, login_max_failures=3)
    with run_server(settings, local_node=False) as running:
        yield running


def test_a_line_of_a_tenant_without_nodes_is_told_no_server_is_online(
    panel: RunningServer,
) -> None:
    side = make_tenant(panel, "alpha")
    with httpx.Client(base_url=panel.base_url, timeout=10) as c:
        for path in (
            f"/live/{side.line}/{PASSWORD}/{side.channel}.ts",
            f"/live/{side.line}/{PASSWORD}/{side.channel}.m3u8",
            f"/{side.line}/{PASSWORD}/{side.channel}",
        ):
            r = c.get(path)
            assert (r.status_code, r.text) == (503, NO_SERVER), path


def test_wrong_credentials_are_refused_alike_and_counted_by_the_throttle(
    panel: RunningServer,
) -> None:
    side = make_tenant(panel, "alpha")
    with httpx.Client(base_url=panel.base_url, timeout=10) as c:
        unknown = c.get(f"/live/nobody/{PASSWORD}/{side.channel}.ts")
        wrong = c.get(f"/live/{side.line}/wrong/{side.channel}.ts")
        assert (unknown.status_code, unknown.text) == (401, "AUTH_FAILED\n")
        assert (wrong.status_code, wrong.text) == (401, "AUTH_FAILED\n")
        c.get(f"/movie/nobody-else/{PASSWORD}/1.mp4")  # the third failure from this address
        locked = c.get(f"/live/{side.line}/{PASSWORD}/{side.channel}.ts")
        assert locked.status_code == 429, locked.text
        assert int(locked.headers["retry-after"]) > 0


def test_an_expired_line_is_told_it_expired(panel: RunningServer) -> None:
    side = make_tenant(panel, "alpha")
    with panel.ctx.db.transaction() as s:
        line = s.get(Line, side.line_id)
        assert line is not None
        line.exp_date = datetime.now(UTC) - timedelta(days=1)
    panel.ctx.events.publish(side.id, "lines")
    with httpx.Client(base_url=panel.base_url, timeout=10) as c:
        r = c.get(f"/live/{side.line}/{PASSWORD}/{side.channel}.ts")
    assert (r.status_code, r.text) == (403, "USER_EXPIRED\n")


def test_a_movie_of_a_tenant_without_nodes_is_told_no_server_is_online(
    panel: RunningServer,
) -> None:
    side = make_tenant(panel, "alpha")
    with httpx.Client(base_url=panel.base_url, timeout=10) as c:
        for path in (
            f"/movie/{side.line}/{PASSWORD}/1.mp4",
            f"/movie/{side.line}/{PASSWORD}/1.m3u8",
        ):
            r = c.get(path)
            assert (r.status_code, r.text) == (503, NO_SERVER), path
        assert c.get(f"/movie/{side.line}/wrong/1.m3u8").status_code == 401
