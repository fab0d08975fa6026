"""Memory per running channel: the server's RSS with N channels live, and their ffmpegs.

    .venv/bin/python bench/channel_memory.py [--channels 10] [--fill 20]

``palinsesto serve`` (pinned to CPU 0) on a fresh SQLite catalogue with N on-demand
channels, each reading its own copy of a local MPEG-TS file (640x360, constant 4 Mbps
with x264 CBR filler, so the rings and HLS windows hold a 4 Mbps channel's bytes),
looped and remuxed (profile ``copy``). One TS viewer per channel keeps it running;
after ``--fill`` seconds (the 8 MB TS ring and the 6-segment HLS window are full by then)
the server's RSS is read from /proc, and the ffmpeg children's separately.

Baseline in the same run: the idle server (same catalogue, no channel running), before
the viewers connect. Per channel = (RSS with N running - idle RSS) / N.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

from live_world import LiveServer, children, make_sample, rss_mib
from palinsesto.catalog.models import ChannelMode


async def viewer(port: int, path: str, stop: asyncio.Event) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    received = 0
    while not stop.is_set():
        data = await reader.read(1 << 16)
        if not data:
            break
        received += len(data)
    writer.close()
    return received


async def measure(server: LiveServer, args: argparse.Namespace) -> None:
    assert server.process is not None
    pid = server.process.pid
    await asyncio.sleep(3)
    idle = rss_mib(pid)
    stop = asyncio.Event()
    viewers = [
        asyncio.create_task(viewer(server.live_port, server.path(i), stop)) for i in server.ids
    ]
    started = time.monotonic()
    await asyncio.sleep(args.fill)
    statuses = [await asyncio.to_thread(server.status, i) for i in server.ids]
    running = sum(1 for status in statuses if status["status"] == "running")
    busy = rss_mib(pid)
    ffmpegs = [rss_mib(child) for child in children(pid)]
    stop.set()
    received = sum(await asyncio.gather(*viewers))
    elapsed = time.monotonic() - started
    per_channel = (busy - idle) / max(1, running)
    print(f"channels running: {running} of {len(server.ids)}; viewers received "
          f"{received * 8 / elapsed / 1e6 / len(server.ids):.2f} Mbps each")  # fmt: skip
    print(f"{'figure':44} {'MiB':>8}  target")
    print(f"{'baseline: idle server RSS':44} {idle:8.1f}")
    print(f"{'server RSS with the channels running':44} {busy:8.1f}")
    print(f"{'server RSS per running channel':44} {per_channel:8.1f}  ≤ 50")
    if ffmpegs:
        print(f"{'ffmpeg children: count / mean RSS each':44} {len(ffmpegs):>3} / "
              f"{sum(ffmpegs) / len(ffmpegs):.1f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--fill", type=float, default=20.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    sample = make_sample(work / "sample.ts", seconds=10, bps=4_000_000)
    channels = []
    for n in range(args.channels):
        copy = work / f"channel{n}.ts"
        shutil.copyfile(sample, copy)
        channels.append(
            {
                "name": f"Channel {n}",
                "sources": [{"kind": "file", "url": str(copy)}],
                "mode": ChannelMode.on_demand,
            }
        )
    server = LiveServer(work, channels, idle_stop=30)
    server.prepare()
    server.start()
    os.sched_setaffinity(0, {1})
    try:
        asyncio.run(measure(server, args))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
