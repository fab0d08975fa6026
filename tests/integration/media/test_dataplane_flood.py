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

import httpx

from support import flood
from support.serve_process import serve_env, serve_process

FLOOD_SECONDS = 6.0
FLOOD_CONNECTIONS = 4
SAMPLES = 300


def _healthz_latencies(base: str, count: int, until: float | None = None) -> list[float]:
    """Seconds per ``/healthz`` on one keep-alive connection (a timeout counts as 5 s)."""
    latencies: list[float] = []
    with httpx.Client(base_url=base, timeout=5) as client:
        while len(latencies) < count and (until is None or time.monotonic() < until):
            started = time.perf_counter()
            try:
                assert client.get("/healthz").status_code == 200
                latencies.append(time.perf_counter() - started)
            except httpx.TimeoutException:
                latencies.append(5.0)
            time.sleep(0.01)
    return latencies


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


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
        baseline = _healthz_latencies(server.base_url, 100)
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
        stats = json.loads(out)
        figures = (
            f"baseline p99 {_p99(baseline) * 1000:.1f} ms, under flood p99 "
            f"{_p99(under_flood) * 1000:.1f} ms, max {max(under_flood) * 1000:.1f} ms "
            f"over {len(under_flood)} samples; flood {stats}"
        )
        # The flood really ran, and every connection was cut before its 20 MB got through.
        assert stats["connections"] >= FLOOD_CONNECTIONS, figures
        assert stats["through"] == 0 and stats["cut"] == stats["connections"], figures
        assert len(under_flood) >= 100, figures
        assert _p99(under_flood) <= 0.050, figures
        # Afterwards the data plane still answers ordinary requests, and the panel too.
        assert _status_line(host, live_port).startswith(b"HTTP/1.1 404"), figures
        assert httpx.get(f"{server.base_url}/healthz", timeout=5).status_code == 200
