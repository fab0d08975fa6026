"""Lines from the viewer's side: connections now against the limit (GET /lines/online) and
"why can't this line play?" (GET /lines/{id}/diagnosis) in sentences with a fix."""

from __future__ import annotations

import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from palinsesto.accounts.models import ConnectionPolicy
from support.admin_api import TenantWorld, created, make_tenant, root_client
from support.node_world import set_policy
from support.server import RunningServer

PATTERN = [{"kind": "test_pattern", "url": "testsrc://320x180@25"}]


def _line(c: httpx.Client, username: str, **fields: Any) -> dict[str, Any]:
    # A new line may not start expired (422): an expired one is made, then its date moved.
    exp_date = fields.pop("exp_date", None)
    line = created(c.post("/api/v1/lines", json={"username": username, "password": "pw", **fields}))
    if exp_date is not None:
        r = c.patch(f"/api/v1/lines/{line['id']}", json={"exp_date": exp_date})
        assert r.status_code == 200, r.text
        line = r.json()
    return line


def _diagnosis(c: httpx.Client, line: dict[str, Any]) -> dict[str, Any]:
    r = c.get(f"/api/v1/lines/{line['id']}/diagnosis")
    assert r.status_code == 200, r.text
    return r.json()


def _codes(diagnosis: dict[str, Any], level: str) -> set[str]:
    return {f["code"] for f in diagnosis["findings"] if f["level"] == level}


def _watch_ts(stack: ExitStack, server: RunningServer, line: dict[str, Any], cid: int) -> None:
    client = stack.enter_context(httpx.Client(base_url=server.base_url, timeout=60))
    url = f"/live/{line['username']}/pw/{cid}.ts"
    response = stack.enter_context(client.stream("GET", url, follow_redirects=True))
    assert response.status_code == 200, url
    chunks = response.iter_bytes()
    stack.callback(chunks.close)
    assert next(chunks)[:1] == b"\x47"


def test_each_reason_is_a_sentence_with_its_fix(sqlite_server: RunningServer) -> None:
    world = make_tenant(sqlite_server, "diag")
    past = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    with world.client() as c:
        channel = created(c.post("/api/v1/channels", json={"name": "News", "sources": PATTERN}))
        full = created(c.post("/api/v1/bouquets", json={"name": "Full"}))
        items = [{"item_type": "channel", "item_id": channel["id"]}]
        assert c.put(f"/api/v1/bouquets/{full['id']}/items", json={"items": items}).is_success
        empty = created(c.post("/api/v1/bouquets", json={"name": "Empty"}))

        good = _diagnosis(c, _line(c, "good", bouquet_ids=[full["id"]]))
        assert good["can_play"] is True
        assert good["findings"] == [
            {
                "level": "ok",
                "code": "can_play",
                "message": "This line can play: 1 channel, as HLS (m3u8) and TS.",
                "fix": "",
            }
        ]
        assert _codes(_diagnosis(c, _line(c, "bare")), "problem") == {"no_bouquet"}
        hollow = _diagnosis(c, _line(c, "hollow", bouquet_ids=[empty["id"]]))
        assert _codes(hollow, "problem") == {"bouquets_empty"}
        assert "“Empty”" in hollow["findings"][0]["message"]
        assert hollow["findings"][0]["fix"]
        mixed = _diagnosis(c, _line(c, "mixed", bouquet_ids=[full["id"], empty["id"]]))
        assert mixed["can_play"] and _codes(mixed, "warning") == {"some_bouquets_empty"}

        expired = _diagnosis(c, _line(c, "old", exp_date=past, bouquet_ids=[full["id"]]))
        assert expired["can_play"] is False and _codes(expired, "problem") == {"expired"}
        assert "expired on" in expired["findings"][0]["message"]
        ending = _diagnosis(c, _line(c, "ending", exp_date=soon, bouquet_ids=[full["id"]]))
        assert ending["can_play"] and _codes(ending, "warning") == {"expires_soon"}
        banned = _diagnosis(c, _line(c, "banned", banned=True, bouquet_ids=[full["id"]]))
        assert _codes(banned, "problem") == {"banned"}
        off = _diagnosis(c, _line(c, "off", enabled=False, bouquet_ids=[full["id"]]))
        assert _codes(off, "problem") == {"disabled"}

        rtmp = _diagnosis(c, _line(c, "rtmp", allowed_outputs=["rtmp"], bouquet_ids=[full["id"]]))
        assert _codes(rtmp, "problem") == {"outputs"}
        hls = _diagnosis(c, _line(c, "hls", allowed_outputs=["m3u8"], bouquet_ids=[full["id"]]))
        assert hls["can_play"] and _codes(hls, "warning") == {"outputs"}
        assert hls["findings"][1]["message"] == "TS is not allowed: a player set to TS is refused."
        locked = _diagnosis(
            c,
            _line(
                c,
                "locked",
                allowed_ips=["203.0.113.7"],
                allowed_user_agents=["VLC"],
                bouquet_ids=[full["id"]],
            ),
        )
        assert _codes(locked, "warning") == {"ip_lock", "user_agent_lock"}
        assert any("203.0.113.7" in f["message"] for f in locked["findings"])

    with root_client(sqlite_server) as root:
        r = root.patch(f"/api/v1/tenants/{world.id}", json={"status": "suspended"})
        assert r.status_code == 200, r.text
    with world.client() as c:
        line_id = good["line_id"]
        suspended = c.get(f"/api/v1/lines/{line_id}/diagnosis").json()
        assert _codes(suspended, "problem") == {"tenant_suspended"}
        assert "“Diag” is suspended" in suspended["findings"][0]["message"]


