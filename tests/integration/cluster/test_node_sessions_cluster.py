"""The admin's sessions list and "end session" across panel replicas: two panels on one
PostgreSQL database and one Redis, a real ``palinsesto node`` heartbeating to panel A; a
play admitted by panel B is listed by A, and ended through A's admin API, the node cuts it
(A's heartbeat reply carries it in "sessions to end")."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from support.admin_api import make_tenant as make_staffed_tenant
from support.admin_api import root_client
from support.databases import temporary_database
from support.node_world import PASSWORD, add_server, make_tenant
from support.redis_servers import REDIS_URL, redis_prefix
from support.serve_process import serve_env, serve_process
from support.server import RunningServer, make_settings, run_server

NODE_LINE = re.compile(r"Serving players on (http://\S+) ")


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[tuple[RunningServer, RunningServer]]:
    with ExitStack() as stack:
        url = stack.enter_context(temporary_database("postgresql", tmp_path))
        prefix = stack.enter_context(redis_prefix())
        panels = [
            stack.enter_context(
                run_server(
                    make_settings(
                        tmp_path / name,
                        url,
                        node_heartbeat_seconds=0.5,
                        redis_url=REDIS_URL,
                        redis_key_prefix=prefix,
                    ),
                    local_node=False,
                )
            )
            for name in ("a", "b")
        ]
        yield panels[0], panels[1]


def _sessions(panel: RunningServer) -> list[dict[str, object]]:
    with root_client(panel) as c:
        r = c.get("/api/v1/live/sessions")
        assert r.status_code == 200, r.text
        return list(r.json())


def test_a_session_admitted_by_one_replica_is_listed_and_ended_by_the_other(
    replicas: tuple[RunningServer, RunningServer], tmp_path: Path
) -> None:
    a, b = replicas
    side = make_tenant(a, "spread", max_connections=2)
    _, token = add_server(a, side.id, "only-node")
    env = serve_env(tmp_path / "node", NODE_HEARTBEAT_SECONDS="0.5")
    with serve_process(env, "--panel", a.base_url, "--token", token, command="node") as node:
        node_url = node.wait_for(NODE_LINE, timeout=30).group(1)
        url = f"{b.base_url}/live/{side.line}/{PASSWORD}/{side.channel}.ts"
        deadline = time.monotonic() + 30
        with httpx.Client(timeout=30) as c:
            while True:  # until the node's lease is in Redis
                r = c.get(url, follow_redirects=False)
                if r.status_code == 302 or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
            assert r.status_code == 302, r.text
            location = r.headers["location"]
            assert location.startswith(f"{node_url}/play/")
            stream = c.send(c.build_request("GET", location), stream=True)
            try:
                assert stream.status_code == 200, (stream.read(), node.output[-3000:])
                chunks = stream.iter_bytes()
                assert next(chunks)[:1] == b"\x47"
                # A lists what B admitted: line, channel, address.
                listed = [s for s in _sessions(a) if s["username"] == side.line]
                assert len(listed) >= 1, _sessions(a)
                mine = max(listed, key=lambda s: float(str(s["started_at"])))
                assert mine["channel_id"] == side.channel and mine["output"] == "ts"
                assert mine["ip"] == "127.0.0.1"
                # Another tenant's staff neither see nor end it.
                with make_staffed_tenant(a, "elsewhere").client("owner") as other:
                    assert other.get("/api/v1/live/sessions").json() == []
                    r = other.delete(f"/api/v1/live/sessions/{mine['id']}")
                    assert r.status_code == 404
                with root_client(a) as admin:
                    r = admin.delete(f"/api/v1/live/sessions/{mine['id']}")
                    assert r.status_code == 204, r.text
                    again = admin.delete(f"/api/v1/live/sessions/{mine['id']}")
                    assert again.status_code == 404
                cut = False
                end = time.monotonic() + 10
                try:
                    while time.monotonic() < end:
                        next(chunks)
                except (StopIteration, httpx.HTTPError):
                    cut = True
                assert cut, "the ended session was still streaming"
            finally:
                stream.close()
        assert all(s["id"] != mine["id"] for s in _sessions(b))
