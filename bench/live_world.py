"""Shared set-up of the live benchmarks (zap.py, channel_memory.py): sample media, a fresh
SQLite catalogue with one line and some channels, and ``palinsesto serve`` pinned to CPU 0.
Not a benchmark itself."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import imageio_ffmpeg

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
USER, PASSWORD = "benchline", "benchpass1"
ADMIN_PASSWORD = "bench-admin-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_sample(path: Path, seconds: int = 10, bps: int = 0, size: str = "640x360") -> Path:
    """A local H.264/AAC MPEG-TS with a keyframe every second (25 frames); with ``bps``
    the video is constant-rate (x264 filler data, which a ``copy`` remux keeps), so the
    channel carries that many bits per second."""
    if not path.exists():
        mux: list[str] = []
        if bps:
            kbps = str((bps - 150_000) // 1000) + "k"
            mux = ["-b:v", kbps, "-minrate", kbps, "-maxrate", kbps, "-bufsize", kbps,
                   "-x264-params", "nal-hrd=cbr"]  # fmt: skip
        subprocess.run(
            [
                FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
                "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25",
                "-f", "lavfi", "-i", "sine=frequency=440", "-t", str(seconds),
                "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-sc_threshold", "0",
                "-c:a", "aac", "-b:a", "96k", *mux, "-f", "mpegts", str(path),
            ],
            check=True,
        )  # fmt: skip
    return path


def _in_media(folder: Path, sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """File sources are read inside the tenant's media folder: link each file there."""
    found = []
    for source in sources:
        if source.get("kind") == "file":
            folder.mkdir(parents=True, exist_ok=True)
            original = Path(source["url"])
            if not (folder / original.name).exists():
                os.link(original, folder / original.name)
            source = {**source, "url": f"/{original.name}"}
        found.append(source)
    return found


@dataclass
class LiveServer:
    data_dir: Path
    channels: list[dict[str, Any]]  # name, sources, mode
    idle_stop: int = 10
    env: dict[str, str] = field(default_factory=dict)
    ids: list[int] = field(default_factory=list)
    port: int = 0
    live_port: int = 0
    process: subprocess.Popen[bytes] | None = None
    token: str = ""

    def prepare(self) -> None:
        from palinsesto.accounts.bootstrap import ensure_tenant
        from palinsesto.accounts.models import Line, LineBouquet
        from palinsesto.catalog.models import Bouquet, BouquetItem, Channel, ItemType
        from palinsesto.config import load_settings
        from palinsesto.db import Database, upgrade

        self.port, self.live_port = free_port(), free_port()
        self.env = dict(
            os.environ,
            PALINSESTO_DATA_DIR=str(self.data_dir),
            PALINSESTO_SECRET_KEY="bench-secret-" + "x" * 32,
            PALINSESTO_ADMIN_PASSWORD=ADMIN_PASSWORD,
            PALINSESTO_LISTEN=f"127.0.0.1:{self.port}",
            PALINSESTO_LIVE_LISTEN=f"127.0.0.1:{self.live_port}",
            PALINSESTO_RTMP_LISTEN="off",
            PALINSESTO_LOG_LEVEL="warning",
            PALINSESTO_LIVE_IDLE_STOP_SECONDS=str(self.idle_stop),
            PALINSESTO_LIVE_ALLOW_PRIVATE_SOURCES="true",
        )
        url = load_settings(self.env).effective_database_url
        upgrade(url)
        db = Database(url)
        with db.transaction() as session:
            tenant = ensure_tenant(session, "bench", "Bench")
            session.flush()
            bouquet = Bouquet(tenant_id=tenant.id, name="All")
            session.add(bouquet)
            media = self.data_dir / "media" / str(tenant.id)
            rows = [
                Channel(tenant_id=tenant.id, **{**c, "sources": _in_media(media, c["sources"])})
                for c in self.channels
            ]
            session.add_all(rows)
            session.flush()
            for row in rows:
                session.add(
                    BouquetItem(bouquet_id=bouquet.id, item_type=ItemType.channel, item_id=row.id)
                )
            line = Line(tenant_id=tenant.id, username=USER, password=PASSWORD, max_connections=0)
            session.add(line)
            session.flush()
            session.add(LineBouquet(line_id=line.id, bouquet_id=bouquet.id))
            self.ids = [row.id for row in rows]
        db.dispose()

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["taskset", "-c", "0", PYTHON, "-m", "palinsesto", "serve", "--no-demo"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=(self.data_dir / "server.log").open("wb"),
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.live_port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("palinsesto serve did not start") from None
                time.sleep(0.2)
        form = urlencode({"username": "admin", "password": ADMIN_PASSWORD}).encode()
        base = f"http://127.0.0.1:{self.port}/api/v1"
        with urllib.request.urlopen(f"{base}/auth/token", data=form, timeout=30) as r:
            self.token = json.load(r)["access_token"]

    def status(self, channel_id: int) -> dict[str, Any]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/v1/live/channels/{channel_id}",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as r:
            return json.load(r)

    def path(self, channel_id: int) -> str:
        return f"/live/{USER}/{PASSWORD}/{channel_id}.ts"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (the server's ffmpegs)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                if int(fh.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return found
