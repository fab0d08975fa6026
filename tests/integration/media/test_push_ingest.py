"""Push ingest: ffmpeg publishes over RTMP (stream key) and SRT (passphrase); a wrong
secret is refused; a dropped push falls back to the next source and comes back; a
rotated key cuts the publisher still using it."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from palinsesto.node.channel import ChannelState
from support.media import FFMPEG, decode_bytes, play

from .conftest import LiveWorld


async def _publish(url: str, seconds: float) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        FFMPEG, "-hide_banner", "-loglevel", "error", "-re",
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440",
        "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
        "-c:a", "aac", "-b:a", "32k", "-f", "flv", url,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip


async def test_rtmp_publish_is_watched_as_ts_and_hls_and_a_wrong_key_is_refused(
    live: LiveWorld,
) -> None:
    engine = live.engine
    base = f"rtmp://127.0.0.1:{engine.rtmp_port}/live"
    wrong = await _publish(f"{base}/not-the-key", 3)
    _, err = await asyncio.wait_for(wrong.communicate(), 20)
    assert wrong.returncode != 0
    assert engine.running(live.push_id) is None
    publisher = await _publish(f"{base}/{live.stream_key}", 14)
    try:
        runner = None
        for _ in range(100):
            runner = engine.running(live.push_id)
            if runner is not None and runner.ready:
                break
            await asyncio.sleep(0.1)
        assert runner is not None and runner.ready, runner and runner.status()
        ts, hls = await asyncio.gather(
            play(live.url(live.push_id, "ts"), 4.5), play(live.url(live.push_id, "m3u8"), 4.5)
        )
        assert ts[0] >= 100, ts[1][-1500:]
        assert hls[0] >= 100, hls[1][-1500:]
    finally:
        if publisher.returncode is None:
            publisher.kill()
        await publisher.wait()


async def _publish_srt(port: int, passphrase: str, seconds: float) -> asyncio.subprocess.Process:
    url = f"srt://127.0.0.1:{port}?mode=caller&passphrase={passphrase}&pbkeylen=16"
    return await asyncio.create_subprocess_exec(
        FFMPEG, "-hide_banner", "-loglevel", "error", "-re",
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440",
        "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
        "-c:a", "aac", "-b:a", "32k", "-f", "mpegts", url,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
    await proc.wait()


async def _until(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def test_srt_publish_is_watched_as_ts_and_a_wrong_passphrase_is_refused(
    live: LiveWorld,
) -> None:
    engine = live.engine
    port = _free_udp_port()
    key = "srt_k3y_creator_0123456789abc"
    source = {"kind": "push_srt", "url": "", "port": str(port), "host": "127.0.0.1"}
    channel_id = live.add_channel("SRT creator", [source], stream_key=key)
    assert await _until(lambda: channel_id in engine.srt.listeners, 5)
    await asyncio.sleep(0.5)  # the listener's ffmpeg binds its port
    # Waiting for a publisher is not a failing source: nothing runs, nothing restarts.
    assert engine.running(channel_id) is None
    wrong = await _publish_srt(port, "not-the-passphrase", 2)
    _, err = await asyncio.wait_for(wrong.communicate(), 20)
    assert wrong.returncode != 0, err
    assert engine.running(channel_id) is None
    publisher = await _publish_srt(port, key, 14)
    try:
        assert await _until(lambda: (r := engine.running(channel_id)) is not None and r.ready, 10)
        frames, err_text = await play(live.url(channel_id, "ts"), 4.5)
        assert frames >= 100, err_text[-1500:]
        assert engine.runners[channel_id].status()["publisher_connected"]
        assert engine.srt.port_of(channel_id) == port
    finally:
        await _stop(publisher)


async def test_rtmp_push_falls_back_to_the_backup_and_returns_when_the_publisher_is_back(
    live: LiveWorld, tmp_path: Path
) -> None:
    engine = live.engine
    key = "fallback_k3y_0123456789abcdef"
    sources = [
        {"kind": "push_rtmp", "url": ""},
        {"kind": "test_pattern", "url": "testsrc://160x90@25"},
    ]
    channel_id = live.add_channel("With slate", sources, stream_key=key)
    url = f"rtmp://127.0.0.1:{engine.rtmp_port}/live/{key}"
    publisher = await _publish(url, 30)
    viewer: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    try:
        assert await _until(lambda: (r := engine.running(channel_id)) is not None and r.ready, 10)
        runner = engine.running(channel_id)
        assert runner is not None and runner.active_index == 0
        reader, writer = await asyncio.open_connection("127.0.0.1", engine.port)
        viewer = (reader, writer)
        path = f"/live/{live.username}/{live.password}/{channel_id}.ts"
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        received = bytearray()

        async def read_all() -> None:
            while data := await reader.read(65536):
                received.extend(data)

        reading = asyncio.create_task(read_all())
        await asyncio.sleep(1.0)
        await _stop(publisher)  # the creator's encoder drops
        assert await _until(
            lambda: runner.active_index == 1 and runner.state is ChannelState.live, 3.0
        ), runner.status()
        size = len(received)
        await asyncio.sleep(1.0)
        assert len(received) > size and not reading.done()  # same connection, slate frames
        publisher = await _publish(url, 30)  # the creator is back
        assert await _until(
            lambda: runner.active_index == 0 and runner.state is ChannelState.live, 8.0
        ), runner.status()
        await asyncio.sleep(1.5)
        assert not reading.done()
        reading.cancel()
        body = bytes(received).split(b"\r\n\r\n", 1)[1]
        assert decode_bytes(body, tmp_path / "fallback.ts") >= 75
    finally:
        if viewer is not None:
            viewer[1].close()
        await _stop(publisher)


async def test_rotating_the_stream_key_cuts_the_connected_publisher(live: LiveWorld) -> None:
    engine = live.engine
    base = f"rtmp://127.0.0.1:{engine.rtmp_port}/live"
    publisher = await _publish(f"{base}/{live.stream_key}", 30)
    try:
        assert await _until(lambda: bool(engine._rtmp.publishers_of(live.tenant_id)), 10)
        async with httpx.AsyncClient(timeout=20) as client:
            r = await client.post(
                f"{live.server.base_url}/api/v1/channels/{live.push_id}/stream-key",
                headers={"Authorization": f"Bearer {live.server.token()}"},
            )
        assert r.status_code == 200, r.text
        new_key = r.json()["stream_key"]
        assert new_key and new_key != live.stream_key
        rotated = time.monotonic()
        await asyncio.wait_for(publisher.wait(), 5)
        assert time.monotonic() - rotated < 2.5
        assert engine._rtmp.publishers_of(live.tenant_id) == []
        old = await _publish(f"{base}/{live.stream_key}", 2)
        await asyncio.wait_for(old.wait(), 20)
        assert old.returncode != 0 and not engine._rtmp.publishers_of(live.tenant_id)
    finally:
        await _stop(publisher)
