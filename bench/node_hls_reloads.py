"""HLS playlist reloads per second per node core, the play token checked on each.

    PYTHONPATH=src .venv/bin/python bench/node_hls_reloads.py [--seconds 10 --clients 16]

Starts ``palinsesto node`` against the tests' stand-in panel (tests/support/node_panel.py:
real HTTP, real signing keys) with the node process on CPU 0 (its ffmpeg moved to CPU 1),
plays a test-pattern channel until its window is full (6 segments), and gives each of
``--clients`` keep-alive connections its
own HLS play token (its own session). Each connection reloads ``/play/<token>.m3u8`` as
fast as it can: the node verifies the token (HMAC, key id, expiry, client address, kind),
finds the session, and answers the channel's live playlist.

Baseline in the same run: nginx (1 worker on CPU 0) serving, from files, the very bytes the
node answered each token, to the same client with the same concurrency. Both are reported
per wall second and per second of the server's own CPU (the figure a shared machine can
give: what one core would do were it the server's alone).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from baseline_servers import cpu_seconds, start_nginx  # noqa: E402
from palinsesto.protocol.messages import Assignment  # noqa: E402
from palinsesto.protocol.play_tokens import PlayKind  # noqa: E402
from support.node_panel import node_process, pattern_channel, stand_in_panel  # noqa: E402


async def client(port: int, path: str, until: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    while time.monotonic() < until:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise AssertionError(head.decode(errors="replace"))
        lower = head.lower()
        start = lower.index(b"content-length:") + 15
        await reader.readexactly(int(lower[start : lower.index(b"\r\n", start)]))
        counts[0] += 1
    writer.close()


async def load(port: int, paths: list[str], seconds: float) -> int:
    counts = [0]
    until = time.monotonic() + seconds
    await asyncio.gather(*(client(port, path, until, counts) for path in paths))
    return counts[0]


def measure(name: str, pid: int, port: int, paths: list[str], seconds: float) -> float:
    asyncio.run(load(port, paths, 1.0))  # warm
    cpu, start = cpu_seconds(pid, children=name.startswith("nginx")), time.monotonic()
    count = asyncio.run(load(port, paths, seconds))
    wall = time.monotonic() - start
    cpu = cpu_seconds(pid, children=name.startswith("nginx")) - cpu
    per_cpu = count / cpu if cpu else 0.0
    print(
        f"{name:<34} {count / wall:>8,.0f}/s  {per_cpu:>8,.0f}/CPU-s  "
        f"{cpu / count * 1e6 if count else 0:>5.0f} µs CPU each"
    )
    return per_cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    channel = pattern_channel(7, on_demand=False)
    work = Path(tempfile.mkdtemp(prefix="bench-hls-reloads-"))
    with stand_in_panel() as panel:
        token, view = panel.add_node(1)
        view.assignments = [Assignment(channel)]
        os.sched_setaffinity(0, {0})  # the node process is started on CPU 0
        with node_process(work, panel.url, token, node_name="bench") as node:
            os.sched_setaffinity(0, {1})
            base = node.base_url
            port = httpx.URL(base).port or 80
            tokens = [
                panel.issue(channel, PlayKind.hls, session_id=1000 + n, ttl=3600)
                for n in range(args.clients)
            ]
            paths = [f"/play/{t}.m3u8" for t in tokens]
            deadline = time.monotonic() + 90
            bodies: dict[str, bytes] = {}
            with httpx.Client(base_url=base, timeout=30) as http:
                while len(bodies) < len(paths) and time.monotonic() < deadline:
                    for path in paths:
                        answer = http.get(path)
                        # a full window (6 segments, ~12 s): the playlist viewers reload
                        if answer.status_code == 200 and answer.content.count(b"#EXTINF") >= 6:
                            bodies[path] = answer.content
                    time.sleep(0.2)
            assert len(bodies) == len(paths), "the channel did not start"
            for child in _children(node.proc.pid):  # ffmpeg: off the node's core
                os.sched_setaffinity(child, {1})
            print(
                f"{args.clients} keep-alive clients (one token each), {args.seconds:.0f} s, "
                f"servers on CPU 0; playlist {len(next(iter(bodies.values())))} bytes"
            )
            node_rate = measure("node /play/<token>.m3u8", node.proc.pid, port, paths,
                                args.seconds)  # fmt: skip
            started = start_nginx(f"root {work / 'www'};")
            if started is None:
                print("baseline: nginx not installed")
                return
            nginx, nginx_port, _ = started
            try:
                for path, body in bodies.items():
                    target = work / "www" / path.lstrip("/")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(body)
                for folder in (work, work / "www", work / "www" / "play"):
                    folder.chmod(0o755)
                nginx_rate = measure("nginx, same bytes from files", nginx.pid, nginx_port,
                                     paths, args.seconds)  # fmt: skip
            finally:
                nginx.terminate()
                nginx.wait()
            print(f"node / nginx per CPU-second: {node_rate / nginx_rate:.2f}")
            print(f"machine load average {os.getloadavg()[0]:.1f}")


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


if __name__ == "__main__":
    main()
