"""HLS playlist reloads per second per node core, the play token checked on each.

    PYTHONPATH=src .venv/bin/python bench/node_hls_reloads.py [--seconds 4 --rounds 3 --clients 16]

Starts ``palinsesto node`` against the tests' stand-in panel (tests/support/node_panel.py:
real HTTP, real signing keys, heartbeats at the panel's default interval) with the node
process on CPU 0 (its ffmpeg moved to CPU 1), plays a test-pattern channel until its window
is full (6 segments), and gives each of ``--clients`` keep-alive connections its own HLS
play token (its own session). Each connection reloads ``/play/<token>.m3u8`` as fast as it
can: the node checks the play (the token's MAC, key, address and kind when first seen; then
that its session lives, the key ring, address, assignment and channel are unchanged),
touches the session and answers the channel's live playlist with that token's URLs.

Baseline in the same run: nginx (1 worker on CPU 0) serving, from files, the very bytes the
node answered each token, to the same client with the same concurrency; twice, with the
shared baseline config (sendfile and tcp_nopush on) and with both off (fewer system calls
for a body this small). All are reported per wall second and per second of the server's
own CPU (the figure a shared machine can give: what one core would do were it the
server's alone), split into user and kernel µs per request. They take turns (``--rounds``,
each ``--seconds`` long) so a change in the machine's load falls on all; the ratios are
those of the totals, with each round's shown.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
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
            for path, body in bodies.items():
                target = work / "www" / path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(body)
            for folder in (work, work / "www", work / "www" / "play"):
                folder.chmod(0o755)
            baselines = [
                (name, start_nginx(f"root {work / 'www'}; {extra}"))
                for name, extra in NGINX_CONFIGS.items()
            ]
            try:
                compare(node.proc.pid, port, baselines, paths, args.seconds, args.rounds)
            finally:
                for _, started in baselines:
                    if started is not None:
                        started[0].terminate()
                        started[0].wait()
            print(f"machine load average {os.getloadavg()[0]:.1f}")


# The shared baseline config (sendfile and tcp_nopush on, as the other node benches use),
# and the same with both off: better for a body this small (no cork/uncork, no sendfile).
NGINX_CONFIGS = {
    "nginx sendfile on": "",
    "nginx sendfile off": "sendfile off; tcp_nopush off;",
}


def compare(
    node_pid: int,
    node_port: int,
    baselines: list[tuple[str, tuple[subprocess.Popen[bytes], int, Path] | None]],
    paths: list[str],
    seconds: float,
    rounds: int,
) -> None:
    """The node and each nginx in turn, ``rounds`` times; totals and ratios."""
    if any(started is None for _, started in baselines):
        print("baseline: nginx not installed")
        return
    node_total = Tally()
    totals = {name: Tally() for name, _ in baselines}
    for round_ in range(1, rounds + 1):
        on_node = measure(node_pid, False, node_port, paths, seconds)
        node_total.add(on_node)
        ratios = []
        for name, started in baselines:
            assert started is not None
            on_nginx = measure(started[0].pid, True, started[1], paths, seconds)
            totals[name].add(on_nginx)
            ratios.append(f"{name.removeprefix('nginx ')} {on_node.per_cpu / on_nginx.per_cpu:.2f}")
        print(f"round {round_}: node / nginx per CPU-second: {', '.join(ratios)}")
    print(node_total.line("node /play/<token>.m3u8"))
    for name, total in totals.items():
        print(total.line(name))
    for name, total in totals.items():
        print(f"node / {name} per CPU-second: {node_total.per_cpu / total.per_cpu:.2f}")


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


if __name__ == "__main__":
    main()
