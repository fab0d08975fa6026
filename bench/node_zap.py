"""Zap through panel + node against the all-in-one ``serve``, warm and cold, TS and HLS.

    PYTHONPATH=src .venv/bin/python bench/node_zap.py [--zaps 8] [--colds 3]

Cluster: ``palinsesto panel`` (PostgreSQL at 127.0.0.1:5432, Redis at 127.0.0.1:6379, a
scratch database and key prefix) and one ``palinsesto node`` registered to it, both on
CPU 0. Baseline in the same run: ``palinsesto serve`` (SQLite) on CPU 0, the same
channels. Each side has on-demand channels playing a generated 320x180 test pattern
(libx264 makes the first IDR): one kept warm, and one never started for each cold zap (an
HLS session keeps its channel running for a while, so a stopped channel cannot simply be
played again; a fresh one is as cold as it gets on both sides). The client (CPU 1)
always starts at the panel URL ``/live/U/P/ID.ts|m3u8`` and follows its 302, as an app does.

* TS: time to the first body byte (TTFB) and to the first *complete* keyframe (the next
  video PES after an IDR has arrived: a decoder could show it).
* HLS: TTFB of the playlist, then the newest segment listed is fetched; first keyframe =
  that segment holds a complete keyframe (segments start at keyframes).
* warm: a TS viewer keeps the channel running; cold: a channel not running anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
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
sys.path.insert(0, str(ROOT / "tests"))

from live_world import PASSWORD, USER, LiveServer  # noqa: E402
from palinsesto.accounts.models import Line, LineBouquet, Tenant  # noqa: E402
from palinsesto.catalog.models import (  # noqa: E402
    Bouquet,
    BouquetItem,
    Channel,
    ChannelMode,
    ItemType,
)
from palinsesto.cluster.models import Server  # noqa: E402
from palinsesto.cluster.servers import new_node_token  # noqa: E402
from palinsesto.db import Database, upgrade  # noqa: E402
from support.node_panel import node_env  # noqa: E402
from zap import KeyframeWatch  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/0"
PATTERN = [{"kind": "test_pattern", "url": "testsrc://320x180@25"}]
BIN = Path(sys.executable).with_name("palinsesto")


def channel_names(colds: int) -> list[str]:
    return ["Warm", *(f"Cold {n}" for n in range(2 * colds))]


def seed_cluster(url: str, colds: int) -> tuple[str, list[int]]:
    upgrade(url)
    db = Database(url)
    token, digest = new_node_token()
    with db.transaction() as s:
        tenant = Tenant(slug="bench", name="Bench")
        s.add(tenant)
        s.flush()
        bouquet = Bouquet(tenant_id=tenant.id, name="B")
        rows = [
            Channel(tenant_id=tenant.id, name=n, sources=PATTERN, mode=ChannelMode.on_demand)
            for n in channel_names(colds)
        ]
        s.add_all([bouquet, *rows])
        s.flush()
        for row in rows:
            s.add(BouquetItem(bouquet_id=bouquet.id, item_type=ItemType.channel, item_id=row.id))
        line = Line(tenant_id=tenant.id, username=USER, password=PASSWORD, max_connections=0)
        s.add(line)
        s.flush()
        s.add(LineBouquet(line_id=line.id, bouquet_id=bouquet.id))
        s.add(Server(tenant_id=tenant.id, name="node", public_url="http://127.0.0.1:1",
                     capacity=1000, token_hash=digest))  # fmt: skip
        ids = [row.id for row in rows]
    db.dispose()
    return token, ids


def start_logged(
    argv: list[str], env: dict[str, str], pattern: str
) -> tuple[subprocess.Popen[str], str]:
    """Start ``argv``; the first output line containing ``pattern``, the rest drained."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)  # fmt: skip
    assert proc.stdout is not None
    found = ""
    for line in proc.stdout:
        if pattern in line:
            found = line
            break
    assert found, f"{argv[2:]} did not start"
    out = proc.stdout
    threading.Thread(target=lambda: [None for _ in out], daemon=True).start()
    return proc, found


async def zap_ts(client: httpx.AsyncClient, url: str) -> tuple[float, float]:
    started = time.monotonic()
    async with client.stream("GET", url) as answer:
        answer.raise_for_status()
        watch, first = KeyframeWatch(), 0.0
        async for data in answer.aiter_raw():
            first = first or time.monotonic() - started
            if watch.feed(data):
                return first, time.monotonic() - started
    raise RuntimeError("the stream ended before a keyframe")


