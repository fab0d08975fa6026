"""Tenant isolation on every resource: another tenant's objects are 404 and never listed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from palinsesto.accounts.models import UsageDay
from support.admin_api import TenantWorld, created, make_tenant, root_client
from support.server import RunningServer


@dataclass
class Fixture:
    alpha: TenantWorld
    bravo: TenantWorld
    bravo_objects: dict[str, dict[str, Any]]


def _populate(world: TenantWorld) -> dict[str, dict[str, Any]]:
    """One object of every resource in ``world``, made over HTTP by its owner."""
    objs: dict[str, dict[str, Any]] = {}
    with world.client() as c:
        objs["categories"] = created(
            c.post("/api/v1/categories", json={"kind": "live", "name": "News"})
        )
        objs["channels"] = created(
            c.post(
                "/api/v1/channels",
                json={
                    "name": "News 24",
                    "sources": [{"kind": "push_rtmp"}],
                    "category_ids": [objs["categories"]["id"]],
                },
            )
        )
        objs["bouquets"] = created(c.post("/api/v1/bouquets", json={"name": "Basic"}))
        objs["packages"] = created(
            c.post(
                "/api/v1/packages",
                json={"name": "Month", "duration_days": 30, "credits": 1},
            )
        )
        objs["lines"] = created(
            c.post(
                "/api/v1/lines",
                json={
                    "username": f"line-{world.slug}",
                    "password": "secret1",
                    "bouquet_ids": [objs["bouquets"]["id"]],
                },
            )
        )
        objs["servers"] = created(
            c.post("/api/v1/servers", json={"name": "edge-1", "public_url": "http://edge1.test"})
        )
        objs["movies"] = created(c.post("/api/v1/movies", json={"name": "A Film"}))
        objs["series"] = created(c.post("/api/v1/series", json={"name": "A Show"}))
        series_id = objs["series"]["id"]
        objs["seasons"] = created(
            c.post(f"/api/v1/series/{series_id}/seasons", json={"season_number": 1})
        )
        objs["episodes"] = created(
            c.post(
                f"/api/v1/series/{series_id}/episodes",
                json={"season_number": 1, "episode_num": 1, "title": "Pilot"},
            )
        )
        objs["users"] = created(
            c.post(
                "/api/v1/users",
                json={
                    "username": f"extra-{world.slug}",
                    "password": "longpassword",
                    "role": "admin",
                },
            )
        )
    return objs


@pytest.fixture(scope="module")
def two_tenants(shared_server: RunningServer) -> Fixture:
    alpha = make_tenant(shared_server, "alpha")
    bravo = make_tenant(shared_server, "bravo")
    _populate(alpha)
    return Fixture(alpha, bravo, _populate(bravo))


# resource -> (list URL or None, a harmless valid PATCH body)
RESOURCES: dict[str, tuple[str | None, dict[str, Any]]] = {
    "categories": ("/api/v1/categories", {"name": "x"}),
    "channels": ("/api/v1/channels", {"name": "x"}),
    "bouquets": ("/api/v1/bouquets", {"name": "x"}),
    "packages": ("/api/v1/packages", {"name": "x"}),
    "lines": ("/api/v1/lines", {"notes": "x"}),
    "servers": ("/api/v1/servers", {"name": "x"}),
    "movies": ("/api/v1/movies", {"name": "x"}),
    "series": ("/api/v1/series", {"name": "x"}),
    "seasons": (None, {"name": "x"}),
    "episodes": (None, {"title": "x"}),
    "users": ("/api/v1/users", {"notes": "x"}),
}


@pytest.mark.parametrize("resource", sorted(RESOURCES))
@pytest.mark.parametrize("who", ["owner", "support", "reseller"])
def test_other_tenants_objects_are_404_and_never_listed(
    two_tenants: Fixture, resource: str, who: str
) -> None:
    list_url, patch_body = RESOURCES[resource]
    target = two_tenants.bravo_objects[resource]
    url = f"/api/v1/{resource}/{target['id']}"
    with two_tenants.alpha.client(who) as a:
        r = a.get(url)
        assert r.status_code in (404, 403), r.text
        if who == "owner":
            assert r.status_code == 404
            assert r.json()["error"]["code"] == "not_found"
            assert a.patch(url, json=patch_body).status_code == 404
            assert a.delete(url).status_code == 404
        assert str(target["id"]) not in r.text or r.status_code == 404
        if list_url is not None:
            listing = a.get(list_url, params={"per_page": 500})
            if listing.status_code == 200:
                ids = {item["id"] for item in listing.json()["items"]}
                assert target["id"] not in ids
                assert all(
                    item.get("tenant_id") in (two_tenants.alpha.id, None)
                    for item in listing.json()["items"]
                )
    # Still there, unchanged, for its own tenant.
    with two_tenants.bravo.client() as b:
        again = b.get(url)
        assert again.status_code == 200
        for key in patch_body:
            assert again.json()[key] != "x"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/series/{series}/seasons",
        "/api/v1/series/{series}/episodes",
        "/api/v1/bouquets/{bouquets}/items",
    ],
)
def test_nested_lists_of_another_tenant_are_404(two_tenants: Fixture, path: str) -> None:
    objs = two_tenants.bravo_objects
    url = path.format(series=objs["series"]["id"], bouquets=objs["bouquets"]["id"])
    with two_tenants.alpha.client() as a:
        assert a.get(url).status_code == 404
        if path.endswith("/items"):
            r = a.put(url, json={"items": []})
            assert r.status_code == 404


def test_cross_tenant_references_are_refused(two_tenants: Fixture) -> None:
    """A tenant cannot point at another tenant's bouquets, categories or packages."""
    objs = two_tenants.bravo_objects
    with two_tenants.alpha.client() as a:
        r = a.post(
            "/api/v1/lines",
            json={"username": "sneaky", "password": "pw", "bouquet_ids": [objs["bouquets"]["id"]]},
        )
        assert r.status_code == 422 and "bouquet_ids.0" in r.json()["error"]["fields"]
        r = a.post(
            "/api/v1/channels", json={"name": "x", "category_ids": [objs["categories"]["id"]]}
        )
        assert r.status_code == 422 and "category_ids.0" in r.json()["error"]["fields"]
        r = a.post(
            "/api/v1/credits/grants",
            json={"user_id": two_tenants.bravo.users["reseller"].id, "amount": 5},
        )
        assert r.status_code == 404
    with two_tenants.alpha.client("reseller") as a:
        r = a.post(
            "/api/v1/lines/purchase",
            json={"package_id": objs["packages"]["id"], "username": "sneaky2"},
        )
        assert r.status_code == 422 and "package_id" in r.json()["error"]["fields"]


