"""A pipelined flood on the data plane must not stall the panel served by the same process.

Security review #1: 4 MB of ``GET /x`` on one connection stalled ``/healthz`` for 8.5 s, and
20 MB behind a pending request kept the server at 100 % CPU for 17 minutes. Here the real
``palinsesto serve`` runs as its own process (uvloop, httptools, as in production); a flood
process hammers its data plane on several connections for a few seconds, reconnecting each
time it is cut, while this test times hundreds of ``/healthz`` requests on the panel port.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from support import flood
from support.serve_process import serve_env, serve_process

FLOOD_SECONDS = 6.0
FLOOD_CONNECTIONS = 4
SAMPLES = 300
BOUND = 0.050  # p99 of /healthz under the flood, seconds


def _healthz_latencies(base: str, count: int, until: float | None = None) -> list[float]:
    """Seconds per ``/healthz`` on one keep-alive connection, a request every 10 ms.

    A bare socket rather than an HTTP library: on a loaded machine every millisecond of
    client CPU is a chance to be preempted, which would be counted against the server.
    A stall longer than 5 s counts as 5 s.
    """
    parts = urlsplit(base)
    request = f"GET /healthz HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    latencies: list[float] = []
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = sock.makefile("rb")
        while len(latencies) < count and (until is None or time.monotonic() < until):
            started = time.perf_counter()
            try:
                sock.sendall(request)
                status = reader.readline()
                length = 0
                while (line := reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                reader.read(length)
            except TimeoutError:
                latencies.append(5.0)
                break  # the connection is out of step now; one stall is enough to fail
            assert status.startswith(b"HTTP/1.1 200"), status
            latencies.append(time.perf_counter() - started)
            time.sleep(0.01)
    return latencies


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _status_line(host: str, port: int) -> bytes:
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(b"GET /nothing/here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return sock.makefile("rb").readline()


def test_pipelined_flood_is_cut_and_healthz_stays_fast(tmp_path: Path) -> None:
    env = serve_env(tmp_path / "data", rtmp_listen="off", log_level="warning")
    with serve_process(env, "--no-demo") as server:
        server.wait_healthy()
        host, live_port = server.live_address
        _healthz_latencies(server.base_url, 20)  # warm-up: first requests import and cache
        before = _healthz_latencies(server.base_url, 150)
        attacker = subprocess.Popen(
            [
                sys.executable,
                flood.__file__,
                host,
                str(live_port),
                str(FLOOD_SECONDS),
                str(FLOOD_CONNECTIONS),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(0.5)  # the flood is under way before the first sample
            under_flood = _healthz_latencies(
                server.base_url, SAMPLES, until=time.monotonic() + FLOOD_SECONDS - 0.7
            )
            out, _ = attacker.communicate(timeout=FLOOD_SECONDS + 60)
        finally:
            if attacker.poll() is None:
                attacker.kill()
        after = _healthz_latencies(server.base_url, 150)
        stats = json.loads(out)
        # The same process, same run, no flood: what this machine allows right now. On CI
        # that is a few ms and the bound is 50 ms; only when other work on the machine alone
        # already takes /healthz past half of it does the bound follow (twice the worse
        # baseline). The unfixed server stalled /healthz for seconds, failing either way.
        baseline = max(_p(before, 0.99), _p(after, 0.99))
        bound = max(BOUND, 2 * baseline)
        figures = (
            f"/healthz p50/p99/max ms: before {_p(before, 0.5) * 1000:.1f}/"
            f"{_p(before, 0.99) * 1000:.1f}/{max(before) * 1000:.1f}, under flood "
            f"{_p(under_flood, 0.5) * 1000:.1f}/{_p(under_flood, 0.99) * 1000:.1f}/"
            f"{max(under_flood) * 1000:.1f} ({len(under_flood)} samples), after "
            f"{_p(after, 0.5) * 1000:.1f}/{_p(after, 0.99) * 1000:.1f}/{max(after) * 1000:.1f};"
            f" bound {bound * 1000:.0f} ms; flood {stats}"
        )
        print(figures)
        # The flood really ran, and every connection was cut before its 20 MB got through.
        assert stats["connections"] >= FLOOD_CONNECTIONS, figures
        assert stats["through"] == 0 and stats["cut"] == stats["connections"], figures
        assert len(under_flood) >= 100, figures
        assert _p(under_flood, 0.99) <= bound, figures
        # Afterwards the data plane still answers ordinary requests.
        assert _status_line(host, live_port).startswith(b"HTTP/1.1 404"), figures
