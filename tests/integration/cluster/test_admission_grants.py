"""Node admission answers a player's repeated plays from remembered grants
(PlaybackAccess.authorize_fast); every change made through the admin API takes effect on
the very next play over real HTTP: a new password, a suspension, an expiry (by the clock
too, without any change), other bouquets, a disabled channel. Wrong passwords still count
for the sign-in throttle."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from support.admin_api import root_client
from support.databases import temporary_database
from support.node_world import PASSWORD, FakeNode, TenantSide, add_server, make_tenant
from support.redis_servers import REDIS_URL, redis_prefix
from support.server import RunningServer, make_settings, run_server


@pytest.fixture(params=["sqlite, in-process state", "postgresql, redis"])
def panel(
    request: pytest.FixtureRequest, sqlite_url: str, tmp_path: Path
) -> Iterator[RunningServer]:
    """`palinsesto panel` as a single replica runs it, and as a cluster's replica does."""
    if request.param.startswith("sqlite"):
        settings = make_settings(tmp_path, sqlite_url, login_max_failures=3)
        with run_server(settings, local_node=False) as running:
            yield running
        return
    with temporary_database("postgresql", tmp_path) as url, redis_prefix() as prefix:
        settings = make_settings(
            tmp_path, url, redis_url=REDIS_URL, redis_key_prefix=prefix, login_max_failures=3
        )
        with run_server(settings, local_node=False) as running:
            yield running


@pytest.fixture
def side(panel: RunningServer) -> TenantSide:
    found = make_tenant(panel, "alpha", max_connections=0)
    _, token = add_server(panel, found.id, "edge-a")
    assert FakeNode(panel, token, "http://edge-a.invalid:8001").register().status_code == 200
    return found


def play(panel: RunningServer, side: TenantSide, password: str = PASSWORD) -> httpx.Response:
    with httpx.Client(base_url=panel.base_url, timeout=10) as c:
        return c.get(f"/live/{side.line}/{password}/{side.channel}.ts", follow_redirects=False)


def remembered(panel: RunningServer) -> int:
    return panel.ctx.services["nodes"].access.grants_remembered()


def warm(panel: RunningServer, side: TenantSide) -> None:
    """Plays until the grant is remembered, and one more answered from it."""
    for _ in range(3):
        r = play(panel, side)
        assert r.status_code == 302, r.text
        assert "/play/" in r.headers["location"]
    assert remembered(panel) >= 1


def patch_line(panel: RunningServer, side: TenantSide, **fields: object) -> None:
    with root_client(panel) as c:
        r = c.patch(f"/api/v1/lines/{side.line_id}", json=fields)
        assert r.status_code == 200, r.text


def test_a_new_password_takes_effect_at_the_next_play(
    panel: RunningServer, side: TenantSide
) -> None:
    warm(panel, side)
    patch_line(panel, side, password="a-new-password")
    assert play(panel, side).status_code == 401
    assert play(panel, side, "a-new-password").status_code == 302
    warm_again = play(panel, side, "a-new-password")
    assert warm_again.status_code == 302
    assert play(panel, side).status_code == 401  # the old one, after the new one was remembered


def test_suspension_and_bans_take_effect_at_the_next_play(
    panel: RunningServer, side: TenantSide
) -> None:
    warm(panel, side)
    patch_line(panel, side, enabled=False)
    r = play(panel, side)
    assert r.status_code == 403 and r.text.strip() == "USER_DISABLED"
    patch_line(panel, side, enabled=True)
    warm(panel, side)
    patch_line(panel, side, banned=True)
    r = play(panel, side)
    assert r.status_code == 403 and r.text.strip() == "USER_BAN"


def test_expiry_takes_effect_by_an_edit_and_by_the_clock(
    panel: RunningServer, side: TenantSide
) -> None:
    warm(panel, side)
    patch_line(panel, side, exp_date=(datetime.now(UTC) - timedelta(days=1)).isoformat())
    r = play(panel, side)
    assert r.status_code == 403 and r.text.strip() == "USER_EXPIRED"
    # An expiry a few seconds ahead: remembered while valid, refused once it has passed,
    # with no change made in between.
    soon = datetime.now(UTC) + timedelta(seconds=3)
    patch_line(panel, side, exp_date=soon.isoformat())
    warm(panel, side)
    time.sleep(max(0.0, soon.timestamp() - time.time()) + 1.1)
    r = play(panel, side)
    assert r.status_code == 403 and r.text.strip() == "USER_EXPIRED"


def test_bouquets_and_channels_take_effect_at_the_next_play(
    panel: RunningServer, side: TenantSide
) -> None:
    warm(panel, side)
    with root_client(panel) as c:
        bouquets = c.get(f"/api/v1/lines/{side.line_id}").json()["bouquet_ids"]
    patch_line(panel, side, bouquet_ids=[])
    r = play(panel, side)
    assert r.status_code == 406 and r.text.strip() == "NOT_IN_BOUQUET"
    patch_line(panel, side, bouquet_ids=bouquets)
    warm(panel, side)
    with root_client(panel) as c:
        r = c.patch(f"/api/v1/channels/{side.channel}", json={"enabled": False})
        assert r.status_code == 200, r.text
    assert play(panel, side).status_code == 404


def test_wrong_passwords_still_lock_the_address_out(panel: RunningServer, side: TenantSide) -> None:
    warm(panel, side)
    for _ in range(3):  # login_max_failures
        assert play(panel, side, "wrong").status_code == 401
    r = play(panel, side)  # the right password too, while locked out
    assert r.status_code == 429 and r.text.strip() == "AUTH_FLOOD"
    assert int(r.headers["retry-after"]) >= 1
