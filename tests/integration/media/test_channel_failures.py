"""A channel that cannot play says why, backs off, and leaves no phantom viewer; a
restarted on-demand channel serves only fresh HLS segments."""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from palinsesto.catalog.models import ChannelMode
from palinsesto.outbound.media_files import FILE_REFUSED
from support.media import FFMPEG

from .conftest import LiveWorld

BAD_PATTERN = "testsrc://99999x1@500"


def _api(live: LiveWorld) -> httpx.Client:
    return live.server.client(live.server.token())


def _status(c: httpx.Client, channel_id: int) -> dict[str, Any]:
    r = c.get(f"/api/v1/live/channels/{channel_id}")
    assert r.status_code == 200, r.text
    return r.json()


def _wait_status(
    c: httpx.Client, channel_id: int, done: Any, seconds: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        status = _status(c, channel_id)
        if done(status):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.1)


def test_invalid_sources_are_refused_field_by_field(live: LiveWorld) -> None:
    bad = [
        {"kind": "test_pattern", "url": "testsrc://320x180@25"},
        {"kind": "test_pattern", "url": BAD_PATTERN},
        {"kind": "hls", "url": "ftp://example.com/x.m3u8"},
        {"kind": "http_ts", "url": "http://example.com:99999/x.ts"},
        {"kind": "file", "url": "relative/path.ts"},
        {"kind": "push_rtmp", "url": "rtmp://somewhere/live"},
    ]
    with _api(live) as c:
        before = c.get("/api/v1/channels", params={"tenant_id": live.tenant_id}).json()["total"]
        r = c.post(
            "/api/v1/channels",
            json={"tenant_id": live.tenant_id, "name": "Bad", "sources": bad},
        )
        assert r.status_code == 422, r.text
        fields = r.json()["error"]["fields"]
        # The first bad one is named, with a reason a person can act on.
        assert set(fields) == {"sources.1.url"}, fields
        assert (
            "testsrc://1280x720@25" in fields["sources.1.url"]
            or "3840x2160" in (fields["sources.1.url"])
        )
        for index, source in enumerate(bad[1:], start=1):
            r = c.post(
                "/api/v1/channels",
                json={"tenant_id": live.tenant_id, "name": "Bad", "sources": [bad[0], source]},
            )
            assert r.status_code == 422, (index, r.text)
            assert set(r.json()["error"]["fields"]) == {"sources.1.url"}, (index, r.text)
        after = c.get("/api/v1/channels", params={"tenant_id": live.tenant_id}).json()["total"]
        assert after == before  # nothing stored


