"""Line lists (filters, sort, pages) and bulk actions that are all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from support.admin_api import TenantWorld, created, make_tenant
from support.server import RunningServer


@pytest.fixture(scope="module")
def world(shared_server: RunningServer) -> TenantWorld:
    world = make_tenant(shared_server, "subs")
    now = datetime.now(UTC)
    with world.client() as c:
        news = created(c.post("/api/v1/bouquets", json={"name": "News"}))
        lines = [
            {
                "username": "active1",
                "exp_date": (now + timedelta(days=3)).isoformat(),
                "bouquet_ids": [news["id"]],
                "notes": "hotel lobby",
            },
            {"username": "active2", "exp_date": None},
            {"username": "expired1"},
            {"username": "banned1", "banned": True},
            {"username": "disabled1", "enabled": False},
            {
                "username": "resold1",
                "reseller_id": world.users["sub"].id,
                "exp_date": (now + timedelta(days=40)).isoformat(),
            },
        ]
        for line in lines:
            made = created(c.post("/api/v1/lines", json={"password": "pw", **line}))
            if line["username"] == "expired1":  # a new line may not start expired; one can end
                yesterday = (now - timedelta(days=1)).isoformat()
                r = c.patch(f"/api/v1/lines/{made['id']}", json={"exp_date": yesterday})
                assert r.status_code == 200, r.text
    world.users["news_bouquet"] = news["id"]  # type: ignore[assignment]
    return world


def _names(world: TenantWorld, who: str = "owner", **params: object) -> list[str]:
    with world.client(who) as c:
        r = c.get("/api/v1/lines", params=params)
        assert r.status_code == 200, r.text
        return [line["username"] for line in r.json()["items"]]


def test_filters(world: TenantWorld) -> None:
    assert sorted(_names(world, status="active")) == ["active1", "active2", "resold1"]
    assert _names(world, status="expired") == ["expired1"]
    assert _names(world, status="banned") == ["banned1"]
    assert _names(world, status="disabled") == ["disabled1"]
    assert _names(world, q="lobby") == ["active1"]
    assert _names(world, q="resold") == ["resold1"]
    assert _names(world, reseller_id=world.users["sub"].id) == ["resold1"]
    soon = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    assert sorted(_names(world, expiring_before=soon)) == ["active1", "expired1"]
    assert _names(world, bouquet_id=world.users["news_bouquet"]) == ["active1"]  # type: ignore[arg-type]
    assert _names(world, "reseller") == ["resold1"]


def test_sort_and_pages(world: TenantWorld) -> None:
    names = _names(world, sort="-username")
    assert names == sorted(names, reverse=True) and len(names) == 6
    with world.client() as c:
        page = c.get("/api/v1/lines", params={"sort": "username", "per_page": 4, "page": 2}).json()
        assert page["total"] == 6 and [i["username"] for i in page["items"]] == sorted(names)[4:]
        r = c.get("/api/v1/lines", params={"sort": "password"})
        assert r.status_code == 422 and "sort" in r.json()["error"]["fields"]
        line = c.get("/api/v1/lines", params={"q": "active1"}).json()["items"][0]
        assert line["status"] == "active" and line["password"] == "pw"


def _by_name(world: TenantWorld) -> dict[str, dict]:
    with world.client() as c:
        return {
            line["username"]: line
            for line in c.get("/api/v1/lines", params={"per_page": 500}).json()["items"]
        }


def test_bulk_is_all_or_nothing(world: TenantWorld, shared_server: RunningServer) -> None:
    other = make_tenant(shared_server, f"other-{world.id}")
    with other.client() as c:
        foreign = created(
            c.post("/api/v1/lines", json={"username": f"foreign{world.id}", "password": "pw"})
        )
    before = _by_name(world)
    ids = [before["active1"]["id"], before["active2"]["id"]]
    with world.client() as c:
        for action in ("disable", "delete", "ban"):
            r = c.post("/api/v1/lines/bulk", json={"action": action, "ids": ids + [foreign["id"]]})
            assert r.status_code == 404, r.text
            assert str(foreign["id"]) in r.json()["error"]["fields"]["ids"]
        r = c.post("/api/v1/lines/bulk", json={"action": "extend", "ids": ids})
        assert r.status_code == 422 and "days" in r.json()["error"]["fields"]
    assert _by_name(world) == before
    with other.client() as c:
        assert c.get(f"/api/v1/lines/{foreign['id']}").json()["enabled"] is True
    with world.client("reseller") as c:
        # The reseller's scope is its subtree: active1 is not in it.
        r = c.post(
            "/api/v1/lines/bulk",
            json={"action": "disable", "ids": [before["resold1"]["id"], ids[0]]},
        )
        assert r.status_code == 404
    assert _by_name(world) == before


def test_bulk_actions_apply(world: TenantWorld) -> None:
    before = _by_name(world)
    ids = [before["active1"]["id"], before["expired1"]["id"], before["active2"]["id"]]
    with world.client() as c:
        r = c.post("/api/v1/lines/bulk", json={"action": "extend", "ids": ids, "days": 30})
        assert r.status_code == 200 and r.json()["count"] == 3
        after = _by_name(world)
        assert after["active1"]["exp_date"] > before["active1"]["exp_date"]
        assert after["expired1"]["status"] == "active"
        assert after["active2"]["exp_date"] is None  # never expires, stays so
        assert (
            c.post("/api/v1/lines/bulk", json={"action": "ban", "ids": ids[:1]}).status_code == 200
        )
        assert _by_name(world)["active1"]["status"] == "banned"
        assert (
            c.post("/api/v1/lines/bulk", json={"action": "unban", "ids": ids[:1]}).status_code
            == 200
        )
        assert (
            c.post("/api/v1/lines/bulk", json={"action": "disable", "ids": ids[:2]}).status_code
            == 200
        )
        assert _by_name(world)["expired1"]["status"] == "disabled"
        assert (
            c.post("/api/v1/lines/bulk", json={"action": "enable", "ids": ids[:2]}).status_code
            == 200
        )
        assert _by_name(world)["active1"]["status"] == "active"
    with world.client("sub") as c:
        resold = before["resold1"]["id"]
        assert (
            c.post("/api/v1/lines/bulk", json={"action": "delete", "ids": [resold]}).status_code
            == 200
        )
    assert "resold1" not in _by_name(world)
