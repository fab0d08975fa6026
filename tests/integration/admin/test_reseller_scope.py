"""Roles and reseller trees: 403 for what a role may not do, 404 outside a reseller's subtree."""

from __future__ import annotations

import pytest

from support.admin_api import TenantWorld, created, make_tenant
from support.server import RunningServer


@pytest.fixture(scope="module")
def world(shared_server: RunningServer) -> TenantWorld:
    world = make_tenant(shared_server, "tree")
    with world.client() as owner:
        package = created(
            owner.post("/api/v1/packages", json={"name": "Day", "duration_days": 1, "credits": 0})
        )
        for who in ("reseller", "sub", "sibling"):
            with world.client(who) as c:
                created(
                    c.post(
                        "/api/v1/lines/purchase",
                        json={"package_id": package["id"], "username": f"{who}-line"},
                    )
                )
    return world


def _line_names(world: TenantWorld, who: str) -> set[str]:
    with world.client(who) as c:
        return {line["username"] for line in c.get("/api/v1/lines").json()["items"]}


def test_resellers_see_only_their_subtree(world: TenantWorld) -> None:
    assert _line_names(world, "reseller") == {"reseller-line", "sub-line"}
    assert _line_names(world, "sub") == {"sub-line"}
    assert _line_names(world, "sibling") == {"sibling-line"}
    assert _line_names(world, "owner") == {"reseller-line", "sub-line", "sibling-line"}
    with world.client("reseller") as c:
        users = {u["username"] for u in c.get("/api/v1/users").json()["items"]}
        assert users == {"reseller-tree", "sub-tree"}
        assert c.get(f"/api/v1/users/{world.users['sibling'].id}").status_code == 404
    with world.client("sub") as c:
        sibling_line = None
        with world.client("sibling") as s:
            sibling_line = s.get("/api/v1/lines").json()["items"][0]["id"]
        assert c.get(f"/api/v1/lines/{sibling_line}").status_code == 404
        assert c.patch(f"/api/v1/lines/{sibling_line}", json={"notes": "x"}).status_code == 404
        assert c.delete(f"/api/v1/lines/{sibling_line}").status_code == 404
        assert c.get(f"/api/v1/users/{world.users['reseller'].id}").status_code == 404


def test_resellers_create_sub_resellers_only_below_themselves(world: TenantWorld) -> None:
    with world.client("reseller") as c:
        made = created(
            c.post(
                "/api/v1/users",
                json={
                    "username": "subsub-tree",
                    "password": "longpassword",
                    "role": "reseller",
                    "parent_id": world.users["sub"].id,
                },
            )
        )
        assert made["parent_id"] == world.users["sub"].id and "password" not in made
        assert "password_hash" not in made
        r = c.post(
            "/api/v1/users",
            json={
                "username": "rogue-tree",
                "password": "longpassword",
                "role": "reseller",
                "parent_id": world.users["sibling"].id,
            },
        )
        assert r.status_code == 422 and "parent_id" in r.json()["error"]["fields"]
        r = c.post(
            "/api/v1/users",
            json={"username": "boss-tree", "password": "longpassword", "role": "admin"},
        )
        assert r.status_code == 403
    with world.client("sub") as c:
        # The new sub-sub-reseller is below sub; sub may manage it, but not its own parent.
        assert c.get(f"/api/v1/users/{made['id']}").status_code == 200
        assert c.delete(f"/api/v1/users/{world.users['reseller'].id}").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/channels", {"name": "x"}),
        ("get", "/api/v1/channels", None),
        ("get", "/api/v1/movies", None),
        ("get", "/api/v1/servers", None),
        ("get", "/api/v1/audit", None),
        ("post", "/api/v1/packages", {"name": "x", "duration_days": 1, "credits": 0}),
        ("post", "/api/v1/bouquets", {"name": "x"}),
        ("post", "/api/v1/lines", {"username": "direct", "password": "pw"}),
        ("post", "/api/v1/lines/bulk", {"action": "extend", "ids": [1], "days": 3}),
    ],
)
def test_reseller_is_forbidden_outside_lines(
    world: TenantWorld, method: str, path: str, body: dict | None
) -> None:
    with world.client("reseller") as c:
        r = c.request(method, path, json=body)
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "forbidden"


def test_reseller_reads_packages_and_bouquet_names(world: TenantWorld) -> None:
    with world.client("reseller") as c:
        assert c.get("/api/v1/packages").json()["total"] == 1
        assert c.get("/api/v1/bouquets").status_code == 200


def test_reseller_may_not_edit_what_it_pays_for(world: TenantWorld) -> None:
    with world.client("reseller") as c:
        line = c.get("/api/v1/lines", params={"q": "sub-line"}).json()["items"][0]
        r = c.patch(f"/api/v1/lines/{line['id']}", json={"exp_date": None, "notes": "vip"})
        assert r.status_code == 403 and "exp_date" in r.json()["error"]["fields"]
        assert c.get(f"/api/v1/lines/{line['id']}").json()["notes"] == ""
        r = c.patch(f"/api/v1/lines/{line['id']}", json={"notes": "vip", "password": "new.pw"})
        assert r.status_code == 200 and r.json()["password"] == "new.pw"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/channels", {"name": "x"}),
        ("post", "/api/v1/lines", {"username": "support-made", "password": "pw"}),
        (
            "post",
            "/api/v1/users",
            {"username": "s2", "password": "longpassword", "role": "support"},
        ),
        ("post", "/api/v1/lines/bulk", {"action": "disable", "ids": [1]}),
        ("post", "/api/v1/credits/grants", {"user_id": 1, "amount": 1}),
    ],
)
def test_support_is_read_only(world: TenantWorld, method: str, path: str, body: dict) -> None:
    with world.client("support") as c:
        assert c.get("/api/v1/lines").json()["total"] == 3
        assert c.get("/api/v1/channels").status_code == 200
        r = c.request(method, path, json=body)
    assert r.status_code == 403, r.text


def test_admin_cannot_manage_owners(world: TenantWorld) -> None:
    with world.client("admin") as c:
        r = c.post(
            "/api/v1/users",
            json={"username": "owner2-tree", "password": "longpassword", "role": "owner"},
        )
        assert r.status_code == 403
        assert (
            c.patch(f"/api/v1/users/{world.users['owner'].id}", json={"enabled": False}).status_code
            == 403
        )
