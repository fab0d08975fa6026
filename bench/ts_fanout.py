"""Continuous MPEG-TS fan-out: one 4 Mbps channel to thousands of viewers on one core.

    .venv/bin/python bench/ts_fanout.py [--viewers 3000] [--seconds 10]

The channel's bytes are a real 4 Mbps MPEG-TS (ffmpeg, padded to a constant mux rate),
cut once by ``TsChunker`` into keyframe-aligned ~64 KB chunks and published at real time
into a ``TsFanout`` behind the lean data plane (``media/dataplane.py``): each viewer is an
HTTP request that joins at the latest keyframe, exactly as ``media/delivery.py`` attaches
it. So this measures fan-out, not encoding. The server runs pinned to CPU 0; the viewers
are loopback TCP clients in another process pinned to CPU 1 (asyncio protocols that read
and discard, timing the gap between reads). CPU is the server process's utime + stime
from /proc over the measured window.

Baseline in the same run: a bare asyncio writer that sends the same chunk objects to the
same number of sockets with ``transport.write`` and nothing else (no ring, no keyframe
join, no backlog checks).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg

RATE_BPS = 4_000_000
CLK_TCK = os.sysconf("SC_CLK_TCK")


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_source(seconds: int = 8) -> bytes:
    """``seconds`` of 4 Mbps constant-rate TS (640x360 H.264 + AAC, 1 s GOP)."""
    path = Path(tempfile.mkdtemp(prefix="bench-fanout-")) / "src.ts"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440", "-t", str(seconds),
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-b:v", "2500k",
            "-c:a", "aac", "-b:a", "128k", "-muxrate", str(RATE_BPS), "-f", "mpegts", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


def chunks_of(data: bytes) -> list[object]:
    from palinsesto.node.mpegts import TsChunker

    chunker = TsChunker(64 * 1024)
    out = chunker.feed(data)
    last = chunker.flush()
    return [*out, *([last] if last else [])], chunker.psi  # type: ignore[return-value]


async def publish_forever(publish: object, chunks: list[object], psi: bytes) -> None:
    """Publish the chunks at 4 Mbps, looping, on the wall clock (no drift)."""
    loop = asyncio.get_running_loop()
    started, sent = loop.time(), 0
    while True:
        for chunk in chunks:
            publish(chunk, psi)  # type: ignore[operator]
            sent += len(chunk.data)  # type: ignore[attr-defined]
            delay = started + sent * 8 / RATE_BPS - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)


def palinsesto_server(port: int, source: bytes, ready: multiprocessing.Event) -> None:
    os.sched_setaffinity(0, {0})
    raise_nofile()
    from palinsesto.node.dataplane import serve
    from palinsesto.node.outputs.ts import TsFanout, TsViewer

    chunks, psi = chunks_of(source)
    fanout = TsFanout()

    def handler(request, conn):  # the TS branch of media/delivery.py, without auth
        conn.start_stream("video/mp2t")
        viewer = TsViewer(conn)
        conn.on_lost = lambda: fanout.remove(viewer)
        fanout.add(viewer)
        return None

    async def main() -> None:
        server = await serve(handler, "127.0.0.1", port)
        asyncio.ensure_future(publish_forever(fanout.publish, chunks, psi))
        ready.set()
        await server.serve_forever()

    asyncio.run(main())


def bare_server(port: int, source: bytes, ready: multiprocessing.Event) -> None:
    os.sched_setaffinity(0, {0})
    raise_nofile()
    chunks, psi = chunks_of(source)
    transports: set[asyncio.Transport] = set()

    class Viewer(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            if b"\r\n\r\n" in data and self.transport not in transports:
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\n\r\n")
                transports.add(self.transport)

        def connection_lost(self, exc: Exception | None) -> None:
            transports.discard(self.transport)

    def publish(chunk: object, _psi: bytes) -> None:
        data = chunk.data  # type: ignore[attr-defined]
        for transport in transports:
            transport.write(data)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Viewer, "127.0.0.1", port, backlog=4096)
        asyncio.ensure_future(publish_forever(publish, chunks, psi))
        ready.set()
        await server.serve_forever()

    asyncio.run(main())


def viewers(
    port: int, count: int, warmup: float, seconds: float, out: multiprocessing.Queue
) -> None:
    os.sched_setaffinity(0, {1})
    raise_nofile()

    class Viewer(asyncio.Protocol):
        measuring = False

        def __init__(self) -> None:
            self.bytes = 0
            self.last = 0.0
            self.worst = 0.0

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            transport.write(b"GET /live/u/p/1.ts HTTP/1.1\r\nHost: x\r\n\r\n")  # type: ignore[attr-defined]

        def data_received(self, data: bytes) -> None:
            now = time.monotonic()
            if Viewer.measuring:
                self.bytes += len(data)
                if self.last and now - self.last > self.worst:
                    self.worst = now - self.last
            self.last = now

    async def main() -> dict[str, float]:
        loop = asyncio.get_running_loop()
        conns: list[Viewer] = []
        transports = []
        for start in range(0, count, 250):
            batch = await asyncio.gather(
                *(
                    loop.create_connection(Viewer, "127.0.0.1", port)
                    for _ in range(start, min(count, start + 250))
                )
            )
            transports += [t for t, _ in batch]
            conns += [p for _, p in batch]
        await asyncio.sleep(warmup)
        now = time.monotonic()
        for viewer in conns:
            viewer.last = now
        Viewer.measuring = True
        out.put(("measuring", time.time()))
        await asyncio.sleep(seconds)
        Viewer.measuring = False
        end = time.monotonic()
        # A viewer that got nothing since the window opened has a gap of the whole window.
        worst = max(max(v.worst, end - v.last) for v in conns)
        rates = sorted(v.bytes * 8 / seconds for v in conns)
        for transport in transports:
            transport.close()
        return {
            "gbps": sum(rates) / 1e9,
            "worst_gap_s": worst,
            "min_mbps": rates[0] / 1e6,
            "median_mbps": rates[len(rates) // 2] / 1e6,
            "starved": sum(1 for r in rates if r < RATE_BPS * 0.9),
        }

    out.put(("result", asyncio.run(main())))


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def run(name: str, target: object, source: bytes, args: argparse.Namespace) -> dict[str, float]:
    ctx = multiprocessing.get_context("fork")
    port = free_port()
    ready = ctx.Event()
    server = ctx.Process(target=target, args=(port, source, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(30):
            raise RuntimeError(f"{name} did not start")
        queue: multiprocessing.Queue = ctx.Queue()
        client = ctx.Process(
            target=viewers, args=(port, args.viewers, args.warmup, args.seconds, queue)
        )
        client.start()
        kind, _ = queue.get(timeout=120)
        assert kind == "measuring"
        cpu0, t0 = cpu_seconds(server.pid), time.monotonic()  # type: ignore[arg-type]
        kind, result = queue.get(timeout=args.seconds + 60)
        cpu1, t1 = cpu_seconds(server.pid), time.monotonic()  # type: ignore[arg-type]
        client.join(30)
        result["cpu_pct"] = 100 * (cpu1 - cpu0) / (t1 - t0)
        return result
    finally:
        server.kill()
        server.join(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--viewers", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    args = parser.parse_args()
    raise_nofile()
    source = make_source()
    print(
        f"1 channel at {RATE_BPS / 1e6:g} Mbps to {args.viewers} viewers, "
        f"{args.seconds:g} s measured after {args.warmup:g} s warm-up",
        flush=True,
    )
    rows = [
        ("palinsesto TsFanout + data plane", run("palinsesto", palinsesto_server, source, args)),
        ("baseline: bare asyncio writer", run("bare", bare_server, source, args)),
    ]
    print(
        f"{'server':34} {'CPU %':>6} {'Gbps':>6} {'worst gap s':>11} "
        f"{'min Mbps':>8} {'median Mbps':>11} {'starved':>7}"
    )
    for name, r in rows:
        print(
            f"{name:34} {r['cpu_pct']:6.1f} {r['gbps']:6.2f} {r['worst_gap_s']:11.3f} "
            f"{r['min_mbps']:8.2f} {r['median_mbps']:11.2f} {int(r['starved']):7d}"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
