"""Run the real application under uvicorn in a thread, on 127.0.0.1 port 0."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from palinsesto.accounts.bootstrap import ensure_platform_admin
from palinsesto.app import create_app
from palinsesto.config import Settings
from palinsesto.context import AppContext
from palinsesto.db import Database, upgrade
from palinsesto.panel.playback.routes import viewer_first

ADMIN_USER = "root"
ADMIN_PASSWORD = "root-password-for-tests"


@dataclass
class RunningServer:
    base_url: str
    ctx: AppContext
    app: Any

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30, **kwargs)

    def token(self, username: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> str:
        with self.client() as c:
            r = c.post("/api/v1/auth/token", data={"username": username, "password": password})
            r.raise_for_status()
            return r.json()["access_token"]


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit it; without it every response written in two parts waits
    # ~40 ms for a delayed ACK (Nagle), which hides real latencies in tests and benches.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def make_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    return replace(
        Settings(),
        data_dir=tmp_path,
        database_url=database_url,
        secret_key="test-secret-key-" + "x" * 32,
        **{"live_listen": "127.0.0.1:0", "rtmp_listen": "127.0.0.1:0", **overrides},
    )


@contextmanager
def run_server(settings: Settings, *, local_node: bool = True) -> Iterator[RunningServer]:
    """Migrate, bootstrap the platform admin, and serve until the block ends.

    ``local_node=False``: as `palinsesto panel` runs it (no live engine; nodes serve)."""
    upgrade(settings.effective_database_url)
    db = Database(settings.effective_database_url)
    with db.transaction() as session:
        ensure_platform_admin(session, ADMIN_USER, ADMIN_PASSWORD)
    ctx = AppContext.build(settings, db)
    app = create_app(ctx, local_node=local_node)
    sock = _free_socket()
    port = sock.getsockname()[1]
    settings = replace(settings, listen=f"127.0.0.1:{port}")
    ctx.settings = settings
    # As `palinsesto serve` runs it: viewer paths taken ahead of FastAPI.
    config = uvicorn.Config(
        viewer_first(app),
        log_level="warning",
        lifespan="on",
        # As serve does: forwarded headers only from the configured proxies.
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxy_list,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", ctx, app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        db.dispose()
