"""`palinsesto panel`: refuses without PostgreSQL and Redis (one line), and with both
serves the control plane only: no data-plane port, node API answering, the nodes list."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import httpx

from palinsesto.accounts.bootstrap import ensure_tenant
from palinsesto.cluster.models import Server
from palinsesto.cluster.servers import new_node_token
from palinsesto.db import Database
from palinsesto.protocol.messages import Capacity, Heartbeat, Registration
from support.databases import temporary_database
from support.redis_servers import REDIS_URL, redis_prefix
from support.serve_process import BIN, serve_env, serve_process

NODE_API_LINE = re.compile(r"^Node API: (http://\S+)/node-api/v1 ", re.M)
LISTENING_LINE = re.compile(r"^Listening on (\S+):(\d+)$", re.M)


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, timeout=60)


def _add_server(url: str) -> str:
    db = Database(url)
    token, digest = new_node_token()
    with db.transaction() as s:
        tenant = ensure_tenant(s, "cli", "Cli")
        s.add(Server(tenant_id=tenant.id, name="edge-cli", public_url="http://e.invalid:8001",
                     token_hash=digest))  # fmt: skip
    db.dispose()
    return token


def test_panel_refuses_sqlite_and_a_missing_redis(tmp_path: Path) -> None:
    no_pg = run(serve_env(tmp_path), "panel")
    assert no_pg.returncode == 2
    assert "needs PostgreSQL" in no_pg.stderr and "PALINSESTO_DATABASE_URL" in no_pg.stderr
    env = serve_env(tmp_path, DATABASE_URL="postgresql://postgres@127.0.0.1:5432/x")
    no_redis = run(env, "panel")
    assert no_redis.returncode == 2 and "needs Redis" in no_redis.stderr
    assert "Traceback" not in no_pg.stderr + no_redis.stderr


def test_panel_serves_the_control_plane_only(tmp_path: Path) -> None:
    with temporary_database("postgresql", tmp_path, migrated=False) as url:
        with redis_prefix() as prefix:
            env = serve_env(
                tmp_path,
                DATABASE_URL=url,
                REDIS_URL=REDIS_URL,
                REDIS_KEY_PREFIX=prefix,
                ADMIN_PASSWORD="panel-admin-password",
            )
            with serve_process(env, command="panel") as panel:
                base = panel.base_url
                assert panel.wait_for(NODE_API_LINE).group(1) == base
                panel.wait_healthy()
                assert "Live streams on" not in panel.output  # no data plane
                unknown = httpx.post(
                    f"{base}/node-api/v1/heartbeat",
                    json={},
                    headers={"Authorization": "Bearer node_nope"},
                )
                assert unknown.status_code == 401
                token = _add_server(url)
                auth = {"Authorization": f"Bearer {token}"}
                reg = Registration("e", "http://e.invalid:8001", "", Capacity(), "t")
                r = httpx.post(f"{base}/node-api/v1/register", json=reg.to_json(), headers=auth)
                assert r.status_code == 200, r.text
                beat = Heartbeat(viewers=7, egress_mbps=12.5, cpu_percent=1.0)
                r = httpx.post(f"{base}/node-api/v1/heartbeat", json=beat.to_json(), headers=auth)
                assert r.status_code == 200, r.text
                listed = run(env, "nodes")
                assert listed.returncode == 0, listed.stderr
                row = next(line for line in listed.stdout.splitlines() if "edge-cli" in line)
                assert "online" in row and " 7 " in row and "12.5 Mbit/s" in row, row
                rotated = run(env, "keys", "rotate")
                assert rotated.returncode == 0 and "New signing key 2" in rotated.stdout


def test_panel_prints_the_address_it_listens_on_beside_the_public_one(tmp_path: Path) -> None:
    """Behind a proxy PUBLIC_URL names the proxy: the operator also needs the socket the
    replica serves on, to point the proxy at it."""
    with temporary_database("postgresql", tmp_path, migrated=False) as url:
        with redis_prefix() as prefix:
            env = serve_env(tmp_path, DATABASE_URL=url, REDIS_URL=REDIS_URL,
                            REDIS_KEY_PREFIX=prefix, PUBLIC_URL="https://tv.example.invalid",
                            ADMIN_PASSWORD="panel-admin-password")  # fmt: skip
            with serve_process(env, command="panel") as panel:
                host, port = panel.wait_for(LISTENING_LINE).groups()
                assert "Panel: https://tv.example.invalid/panel/" in panel.output
                assert host == "127.0.0.1" and int(port) > 0, panel.output
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if httpx.get(f"http://{host}:{port}/healthz", timeout=5).is_success:
                            break
                    except httpx.TransportError:
                        pass
                    assert time.monotonic() < deadline, panel.output
                    assert panel.proc.poll() is None, panel.output
                    time.sleep(0.1)
