"""Admissions per second through the panel's real 302 path to a node.

    PYTHONPATH=src .venv/bin/python bench/node_admission.py [--seconds 10 --clients 16]
        [--slots redis|memory]

Starts ``palinsesto panel`` (PostgreSQL at 127.0.0.1:5432 with a scratch database, and
its own ``redis-server`` on a free port, whose CPU per admission is reported too; with
``--slots memory`` the all-in-one ``palinsesto serve`` on the same database without
Redis: in-process session slots, leases and change events), seeds a tenant with a
channel, a line without a connection limit and a server, registers a stand-in node over
HTTP and keeps it heartbeating, then sends ``GET /live/U/P/ID.ts`` from ``--clients`` keep-alive
connections (a raw asyncio client) for ``--seconds``: every answer must be a 302 to the
node's ``/play/<token>.ts``. Each admission authenticates the line (throttle), authorizes
it (a remembered grant), reserves a session slot, reads the node leases and placement, and
signs a token. The panel runs pinned to CPU 0, the load to CPU 1.

Baselines in the same run, same client, same path and concurrency: a minimal ASGI app
answering a constant 302 under the panel's uvicorn settings, and nginx ``return 302``
(1 worker), each pinned to CPU 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from baseline_servers import cpu_seconds, start_constant_302, start_nginx  # noqa: E402
from cluster_control_plane import RedisCpu, private_redis  # noqa: E402
from palinsesto.accounts.models import Line, LineBouquet, Tenant  # noqa: E402
from palinsesto.catalog.models import Bouquet, BouquetItem, Channel, ItemType  # noqa: E402
from palinsesto.cluster.models import Server  # noqa: E402
from palinsesto.cluster.servers import new_node_token  # noqa: E402
from palinsesto.db import Database, upgrade  # noqa: E402
from palinsesto.protocol.messages import (  # noqa: E402
    HEARTBEAT_PATH,
    REGISTER_PATH,
    Capacity,
    Heartbeat,
    Registration,
)

PG = "postgresql://postgres@127.0.0.1:5432"
PROFILE: list[str] = []  # set by --profile: the panel under cProfile
PANEL_LINE = re.compile(r"^Panel: (http://\S+?)/panel/$", re.M)


def seed(url: str) -> tuple[str, int, str]:
    upgrade(url)
    db = Database(url)
    token, digest = new_node_token()
    with db.transaction() as s:
        tenant = Tenant(slug="bench", name="Bench")
        s.add(tenant)
        s.flush()
        channel = Channel(tenant_id=tenant.id, name="C", sources=[{"kind": "test_pattern"}])
        bouquet = Bouquet(tenant_id=tenant.id, name="B")
        s.add_all([channel, bouquet])
        s.flush()
        s.add(BouquetItem(bouquet_id=bouquet.id, item_type=ItemType.channel, item_id=channel.id))
        line = Line(tenant_id=tenant.id, username="viewer", password="pw", max_connections=0)
        s.add(line)
        s.flush()
        s.add(LineBouquet(line_id=line.id, bouquet_id=bouquet.id))
        s.add(
            Server(
                tenant_id=tenant.id,
                name="edge",
                public_url="http://edge.invalid:8001",
                capacity=10_000_000,
                token_hash=digest,
            )
        )
        channel_id = channel.id
    db.dispose()
    return token, channel_id, f"/live/viewer/pw/{channel_id}.ts"


def heartbeats(base: str, token: str, stop: threading.Event, ready: threading.Event) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    reg = Registration("edge", "http://edge.invalid:8001", "", Capacity(100_000, 100, 2), "b")
    with httpx.Client(base_url=base, headers=auth, timeout=60) as c:
        c.post(REGISTER_PATH, json=reg.to_json()).raise_for_status()
        ready.set()
        while not stop.wait(1.0):
            c.post(HEARTBEAT_PATH, json=Heartbeat(0, 0.0, 0.0).to_json()).raise_for_status()


async def client(host: str, port: int, path: str, until: float, counts: list[int]) -> None:
    """Keep-alive GETs; every answer must be a 302 to the node's ``/play/``."""
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bench\r\n\r\n".encode()
    while time.monotonic() < until:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = re.search(rb"content-length: (\d+)", head.lower())
        if length and int(length.group(1)):
            await reader.readexactly(int(length.group(1)))
        if status != 302 or b"location: http://edge.invalid:8001/play/" not in head.lower():
            raise AssertionError(head.decode(errors="replace"))
        counts[0] += 1
    writer.close()


async def load(base: str, path: str, seconds: float, clients: int) -> int:
    parts = httpx.URL(base)
    counts = [0]
    until = time.monotonic() + seconds
    await asyncio.gather(
        *(client(parts.host, parts.port or 80, path, until, counts) for _ in range(clients))
    )
    return counts[0]


