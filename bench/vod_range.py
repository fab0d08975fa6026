"""VOD delivery: concurrent Range readers of large files through ``/movie/U/P/ID.ext``.

Palinsesto (``palinsesto serve``: uvloop, the data plane authorizing each request against
the line, its bouquet and the connection limit, then ``sendfile(2)``) against a baseline
serving the same files in the same run: nginx (1 worker, sendfile on, tcp_nopush,
open_file_cache) when installed, else a plain asyncio server using ``loop.sendfile``.
Each server is pinned to CPU 0; the readers run in another process pinned to CPU 1, each
keeping one keep-alive connection busy with requests for 2 MiB at random offsets (as a
player seeking and buffering does). CPU is the server's utime + stime from /proc over the
measured window; "%/Gbps" is the share of one core each Gbps costs, for the server
alone and for server and readers together (loopback charges a segment's receive work to
whichever side runs it). The servers are measured in turns, ``--rounds`` times, and the
median round of each is compared: the machine is shared, so one run says little.

    /work/main/.venv/bin/python bench/vod_range.py [--files 4] [--size-mib 512]
        [--seconds 6] [--readers 50,200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

USER, PASSWORD = "vodbench", "vodbench-pass"
CHUNK = 2 << 20  # bytes per Range request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.3).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {port}") from None
            time.sleep(0.1)


def wait_served(port: int, path: str, seconds: float = 120) -> None:
    """Until ``path`` answers a Range request (a started process may accept connections
    into its backlog well before it serves them)."""
    deadline = time.monotonic() + seconds
    request = f"GET {path} HTTP/1.1\r\nHost: b\r\nRange: bytes=0-0\r\n\r\n".encode()
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), 5) as s:
                s.sendall(request)
                if s.recv(64).startswith(b"HTTP/1.1 206"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} is not served on {port}")
        time.sleep(0.2)


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError):
                continue
    return found


def make_file(path: Path, size: int) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        for _ in range(size >> 20):
            fh.write(block)
    with open(path, "rb") as fh:  # into the page cache, for every server alike
        while fh.read(8 << 20):
            pass


# ---- the servers -----------------------------------------------------------------------


def start_palinsesto(
    data_dir: Path, size: int, files: int
) -> tuple[subprocess.Popen[bytes], int, list[str]]:
    from palinsesto.accounts.bootstrap import ensure_tenant
    from palinsesto.accounts.models import Line, LineBouquet
    from palinsesto.catalog.models import Bouquet, BouquetItem, ItemType, Movie
    from palinsesto.config import load_settings
    from palinsesto.db import Database, upgrade

    data_dir.mkdir(parents=True, exist_ok=True)
    port, live_port = free_port(), free_port()
    env = dict(
        os.environ,
        PALINSESTO_DATA_DIR=str(data_dir),
        PALINSESTO_SECRET_KEY="bench-secret-" + "x" * 32,
        PALINSESTO_ADMIN_PASSWORD="bench-admin-password",
        PALINSESTO_LISTEN=f"127.0.0.1:{port}",
        PALINSESTO_LIVE_LISTEN=f"127.0.0.1:{live_port}",
        PALINSESTO_RTMP_LISTEN="off",
        PALINSESTO_LOG_LEVEL="warning",
    )
    settings = load_settings(env)
    upgrade(settings.effective_database_url)
    db = Database(settings.effective_database_url)
    with db.transaction() as session:
        tenant = ensure_tenant(session, "bench", "Bench")
        session.flush()
        folder = settings.effective_media_root / str(tenant.id)
        folder.mkdir(parents=True, exist_ok=True)
        bouquet = Bouquet(tenant_id=tenant.id, name="All")
        movies = []
        for i in range(files):
            make_file(folder / f"big{i}.mp4", size)
            movies.append(Movie(tenant_id=tenant.id, name=f"Big {i}", source_url=f"big{i}.mp4"))
        session.add_all([*movies, bouquet])
        session.flush()
        for movie in movies:
            session.add(
                BouquetItem(bouquet_id=bouquet.id, item_type=ItemType.movie, item_id=movie.id)
            )
        line = Line(tenant_id=tenant.id, username=USER, password=PASSWORD, max_connections=0)
        session.add(line)
        session.flush()
        session.add(LineBouquet(line_id=line.id, bouquet_id=bouquet.id))
        paths = [f"/movie/{USER}/{PASSWORD}/{movie.id}.mp4" for movie in movies]
    db.dispose()
    process = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, "-m", "palinsesto", "serve", "--no-demo"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(data_dir / "server.log").open("wb"),
    )
    wait_port(live_port)
    wait_served(live_port, paths[0])
    return process, live_port, paths


def start_nginx(
    root: Path, sources: list[Path], paths: list[str]
) -> tuple[subprocess.Popen[bytes], int] | None:
    exe = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if exe is None:
        return None
    # nginx's worker drops root for "nobody": let it walk the temporary tree.
    for folder in [root, *root.parents]:
        if folder == Path(tempfile.gettempdir()):
            break
        folder.mkdir(exist_ok=True)
        folder.chmod(0o755)
    for source, path in zip(sources, paths, strict=True):
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)  # the same inode: the same pages in the cache
        for folder in target.relative_to(root).parents:
            (root / folder).chmod(0o755)
        target.chmod(0o644)
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(
        f"""daemon off; worker_processes 1; pid {root}/nginx.pid; error_log {root}/error.log;
