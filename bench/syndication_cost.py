"""What a syndicated channel costs: viewers in 20 panels against viewers in one.

    .venv/bin/python bench/syndication_cost.py [--viewers 20] [--seconds 20]

``palinsesto serve`` (pinned to CPU 0) on a fresh SQLite catalogue: panel "bench" owns one
channel pulled over HTTP from a local source server (a 640x360 MPEG-TS at 2 Mbps, looped at
its real rate by this script), and offers it to N partner panels, each of which has
approved it, placed its entry in a bouquet and given a line to a viewer.

1. baseline: N TS viewers of the owner's line, all in panel "bench";
2. syndicated: one TS viewer in each of the N partner panels, each on its own entry.

For each, with every viewer connected, over ``--seconds``: the server's ffmpeg children,
the connections open to the source server (read from /proc/net/tcp), the server's CPU
seconds and its ffmpegs', and what the viewers received. The channel is left to stop
between the two (``live_idle_stop_seconds``), so each starts from a cold channel.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socketserver
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from live_world import LiveServer, children, make_sample
from palinsesto.accounts.models import Line, LineBouquet, Tenant
from palinsesto.catalog.models import Bouquet, BouquetItem, ItemType
from palinsesto.catalog.syndication import OfferTerms, decide, make_offer, request
from palinsesto.config import load_settings
from palinsesto.db import Database

TICKS = os.sysconf("SC_CLK_TCK")
PARTNER_PASSWORD = "partnerpass1"


class SourceServer:
    """The upstream: every client gets the sample looped at its real bitrate."""

    def __init__(self, sample: bytes, seconds: float) -> None:
        rate = len(sample) / seconds

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self.send_response(200)
                self.send_header("Content-Type", "video/mp2t")
                self.end_headers()
                started, sent, step = time.monotonic(), 0, 188 * 350
                try:
                    while True:
                        for i in range(0, len(sample), step):
                            self.wfile.write(sample[i : i + step])
                            sent += step
                            ahead = sent / rate - (time.monotonic() - started)
                            if ahead > 0.3:
                                time.sleep(ahead - 0.2)
                except (BrokenPipeError, ConnectionResetError):
                    return

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.httpd = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.ts"

    def connections(self) -> int:
        """Established TCP connections whose local end is the source's port."""
        port = f"{self.port:04X}"
        count = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                lines = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if fields[1].rsplit(":", 1)[1] == port and fields[3] == "01":
                    count += 1
        return count

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def add_partners(server: LiveServer, count: int) -> list[tuple[str, int]]:
    """``count`` panels carrying the owner's channel: (line username, entry id) each."""
    settings = load_settings(server.env)
    db = Database(settings.effective_database_url)
    now = datetime.now(UTC)
    viewers = []
    with db.transaction() as session:
        owner = session.query(Tenant).filter_by(slug="bench").one()
        channel_id = server.ids[0]
        offer = make_offer(
            session, owner.id, channel_id, OfferTerms(None, None, (), None, True, False), now
        )
        for n in range(count):
            tenant = Tenant(slug=f"partner-{n}", name=f"Partner {n}")
            session.add(tenant)
            session.flush()
            syndication, _ = request(session, tenant.id, offer.id, now)
            entry = decide(session, syndication, approve=True, now=now)
            assert entry is not None
            bouquet = Bouquet(tenant_id=tenant.id, name="Music")
            session.add(bouquet)
            session.flush()
            session.add(
                BouquetItem(bouquet_id=bouquet.id, item_type=ItemType.channel, item_id=entry.id)
            )
            line = Line(tenant_id=tenant.id, username=f"partner{n}", password=PARTNER_PASSWORD)
            session.add(line)
            session.flush()
            session.add(LineBouquet(line_id=line.id, bouquet_id=bouquet.id))
            viewers.append((line.username, entry.id))
    db.dispose()
    return viewers


async def viewer(port: int, path: str, stop: asyncio.Event) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    received = 0
    while not stop.is_set():
        try:
            data = await asyncio.wait_for(reader.read(1 << 16), 1.0)
        except TimeoutError:
            continue
        if not data:
            break
        received += len(data)
    writer.close()
    return received


async def scenario(
    server: LiveServer, source: SourceServer, paths: list[str], seconds: float
) -> dict[str, float]:
    assert server.process is not None
    pid = server.process.pid
    stop = asyncio.Event()
    tasks = [asyncio.create_task(viewer(server.live_port, p, stop)) for p in paths]
    await asyncio.sleep(4)  # the channel starts; every viewer is attached
    ffmpegs = children(pid)
    before = cpu_seconds(pid), sum(cpu_seconds(c) for c in ffmpegs)
    started = time.monotonic()
    upstream = []
    while time.monotonic() - started < seconds:
        upstream.append(source.connections())
        await asyncio.sleep(1)
    elapsed = time.monotonic() - started
    after = cpu_seconds(pid), sum(cpu_seconds(c) for c in children(pid))
    running = len(children(pid))
    stop.set()
    received = await asyncio.gather(*tasks)
    return {
        "viewers receiving": sum(1 for r in received if r > 0),
        "ffmpeg processes": max(len(ffmpegs), running),
        "upstream connections (max)": max(upstream),
        "server CPU s / s": (after[0] - before[0]) / elapsed,
        "ffmpeg CPU s / s": (after[1] - before[1]) / elapsed,
        "MB to viewers": sum(received) / 1e6,
    }


async def run(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="synd-bench-"))
    sample = make_sample(work / "sample.ts", seconds=10, bps=2_000_000)
    source = SourceServer(sample.read_bytes(), 10.0)
    channel = {"name": "Drums Live", "sources": [{"kind": "http_ts", "url": source.url}]}
    server = LiveServer(work, [channel], idle_stop=3)
    try:
        server.prepare()
        partners = add_partners(server, args.viewers)
        server.start()
        os.sched_setaffinity(0, {1})  # viewers and the source beside the server, not on it
        own = [server.path(server.ids[0])] * args.viewers
        one = await scenario(server, source, own, args.seconds)
        await asyncio.sleep(8)  # the channel stops: the next scenario starts it again
        idle = {"ffmpeg processes": len(children(server.process.pid))}  # type: ignore[union-attr]
        spread = [f"/live/{user}/{PARTNER_PASSWORD}/{entry}.ts" for user, entry in partners]
        many = await scenario(server, source, spread, args.seconds)
    finally:
        server.stop()
        source.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.viewers} TS viewers of one 2 Mbps channel pulled over HTTP, {args.seconds:g} s")
    print(f"(between the runs, channel stopped: {idle['ffmpeg processes']} ffmpeg)")
    print(f"{'':28}{'1 panel (baseline)':>20}{f'{args.viewers} panels':>14}")
    for key in one:
        print(f"{key:28}{one[key]:>20.3f}{many[key]:>14.3f}")
    ratio = many["server CPU s / s"] / one["server CPU s / s"] if one["server CPU s / s"] else 0
    print(f"server CPU, {args.viewers} panels / 1 panel: {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--viewers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