async def test_runtime_failures_show_their_reason_and_no_task_error_is_lost(
    live: LiveWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    # A row stored before the API checked sources (the engine must still say why).
    legacy = live.add_channel("Legacy", [{"kind": "test_pattern", "url": BAD_PATTERN}])
    with _api(live) as c:
        r = c.post(
            "/api/v1/channels",
            json={
                "tenant_id": live.tenant_id,
                "name": "Missing file",
                "sources": [{"kind": "file", "url": str(tmp_path / "missing.ts")}],
            },
        )
        assert r.status_code == 201, r.text
        missing = r.json()["id"]
        # A source the engine cannot build fails as source 0; a file outside the tenant's
        # folder is refused by the source policy before any source runs (index -1).
        cases = ((legacy, "test pattern", 0), (missing, FILE_REFUSED, -1))
        for channel_id, reason, index in cases:
            assert c.post(f"/api/v1/live/channels/{channel_id}/start").status_code == 200
            status = _wait_status(c, channel_id, lambda s: s["failures"])
            assert reason in status["failures"][0]["message"], status
            assert status["failures"][0]["source_index"] == index
            overview = c.get("/api/v1/live/overview").json()
            assert any(f["channel_id"] == channel_id for f in overview["recent_failures"])
            c.post(f"/api/v1/live/channels/{channel_id}/stop").raise_for_status()
    lost = [r for r in caplog.records if "never retrieved" in r.getMessage()]
    assert lost == []


async def test_a_failed_play_answers_with_cors_at_once_and_counts_no_viewer(
    live: LiveWorld,
) -> None:
    legacy = live.add_channel("Legacy", [{"kind": "test_pattern", "url": BAD_PATTERN}])
    origin = {"Origin": "http://panel.example"}
    with _api(live) as c:
        # The panel's preview: a signed URL on the panel port, 302 to the data plane.
        preview = c.post(f"/api/v1/live/channels/{legacy}/preview").json()["url"]
        async with httpx.AsyncClient(
            base_url=live.server.base_url, follow_redirects=True, timeout=30
        ) as player:
            started = time.monotonic()
            r = await player.get(preview, headers=origin)
            elapsed = time.monotonic() - started
            assert r.status_code == 503 and r.text == "STREAM_OFFLINE\n"
            assert r.headers["access-control-allow-origin"] == "*"
            # Not the whole 12 s cold-start wait: the channel failed, the answer says so.
            assert elapsed < 8, elapsed
            # A line's TS play of the same channel, and other error replies, alike.
            r = await player.get(live.url(legacy, "ts"), headers=origin)
            assert r.status_code == 503 and r.headers["access-control-allow-origin"] == "*"
            for url, code in (
                (f"{live.live_base}/nothing/here", 404),
                (f"{live.live_base}/hls/not-a-token/1.ts", 400),
                (live.url(live.pattern_id, "mp4"), 405),
                (live.url(live.hidden_id), 406),
            ):
                r = await player.get(url, headers=origin)
                assert r.status_code == code, url
                assert r.headers["access-control-allow-origin"] == "*", url
        # Nobody watches: the plays that never started are not viewers.
        await asyncio.sleep(1.5)  # the engine folds HLS sessions into viewers every second
        status = _status(c, legacy)
        assert status["viewers"] == 0, status
        assert c.get("/api/v1/live/sessions").json() == []
        assert status["failures"], status


async def test_a_failing_source_backs_off_exponentially_and_says_when(
    live: LiveWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="palinsesto.node.channel")
    # A file of the tenant's media folder that is no video: ffmpeg fails on it every time.
    folder = live.server.ctx.settings.effective_media_root / str(live.tenant_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.ts").write_bytes(b"these are notes, not video\n" * 100)
    with _api(live) as c:
        r = c.post(
            "/api/v1/channels",
            json={
                "tenant_id": live.tenant_id,
                "name": "Not video",
                "mode": ChannelMode.always_on.value,
                "sources": [{"kind": "file", "url": "/notes.ts"}],
            },
        )
        assert r.status_code == 201, r.text
        channel_id = r.json()["id"]
        # Always on: the engine starts it by itself. Retries at about 0, 1, 3, 7 s.
        status = _wait_status(c, channel_id, lambda s: len(s["failures"]) >= 4, seconds=30)
        assert status["status"] == "failing" and status["failed_rounds"] >= 4, status
        assert "invalid data" in status["failures"][0]["message"].lower(), status
        at = [f["at"] for f in status["failures"]]
        gaps = [b - a for a, b in zip(at, at[1:], strict=False)]
        # Each wait at least the back-off delay (1, 2, 4 s); loaded machines only add.
        for gap, delay in zip(gaps, (1.0, 2.0, 4.0), strict=False):
            assert gap >= delay * 0.95, gaps
        # The status says when the next attempt comes (8 s after the 4th failure).
        assert status["retry_in_seconds"] is not None and 0 < status["retry_in_seconds"] <= 8
        assert status["retry_at"] > time.time()
        # One log line per attempt, each saying when it retries.
        mine = [
            r.getMessage()
            for r in caplog.records
            if r.name == "palinsesto.node.channel" and f"channel {channel_id} " in r.getMessage()
        ]
        attempts = len(_status(c, channel_id)["failures"])
        assert 4 <= len(mine) <= attempts, mine
        assert all(re.search(r"retrying in \d+ s", m) for m in mine), mine
        # An operator's start does not wait for the back-off.
        retry_at = _status(c, channel_id)["retry_at"]
        if retry_at - time.time() > 2.0:
            c.post(f"/api/v1/live/channels/{channel_id}/start").raise_for_status()
            now = _wait_status(c, channel_id, lambda s: len(s["failures"]) > attempts)
            assert now["failures"][-1]["at"] < retry_at, (now, retry_at)


def _segment_start(data: bytes, path: Path) -> float:
    """The first timestamp of a TS segment, as ffmpeg reads it."""
    path.write_bytes(data)
    probe = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    found = re.search(r"start: (-?[\d.]+)", probe.stderr)
    assert found, probe.stderr[-1000:]
    return float(found[1])


def _segments(playlist: str) -> list[tuple[int, str]]:
    first = int(re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", playlist)[1])  # type: ignore[index]
    uris = [line for line in playlist.splitlines() if line and not line.startswith("#")]
    return [(first + i, uri) for i, uri in enumerate(uris)]


async def test_an_on_demand_restart_serves_only_fresh_hls_segments(
    live: LiveWorld, tmp_path: Path
) -> None:
    url = live.url(live.pattern_id, "m3u8")
    async with httpx.AsyncClient(base_url=live.live_base, timeout=30) as player:
        # Watch a few segments' worth.
        deadline = time.monotonic() + 30
        while True:
            listed = _segments((await player.get(url)).text)
            if len(listed) >= 3:
                break
            assert time.monotonic() < deadline, listed
            await asyncio.sleep(0.5)
        last_seq, last_uri = listed[-1]
        last_start = _segment_start((await player.get(last_uri)).content, tmp_path / "old.ts")
        # Leave: the HLS session times out (4 s), then the idle stop (2 s) ends the channel.
        with _api(live) as c:
            _wait_status(c, live.pattern_id, lambda s: s["status"] == "stopped", seconds=30)
        await asyncio.sleep(3.0)  # the idle gap the old window would replay
        restarted = time.monotonic()
        r = await player.get(url)
        assert r.status_code == 200, r.text
        fresh = _segments(r.text)
        assert fresh and all(seq > last_seq for seq, _ in fresh), (last_seq, r.text)
        first = _segment_start((await player.get(fresh[0][1])).content, tmp_path / "new.ts")
        # Its footage is from after the gap, not from before the stop.
        assert first - last_start >= 3.0 + 4.0, (last_start, first)
        assert time.monotonic() - restarted < 12
        assert "#EXT-X-DISCONTINUITY\n" in r.text.split(fresh[0][1])[0]
