"""`palinsesto serve` as a process keeps secrets: the demo line's password is printed on
the first start only, a deleted demo tenant stays deleted, a failing EPG import's log
holds no credentials of its URL, and the data directory and its files are private."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BIN = Path(sys.executable).with_name("palinsesto")
URL_USER, URL_PASSWORD, QUERY_PASSWORD = "guideuser", "Gu1dePassw0rd", "QueryS3cret"


@dataclass
class Served:
    base: str
    output: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(self.output)

    def wait_for(self, needle: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            assert time.monotonic() < deadline, f"{needle!r} not in:\n{self.text()}"
            time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(data_dir: Path, **extra: str) -> Iterator[Served]:
    """``palinsesto serve`` on a fresh port, its stdout and stderr collected line by line."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PALINSESTO_")}
    env.update(
        PALINSESTO_DATA_DIR=str(data_dir),
        PALINSESTO_LISTEN=f"127.0.0.1:{port}",
        PALINSESTO_LIVE_LISTEN="127.0.0.1:0",
        PALINSESTO_RTMP_LISTEN="127.0.0.1:0",
        **extra,
    )
    proc = subprocess.Popen(
        [str(BIN), "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    served = Served(f"http://127.0.0.1:{port}")
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: served.output.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, served.text()
            try:
                if httpx.get(f"{served.base}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, served.text()
            time.sleep(0.1)
        yield served
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        reader.join(timeout=10)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _closed_port() -> int:
    return _free_port()  # bound and released: nothing listens there now


def test_demo_printed_once_never_resurrected_logs_and_files_private(tmp_path: Path) -> None:
    os.umask(0o022)  # what a default shell gives: files 0644 unless we say otherwise
    data_dir = tmp_path / "data"
    guide_url = (
        f"http://{URL_USER}:{URL_PASSWORD}@127.0.0.1:{_closed_port()}/guide.xml"
        f"?username={URL_USER}&password={QUERY_PASSWORD}"
    )
    with serving(data_dir, PALINSESTO_EPG_CHECK_SECONDS="1") as first:
        first.wait_for("Admin API")
        out = first.text()
        admin_password = re.search(r"password \(shown once\): (\S+)", out)
        demo = re.search(r"line (demo-\S+) / (\S+)", out)
        assert admin_password and demo, out
        demo_user, demo_password = demo.groups()
        token = httpx.post(
            f"{first.base}/api/v1/auth/token",
            data={"username": "admin", "password": admin_password.group(1)},
        ).json()["access_token"]
        api = httpx.Client(base_url=first.base, headers={"Authorization": f"Bearer {token}"})
        with api:
            tenant = api.get("/api/v1/tenants").json()["items"][0]
            assert tenant["slug"] == "demo"
            r = api.post(
                "/api/v1/epg/sources",
                json={"name": "Provider", "url": guide_url, "tenant_id": tenant["id"]},
            )
            assert r.status_code == 201, r.text
            # The periodic job (every second here) imports it; the failure is logged.
            first.wait_for("EPG import of source")
            run = api.get("/api/v1/epg/runs").json()["items"][0]
            assert run["status"] == "failed" and "cannot download" in run["error"]
            # Files while the server runs (SQLite's -wal and -shm exist now).
            assert _mode(data_dir) == 0o700
            for name in ("palinsesto.db", "palinsesto.db-wal", "palinsesto.db-shm", "secret.key"):
                assert (data_dir / name).exists(), name
                assert _mode(data_dir / name) == 0o600, (name, oct(_mode(data_dir / name)))
            assert api.delete(f"/api/v1/tenants/{tenant['id']}").status_code == 204
    log = first.text()
    for secret in (URL_PASSWORD, QUERY_PASSWORD):
        assert secret not in log, log
        assert secret not in run["error"], run["error"]
    assert "EPG import of source" in log and "***@127.0.0.1" in log

    with serving(data_dir) as second:
        time.sleep(1.0)  # the start-up banner is written before the server answers
        token = httpx.post(
            f"{second.base}/api/v1/auth/token",
            data={"username": "admin", "password": admin_password.group(1)},
        ).json()["access_token"]
        tenants = httpx.get(
            f"{second.base}/api/v1/tenants", headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert tenants["items"] == []
        account = httpx.get(
            f"{second.base}/player_api.php",
            params={"username": demo_user, "password": demo_password},
        ).json()
        assert account["user_info"]["auth"] == 0
    again = second.text()
    assert demo_password not in again and "Demo tenant" not in again, again
    assert "shown once" not in again
