"""A panel's plan and status on the live engine, with real ffmpeg players: the plan's
concurrent viewers, suspension cutting and refusing plays, resumption, and the daily
usage the engine meters (JSON and CSV export)."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from support.admin_api import root_client
from support.media import play
from support.server import make_settings

from .conftest import LiveWorld, live_world


@pytest.fixture
def metered(sqlite_url: str, tmp_path: Path) -> Iterator[LiveWorld]:
    settings = make_settings(tmp_path, sqlite_url, live_idle_stop_seconds=5, usage_sample_seconds=1)
    with live_world(settings) as world:
        yield world


def _root(world: LiveWorld) -> httpx.Client:
    return root_client(world.server)


async def _sessions(world: LiveWorld, count: int, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while len(world.engine.sessions.all()) != count:
        assert time.monotonic() < deadline, f"expected {count} sessions"
        await asyncio.sleep(0.05)


def _raw_get(world: LiveWorld, url: str) -> httpx.Response:
    with httpx.Client(timeout=30) as c:
        with c.stream("GET", url) as r:
            r.read() if r.status_code != 200 else None
            return r


async def test_viewers_beyond_the_plan_are_refused(metered: LiveWorld) -> None:
    with _root(metered) as root:
        r = root.patch(f"/api/v1/tenants/{metered.tenant_id}", json={"max_viewers": 2})
        assert r.status_code == 200
    url = metered.url(metered.pattern_id)
    first = asyncio.create_task(play(url, 12, "-user_agent", "tv"))
    second = asyncio.create_task(play(url, 12, "-user_agent", "phone"))
    await _sessions(metered, 2)
    frames, err = await play(url, 2, "-user_agent", "tablet")
    assert frames == 0 and "429" in err
    refused = await asyncio.to_thread(_raw_get, metered, url)
    assert refused.status_code == 429 and refused.text.strip() == "TENANT_MAX_VIEWERS"
    assert all(f > 50 for f, _ in await asyncio.gather(first, second))
    await _sessions(metered, 0)
    frames, _ = await play(url, 2, "-user_agent", "tablet")  # a place is free again
    assert frames > 10


async def test_suspension_cuts_and_refuses_plays_until_resumed(metered: LiveWorld) -> None:
    url = metered.url(metered.pattern_id)
    running = asyncio.create_task(play(url, 40, "-user_agent", "tv"))
    await _sessions(metered, 1)
    await asyncio.sleep(2)  # it is playing
    started = time.monotonic()
    with _root(metered) as root:
        r = root.post(f"/api/v1/tenants/{metered.tenant_id}/suspend")
        assert r.status_code == 200
    frames, _ = await asyncio.wait_for(running, 15)
    assert frames > 20 and time.monotonic() - started < 5, "the player was not cut"
    assert metered.engine.sessions.all() == []
    frames, err = await play(url, 2)
    assert frames == 0 and "403" in err
    refused = await asyncio.to_thread(_raw_get, metered, url)
    assert refused.status_code == 403 and refused.text.strip() == "USER_DISABLED"
    # With placeholder clips on, the viewer sees the suspended slate instead.
    with _root(metered) as root:
        root.patch(f"/api/v1/tenants/{metered.tenant_id}", json={"playback_slates": True})
    await asyncio.sleep(0.3)
    slate = await asyncio.to_thread(_raw_get, metered, url)
    assert slate.status_code == 200 and slate.headers["content-type"] == "video/mp2t"
    assert metered.engine.sessions.all() == []  # a slate is not a viewer
    # The player API says the account is disabled, not that the line is gone.
    with httpx.Client(base_url=metered.server.base_url, timeout=30) as c:
        info = c.get(
            "/player_api.php", params={"username": metered.username, "password": metered.password}
        ).json()
        assert info["user_info"]["status"] == "Disabled"
    with _root(metered) as root:
        r = root.post(f"/api/v1/tenants/{metered.tenant_id}/resume")
        assert r.status_code == 200 and r.json()["status"] == "active"
    await asyncio.sleep(0.3)
    frames, _ = await play(url, 3)
    assert frames > 20


async def _watch(world: LiveWorld, ua: str, seconds: float) -> tuple[int, float]:
    """A TS viewer reading everything it is sent for ``seconds``: (bytes, seconds held)."""
    opened = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", world.engine.port)
    path = f"/live/{world.username}/{world.password}/{world.pattern_id}.ts"
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: {ua}\r\n\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)
    assert b" 200 " in head.split(b"\r\n", 1)[0]
    received = 0
    deadline = opened + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            received += len(await asyncio.wait_for(reader.read(65536), left))
        except TimeoutError:
            break
    writer.close()
    return received, time.monotonic() - opened


async def test_usage_export_matches_what_was_played(metered: LiveWorld) -> None:
    results = await asyncio.gather(
        _watch(metered, "tv", 6), _watch(metered, "phone", 6), _watch(metered, "tablet", 4)
    )
    await _sessions(metered, 0)
    await asyncio.sleep(2.5)  # two samples
    received = sum(r[0] for r in results)
    held = sum(r[1] for r in results)
    today = datetime.now(UTC).date().isoformat()
    with _root(metered) as root:
        report = root.get("/api/v1/usage", params={"start": today}).json()
        rows = [i for i in report["items"] if i["tenant_id"] == metered.tenant_id]
        assert len(rows) == 1
        row = rows[0]
        assert row["peak_viewers"] == 3
        # Sessions start when the request is admitted and end at the close: within 1.5 s
        # of what the viewers held, each.
        assert abs(row["viewer_seconds"] - held) <= 1.5 * 3, (row, held)
        assert received <= row["egress_bytes"] <= received + 3 * 256 * 1024, (row, received)
        assert row["viewer_hours"] == round(row["viewer_seconds"] / 3600, 3)
        exported = root.get("/api/v1/usage", params={"start": today, "format": "csv"})
        assert exported.headers["content-type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(exported.text)))
        mine = [t for t in table if t["tenant_id"] == str(metered.tenant_id)]
        assert int(mine[0]["egress_bytes"]) == row["egress_bytes"]
        assert int(mine[0]["viewer_seconds"]) == row["viewer_seconds"]
        bad = root.get("/api/v1/usage", params={"start": today, "end": "2000-01-01"})
        assert bad.status_code == 422
    # Played again later the same day: the figures add up in the same row.
    more, _ = await _watch(metered, "tv", 3)
    await _sessions(metered, 0)
    await asyncio.sleep(2.5)
    with _root(metered) as root:
        again = root.get("/api/v1/usage", params={"start": today}).json()["items"]
        row2 = next(i for i in again if i["tenant_id"] == metered.tenant_id)
        assert row2["egress_bytes"] >= row["egress_bytes"] + more
        assert row2["viewer_seconds"] >= row["viewer_seconds"] + 2
        assert row2["peak_viewers"] == 3


async def test_a_trial_that_ends_suspends_the_panel_and_cuts_its_viewers(
    metered: LiveWorld,
) -> None:
    url = metered.url(metered.pattern_id)
    running = asyncio.create_task(play(url, 40))
    await _sessions(metered, 1)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    started = time.monotonic()
    with _root(metered) as root:
        path = f"/api/v1/tenants/{metered.tenant_id}"
        assert root.patch(path, json={"trial_ends_at": past}).status_code == 200
        frames, _ = await asyncio.wait_for(running, 15)
        assert frames > 0 and time.monotonic() - started < 6, "the trial's end did not cut"
        tenant = root.get(path).json()
        assert tenant["status"] == "suspended"
        audit = root.get("/api/v1/audit", params={"action": "trial_ended"}).json()["items"]
        assert [e["entity_id"] for e in audit] == [str(metered.tenant_id)]
        refused = root.post(f"{path}/resume")
        assert refused.status_code == 409 and "trial_ends_at" in refused.json()["error"]["fields"]
        assert root.patch(path, json={"trial_ends_at": None}).status_code == 200
        assert root.post(f"{path}/resume").status_code == 200
    await asyncio.sleep(1.5)  # a sweep passes and leaves the resumed panel alone
    frames, _ = await play(url, 3)
    assert frames > 20
