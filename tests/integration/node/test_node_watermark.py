"""A watermarked channel on a streaming node (``palinsesto node`` as a real process, the
stand-in panel of support/node_panel.py): each TS viewer's stream carries its session's
SEI tag in every keyframe and moves between the renditions at keyframes as its code says,
and HLS sessions get their own segments; players decode all of it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from palinsesto.node.sei_tag import read_tags
from palinsesto.protocol.messages import Assignment
from palinsesto.protocol.play_tokens import PlayKind
from support.media import play
from support.node_panel import node_process, pattern_channel, stand_in_panel

from .test_node_process import open_ts

MARKED = pattern_channel(8, watermark=True)


async def _read_ts(url: str, seconds: float) -> bytes:
    status, reader, writer = await open_ts(url)
    assert status == 200
    data = bytearray()
    try:
        end = asyncio.get_running_loop().time() + seconds
        while (left := end - asyncio.get_running_loop().time()) > 0:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), left)
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
    finally:
        writer.close()
    return bytes(data)


async def test_a_node_tags_and_marks_each_viewer_of_a_watermarked_channel(
    tmp_path: Path,
) -> None:
    with stand_in_panel() as panel:
        token, view = panel.add_node(4)
        view.assignments = [Assignment(MARKED)]
        with node_process(tmp_path, panel.url, token, watermark_slot_seconds="0.5") as node:
            node.wait_for(r"Registered as node 4")
            base = node.base_url
            first = panel.issue(MARKED, PlayKind.ts, session_id=701)
            second = panel.issue(MARKED, PlayKind.ts, session_id=65536 + 702)
            one, two = await asyncio.gather(
                _read_ts(f"{base}/play/{first}.ts", 6), _read_ts(f"{base}/play/{second}.ts", 6)
            )
            assert set(read_tags(one)) == {701} and len(read_tags(one)) >= 6
            assert set(read_tags(two)) == {65536 + 702}
            for name, data in (("one", one), ("two", two)):
                path = tmp_path / f"{name}.ts"
                path.write_bytes(data)
                frames, log = await play(str(path), 10)
                assert frames >= 100, log[-1500:]
            hls = panel.issue(MARKED, PlayKind.hls, session_id=703)
            async with httpx.AsyncClient() as client:
                listed = await client.get(f"{base}/play/{hls}.m3u8")
            assert listed.status_code == 200 and "#EXTINF:0.5" in listed.text, listed.text
            frames, log = await play(f"{base}/play/{hls}.m3u8", 3)
            assert frames >= 50, log[-1500:]