def measure(
    name: str,
    pid: int,
    base: str,
    path: str,
    seconds: float,
    clients: int,
    redis_cpu: RedisCpu | None = None,
) -> None:
    """Requests per second, and per second of the server's CPU (the rate one core would
    reach were it the server's alone: the figure a shared, loaded machine can give); with
    ``redis_cpu``, redis-server's CPU per request too (its own, not the server's)."""
    asyncio.run(load(base, path, 1.0, clients))  # warm caches and connections
    cpu, start = cpu_seconds(pid), time.monotonic()  # nginx: with its worker
    red = redis_cpu.seconds() if redis_cpu is not None else 0.0
    count = asyncio.run(load(base, path, seconds, clients))
    wall, cpu = time.monotonic() - start, cpu_seconds(pid) - cpu
    extra = ""
    if redis_cpu is not None and count:
        extra = f"  + redis-server {(redis_cpu.seconds() - red) / count * 1e6:.0f} µs each"
    print(
        f"{name:<46} {count / wall:>9,.0f}/s  {count / cpu if cpu else 0:>9,.0f}/CPU-s  "
        f"{cpu / count * 1e6 if count else 0:>6.0f} µs CPU each{extra}"
    )


def baselines(path: str, seconds: float, clients: int) -> None:
    """The same request answered with a constant 302: uvicorn (the panel's settings), nginx."""
    location = "http://edge.invalid:8001/play/constant.ts"
    process, port = start_constant_302(location)
    try:
        base = f"http://127.0.0.1:{port}"
        measure("baseline: constant 302, ASGI app under uvicorn", process.pid, base, path,
                seconds, clients)  # fmt: skip
    finally:
        process.terminate()
        process.wait()
    started = start_nginx(f"location / {{ return 302 {location}; }}")
    if started is None:
        print("baseline: nginx not installed")
        return
    nginx, port, _ = started
    try:
        base = f"http://127.0.0.1:{port}"
        measure("baseline: constant 302, nginx (1 worker)", nginx.pid, base, path, seconds,
                clients)  # fmt: skip
    finally:
        nginx.terminate()
        nginx.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--profile", default="", help="write the panel's cProfile stats here")
    parser.add_argument("--slots", choices=("redis", "memory"), default="redis")
    args = parser.parse_args()
    if args.profile:
        PROFILE.extend([sys.executable, "-m", "cProfile", "-o", args.profile])
    name = f"palinsesto_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG}/{name}"
    stop = threading.Event()
    proc = None
    # Its own redis-server (no persistence), so that its CPU is this run's alone.
    own_redis = contextlib.ExitStack()
    redis_url = own_redis.enter_context(private_redis()) if args.slots == "redis" else ""
    try:
        token, _, path = seed(url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PALINSESTO_")}
        env.update(
            PALINSESTO_DATA_DIR=tempfile.mkdtemp(prefix="bench-panel-"),
            PALINSESTO_DATABASE_URL=url,
            PALINSESTO_LISTEN="127.0.0.1:0",
            PALINSESTO_LIVE_LISTEN="127.0.0.1:0",
            PALINSESTO_RTMP_LISTEN="127.0.0.1:0",
            PALINSESTO_ADMIN_PASSWORD="bench-admin-password",
            PALINSESTO_LOG_LEVEL="warning",
            PYTHONPATH=str(ROOT / "src"),
        )
        if args.slots == "redis":
            env.update(PALINSESTO_REDIS_URL=redis_url, PALINSESTO_REDIS_KEY_PREFIX=name)
        binary = Path(sys.executable).with_name("palinsesto")
        proc = subprocess.Popen(
            [
                "taskset",
                "-c",
                "0",
                *PROFILE,
                str(binary),
                "panel" if args.slots == "redis" else "serve",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        base = ""
        for line in proc.stdout:
            found = PANEL_LINE.search(line)
            if found:
                base = found.group(1)
                break
        assert base, "the panel did not start"
        out = proc.stdout
        threading.Thread(target=lambda: [None for _ in out], daemon=True).start()
        ready = threading.Event()
        beats = threading.Thread(target=heartbeats, args=(base, token, stop, ready), daemon=True)
        beats.start()
        assert ready.wait(60), "the stand-in node could not register"
        os.sched_setaffinity(0, {1})
        print(f"{args.clients} keep-alive clients, {args.seconds:.0f} s each, servers on CPU 0")
        where = "Redis slots" if args.slots == "redis" else "in-process slots"
        redis_cpu = RedisCpu(redis_url) if redis_url else None
        measure(f"admissions (302 to a node, {where})", proc.pid, base, path, args.seconds,
                args.clients, redis_cpu)  # fmt: skip
        baselines(path, args.seconds, args.clients)
        print(f"machine load average {os.getloadavg()[0]:.1f}")
    finally:
        stop.set()
        if proc is not None:
            proc.send_signal(2)  # SIGINT: a clean exit (cProfile writes its stats)
            proc.wait(timeout=15)
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        own_redis.close()


if __name__ == "__main__":
    main()
