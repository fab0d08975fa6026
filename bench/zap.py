"""Zap time: how fast a viewer gets a picture, warm and cold.

    .venv/bin/python bench/zap.py [--zaps 20] [--colds 7]

``palinsesto serve`` (pinned to CPU 0) on a fresh SQLite catalogue with two on-demand
channels reading the same local file (640x360 H.264/AAC MPEG-TS, 1 s GOP, looped); the
client runs in this process on CPU 1 and plays ``/live/U/P/ID.ts`` over loopback.

* warm: one viewer keeps channel A running; each zap opens a new connection and times
  the first body byte (TTFB) and the first *complete* keyframe (the next video PES after
  an IDR has arrived, i.e. a decoder could show the picture).
* cold: channel B stops 1 s after its last viewer; each run waits until the admin API
  says it is stopped, then times the play to its first complete keyframe. Channel C does
  the same with a generated test pattern (an encode: libx264 must make the first IDR).
* baseline, same run: the very command each channel runs (``media/ffmpeg.channel_argv``
  on the same source), timed from spawn to its first complete keyframe on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from live_world import FFMPEG, LiveServer, make_sample
from palinsesto.catalog.models import ChannelMode
from palinsesto.node.ffmpeg import Source, channel_argv, profile_for
from palinsesto.node.mpegts import (
    PAT_PID,
    VIDEO_STREAM_TYPES,
    has_key_nal,
    parse_packet,
    parse_pat,
    parse_pmt,
)
from palinsesto.protocol.sources import SourceKind

PATTERN = "testsrc://640x360@25"


class KeyframeWatch:
    """Fed TS bytes as they arrive; ``complete`` once a whole keyframe has been received."""

    def __init__(self) -> None:
        self.rest = b""
        self.pmt_pids: set[int] = set()
        self.video: tuple[int, int] | None = None  # (pid, stream type)
        self.key_seen = False
        self.complete = False

    def feed(self, data: bytes) -> bool:
        buf = self.rest + data
        usable = len(buf) - len(buf) % 188
        for i in range(0, usable, 188):
            packet = buf[i : i + 188]
            if packet[0] != 0x47:
                continue
            info = parse_packet(packet)
            if not info.payload_unit_start:
                continue
            if info.pid == PAT_PID:
                self.pmt_pids |= set(parse_pat(info.payload))
            elif info.pid in self.pmt_pids and self.video is None:
                for stream_type, pid in parse_pmt(info.payload):
                    if stream_type in VIDEO_STREAM_TYPES:
                        self.video = (pid, stream_type)
                        break
            elif self.video is not None and info.pid == self.video[0]:
                if self.key_seen:
                    self.complete = True  # the keyframe's PES is whole
                    return True
                if info.random_access or has_key_nal(info.payload, self.video[1]):
                    self.key_seen = True
        self.rest = buf[usable:]
        return False


async def play_until_keyframe(port: int, path: str, timeout: float = 20) -> tuple[float, float]:
    """(seconds to the first body byte, seconds to the first complete keyframe)."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
        watch = KeyframeWatch()
        first_byte = 0.0
        while not watch.complete:
            data = await asyncio.wait_for(reader.read(65536), timeout)
            if not data:
                raise RuntimeError("the stream ended before a keyframe")
            if not first_byte:
                first_byte = time.monotonic() - started
            watch.feed(data)
        return first_byte, time.monotonic() - started
    finally:
        writer.close()


async def hold(port: int, path: str, stop: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    while not stop.is_set() and await reader.read(65536):
        pass
    writer.close()


async def bare_ffmpeg_keyframe(source: Source) -> float:
    argv = channel_argv(FFMPEG, source, profile_for("copy"))
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    assert proc.stdout is not None
    watch = KeyframeWatch()
    try:
        while not watch.feed(await proc.stdout.read(65536)):
            pass
        return time.monotonic() - started
    finally:
        proc.kill()
        await proc.wait()


async def wait_stopped(server: LiveServer, channel_id: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while (await asyncio.to_thread(server.status, channel_id))["status"] != "stopped":
        if time.monotonic() > deadline:
            raise RuntimeError("the on-demand channel did not stop")
        await asyncio.sleep(0.2)


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{1000 * statistics.median(values):7.1f} {1000 * p95:7.1f} {1000 * max(values):7.1f}"


async def measure(server: LiveServer, sample: Path, args: argparse.Namespace) -> None:
    warm_id, cold_id, pattern_id = server.ids
    stop = asyncio.Event()
    holder = asyncio.create_task(hold(server.live_port, server.path(warm_id), stop))
    await asyncio.sleep(3)  # the warm channel is up and its ring holds a keyframe
    ttfb, ttfk = [], []
    for _ in range(args.zaps):
        first_byte, keyframe = await play_until_keyframe(server.live_port, server.path(warm_id))
        ttfb.append(first_byte)
        ttfk.append(keyframe)
        await asyncio.sleep(0.2)
    stop.set()
    holder.cancel()
    cold: dict[int, list[float]] = {cold_id: [], pattern_id: []}
    for _ in range(args.colds):
        for channel_id, times in cold.items():
            await wait_stopped(server, channel_id)
            times.append((await play_until_keyframe(server.live_port, server.path(channel_id)))[1])
    file_source = Source(SourceKind.file, str(sample))
    pattern_source = Source(SourceKind.test_pattern, PATTERN)
    bare = [await bare_ffmpeg_keyframe(file_source) for _ in range(args.colds)]
    bare_pattern = [await bare_ffmpeg_keyframe(pattern_source) for _ in range(args.colds)]
    print(f"{'figure':52} {'median':>7} {'p95':>7} {'max':>7}  (ms)  target")
    print(f"{'warm channel: time to first byte':52} {ms(ttfb)}  ≤ 100")
    print(f"{'warm channel: time to first complete keyframe':52} {ms(ttfk)}  ≤ 300")
    print(f"{'on-demand cold start (file): first keyframe':52} {ms(cold[cold_id])}  ≤ 2,500")
    print(f"{'baseline: bare ffmpeg, same argv (file)':52} {ms(bare)}")
    print(f"{'on-demand cold start (test pattern): first keyframe':52} {ms(cold[pattern_id])}")
    print(f"{'baseline: bare ffmpeg, same argv (test pattern)':52} {ms(bare_pattern)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--zaps", type=int, default=20)
    parser.add_argument("--colds", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-zap-"))
    sample = make_sample(work / "sample.ts")
    source = [{"kind": "file", "url": str(sample)}]
    server = LiveServer(
        work,
        [
            {"name": "Warm", "sources": source, "mode": ChannelMode.on_demand},
            {"name": "Cold", "sources": source, "mode": ChannelMode.on_demand},
            {
                "name": "Pattern",
                "sources": [{"kind": "test_pattern", "url": PATTERN}],
                "mode": ChannelMode.on_demand,
            },
        ],
        idle_stop=1,
    )
    server.prepare()
    server.start()
    os.sched_setaffinity(0, {1})
    try:
        asyncio.run(measure(server, sample, args))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
