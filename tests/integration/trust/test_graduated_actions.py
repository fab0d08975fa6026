"""The graduated actions between ending a session and suspending a line or a service, from
the outside: a notice blocks one item for one line (its running play is cut, its lists lose
the item, its stream URL answers 451 ITEM_BLOCKED, another line still plays; lifting brings
it back), platform staff suspend the service a platform-wide notice concerns (its viewers
are refused; a tenant's own owner may neither suspend nor lift), and expiry lifts both.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.admin_api import TenantWorld, created, make_tenant, root_client
from support.legal import LINE_PASSWORD, dsa_notice, sql, status, wait_until
from support.media import FFMPEG
from support.server import RunningServer, make_settings, run_server

FACTS = "The line restreamed the match publicly."


@pytest.fixture
def legal_server(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    settings = make_settings(tmp_path, database_url, legal_jobs_seconds=1)
    with run_server(settings) as running:
        yield running


def _world(world: TenantWorld, usernames: list[str]) -> int:
    """A live test-pattern channel (with a guide id) in a bouquet, lines that play it."""
    source = {"kind": "test_pattern", "url": "testsrc://160x90@25"}
    with world.client() as c:
        channel = created(
            c.post(
                "/api/v1/channels",
                json={
                    "name": "Match",
                    "mode": "on_demand",
                    "epg_channel_id": "match.test",
                    "sources": [source],
                },
            )
        )
        bouquet = created(c.post("/api/v1/bouquets", json={"name": "All"}))
        r = c.put(
            f"/api/v1/bouquets/{bouquet['id']}/items",
            json={"items": [{"item_type": "channel", "item_id": channel["id"]}]},
        )
        assert r.status_code == 200, r.text
        for username in usernames:
            body = {"username": username, "password": LINE_PASSWORD, "bouquet_ids": [bouquet["id"]]}
            created(c.post("/api/v1/lines", json=body))
    return int(channel["id"])


def _live_url(server: RunningServer, username: str, channel_id: int) -> str:
    return f"{server.base_url}/live/{username}/{LINE_PASSWORD}/{channel_id}.ts"


def _listed(server: RunningServer, username: str, channel_id: int) -> dict[str, bool]:
    """Where the line's app finds the channel: player API, get.php, xmltv.php."""
    auth = {"username": username, "password": LINE_PASSWORD}
    base = server.base_url
    streams = httpx.get(
        f"{base}/player_api.php", params={**auth, "action": "get_live_streams"}, timeout=30
    ).json()
    m3u = httpx.get(f"{base}/get.php", params={**auth, "type": "m3u_plus"}, timeout=30).text
    guide = httpx.get(f"{base}/xmltv.php", params=auth, timeout=30).text
    return {
        "player_api": channel_id in [int(s["stream_id"]) for s in streams],
        "get.php": f"/{channel_id}.ts" in m3u,
        "xmltv": 'id="match.test"' in guide,
    }


def _play(url: str) -> tuple[int, bytes]:
    """A viewer's request of the stream URL: its status and the first bytes (or the body)."""
    with httpx.stream("GET", url, timeout=60, follow_redirects=True) as r:
        if r.status_code != 200:
            return r.status_code, r.read()
        got = b""
        for chunk in r.iter_bytes():
            got += chunk
            if len(got) >= 188 * 10:
                break
        return 200, got


def _notice_id(c: httpx.Client, receipt: str) -> int:
    notices = c.get("/api/v1/notices", params={"per_page": 100}).json()["items"]
    return int(next(n for n in notices if n["receipt"] == receipt)["id"])


def make_world_less() -> Any:
    """What :func:`dsa_notice` reads of a world, for a notice to the platform."""

    class NoService:
        slug = None

    return NoService()


def _file(server: RunningServer, world: TenantWorld | None, location: str) -> str:
    body = dsa_notice(world, location) if world is not None else None
    if body is None:  # a platform-wide notice: to no service in particular
        body = {**dsa_notice(make_world_less(), location), "tenant": None}
    with server.client() as c:
        return str(created(c.post("/api/v1/public/notices", json=body))["receipt"])