def test_usage_is_seen_only_by_its_own_tenant(two_tenants: Fixture) -> None:
    """Metered usage (GET /usage): a tenant's staff see their own days only, in JSON and
    CSV; another tenant's id is 404; resellers see none; the platform admin sees both."""
    alpha, bravo = two_tenants.alpha, two_tenants.bravo
    day = date(2026, 3, 1)
    with alpha.server.ctx.db.transaction() as session:
        for tenant_id, seconds in ((alpha.id, 111), (bravo.id, 222)):
            session.add(
                UsageDay(
                    tenant_id=tenant_id,
                    day=day,
                    viewer_seconds=seconds,
                    peak_viewers=1,
                    egress_bytes=seconds * 1000,
                )
            )
    params = {"start": day.isoformat()}
    for who in ("owner", "support"):
        with alpha.client(who) as a:
            items = a.get("/api/v1/usage", params=params).json()["items"]
            assert [(i["tenant_id"], i["viewer_seconds"]) for i in items] == [(alpha.id, 111)]
            exported = a.get("/api/v1/usage", params={**params, "format": "csv"}).text
            assert "222" not in exported and bravo.slug not in exported
            other = a.get("/api/v1/usage", params={**params, "tenant_id": bravo.id})
            assert other.status_code == 404
    with alpha.client("reseller") as a:
        assert a.get("/api/v1/usage", params=params).status_code == 403
    with alpha.client() as a:  # the platform's moves are not a tenant's
        for move in ("approve", "suspend", "resume"):
            assert a.post(f"/api/v1/tenants/{bravo.id}/{move}").status_code == 403
    with root_client(alpha.server) as root:
        items = root.get("/api/v1/usage", params=params).json()["items"]
        assert {i["tenant_id"] for i in items} == {alpha.id, bravo.id}
