"""get.php as a player opens it: the playlist URL itself handed to ffmpeg (review #3)."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx

from support.media import play

from .conftest import LiveWorld


async def test_ffmpeg_opens_the_plain_m3u_playlist_and_decodes_its_first_channel(
    live: LiveWorld,
) -> None:
    query = urlencode(
        {"username": live.username, "password": live.password, "type": "m3u", "key": "live",
         "output": "ts"}
    )  # fmt: skip
    url = f"{live.server.base_url}/get.php?{query}"
    head = httpx.get(url)
    assert head.headers["content-type"] == "audio/x-mpegurl"
    assert head.text.split("\r\n")[0] == "#EXTM3U"
    # ffmpeg's M3U reader (its hls demuxer) wants exactly "#EXTM3U" on the first line; it
    # walks the entries from the first (live_start_index 0): the test pattern channel,
    # fetched through the panel's 302 to the data plane and decoded.
    frames, err = await play(url, 2.0, "-f", "hls", "-live_start_index", "0", timeout=60)
    assert frames >= 40, err[-2000:]
    assert f"/live/{live.username}/{live.password}/{live.pattern_id}.ts" in err