def _wait_for_viewer(world: TenantWorld, username: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with world.client() as c:
        while time.monotonic() < deadline:
            sessions = c.get("/api/v1/live/sessions").json()
            if any(s["username"] == username and s["bytes"] > 0 for s in sessions):
                return
            time.sleep(0.2)
    raise AssertionError("the player never started")


def test_block_an_item_for_one_line(server: RunningServer) -> None:
    world = make_tenant(server, "acme")
    channel_id = _world(world, ["fan-a", "fan-b"])
    everywhere = {"player_api": True, "get.php": True, "xmltv": True}
    assert _listed(server, "fan-a", channel_id) == everywhere

    player = subprocess.Popen(
        [FFMPEG, "-hide_banner", "-nostdin", "-i", _live_url(server, "fan-a", channel_id)]
        + ["-map", "0:v:0", "-f", "null", "-"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for_viewer(world, "fan-a")
        receipt = _file(server, world, _live_url(server, "fan-a", channel_id))
        with world.client() as c:
            r = c.post(
                f"/api/v1/notices/{_notice_id(c, receipt)}/actions",
                json={"kind": "block_item", "facts": FACTS, "review_days": 3},
            )
            assert r.status_code == 201, r.text
            action = r.json()
        player.wait(timeout=30)  # its running play of the item is cut
    finally:
        if player.poll() is None:
            player.kill()
        player.wait()

    restriction = action["statement"]["restriction"]
    assert restriction["kind"] == "block_item"
    assert restriction["description"] == "the subscription (line) can no longer access the content"
    assert restriction["content"] == [
        {"kind": "line", "ref": "fan-a"},
        {"kind": "channel", "ref": str(channel_id)},
    ]
    assert action["reference"] and action["lifted_at"] is None

    nowhere = {"player_api": False, "get.php": False, "xmltv": False}
    assert _listed(server, "fan-a", channel_id) == nowhere
    assert _listed(server, "fan-b", channel_id) == everywhere
    assert _play(_live_url(server, "fan-a", channel_id)) == (451, b"ITEM_BLOCKED\n")
    code, first = _play(_live_url(server, "fan-b", channel_id))
    assert code == 200 and first[0] == 0x47  # MPEG-TS sync byte: the other line plays
    assert status(server, "fan-a") == "Active"  # the line itself is not suspended

    with world.client() as c:
        report = c.get("/api/v1/transparency-report").json()
        assert report["actions"]["block_item"] == 1
        in_force = c.get("/api/v1/notice-actions", params={"state": "in_force"}).json()
        assert [a["id"] for a in in_force["items"]] == [action["id"]]
        r = c.post(
            f"/api/v1/notice-actions/{action['id']}/lift",
            json={"facts": "The notifier withdrew the notice: the viewer watched at home."},
        )
        assert r.status_code == 200, r.text
        assert r.json()["lift_statement"]["restriction_lifted"]["kind"] == "block_item"
        entries = c.get("/api/v1/audit", params={"per_page": 100}).json()["items"]
        blocks = {e["action"] for e in entries if e["entity"] == "line_block"}
        assert blocks == {"create", "delete"}

    assert _listed(server, "fan-a", channel_id) == everywhere
    code, first = _play(_live_url(server, "fan-a", channel_id))
    assert code == 200 and first[0] == 0x47


def test_block_needs_a_line_and_an_item_of_the_service(server: RunningServer) -> None:
    """A notice naming only an item (no line) blocks nothing: refused, nothing stored."""
    world = make_tenant(server, "acme")
    channel_id = _world(world, ["fan-a"])
    receipt = _file(server, world, f"{server.base_url}/watch/{channel_id}-abc123")
    with world.client() as c:
        notice_id = _notice_id(c, receipt)
        r = c.post(
            f"/api/v1/notices/{notice_id}/actions", json={"kind": "block_item", "facts": FACTS}
        )
        assert r.status_code == 400, r.text
        assert c.get(f"/api/v1/notices/{notice_id}/actions").json() == []
        assert c.get(f"/api/v1/notices/{notice_id}").json()["status"] == "received"
    assert _listed(server, "fan-a", channel_id)["player_api"] is True


def test_only_platform_staff_suspend_a_service(server: RunningServer) -> None:
    world = make_tenant(server, "acme")
    other = make_tenant(server, "other")
    channel_id = _world(world, ["fan-a"])
    other_channel = _world(other, ["fan-other"])
    url = _live_url(server, "fan-a", channel_id)

    # The tenant's own owner may not suspend its service: 403, nothing changes.
    own = _file(server, world, url)
    with world.client() as c:
        r = c.post(
            f"/api/v1/notices/{_notice_id(c, own)}/actions",
            json={"kind": "suspend_tenant", "facts": FACTS},
        )
        assert r.status_code == 403, r.text
        assert c.get(f"/api/v1/tenants/{world.id}").json()["status"] == "active"
    assert status(server, "fan-a") == "Active"

    # A platform-wide notice names the line; the platform admin suspends its service.
    receipt = _file(server, None, url)
    with root_client(server) as root:
        notice_id = _notice_id(root, receipt)
        r = root.post(
            f"/api/v1/notices/{notice_id}/actions",
            json={"kind": "suspend_line", "facts": FACTS},
        )
        assert r.status_code == 400, r.text  # a platform-wide notice: no line action
        r = root.post(
            f"/api/v1/notices/{notice_id}/actions",
            json={"kind": "suspend_tenant", "facts": FACTS, "review_days": 1},
        )
        assert r.status_code == 201, r.text
        action = r.json()
        assert action["targets"] == [{"kind": "tenant", "ref": str(world.id)}]
        restriction = action["statement"]["restriction"]
        assert restriction["kind"] == "suspend_tenant"
        assert restriction["description"] == "the service distributing the content was suspended"
        assert root.get(f"/api/v1/tenants/{world.id}").json()["status"] == "suspended"
        report = root.get("/api/v1/transparency-report").json()
        assert report["actions"]["suspend_tenant"] == 1
        # A service suspended already (or not approved yet) is not suspended again: lifting
        # would bring it back for a reason that is not this decision's.
        r = root.post(
            f"/api/v1/notices/{notice_id}/actions",
            json={"kind": "suspend_tenant", "facts": FACTS},
        )
        assert r.status_code == 409, r.text
        r = root.post(
            f"/api/v1/notices/{notice_id}/actions",
            json={"kind": "reject", "facts": FACTS, "tenant_id": other.id},
        )
        assert r.status_code == 422 and "tenant_id" in r.json()["error"]["fields"], r.text
        assert len(root.get(f"/api/v1/notices/{notice_id}/actions").json()) == 1

    code, body = _play(url)
    assert (code, body) == (403, b"USER_DISABLED\n")  # the suspended service's refusal
    assert status(server, "fan-a") == "Disabled"
    code, first = _play(_live_url(server, "fan-other", other_channel))
    assert code == 200 and first[0] == 0x47  # other services play on

    with world.client() as c:  # the owner may not lift it either (nor see it)
        r = c.post(
            f"/api/v1/notice-actions/{action['id']}/lift",
            json={"facts": "We think the suspension is wrong."},
        )
        assert r.status_code in (403, 404), r.text
    with root_client(server) as root:
        r = root.post(
            f"/api/v1/notice-actions/{action['id']}/lift",
            json={"facts": "The operator removed the restreaming line and signed a licence."},
        )
        assert r.status_code == 200, r.text
        assert root.get(f"/api/v1/tenants/{world.id}").json()["status"] == "active"
    assert status(server, "fan-a") == "Active"
    code, first = _play(url)
    assert code == 200 and first[0] == 0x47


def test_expiry_lifts_a_block_and_a_suspension(
    legal_server: RunningServer, database_url: str
) -> None:
    server = legal_server
    world = make_tenant(server, "acme")
    suspended = make_tenant(server, "pirate")
    channel_id = _world(world, ["fan-a"])
    pirate_channel = _world(suspended, ["fan-p"])
    receipt = _file(server, world, _live_url(server, "fan-a", channel_id))
    with world.client() as c:
        r = c.post(
            f"/api/v1/notices/{_notice_id(c, receipt)}/actions",
            json={"kind": "block_item", "facts": FACTS, "days": 7},
        )
        block = created(r)
    platform_receipt = _file(server, None, _live_url(server, "fan-p", pirate_channel))
    with root_client(server) as root:
        r = root.post(
            f"/api/v1/notices/{_notice_id(root, platform_receipt)}/actions",
            json={
                "kind": "suspend_tenant",
                "facts": FACTS,
                "days": 7,
                "tenant_id": suspended.id,
            },
        )
        suspension = created(r)
    assert _listed(server, "fan-a", channel_id)["player_api"] is False
    assert status(server, "fan-p") == "Disabled"
    expires = datetime.fromisoformat(block["expires_at"]) - datetime.fromisoformat(
        block["created_at"]
    )
    assert expires == timedelta(days=7)

    past = datetime.now(UTC) - timedelta(seconds=1)
    for action in (block, suspension):
        sql(
            database_url,
            "UPDATE notice_actions SET expires_at = :t WHERE id = :id",
            t=past,
            id=action["id"],
        )
    wait_until(lambda: _listed(server, "fan-a", channel_id)["player_api"], what="the block expired")
    wait_until(lambda: status(server, "fan-p") == "Active", what="the suspension expired")
    assert _play(_live_url(server, "fan-a", channel_id))[0] == 200
    with root_client(server) as root:
        lifted: list[dict[str, Any]] = [
            root.get(f"/api/v1/notices/{a['notice_id']}/actions").json()[0]
            for a in (block, suspension)
        ]
        assert [a["lift_reason"] for a in lifted] == ["expired", "expired"]
        assert root.get(f"/api/v1/tenants/{suspended.id}").json()["status"] == "active"
        report = root.get("/api/v1/transparency-report").json()
    assert report["expired_restrictions_lifted"] == 2
    assert sql(database_url, "SELECT count(*) FROM line_blocks")[0][0] == 0
