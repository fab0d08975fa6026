"""A request that fails changes nothing: no row, no credit, no audit entry, no event."""

from __future__ import annotations

from sqlalchemy import func, select

from palinsesto.accounts.models import AdminUser, CreditEntry, Line
from palinsesto.trust.models import AuditEntry
from support.admin_api import created, make_tenant
from support.server import RunningServer


def _counts(server: RunningServer) -> tuple[int, int, int]:
    with server.ctx.db.session() as session:
        return (
            session.scalar(select(func.count(Line.id))) or 0,
            session.scalar(select(func.count(CreditEntry.id))) or 0,
            session.scalar(select(func.count(AuditEntry.id))) or 0,
        )


def test_failures_leave_no_trace(shared_server: RunningServer) -> None:
    world = make_tenant(shared_server, "nochange")
    reseller = world.users["reseller"]
    with world.client() as owner:
        bouquet = created(owner.post("/api/v1/bouquets", json={"name": "B"}))
        package = created(
            owner.post(
                "/api/v1/packages",
                json={
                    "name": "P",
                    "duration_days": 30,
                    "credits": 5,
                    "bouquet_ids": [bouquet["id"]],
                },
            )
        )
        created(owner.post("/api/v1/credits/grants", json={"user_id": reseller.id, "amount": 4}))
        line = created(owner.post("/api/v1/lines", json={"username": "keeper", "password": "pw"}))
    events: list[tuple[int, str]] = []
    shared_server.ctx.events.subscribe(lambda t, topic: events.append((t, topic)))
    before = _counts(shared_server)
    with world.client("reseller") as c:
        r = c.post(
            "/api/v1/lines/purchase", json={"package_id": package["id"], "username": "tooexpensive"}
        )
        assert r.status_code == 409
    with world.client() as owner:
        # A valid username change together with a bad bouquet: neither is stored.
        r = owner.patch(
            f"/api/v1/lines/{line['id']}",
            json={"username": "renamed", "bouquet_ids": [bouquet["id"], 99999]},
        )
        assert r.status_code == 422 and "bouquet_ids.1" in r.json()["error"]["fields"]
        assert owner.get(f"/api/v1/lines/{line['id']}").json()["username"] == "keeper"
        r = owner.post("/api/v1/lines", json={"username": "keeper", "password": "pw"})
        assert r.status_code == 409
        r = owner.post(
            "/api/v1/lines/bulk", json={"action": "delete", "ids": [line["id"], 2_000_000]}
        )
        assert r.status_code == 404
        assert owner.get(f"/api/v1/lines/{line['id']}").status_code == 200
    assert _counts(shared_server) == before
    assert events == []
    with shared_server.ctx.db.session() as session:
        assert session.scalar(select(AdminUser.credits).where(AdminUser.id == reseller.id)) == 4
