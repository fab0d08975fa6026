"""`palinsesto nodes`: a lost node's last heartbeat shows, its last load does not (the
figures of a node that stopped answering are not what it does now)."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

from palinsesto.accounts.bootstrap import ensure_tenant
from palinsesto.cluster.models import Server
from palinsesto.cluster.node_leases import NodeLease
from palinsesto.cluster.node_leases_redis import RedisNodeLeases
from palinsesto.cluster.servers import new_node_token
from palinsesto.db import Database
from palinsesto.protocol.messages import NodeState
from support.databases import temporary_database
from support.redis_servers import REDIS_URL, redis_prefix
from support.serve_process import serve_env

from .test_panel_command import run


def _add_servers(url: str) -> tuple[int, int]:
    db = Database(url)
    with db.transaction() as s:
        tenant = ensure_tenant(s, "cli", "Cli")
        servers = [
            Server(
                tenant_id=tenant.id,
                name=name,
                public_url=f"http://{name}.invalid:8001",
                token_hash=new_node_token()[1],
            )  # fmt: skip
            for name in ("edge-live", "edge-gone")
        ]
        s.add_all(servers)
        s.flush()
        ids = (servers[0].id, servers[1].id)
    db.dispose()
    return ids


async def _beat(prefix: str, tenant_id: int, live: int, gone: int) -> None:
    leases = RedisNodeLeases(REDIS_URL, prefix)
    try:
        now = time.time()
        for node_id, when in ((live, now), (gone, now - 120)):
            lease = NodeLease(
                node_id, tenant_id, NodeState.online, "http://x.invalid:8001",
                viewers=7, egress_mbps=12.5, channels={1: 7},
            )  # fmt: skip
            await leases.beat(lease, 10.0, when)  # the gone one's lease ran out 110 s ago
    finally:
        await leases.close()


def test_a_lost_node_shows_its_last_heartbeat_and_no_load(tmp_path: Path) -> None:
    with temporary_database("postgresql", tmp_path) as url:
        live, gone = _add_servers(url)
        with redis_prefix() as prefix:
            asyncio.run(_beat(prefix, 1, live, gone))
            env = serve_env(tmp_path, DATABASE_URL=url, REDIS_URL=REDIS_URL,
                            REDIS_KEY_PREFIX=prefix)  # fmt: skip
            listed = run(env, "nodes")
    assert listed.returncode == 0, listed.stderr
    rows = {name: line for line in listed.stdout.splitlines()
            for name in ("edge-live", "edge-gone") if name in line}  # fmt: skip
    assert "online" in rows["edge-live"] and "12.5 Mbit/s" in rows["edge-live"]
    assert " 7 " in rows["edge-live"], rows["edge-live"]
    gone_row = rows["edge-gone"]
    assert "lost" in gone_row and "Mbit/s" not in gone_row and " 7 " not in gone_row, gone_row
    beat = re.search(r"(\d+) s ago", gone_row)  # the last heartbeat stays
    assert beat is not None and 120 <= int(beat.group(1)) < 200, gone_row
    assert gone_row.count("—") == 3, gone_row  # viewers, egress, channels: unknown
