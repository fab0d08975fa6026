"""Player API benchmark on a demo-data catalogue, with a bare-Starlette baseline.

    .venv/bin/python bench/player_api.py [--channels 20000 --movies 100000 --series 2000]

1. Fills a fresh SQLite database with ``palinsesto demo-data`` (reused on later runs of
   the same sizes) and adds a line holding the "Full" bouquet. Demo channels are all
   made on-demand: the ~2 % always-on ones would start ffmpeg on sources that do not
   exist, which is the live engine's business, not this benchmark's.
2. Starts ``palinsesto serve`` pinned to CPU 0; the load generator runs pinned to CPU 1.
3. Cold figures: the first ``get_live_streams`` after start (reads and serialises the
   live section only), then after an admin edit of a movie (the live list must stay
   cached) and of a channel (the live list is rebuilt; the edit must show).
4. Times ``get_live_streams`` (all categories), ``get_vod_streams``, ``get.php`` m3u_plus
   (live part, ``key=live``) and the account call; figures are end-to-end on loopback
   (request sent → last byte read), an upper bound of server time.
5. Measures the account call's requests/s with keep-alive connections from a raw asyncio
   client, and the server's RSS over 1,000 mixed requests from 10 concurrent clients.
6. Baseline in the same run: a bare Starlette app on uvicorn (same CPU pinning) serving
   the very bytes our server returned, from memory.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
USER, PASSWORD = "benchline", "benchpass1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(data_dir: Path, args: argparse.Namespace) -> dict[str, str]:
    env = dict(
        os.environ,
        PALINSESTO_DATA_DIR=str(data_dir),
        PALINSESTO_SECRET_KEY="bench-secret-" + "x" * 32,
        PALINSESTO_ADMIN_PASSWORD="bench-admin-password",
    )
    marker = data_dir / "ready"
    # The single initial migration is rebuilt while nothing is released: a database made
    # from an older one is thrown away rather than served with missing columns.
    schema = hashlib.sha256()
    for migration in sorted((ROOT / "src/palinsesto/db/migrations/versions").glob("*.py")):
        schema.update(migration.read_bytes())
    if not marker.exists() or marker.read_text() != schema.hexdigest():
        for old in data_dir.iterdir():
            if old.is_file():
                old.unlink()
        print(f"demo-data into {data_dir} ...", flush=True)
        t0 = time.monotonic()
        subprocess.run(
            [PYTHON, "-m", "palinsesto", "demo-data", "--tenant", "bench",
             "--channels", str(args.channels), "--movies", str(args.movies),
             "--series", str(args.series), "--episodes", str(args.episodes), "--lines", "10"],
            env=env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        add_line = textwrap.dedent(
            f"""
            from datetime import UTC, datetime, timedelta
            from sqlalchemy import select
            from palinsesto.accounts.models import Line, LineBouquet, Tenant
            from palinsesto.catalog.models import Bouquet
            from palinsesto.config import load_settings
            from palinsesto.db import Database
            db = Database(load_settings().effective_database_url)
            with db.transaction() as s:
                t = s.scalar(select(Tenant).where(Tenant.slug == "bench"))
                full = s.scalar(select(Bouquet.id).where(Bouquet.tenant_id == t.id,
                                                         Bouquet.name == "Full"))
                line = Line(tenant_id=t.id, username="{USER}", password="{PASSWORD}",
                            exp_date=datetime.now(UTC) + timedelta(days=365))
                s.add(line)
                s.flush()
                s.add(LineBouquet(line_id=line.id, bouquet_id=full, position=0))
            """
        )
        subprocess.run([PYTHON, "-c", add_line], env=env, check=True)
        marker.write_text(schema.hexdigest())
        print(f"  done in {time.monotonic() - t0:.0f}s", flush=True)
    on_demand = textwrap.dedent(
        """
        from sqlalchemy import update
        from palinsesto.catalog.models import Channel, ChannelMode
        from palinsesto.config import load_settings
        from palinsesto.db import Database
        db = Database(load_settings().effective_database_url)
        with db.transaction() as s:
            s.execute(update(Channel).values(mode=ChannelMode.on_demand))
        """
    )
    subprocess.run([PYTHON, "-c", on_demand], env=env, check=True)
    return env


class Admin:
    """Just enough of the admin API to edit one movie and one channel."""

    def __init__(self, port: int, password: str) -> None:
        self.base = f"http://127.0.0.1:{port}/api/v1"
        form = urlencode({"username": "admin", "password": password}).encode()
        with urllib.request.urlopen(f"{self.base}/auth/token", data=form, timeout=30) as r:
            self.token = json.load(r)["access_token"]

    def call(self, method: str, path: str, body: dict[str, object] | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.base}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as r:
            return json.load(r)


def start(cmd: list[str], env: dict[str, str], port: int, cpu: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        ["taskset", "-c", str(cpu), *cmd], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server on {port} did not start")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Conn:
    """One keep-alive HTTP/1.1 connection that reads Content-Length or chunked bodies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 24)
        return cls(reader, writer)

    async def get(self, target: str) -> tuple[int, bytes]:
        self.writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        headers = head.decode("latin-1").lower()
        if "transfer-encoding: chunked" in headers:
            parts = []
            while True:
                size = int((await self.reader.readline()).strip(), 16)
                if size == 0:
                    await self.reader.readline()
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            return status, b"".join(parts)
        length = int(headers.split("content-length:")[1].split("\r\n")[0])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def timings(port: int, target: str, n: int) -> tuple[list[float], int]:
    conn = await Conn.open(port)
    status, body = await conn.get(target)  # warm: builds the cache for this bouquet set
    assert status == 200, (target, status, body[:200])
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        status, body = await conn.get(target)
        out.append((time.perf_counter() - t0) * 1000)
        assert status == 200
    conn.close()
    return out, len(body)


