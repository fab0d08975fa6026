"""The audit log: every write is recorded with before/after; filters; tenant scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from support.admin_api import created, make_tenant, root_client
from support.server import RunningServer


def test_audit_entries_and_filters(shared_server: RunningServer) -> None:
    world = make_tenant(shared_server, "audited")
    other = make_tenant(shared_server, "unaudited")
    events: list[tuple[int, str]] = []
    shared_server.ctx.events.subscribe(lambda t, topic: events.append((t, topic)))
    start = datetime.now(UTC)
    with world.client() as c:
        channel = created(c.post("/api/v1/channels", json={"name": "Before"}))
        c.patch(f"/api/v1/channels/{channel['id']}", json={"name": "After"})
        line = created(
            c.post("/api/v1/lines", json={"username": "audited1", "password": "secretpw"})
        )
        c.delete(f"/api/v1/lines/{line['id']}")
    with other.client() as c:
        created(c.post("/api/v1/movies", json={"name": "Elsewhere"}))
    assert (world.id, "channels") in events and (world.id, "lines") in events
    with world.client() as c:
        entries = c.get("/api/v1/audit", params={"since": start.isoformat()}).json()["items"]
        assert [(e["action"], e["entity"]) for e in entries] == [
            ("delete", "line"),
            ("create", "line"),
            ("update", "channel"),
            ("create", "channel"),
        ]
        update = entries[2]
        assert update["before"]["name"] == "Before" and update["after"]["name"] == "After"
        assert update["actor"] == "owner-audited" and update["entity_id"] == str(channel["id"])
        assert entries[1]["after"]["password"] == "********"
        only = c.get(
            "/api/v1/audit",
            params={"entity": "channel", "entity_id": str(channel["id"]), "action": "update"},
        ).json()
        assert only["total"] == 1
        assert c.get("/api/v1/audit", params={"actor": "owner-unaudited"}).json()["total"] == 0
        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert c.get("/api/v1/audit", params={"since": future}).json()["total"] == 0
        assert c.get("/api/v1/audit", params={"until": start.isoformat()}).json()["total"] >= 0
    with world.client("support") as c:
        assert c.get("/api/v1/audit", params={"entity": "channel"}).json()["total"] == 2
    with root_client(shared_server) as c:
        actors = {
            e["actor"] for e in c.get("/api/v1/audit", params={"per_page": 500}).json()["items"]
        }
        assert {"owner-audited", "owner-unaudited"} <= actors