events {{ worker_connections 4096; }}
http {{ access_log off; sendfile on; tcp_nopush on; open_file_cache max=100;
  keepalive_requests 10000000; types {{ video/mp4 mp4; }}
  client_body_temp_path {root}; proxy_temp_path {root}; fastcgi_temp_path {root};
  uwsgi_temp_path {root}; scgi_temp_path {root};
  server {{ listen 127.0.0.1:{port}; root {root}; }} }}
"""
    )
    process = subprocess.Popen(["taskset", "-c", "0", exe, "-c", str(conf), "-p", str(root)])
    wait_port(port)
    wait_served(port, paths[0])
    return process, port


def _plain_sendfile_server(port: int, source: str) -> None:
    """The fallback baseline: a minimal asyncio Range server using loop.sendfile."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        size = os.path.getsize(source)
        with open(source, "rb") as fh:
            try:
                while True:
                    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
                    first, last = head.split("range: bytes=")[1].split("\r\n")[0].split("-")
                    start, end = int(first), min(int(last), size - 1)
                    writer.write(
                        f"HTTP/1.1 206 Partial Content\r\nContent-Length: {end - start + 1}\r\n"
                        f"Content-Range: bytes {start}-{end}/{size}\r\n\r\n".encode()
                    )
                    await writer.drain()
                    await asyncio.get_running_loop().sendfile(
                        writer.transport, fh, start, end - start + 1
                    )
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        await server.serve_forever()

    asyncio.run(main())