def test_online_counts_open_connections_against_the_limit(sqlite_server: RunningServer) -> None:
    world: TenantWorld = make_tenant(sqlite_server, "online")
    other = make_tenant(sqlite_server, "elsewhere")
    with world.client() as c:
        channel = created(c.post("/api/v1/channels", json={"name": "Live", "sources": PATTERN}))
        bouquet = created(c.post("/api/v1/bouquets", json={"name": "All"}))
        items = [{"item_type": "channel", "item_id": channel["id"]}]
        assert c.put(f"/api/v1/bouquets/{bouquet['id']}/items", json={"items": items}).is_success
        watched = _line(c, "watched", max_connections=1, bouquet_ids=[bouquet["id"]])
        idle = _line(c, "idle", max_connections=0, bouquet_ids=[bouquet["id"]])
        ids = f"{watched['id']},{idle['id']}"
        before = c.get("/api/v1/lines/online", params={"ids": ids}).json()["items"]
        assert sorted((x["line_id"], x["connections"], x["max_connections"]) for x in before) == [
            (watched["id"], 0, 1),
            (idle["id"], 0, 0),
        ]
        set_policy(sqlite_server, world.id, ConnectionPolicy.refuse)
        with ExitStack() as viewers:
            _watch_ts(viewers, sqlite_server, watched, channel["id"])
            deadline = time.monotonic() + 20
            while True:
                now = c.get("/api/v1/lines/online", params={"ids": ids}).json()["items"]
                counts = {x["line_id"]: x["connections"] for x in now}
                if counts[watched["id"]] == 1:
                    break
                assert time.monotonic() < deadline, now
                time.sleep(0.2)
            assert counts[idle["id"]] == 0
            full = _diagnosis(c, watched)
            assert (full["connections"], full["max_connections"]) == (1, 1)
            assert full["can_play"] is False and _codes(full, "problem") == {"connections_full"}
            assert full["findings"][0]["message"] == (
                "The one connection this line may open is in use: another player is refused "
                "until one stops."
            )
            # Another tenant names these ids and sees nothing of them.
            with other.client() as o:
                assert o.get("/api/v1/lines/online", params={"ids": ids}).json()["items"] == []
                assert o.get(f"/api/v1/lines/{watched['id']}/diagnosis").status_code == 404
        assert c.get("/api/v1/lines/online", params={"ids": "1,x"}).status_code == 422
        huge = c.get("/api/v1/lines/online", params={"ids": f"{watched['id']},{10**30},-4"})
        assert [x["line_id"] for x in huge.json()["items"]] == [watched["id"]]
