"""Live pull sources under the outbound policy, attacked from the outside.

The stand-in "internet" is one allowed loopback port; a second loopback server plays the
node's private services. A playlist served from the allowed server that lists its
segments on the private one must get no byte from it: ffmpeg pulls through the engine's
proxy, which checks every connection. Players are real ffmpeg reading /live URLs.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import pytest

from palinsesto.outbound import REFUSED
from support.media import FFMPEG, play
from support.stand_ins import Routes, stand_in

from .conftest import LiveWorld

StartLive = Callable[..., AbstractContextManager[LiveWorld]]


@pytest.fixture(scope="module")
def hls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Six seconds of 320x180 H.264 as a finished HLS playlist and its segments."""
    folder = tmp_path_factory.mktemp("hls")
    subprocess.run(
        [
            FFMPEG, "-hide_banner", "-loglevel", "error",
            "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "6",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
            "-f", "hls", "-hls_time", "1", "-hls_list_size", "0",
            "-hls_segment_filename", str(folder / "seg%d.ts"), str(folder / "index.m3u8"),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return {f"/{p.name}": p.read_bytes() for p in folder.iterdir()}


def _routes(files: dict[str, bytes]) -> Routes:
    return {path: (200, {}, body) for path, body in files.items()}


def _failures(live: LiveWorld, channel_id: int) -> list[str]:
    token = live.server.token()
    with live.server.client(token) as c:
        status = c.get(f"/api/v1/live/channels/{channel_id}").json()
    return [f["message"] for f in status["failures"]]


async def test_segments_on_a_denied_host_get_no_bytes(
    start_live: StartLive, hls_files: dict[str, bytes]
) -> None:
    with stand_in(_routes(hls_files)) as internet, stand_in(_routes(hls_files)) as private:
        # The same playlist, its segments named on the private server.
        playlist = hls_files["/index.m3u8"].decode()
        internet.routes["/evil.m3u8"] = (
            200,
            {},
            playlist.replace("seg", f"{private.base}/seg").encode(),
        )
        # A redirect from the allowed server to the private one, for a TS pull.
        internet.routes["/moved.ts"] = (302, {"Location": f"{private.base}/seg0.ts"}, b"")
        with start_live(outbound_allow_networks=f"127.0.0.1:{internet.port}") as live:
            good = live.add_channel("Good", [{"kind": "hls", "url": f"{internet.base}/index.m3u8"}])
            evil = live.add_channel("Evil", [{"kind": "hls", "url": f"{internet.base}/evil.m3u8"}])
            moved = live.add_channel(
                "Moved", [{"kind": "http_ts", "url": f"{internet.base}/moved.ts"}]
            )
            # The proxy carries allowed traffic: the good channel plays, segments and all.
            frames, err = await play(live.url(good), 2.0)
            assert frames >= 25, err[-2000:]
            assert "/seg1.ts" in internet.seen

            proxy = live.engine.pull_proxy
            for channel in (evil, moved):
                frames, _ = await play(live.url(channel), 2.0, timeout=40)
                assert frames == 0
            deadline = time.monotonic() + 20
            while proxy.refused < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert "/evil.m3u8" in internet.seen and "/moved.ts" in internet.seen
            assert proxy.refused >= 2  # ffmpeg asked for the private segments, and was refused
        assert private.seen == []


async def test_a_denied_pull_source_is_refused_with_one_message(start_live: StartLive) -> None:
    with stand_in() as private, stand_in() as internet:
        with start_live(outbound_allow_networks=f"127.0.0.1:{internet.port}") as live:
            targets = [
                {"kind": "http_ts", "url": f"http://127.0.0.1:{private.port}/admin"},
                {"kind": "hls", "url": "http://169.254.169.254/latest/meta-data/"},
                {"kind": "rtsp", "url": "rtsp://10.0.0.7/stream1"},
                {"kind": "rtmp", "url": f"rtmp://127.0.0.1:{private.port}/live/x"},
                {"kind": "http_ts", "url": f"{live.server.base_url}/api/v1/tenants"},
            ]
            # Every source of the list is checked, not only the first.
            channel = live.add_channel("Probe", targets)
            async with httpx.AsyncClient(timeout=20) as c:
                r = await c.get(live.url(channel))
                assert r.status_code != 200 or r.content == b""
            messages = _failures(live, channel)
            assert sorted(messages[:5]) == [f"source {i} refused: {REFUSED}" for i in range(5)]
        assert private.seen == []