async def cold(port: int, target: str) -> float:
    return (await fetch(port, target))[0]


async def fetch(port: int, target: str) -> tuple[float, bytes]:
    """One request on a new connection: (milliseconds, body)."""
    conn = await Conn.open(port)
    t0 = time.perf_counter()
    status, body = await conn.get(target)
    took = (time.perf_counter() - t0) * 1000
    conn.close()
    assert status == 200, (target, status, body[:200])
    return took, body


def after_edits(port: int, env: dict[str, str], live_target: str) -> dict[str, float]:
    """Times ``get_live_streams`` after a movie edit and after a channel edit."""
    admin = Admin(port, env["PALINSESTO_ADMIN_PASSWORD"])
    out: dict[str, float] = {}
    asyncio.run(fetch(port, live_target))  # the live list cached
    movie = admin.call("GET", "/movies?per_page=1")["items"][0]
    admin.call("PATCH", f"/movies/{movie['id']}", {"name": f"{movie['name']} (edited)"})
    out["live after a movie edit"], _ = asyncio.run(fetch(port, live_target))
    channel = admin.call("GET", "/channels?per_page=1")["items"][0]
    renamed = f"Renamed {time.time_ns()}"
    admin.call("PATCH", f"/channels/{channel['id']}", {"name": renamed})
    committed = time.monotonic()
    out["live after a channel edit"], body = asyncio.run(fetch(port, live_target))
    shown = time.monotonic() - committed
    assert renamed.encode() in body, "the channel edit is not in get_live_streams"
    out["channel edit shown after (ms)"] = shown * 1000
    admin.call("PATCH", f"/channels/{channel['id']}", {"name": channel["name"]})
    return out


async def throughput(port: int, target: str, seconds: float, conns: int = 32) -> float:
    done = 0
    stop = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        c = await Conn.open(port)
        while time.monotonic() < stop:
            status, _ = await c.get(target)
            assert status == 200
            done += 1
        c.close()

    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(conns)))
    return done / (time.monotonic() - t0)


async def mixed(port: int, targets: list[str], total: int, clients: int) -> None:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(targets[i % len(targets)])

    async def worker() -> None:
        c = await Conn.open(port)
        while not queue.empty():
            status, _ = await c.get(queue.get_nowait())
            assert status == 200
        c.close()

    await asyncio.gather(*(worker() for _ in range(clients)))


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