async def zap_hls(client: httpx.AsyncClient, url: str) -> tuple[float, float]:
    started = time.monotonic()
    listed = await client.get(url)
    listed.raise_for_status()
    first = time.monotonic() - started
    newest = [x for x in listed.text.splitlines() if x and not x.startswith("#")][-1]
    segment = await client.get(str(listed.url.join(newest)))
    segment.raise_for_status()
    watch = KeyframeWatch()
    if not watch.feed(segment.content) and not watch.key_seen:
        raise RuntimeError("a segment without a keyframe")
    return first, time.monotonic() - started


async def hold(client: httpx.AsyncClient, url: str, stop: asyncio.Event) -> None:
    async with client.stream("GET", url) as answer:
        async for _ in answer.aiter_raw():
            if stop.is_set():
                return


async def side(name: str, base: str, ids: list[int], args: argparse.Namespace) -> list[str]:
    warm, colds = ids[0], iter(ids[1:])
    results: list[str] = []
    async with httpx.AsyncClient(follow_redirects=True, timeout=60) as client:
        stop = asyncio.Event()
        holder = asyncio.create_task(hold(client, f"{base}/live/{USER}/{PASSWORD}/{warm}.ts", stop))
        await asyncio.sleep(4)  # running, with a keyframe in its ring and HLS segments
        for kind, zap in (("ts", zap_ts), ("m3u8", zap_hls)):
            got = [await zap(client, f"{base}/live/{USER}/{PASSWORD}/{warm}.{kind}")
                   for _ in range(args.zaps)]  # fmt: skip
            results.append(row(f"{name} warm {kind}", got))
        stop.set()
        holder.cancel()
        for kind, zap in (("ts", zap_ts), ("m3u8", zap_hls)):
            got = []
            for _ in range(args.colds):
                cold = next(colds)
                got.append(await zap(client, f"{base}/live/{USER}/{PASSWORD}/{cold}.{kind}"))
            results.append(row(f"{name} cold {kind}", got))
    return results


def row(label: str, got: list[tuple[float, float]]) -> str:
    def stats(values: list[float]) -> str:
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        return f"{1000 * statistics.median(values):8.0f} {1000 * p95:8.0f}"

    return f"{label:<22} {stats([g[0] for g in got])}   {stats([g[1] for g in got])}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--zaps", type=int, default=8)
    parser.add_argument("--colds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-node-zap-"))
    name = f"palinsesto_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    procs: list[subprocess.Popen[str]] = []
    serve = LiveServer(
        work / "serve",
        [
            {"name": n, "sources": PATTERN, "mode": ChannelMode.on_demand}
            for n in channel_names(args.colds)
        ],
    )
    try:
        token, ids = seed_cluster(f"{PG}/{name}", args.colds)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PALINSESTO_")}
        env.update(
            PALINSESTO_DATA_DIR=str(work / "panel"),
            PALINSESTO_DATABASE_URL=f"{PG}/{name}",
            PALINSESTO_REDIS_URL=REDIS,
            PALINSESTO_REDIS_KEY_PREFIX=name,
            PALINSESTO_LISTEN="127.0.0.1:0",
            PALINSESTO_ADMIN_PASSWORD="bench-admin-password",
            PALINSESTO_LOG_LEVEL="warning",
            PYTHONPATH=str(ROOT / "src"),
        )
        panel, line = start_logged(["taskset", "-c", "0", str(BIN), "panel"], env, "Panel: ")
        procs.append(panel)
        panel_base = line.split("Panel: ", 1)[1].strip().removesuffix("/panel/")
        node_environ, _ = node_env(work, live_idle_stop_seconds="1")
        node, _ = start_logged(
            ["taskset", "-c", "0", str(BIN), "node", "--panel", panel_base, "--token", token],
            node_environ, "Registered as node",
        )  # fmt: skip
        procs.append(node)
        serve.data_dir.mkdir(parents=True, exist_ok=True)
        serve.prepare()
        serve.start()
        os.sched_setaffinity(0, {1})

        lines = asyncio.run(side("panel + node", panel_base, ids, args))
        lines += asyncio.run(
            side("serve (baseline)", f"http://127.0.0.1:{serve.port}", serve.ids, args)  # fmt: skip
        )
        print(f"{args.zaps} warm and {args.colds} cold zaps each (ms)")
        print(f"{'':<22} {'TTFB med':>8} {'p95':>8}   {'keyframe':>8} {'p95':>8}")
        print("\n".join(lines))
        print(f"machine load average {os.getloadavg()[0]:.1f}")
    finally:
        serve.stop()
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=20)
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
