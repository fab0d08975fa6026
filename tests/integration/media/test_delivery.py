"""Watching over real sockets with ffmpeg as the player: TS, HLS, on-demand, bad input."""

from __future__ import annotations

import asyncio
import time

import httpx

from support.media import play

from .conftest import LiveWorld


async def _status(url: str) -> int:
    """Status of a GET sent byte for byte (no client-side path normalisation)."""
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, port = hostport.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET /{path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    line = await asyncio.wait_for(reader.readline(), 20)
    writer.close()
    return int(line.split()[1])


async def test_ts_and_hls_play_100_frames_and_the_channel_stops_when_idle(live: LiveWorld) -> None:
    engine = live.engine
    assert engine.running(live.pattern_id) is None  # on demand: nothing runs yet
    # Through the panel's port: a 302 to the data plane, which ffmpeg follows.
    panel_url = f"{live.server.base_url}/live/{live.username}/{live.password}/{live.pattern_id}.ts"
    frames, err = await play(panel_url, 4.5)
    assert frames >= 100, err[-2000:]
    runner = engine.running(live.pattern_id)
    assert runner is not None  # the first viewer started it
    frames, err = await play(live.url(live.pattern_id, "m3u8"), 4.5)
    assert frames >= 100, err[-2000:]
    # Short form without extension, straight to the data plane.
    short = f"{live.live_base}/{live.username}/{live.password}/{live.pattern_id}"
    frames, err = await play(short, 1.0)
    assert frames >= 20, err[-2000:]
    # Nobody watches any more: HLS session ends (4 s), then the idle delay (2 s) stops it.
    deadline = time.monotonic() + 15
    while engine.running(live.pattern_id) is not None:
        assert time.monotonic() < deadline, runner.status()
        await asyncio.sleep(0.2)
    assert engine.supervisor.running == 0
    assert engine.sessions.all() == []


async def test_bad_input_gets_the_right_4xx_and_changes_nothing(live: LiveWorld) -> None:
    base, u, p = live.live_base, live.username, live.password
    cases = {
        f"{base}/live/../../etc/passwd": 400,
        f"{base}/live/{u}/%2e%2e/1.ts": 400,
        f"{base}/live/{u}/{p}/..%2f..%2fsecret.ts": 400,
        f"{base}/live/{u}/{p}/abc.ts": 404,
        f"{base}/live/{u}/{p}/{live.pattern_id}.mp4": 405,
        f"{base}/live/{u}/wrong/{live.pattern_id}.ts": 401,
        f"{base}/live/nobody/{p}/{live.pattern_id}.ts": 401,
        f"{base}/live/{u}/{p}/999999.ts": 404,
        f"{base}/live/{u}/{p}/{live.hidden_id}.ts": 406,
        f"{base}/hls/not-a-token/1.ts": 400,
        f"{base}/nothing/here": 404,
        f"{base}/a/b/c/d/e": 404,
    }
    for url, expected in cases.items():
        assert await _status(url) == expected, url
    # Tokens: tampered and expired segment URLs are refused.
    tokens = live.engine.tokens
    good = tokens.issue(1, live.pattern_id, 1, time.time())
    tampered = good[:-2] + ("AA" if good[-2:] != "AA" else "BB")
    expired = tokens.issue(1, live.pattern_id, 1, time.time() - 10_000)
    assert await _status(f"{base}/hls/{tampered}/0.ts") == 403
    assert await _status(f"{base}/hls/{expired}/0.ts") == 403
    assert await _status(f"{base}/hls/{good}/0.ts") == 403  # no such session
    # Only GET/HEAD.
    async with httpx.AsyncClient() as client:
        r = await client.post(live.url(live.pattern_id))
        assert r.status_code == 405
    # Line status outcomes (reference §8.2): disabled → 403, output not allowed → 405.
    live.set_line(allowed_outputs=["ts"])
    assert await _status(live.url(live.pattern_id, "m3u8")) == 405
    live.set_line(enabled=False, allowed_outputs=["ts", "m3u8"])
    assert await _status(live.url(live.pattern_id)) == 403
    # Nothing was started and nobody holds a session.
    assert live.engine.running(live.pattern_id) is None
    assert live.engine.running(live.hidden_id) is None
    assert live.engine.sessions.all() == []
    assert live.engine.supervisor.running == 0