BASELINE_APP = """
import sys, pathlib
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
bodies = {p.stem: p.read_bytes() for p in pathlib.Path(sys.argv[1]).iterdir()}
def endpoint(name, media):
    async def handle(request):
        return Response(bodies[name], media_type=media)
    return handle
routes = [Route("/" + name, endpoint(name, "text/plain" if name == "m3u" else "application/json"))
          for name in bodies]
app = Starlette(routes=routes)
import uvicorn
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=20000)
    parser.add_argument("--movies", type=int, default=100000)
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--data-dir", default="")
    args = parser.parse_args()
    size = f"{args.channels}-{args.movies}-{args.series}-{args.episodes}"
    data_dir = Path(args.data_dir or Path(tempfile.gettempdir()) / f"palinsesto-bench-{size}")
    data_dir.mkdir(parents=True, exist_ok=True)
    env = prepare(data_dir, args)
    os.sched_setaffinity(0, {1})  # the load generator on CPU 1; servers on CPU 0

    port = free_port()
    env_server = dict(
        env,
        PALINSESTO_LISTEN=f"127.0.0.1:{port}",
        PALINSESTO_LOG_LEVEL="warning",
        # The live engine's listeners on free ports: other servers may run on this machine.
        PALINSESTO_LIVE_LISTEN="127.0.0.1:0",
        PALINSESTO_RTMP_LISTEN="off",
    )
    server = start([PYTHON, "-m", "palinsesto", "serve", "--no-demo"], env_server, port, cpu=0)
    creds = urlencode({"username": USER, "password": PASSWORD})
    targets = {
        "account": f"/player_api.php?{creds}",
        "live_streams": f"/player_api.php?{creds}&action=get_live_streams",
        "vod_streams": f"/player_api.php?{creds}&action=get_vod_streams",
        "m3u": f"/get.php?{creds}&type=m3u_plus&output=ts&key=live",
    }
    results: dict[str, dict[str, float]] = {}
    captured = Path(tempfile.mkdtemp(prefix="bench-bodies-"))
    try:
        # First the live list alone: it must not wait for the 100,000 movies.
        results["cold"] = {
            "live_streams": asyncio.run(cold(port, targets["live_streams"])),
            "vod_streams": asyncio.run(cold(port, targets["vod_streams"])),
            "m3u": asyncio.run(cold(port, targets["m3u"])),
        }
        edits = after_edits(port, env_server, targets["live_streams"])
        ours: dict[str, tuple[list[float], int]] = {}
        for name, target in targets.items():
            ours[name] = asyncio.run(timings(port, target, args.samples))

        async def capture() -> None:
            conn = await Conn.open(port)
            for name, target in targets.items():
                (captured / f"{name}.bin").write_bytes((await conn.get(target))[1])
            conn.close()

        asyncio.run(capture())
        ours_rps = asyncio.run(throughput(port, targets["account"], 5.0))
        before = rss_kib(server.pid)
        mix = [targets["account"], targets["live_streams"], targets["m3u"]] * 3
        mix.append(targets["vod_streams"])
        asyncio.run(mixed(port, mix, 1000, 10))
        after = rss_kib(server.pid)
        asyncio.run(mixed(port, mix, 1000, 10))
        after2 = rss_kib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=20)

    bport = free_port()
    for f in captured.iterdir():
        f.rename(f.with_suffix(""))
    baseline = start([PYTHON, "-c", BASELINE_APP, str(captured), str(bport)], env, bport, cpu=0)
    try:
        base: dict[str, tuple[list[float], int]] = {}
        for name in targets:
            base[name] = asyncio.run(timings(bport, f"/{name}", args.samples))
        base_rps = asyncio.run(throughput(bport, "/account", 5.0))
    finally:
        baseline.terminate()
        baseline.wait(timeout=20)
        for f in captured.iterdir():
            f.unlink()
        captured.rmdir()

    print(f"\ncatalogue: {args.channels:,} channels, {args.movies:,} movies, {args.series:,} "
          f"series x {args.episodes} episodes (line holds the Full bouquet)")  # fmt: skip
    print(f"{'request':<26}{'bytes':>12}{'p50 ms':>9}{'p95 ms':>9}{'cold ms':>9}"
          f"{'baseline p95':>14}")  # fmt: skip
    labels = {
        "account": "account call",
        "live_streams": "get_live_streams (all)",
        "vod_streams": "get_vod_streams (all)",
        "m3u": "get.php m3u_plus live",
    }
    for name, label in labels.items():
        samples, nbytes = ours[name]
        cold_ms = results["cold"].get(name)
        cold_text = f"{cold_ms:>9.0f}" if cold_ms is not None else f"{'-':>9}"
        print(f"{label:<26}{nbytes:>12,}{statistics.median(samples):>9.1f}{p95(samples):>9.1f}"
              f"{cold_text}{p95(base[name][0]):>14.1f}")  # fmt: skip
    print(f"account call, 32 keep-alive connections: {ours_rps:,.0f} req/s "
          f"(baseline bare Starlette, same bytes: {base_rps:,.0f} req/s; "
          f"target >= 5,000)")  # fmt: skip
    print(f"cold get_live_streams: first after start {results['cold']['live_streams']:,.0f} ms "
          f"(target <= 1,000), after a movie edit {edits['live after a movie edit']:,.0f} ms "
          f"(still cached), after a channel edit {edits['live after a channel edit']:,.0f} ms "
          f"(rebuilt; the edit shown {edits['channel edit shown after (ms)']:,.0f} ms after "
          f"its commit)")  # fmt: skip
    print(f"RSS: {before / 1024:.0f} MiB before, {after / 1024:.0f} MiB after 1,000 requests "
          f"({(after - before) / before * 100:+.1f} %), {after2 / 1024:.0f} MiB after 1,000 more "
          f"({(after2 - before) / before * 100:+.1f} %) — 10 concurrent clients")  # fmt: skip
    sys.stdout.flush()


if __name__ == "__main__":
    main()
