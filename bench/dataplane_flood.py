"""Pipelined flood on the live data plane vs /healthz latency of the same process.

Security review #1: the data plane answered pipelined requests one by one on the event loop
it shares with the panel, with an unbounded, re-copied input buffer; 4 MB of
``GET /x HTTP/1.1`` on one connection stalled ``/healthz`` 8.5 s. This starts the real
``palinsesto serve`` (uvloop, httptools), times ``/healthz`` with no flood (the baseline),
then again while flood processes (lowest CPU priority, as an attacker's machine would not
share our cores) send 20 MB of pipelined requests per connection, reconnecting whenever
they are cut. Loopback only; bounded by --seconds.

    .venv/bin/python bench/dataplane_flood.py [--seconds 8] [--connections 8]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REQUEST = b"GET /x HTTP/1.1\r\n\r\n"
FLOOD = REQUEST * (20_000_000 // len(REQUEST))
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"


def flood(port: int, seconds: float, connections: int) -> None:
    """The attacker (a child process): prints connections, cuts, bytes that got in."""
    os.nice(19)
    deadline = time.monotonic() + seconds
    stats = {"connections": 0, "cut": 0, "through": 0, "bytes_in": 0, "max_in": 0}
    lock = threading.Lock()

    def one() -> None:
        while time.monotonic() < deadline:
            sent, cut = 0, False
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                    view = memoryview(FLOOD)
                    while sent < len(view) and time.monotonic() < deadline:
                        sent += sock.send(view[sent : sent + (1 << 16)])
            except (ConnectionResetError, BrokenPipeError):
                cut = True
            except OSError:
                pass
            with lock:
                stats["connections"] += 1
                stats["cut"] += cut
                stats["through"] += sent == len(FLOOD)
                stats["bytes_in"] += sent
                stats["max_in"] = max(stats["max_in"], sent)

    threads = [threading.Thread(target=one) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(stats), flush=True)


def latencies(port: int, seconds: float, limit: int = 100_000) -> list[float]:
    """/healthz round trips (s) on one keep-alive connection, every 5 ms, for ``seconds``."""
    out: list[float] = []
    deadline = time.monotonic() + seconds
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = sock.makefile("rb")
        while time.monotonic() < deadline and len(out) < limit:
            started = time.perf_counter()
            sock.sendall(HEALTHZ)
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            reader.read(length)
            out.append(time.perf_counter() - started)
            time.sleep(0.005)
    return out


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"{name:<22} {len(values):>7} {statistics.median(values) * 1000:>8.2f} "
        f"{p99 * 1000:>8.2f} {max(values) * 1000:>8.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--flood-child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flood_child:
        flood(args.flood_child, args.seconds, args.connections)
        return
    data = Path(tempfile.mkdtemp(prefix="bench-flood-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PALINSESTO_")}
    env.update(
        PALINSESTO_DATA_DIR=str(data),
        PALINSESTO_LISTEN="127.0.0.1:0",
        PALINSESTO_LIVE_LISTEN="127.0.0.1:0",
        PALINSESTO_RTMP_LISTEN="off",
        PALINSESTO_LOG_LEVEL="warning",
        COLUMNS="200",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "palinsesto", "serve", "--no-demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = ""
        assert server.stdout is not None
        while not re.search(r"^Live streams on ", banner, re.M):
            line = server.stdout.readline()
            if not line:
                raise SystemExit(f"serve did not start:\n{banner}")
            banner += line
        threading.Thread(target=server.stdout.read, daemon=True).start()  # keep draining
        panel = re.search(r"^Panel: http://127\.0\.0\.1:(\d+)/", banner, re.M)
        live = re.search(r"^Live streams on 127\.0\.0\.1:(\d+)$", banner, re.M)
        assert panel and live, banner
        panel_port, live_port = int(panel.group(1)), int(live.group(1))
        for _ in range(600):
            try:
                latencies(panel_port, 0.1, 5)
                break
            except OSError:
                time.sleep(0.1)
        latencies(panel_port, 1.0)  # warm-up
        cpu_before = cpu_seconds(server.pid)
        baseline = latencies(panel_port, args.seconds)
        cpu_idle = cpu_seconds(server.pid) - cpu_before
        attacker = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--flood-child",
                str(live_port),
                "--seconds",
                str(args.seconds + 1),
                "--connections",
                str(args.connections),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.5)
        cpu_before = cpu_seconds(server.pid)
        flooded = latencies(panel_port, args.seconds)
        cpu_flood = cpu_seconds(server.pid) - cpu_before
        stats = json.loads(attacker.communicate(timeout=args.seconds + 60)[0])
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    print(f"{'/healthz':<22} {'samples':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    print(summary("baseline (no flood)", baseline))
    print(summary("under flood", flooded))
    print(
        f"server CPU: {cpu_idle / args.seconds * 100:.0f} % without flood, "
        f"{cpu_flood / args.seconds * 100:.0f} % under flood"
    )
    print(
        f"flood: {args.connections} connections at a time, {stats['connections']} made, "
        f"{stats['cut']} cut by the server, {stats['through']} got 20 MB through; "
        f"{stats['bytes_in'] / 1e6:.0f} MB left the flooder (most on one connection: "
        f"{stats['max_in'] / 1e6:.2f} MB, mostly kernel buffers)"
    )


if __name__ == "__main__":
    main()