def start_plain(source: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    here = str(Path(__file__).parent)
    code = (
        f"import sys; sys.path.insert(0, {here!r}); import vod_range; "
        f"vod_range._plain_sendfile_server({port}, {str(source)!r})"
    )
    process = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", code])
    wait_port(port)
    return process, port


# ---- the readers -----------------------------------------------------------------------


class Reader(asyncio.BufferedProtocol):
    """One keep-alive connection asking for CHUNK bytes at random offsets; the body is
    received into one reused buffer and only counted, so the readers cost little."""

    def __init__(self, path: str, size: int, stats: dict[str, int], rng: random.Random) -> None:
        self.path, self.size, self.stats, self.rng = path, size, stats, rng
        self.view = memoryview(bytearray(1 << 18))
        self.head = b""
        self.left = -1
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.ask()

    def ask(self) -> None:
        start = self.rng.randrange(0, self.size - CHUNK)
        end = start + CHUNK - 1
        request = f"GET {self.path} HTTP/1.1\r\nHost: b\r\nRange: bytes={start}-{end}\r\n\r\n"
        self.transport.write(request.encode())  # type: ignore[union-attr]
        self.head, self.left = b"", -1

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view

    def buffer_updated(self, nbytes: int) -> None:
        data = self.view[:nbytes]
        while len(data):
            if self.left < 0:
                self.head += bytes(data)
                end = self.head.find(b"\r\n\r\n")
                if end < 0:
                    return
                head, data = self.head[:end], memoryview(self.head[end + 4 :])
                if not head.startswith(b"HTTP/1.1 206"):
                    self.stats["errors"] += 1
                length = head.lower().split(b"content-length:")[1].split(b"\r\n")[0]
                self.left = int(length)
            take = min(len(data), self.left)
            self.stats["bytes"] += take
            self.left -= take
            data = data[take:]
            if self.left == 0:
                self.stats["responses"] += 1
                self.ask()


async def _read(
    port: int, paths: list[str], size: int, readers: int, seconds: float
) -> dict[str, int]:
    stats = {"bytes": 0, "responses": 0, "errors": 0}
    loop = asyncio.get_running_loop()
    transports = []
    for i in range(readers):
        transport, _ = await loop.create_connection(
            lambda i=i: Reader(paths[i % len(paths)], size, stats, random.Random(i)),
            "127.0.0.1",
            port,
        )
        transports.append(transport)
    await asyncio.sleep(1.0)  # warm-up
    stats.update(bytes=0, responses=0)
    await asyncio.sleep(seconds)
    result = dict(stats)
    for transport in transports:
        transport.abort()
    return result


def _reader_process(
    port: int, paths: list[str], size: int, readers: int, seconds: float, q: multiprocessing.Queue
) -> None:
    os.sched_setaffinity(0, {1})
    import uvloop

    q.put(uvloop.run(_read(port, paths, size, readers, seconds)))


@dataclass(frozen=True)
class Figures:
    gbps: float
    server_cpu: float  # % of one core
    reader_cpu: float
    errors: int

    @property
    def server_per_gbps(self) -> float:
        return self.server_cpu / self.gbps if self.gbps else float("nan")

    @property
    def all_per_gbps(self) -> float:
        """Server and readers together: on loopback the kernel charges a segment's
        receive work to whichever side happens to run it, so the sum is the steadier."""
        return (self.server_cpu + self.reader_cpu) / self.gbps if self.gbps else float("nan")

    def row(self, readers: int) -> tuple[object, ...]:
        return (
            readers,
            f"{self.gbps:.2f}",
            f"{self.server_cpu:.0f}",
            f"{self.reader_cpu:.0f}",
            f"{self.server_per_gbps:.2f}",
            f"{self.all_per_gbps:.2f}",
        )


def measure(
    pids: list[int], port: int, paths: list[str], size: int, readers: int, seconds: float
) -> Figures:
    q: multiprocessing.Queue = multiprocessing.Queue()
    p = multiprocessing.Process(
        target=_reader_process, args=(port, paths, size, readers, seconds, q)
    )
    p.start()
    time.sleep(1.0 + 0.3)  # connections and warm-up
    cpu_before = cpu_seconds(pids)
    reader_before = cpu_seconds([p.pid])
    started = time.monotonic()
    time.sleep(seconds - 0.5)  # the reader process ends with its window
    reader_cpu = cpu_seconds([p.pid]) - reader_before
    reader_elapsed = time.monotonic() - started
    stats = q.get(timeout=seconds + 60)
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(pids) - cpu_before
    p.join()
    gbps = stats["bytes"] * 8 / seconds / 1e9
    return Figures(gbps, 100 * cpu / elapsed, 100 * reader_cpu / reader_elapsed, stats["errors"])


def _median(figures: list[Figures]) -> Figures:
    """The round with the median throughput (its CPU figures belong to it)."""
    ranked = sorted(figures, key=lambda f: f.gbps)
    return ranked[len(ranked) // 2]


COLUMNS = ("readers", "Gbps", "srv CPU %", "reader CPU %", "srv %/Gbps", "all %/Gbps")


def _print_row(name: str, cells: tuple[object, ...]) -> None:
    print(f"{name:<30} " + " ".join(f"{c:>12}" for c in cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=512, help="of each file")
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--readers", default="50,200")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = args.size_mib << 20
    counts = [int(n) for n in args.readers.split(",")]
    work = Path(tempfile.mkdtemp(prefix="vod-bench-"))
    servers: list[subprocess.Popen[bytes]] = []
    try:
        print(
            f"{args.files} files of {args.size_mib} MiB (readers spread over them), "
            f"{CHUNK >> 20} MiB per Range request",
            flush=True,
        )
        pal, pal_port, paths = start_palinsesto(work / "data", size, args.files)
        servers.append(pal)
        folder = next((work / "data" / "media").glob("*/big0.mp4")).parent
        sources = [folder / f"big{i}.mp4" for i in range(args.files)]
        targets = [("palinsesto /movie (sendfile)", [pal.pid], pal_port)]
        nginx = start_nginx(work / "nginx", sources, paths)
        if nginx is not None:
            servers.append(nginx[0])
            workers = child_pids(nginx[0].pid)
            targets.append(("nginx 1 worker (sendfile)", [nginx[0].pid, *workers], nginx[1]))
        else:
            plain = start_plain(sources[0])  # one file for every path: the same sizes
            servers.append(plain[0])
            targets.append(("plain asyncio loop.sendfile", [plain[0].pid], plain[1]))
            print("nginx not installed: baseline is a plain asyncio loop.sendfile server")
        _print_row("server", COLUMNS)
        summary: dict[int, list[Figures]] = {}
        for readers in counts:
            runs: dict[str, list[Figures]] = {name: [] for name, _, _ in targets}
            for _ in range(args.rounds):  # in turns, so both see the same neighbours
                for name, pids, port in targets:
                    got = measure(pids, port, paths, size, readers, args.seconds)
                    if got.errors:
                        raise SystemExit(f"{name}: {got.errors} responses were not 206")
                    runs[name].append(got)
                    _print_row(name, got.row(readers))
            summary[readers] = [_median(figures) for figures in runs.values()]
        print(f"\nmedian round of {args.rounds}")
        _print_row("server", COLUMNS)
        for readers, figures in summary.items():
            for (name, _, _), f in zip(targets, figures, strict=True):
                _print_row(name, f.row(readers))
        for readers, (ours, base) in summary.items():
            print(
                f"{readers} readers, ours / baseline: throughput {ours.gbps / base.gbps:.2f}; "
                f"Gbps per server CPU-second {base.server_per_gbps / ours.server_per_gbps:.2f}; "
                f"per CPU-second of server and readers {base.all_per_gbps / ours.all_per_gbps:.2f}"
            )
    finally:
        for process in servers:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
