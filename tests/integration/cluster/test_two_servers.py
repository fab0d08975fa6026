"""Two real `palinsesto serve` processes on one PostgreSQL database and one Redis.

An edit committed through server A's admin API reaches server B's player API within a
second (the player API issue: "a node never serves a stale bouquet after an edit is
committed + 1 s"), and CLI commands that change the catalogue announce it to servers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from palinsesto.accounts.bootstrap import ensure_platform_admin
from palinsesto.cluster.events_redis import RedisChangeEvents
from palinsesto.db import Database
from support.change_events import Heard
from support.databases import temporary_database
from support.redis_servers import REDIS_URL, free_port, redis_prefix

BIN = Path(sys.executable).with_name("palinsesto")
ADMIN_PASSWORD = "two-servers-admin-password"
PROPAGATION = 1.0  # seconds, from the issue


def _env(data_dir: Path, database_url: str, prefix: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PALINSESTO_")}
    env.update(
        PALINSESTO_DATA_DIR=str(data_dir),
        PALINSESTO_DATABASE_URL=database_url,
        PALINSESTO_REDIS_URL=REDIS_URL,
        PALINSESTO_REDIS_KEY_PREFIX=prefix,
        PALINSESTO_SECRET_KEY="two-servers-secret-" + "x" * 32,
        PALINSESTO_LIVE_LISTEN="127.0.0.1:0",
        PALINSESTO_RTMP_LISTEN="127.0.0.1:0",
        PALINSESTO_LOG_LEVEL="warning",
        COLUMNS="200",
        **extra,
    )
    return env


class Cluster:
    """Servers A and B, plus the environment a CLI command needs to join them."""

    def __init__(self, tmp_path: Path, database_url: str, prefix: str) -> None:
        self.tmp_path, self.database_url, self.prefix = tmp_path, database_url, prefix
        self.urls: dict[str, str] = {}
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, *names: str) -> None:
        for name in names:
            port = free_port()
            env = _env(
                self.tmp_path / name,
                self.database_url,
                self.prefix,
                PALINSESTO_LISTEN=f"127.0.0.1:{port}",
            )
            log = (self.tmp_path / f"{name}.log").open("wb")
            self.processes.append(
                subprocess.Popen([str(BIN), "serve", "--no-demo"], env=env, stdout=log, stderr=log)
            )
            self.urls[name] = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        for name in names:
            while True:
                try:
                    if httpx.get(f"{self.urls[name]}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                log_text = (self.tmp_path / f"{name}.log").read_text(errors="replace")
                assert time.monotonic() < deadline, f"server {name} did not start:\n{log_text}"
                time.sleep(0.05)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log_tails(self) -> str:
        tails = []
        for name in self.urls:
            text = (self.tmp_path / f"{name}.log").read_text(errors="replace")
            tails.append(f"--- server {name} ---\n{text[-3000:]}")
        return "\n".join(tails)

    def created(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 201, f"{response.text}\n{self.log_tails()}"
        return response.json()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = _env(self.tmp_path / "cli", self.database_url, self.prefix)
        return subprocess.run(
            [str(BIN), *args], env=env, capture_output=True, text=True, timeout=120
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp_path = tmp_path_factory.mktemp("two-servers")
    with temporary_database("postgresql", tmp_path) as url, redis_prefix() as prefix:
        db = Database(url)
        with db.transaction() as session:
            # Bootstrapped here so the two servers can start side by side.
            ensure_platform_admin(session, "admin", ADMIN_PASSWORD)
        db.dispose()
        running = Cluster(tmp_path, url, prefix)
        try:
            running.start("a", "b")
            yield running
        finally:
            running.stop()


def _admin(base_url: str) -> httpx.Client:
    token = httpx.post(
        f"{base_url}/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD}
    )
    token.raise_for_status()
    return httpx.Client(
        base_url=f"{base_url}/api/v1",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=30,
    )


def _within(check: Callable[[], bool], seconds: float) -> float:
    """Seconds until ``check()`` held; fails if it did not within ``seconds``."""
    start = time.monotonic()
    while not check():
        elapsed = time.monotonic() - start
        assert elapsed < seconds, f"still stale {elapsed:.2f}s after the commit"
        time.sleep(0.02)
    return time.monotonic() - start


def test_an_edit_on_one_server_reaches_the_other_within_a_second(cluster: Cluster) -> None:
    with _admin(cluster.urls["a"]) as a:
        tenant = cluster.created(a.post("/tenants", json={"name": "Two", "slug": "two"}))["id"]
        category = cluster.created(
            a.post("/categories", json={"name": "News", "kind": "live", "tenant_id": tenant})
        )["id"]
        channels = [
            cluster.created(
                a.post(
                    "/channels",
                    json={"name": name, "category_ids": [category], "tenant_id": tenant},
                )
            )["id"]
            for name in ("First", "Second")
        ]
        bouquet = cluster.created(a.post("/bouquets", json={"name": "Main", "tenant_id": tenant}))[
            "id"
        ]
        items = {"items": [{"item_type": "channel", "item_id": channels[0]}]}
        assert a.put(f"/bouquets/{bouquet}/items", json=items).status_code == 200
        line = cluster.created(
            a.post(
                "/lines",
                json={
                    "username": "viewer",
                    "password": "viewer-pw",
                    "bouquet_ids": [bouquet],
                    "tenant_id": tenant,
                },
            )
        )["id"]

        player_b = httpx.Client(base_url=cluster.urls["b"], timeout=30)
        credentials = {"username": "viewer", "password": "viewer-pw"}

        def live_names() -> list[str]:
            r = player_b.get(
                "/player_api.php", params={**credentials, "action": "get_live_streams"}
            )
            assert r.status_code == 200, r.text
            return [stream["name"] for stream in r.json()]

        def account_status() -> str:
            return player_b.get("/player_api.php", params=credentials).json()["user_info"]["status"]

        try:
            # B has the bouquet and the line cached before any edit.
            assert live_names() == live_names() == ["First"]
            assert account_status() == "Active"

            items["items"].append({"item_type": "channel", "item_id": channels[1]})
            assert a.put(f"/bouquets/{bouquet}/items", json=items).status_code == 200
            _within(lambda: live_names() == ["First", "Second"], PROPAGATION)

            renamed = a.patch(f"/channels/{channels[0]}", json={"name": "First, renamed"})
            assert renamed.status_code == 200, renamed.text
            _within(lambda: live_names() == ["First, renamed", "Second"], PROPAGATION)

            disabled = a.patch(f"/lines/{line}", json={"enabled": False})
            assert disabled.status_code == 200, disabled.text
            _within(lambda: account_status() == "Disabled", PROPAGATION)
            assert live_names() == []
            playlist = player_b.get("/get.php", params={**credentials, "type": "m3u_plus"})
            assert playlist.status_code == 404
        finally:
            player_b.close()


def test_cli_commands_that_change_the_catalogue_tell_running_servers(cluster: Cluster) -> None:
    listener = RedisChangeEvents(REDIS_URL, cluster.prefix)
    heard = Heard()
    listener.subscribe(heard)
    try:
        created = cluster.cli("admin", "create-tenant", "from-cli")
        assert created.returncode == 0, created.stderr
        tenant = int(created.stdout.split()[1])
        heard.wait_for((tenant, "lines"), timeout=1.0)

        playlist = cluster.tmp_path / "list.m3u"
        playlist.write_text('#EXTM3U\n#EXTINF:-1 group-title="News",Imported\nhttp://x.test/1\n')
        imported = cluster.cli("import", "m3u", str(playlist), "--tenant", "from-cli")
        assert imported.returncode == 0, imported.stderr
        heard.events.clear()
        demo = cluster.cli(
            "demo-data",
            "--tenant",
            "from-cli",
            "--channels=2",
            "--movies=0",
            "--series=0",
            "--lines=1",
        )
        assert demo.returncode == 0, demo.stderr
        heard.wait_for((tenant, "channels"), timeout=1.0)
        assert {(tenant, "catalog"), (tenant, "lines")} <= set(heard.events)
    finally:
        listener.close()
