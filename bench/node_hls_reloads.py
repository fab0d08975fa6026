"""HLS playlist reloads per second per node core, the play token checked on each.

    PYTHONPATH=src .venv/bin/python bench/node_hls_reloads.py [--seconds 4 --rounds 3 --clients 16]

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
give: what one core would do were it the server's alone), split into user and kernel µs per
request. The two take turns (``--rounds``, each ``--seconds`` long) so a change in the
machine's load falls on both; the ratio is that of the totals, with each round's shown.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from baseline_servers import cpu_times, start_nginx  # noqa: E402
from palinsesto.config import Settings  # noqa: E402
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


@dataclass
class Tally:
    requests: int = 0
    wall: float = 0.0
    user: float = 0.0
    system: float = 0.0

    def add(self, other: Tally) -> None:
        self.requests += other.requests
        self.wall += other.wall
        self.user += other.user
        self.system += other.system

    @property
    def per_cpu(self) -> float:
        cpu = self.user + self.system
        return self.requests / cpu if cpu else 0.0

    def line(self, name: str) -> str:
        n = max(self.requests, 1)
        return (
            f"{name:<34} {self.requests / self.wall:>8,.0f}/s  {self.per_cpu:>8,.0f}/CPU-s  "
            f"{(self.user + self.system) / n * 1e6:>5.1f} µs CPU each "
            f"(user {self.user / n * 1e6:.1f}, kernel {self.system / n * 1e6:.1f})"
        )


def measure(pid: int, children: bool, port: int, paths: list[str], seconds: float) -> Tally:
    asyncio.run(load(port, paths, 0.5))  # warm
    user, system = cpu_times(pid, children=children)
    start = time.monotonic()
    count = asyncio.run(load(port, paths, seconds))
    wall = time.monotonic() - start
    user_after, system_after = cpu_times(pid, children=children)
    return Tally(count, wall, user_after - user, system_after - system)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0, help="per server per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    channel = pattern_channel(7, on_demand=False)
    work = Path(tempfile.mkdtemp(prefix="bench-hls-reloads-"))
    # Heartbeats at the panel's default interval (node_heartbeat_seconds), not the tests' 0.5 s.
    with stand_in_panel(heartbeat_seconds=Settings().node_heartbeat_seconds) as panel:
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
            idle_user, idle_system = cpu_times(node.proc.pid, children=False)
            time.sleep(2)
            idle = sum(cpu_times(node.proc.pid, children=False)) - idle_user - idle_system
            print(
                f"{args.clients} keep-alive clients (one token each), {args.rounds} rounds of "
                f"{args.seconds:.0f} s per server, servers on CPU 0; playlist "
                f"{len(next(iter(bodies.values())))} bytes; the node's channel alone uses "
                f"{idle / 2 * 100:.1f}% of a core"
            )
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
                node_total, nginx_total = Tally(), Tally()
                for round_ in range(1, args.rounds + 1):
                    on_node = measure(node.proc.pid, False, port, paths, args.seconds)
                    on_nginx = measure(nginx.pid, True, nginx_port, paths, args.seconds)
                    node_total.add(on_node)
                    nginx_total.add(on_nginx)
                    print(
                        f"round {round_}: node {on_node.per_cpu:,.0f}/CPU-s, nginx "
                        f"{on_nginx.per_cpu:,.0f}/CPU-s: "
                        f"{on_node.per_cpu / on_nginx.per_cpu:.2f}"
                    )
            finally:
                nginx.terminate()
                nginx.wait()
            print(node_total.line("node /play/<token>.m3u8"))
            print(nginx_total.line("nginx, same bytes from files"))
            print(f"node / nginx per CPU-second: {node_total.per_cpu / nginx_total.per_cpu:.2f}")
            print(f"machine load average {os.getloadavg()[0]:.1f}")


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


if __name__ == "__main__":
    main()
