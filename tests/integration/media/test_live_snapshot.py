"""A running channel's probe and thumbnail, taken from its own output by the local engine."""

from __future__ import annotations

import asyncio
import struct

import httpx

from .conftest import LiveWorld
from .test_live_admin import _other_tenant_token


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's start-of-frame segment."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    pos = 2
    while pos < len(data):
        marker, length = data[pos + 1], struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    raise AssertionError("no SOF segment")


async def test_probe_and_thumbnail_of_a_running_channel(live: LiveWorld) -> None:
    headers = {"Authorization": f"Bearer {live.server.token()}"}
    other = {"Authorization": f"Bearer {_other_tenant_token(live)}"}
    api = f"{live.server.base_url}/api/v1/live/channels/{live.pattern_id}"
    async with httpx.AsyncClient(headers=headers, timeout=30) as c:
        # Not running: a 404 that says so.
        r = await c.get(f"{api}/probe")
        assert r.status_code == 404 and "not running" in r.json()["error"]["message"]
        assert (await c.get(f"{api}/thumbnail.jpg")).status_code == 404
        assert (await c.post(f"{api}/start")).status_code == 200
        for _ in range(150):
            body = (await c.get(api)).json()
            if body["status"] == "running" and body["bitrate_kbps"] > 0:
                break
            await asyncio.sleep(0.1)
        r = await c.get(f"{api}/probe")
        assert r.status_code == 200, r.text
        probe = r.json()
        assert probe["container"] == "mpegts"
        video = probe["video"]
        assert (video["codec"], video["width"], video["height"]) == ("h264", 320, 180)
        assert video["frame_rate"] == 25
        assert [a["codec"] for a in probe["audio"]] == ["aac"]
        assert probe["audio"][0]["channels"] in (1, 2)
        assert probe["bitrate_kbps"] > 0
        # Kept briefly: the same facts again.
        assert (await c.get(f"{api}/probe")).json()["taken_at"] == probe["taken_at"]
        r = await c.get(f"{api}/thumbnail.jpg")
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        assert jpeg_size(r.content) == (320, 180)
        # Another tenant's channel is a 404, as if it did not exist.
        for path in ("probe", "thumbnail.jpg"):
            r = await c.get(f"{api}/{path}", headers=other)
            assert r.status_code == 404 and "not found" in r.json()["error"]["message"]
        assert (
            await c.get(f"{live.server.base_url}/api/v1/live/channels/999999/probe")
        ).status_code == 404
        assert (await c.post(f"{api}/stop")).status_code == 200
        r = await c.get(f"{api}/thumbnail.jpg")
        assert r.status_code == 404 and "not running" in r.json()["error"]["message"]
