"""Tenant isolation on every resource: another tenant's objects are 404 and never listed."""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest

from palinsesto.accounts.models import Role, UsageDay
from palinsesto.accounts.plans import PLANS
from palinsesto.panel.admin.api.routes.auth import TotpState
from palinsesto.panel.admin.api.routes.counter_notices import CounterReceipt
from palinsesto.panel.admin.api.routes.notices import ReceiptOut
from palinsesto.panel.admin.api.routes.watch import WatchInfo
from support.admin_api import TenantWorld, add_user, created, make_tenant, root_client
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
        folder = world.server.ctx.settings.effective_media_root / str(world.id) / "films"
        folder.mkdir(parents=True, exist_ok=True)
        objs["libraries"] = created(
            c.post("/api/v1/libraries", json={"name": "Films", "path": "films", "kind": "movie"})
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
    "libraries": ("/api/v1/libraries", {"name": "x"}),
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


# -- reseller reads ------------------------------------------------------------------------
#
# Every GET route of the OpenAPI document is asked by a reseller, with ids of its own
# tenant's objects outside its subtree. A route answers 403/404, or is listed below with a
# check that what it shows is the reseller's own (its subtree's) or public: a new route
# that answers a reseller 200 fails here until someone decides what it may show.

GUIDE = b"""<?xml version="1.0" encoding="UTF-8"?>
<tv><channel id="news24.alpha"><display-name>News 24</display-name></channel>
<programme start="20260101000000 +0000" stop="20260101010000 +0000" channel="news24.alpha">
<title>Morning</title></programme></tv>
"""


@dataclass
class ResellerWorld:
    world: TenantWorld
    other_tenant: TenantWorld
    objects: dict[str, Any]


@dataclass
class Caller:
    """A reseller of tenant alpha and what is its own: itself, its sub-resellers, their lines."""

    tenant_id: int
    user_id: int
    subtree: set[int]
    lines: set[str]
    line_ids: set[int]


SUBTREES = {"reseller": ("reseller", "sub"), "sub": ("sub",)}


def _caller(rw: ResellerWorld, who: str) -> Caller:
    users, below = rw.world.users, SUBTREES[who]
    lines = [rw.objects[f"line-{name}"] for name in below]
    return Caller(
        rw.world.id,
        users[who].id,
        {users[name].id for name in below},
        {line["username"] for line in lines},
        {line["id"] for line in lines},
    )


@pytest.fixture(scope="module")
def reseller_world(two_tenants: Fixture, shared_server: RunningServer) -> ResellerWorld:
    """Tenant alpha's reseller tree with a line each, an EPG source with credentials in its
    URL and a failed run, a guide channel, a mapping, a show and an owner's API key."""
    alpha = two_tenants.alpha
    users = alpha.users
    objs: dict[str, Any] = {}
    with alpha.client() as c:
        channels = c.get("/api/v1/channels").json()["items"]
        objs["channel"] = channels[0]
        objs["category"] = c.get("/api/v1/categories").json()["items"][0]
        objs["bouquet"] = c.get("/api/v1/bouquets").json()["items"][0]
        objs["package"] = c.get("/api/v1/packages").json()["items"][0]
        objs["server"] = c.get("/api/v1/servers").json()["items"][0]
        objs["movie"] = c.get("/api/v1/movies").json()["items"][0]
        objs["library"] = c.get("/api/v1/libraries").json()["items"][0]
        objs["upload"] = created(
            c.post("/api/v1/uploads", json={"name": "alpha-film.mp4", "total_bytes": 1000})
        )
        series = c.get("/api/v1/series").json()["items"][0]
        objs["series"] = series
        objs["season"] = c.get(f"/api/v1/series/{series['id']}/seasons").json()[0]
        objs["episode"] = c.get(f"/api/v1/series/{series['id']}/episodes").json()[0]
        for who in ("reseller", "sub", "sibling"):
            objs[f"line-{who}"] = created(
                c.post(
                    "/api/v1/lines",
                    json={
                        "username": f"{who}-viewer-{alpha.slug}",
                        "password": "secret1",
                        "reseller_id": users[who].id,
                        "bouquet_ids": [objs["bouquet"]["id"]],
                    },
                )
            )
        source = created(
            c.post(
                "/api/v1/epg/sources",
                json={"name": "Guide", "url": "http://guser:gpass@127.0.0.1:9/x.xml?password=p"},
            )
        )
        objs["source"] = source
        r = c.post(f"/api/v1/epg/sources/{source['id']}/import", params={"wait": "true"})
        assert r.status_code == 200, r.text
        objs["run"] = r.json()
        uploaded = created(c.post("/api/v1/epg/sources", json={"name": "Uploaded"}))
        r = c.put(
            f"/api/v1/epg/sources/{uploaded['id']}/document",
            files={"file": ("guide.xml", GUIDE, "text/xml")},
        )
        assert r.status_code == 200, r.text
        r = c.post(f"/api/v1/epg/sources/{uploaded['id']}/import", params={"wait": "true"})
        assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
        guide = c.get("/api/v1/epg/guide-channels").json()["items"][0]
        mapping = c.put(
            f"/api/v1/epg/channels/{objs['channel']['id']}/mapping",
            json={"guide_channel_id": guide["id"]},
        )
        assert mapping.status_code == 200, mapping.text
        objs["mapping"] = mapping.json()
        objs["show"] = created(
            c.post(
                f"/api/v1/epg/channels/{objs['channel']['id']}/shows",
                json={
                    "title": "Live",
                    "start": "2030-01-01T10:00:00Z",
                    "end": "2030-01-01T11:00:00Z",
                },
            )
        )
        objs["share"] = c.get(f"/api/v1/channels/{objs['channel']['id']}/share-link").json()
        created(c.post("/api/v1/auth/api-keys", json={"name": "owner automation"}))
        objs["rights"] = created(
            c.post(
                "/api/v1/rights",
                json={
                    "item_type": "channel",
                    "item_id": objs["channel"]["id"],
                    "holder": "Rights Holder",
                    "starts_at": "2026-01-01T00:00:00Z",
                    "territories": [],
                    "evidence": [{"filename": "licence.txt", "content_base64": "bGljZW5jZQ=="}],
                },
            )
        )
        # A notice naming the sibling reseller's line: its receipt, and the staff's view.
        objs["receipt"] = created(
            c.post(
                "/api/v1/public/notices",
                json={
                    "regime": "dsa",
                    "tenant": alpha.slug,
                    "notifier_name": "Rights Holder",
                    "notifier_email": "legal@rights.example",
                    "explanation": "This line restreams our channel without a licence.",
                    "locations": [f"/live/{objs['line-sibling']['username']}/x/1.ts"],
                    "good_faith": True,
                    "accurate": True,
                },
            )
        )
        objs["notice"] = c.get("/api/v1/notices").json()["items"][0]
        objs["domain"] = created(c.post("/api/v1/domains", json={"host": f"tv.{alpha.slug}.test"}))
        created(c.post("/api/v1/creators/invites", json={"email": "someone@creators.example"}))
    return ResellerWorld(alpha, two_tenants.bravo, objs)


def _path_values(rw: ResellerWorld, who: str) -> dict[str, str]:
    """A value for every path parameter: alpha's objects, outside the caller's subtree
    where the object has an owner (the sibling's, or for "sub" its parent's, line and user)."""
    o = rw.objects
    outsider = "sibling" if who == "reseller" else "reseller"
    values = {
        "tenant_id": rw.world.id,
        "category_id": o["category"]["id"],
        "channel_id": o["channel"]["id"],
        "bouquet_id": o["bouquet"]["id"],
        "package_id": o["package"]["id"],
        "server_id": o["server"]["id"],
        "movie_id": o["movie"]["id"],
        "library_id": o["library"]["id"],
        "series_id": o["series"]["id"],
        "season_id": o["season"]["id"],
        "episode_id": o["episode"]["id"],
        "line_id": o[f"line-{outsider}"]["id"],
        "user_id": rw.world.users[outsider].id,
        "source_id": o["source"]["id"],
        "run_id": o["run"]["id"],
        "mapping_id": o["mapping"]["id"],
        "show_id": o["show"]["id"],
        "ref": o["share"]["ref"],
        "record_id": o["rights"]["id"],
        "evidence_id": o["rights"]["evidence"][0]["id"],
        "notice_id": o["notice"]["id"],
        "receipt": o["receipt"]["receipt"],
        "domain_id": o["domain"]["id"],
        "slug": rw.world.slug,
        "token": "1.not-a-secret.0123456789abcdef0123456789abcdef",
        "upload_id": o["upload"]["id"],
    }
    return {k: str(v) for k, v in values.items()}


def _query_values(rw: ResellerWorld) -> dict[str, str]:
    """Filters a reseller might try to widen its view with."""
    sibling = str(rw.world.users["sibling"].id)
    return {
        "tenant_id": str(rw.other_tenant.id),
        "reseller_id": sibling,
        "user_id": sibling,
        "parent_id": sibling,
        "source_id": str(rw.objects["source"]["id"]),
        "channel_id": str(rw.objects["channel"]["id"]),
        "per_page": "500",
        # Every line of the tenant, the reseller's own and its sibling's.
        "ids": ",".join(str(o["id"]) for k, o in rw.objects.items() if k.startswith("line-")),
    }


def _own_tenant(me: Caller, body: Any) -> bool:
    rows = body["items"] if "items" in body else [body]
    return bool(rows) and all(row["tenant_id"] == me.tenant_id for row in rows)


# Public routes: what anyone (so any role) may read, and what their answer may contain.
PUBLIC_MAY_READ: dict[str, Any] = {
    # The plan catalogue (names and limits), the same for every panel.
    "/api/v1/plans": lambda me, b: {p["name"] for p in b} <= set(PLANS),
    # Where a notice stands, to anyone holding its receipt (no notifier data).
    "/api/v1/public/notices/{receipt}": lambda me, b: set(b) <= set(ReceiptOut.model_fields),
    "/api/v1/public/counter-notices/{receipt}": lambda me, b: (
        set(b) <= set(CounterReceipt.model_fields)
    ),
    # The published transparency report, figures only (DSA Art. 15).
    "/api/v1/public/transparency-report": lambda me, b: (
        {"period", "notices", "scope"} <= set(b)
        and not any(k in str(b) for k in ("@", "notifier_name", "username"))
    ),
    # The watch page's answer for a share link, to anyone holding the link.
    "/api/v1/watch/{ref}": lambda me, b: set(b) <= set(WatchInfo.model_fields),
    # The branding of the domain the request came on (none on the platform's host).
    "/api/v1/public/branding": lambda me, b: b is None,
}


# path -> what a 200 to the reseller may contain
RESELLER_MAY_READ: dict[str, Any] = {
    "/api/v1/auth/me": lambda me, b: b["id"] == me.user_id,
    "/api/v1/auth/api-keys": lambda me, b: b == [],  # the owner's key is not its own
    "/api/v1/auth/totp": lambda me, b: set(b) == set(TotpState.model_fields),  # its own
    "/api/v1/tenants": lambda me, b: [t["id"] for t in b["items"]] == [me.tenant_id],
    "/api/v1/tenants/{tenant_id}": lambda me, b: b["id"] == me.tenant_id,
    "/api/v1/users": lambda me, b: {u["id"] for u in b["items"]} <= me.subtree,
    "/api/v1/credits/ledger": lambda me, b: {e["user_id"] for e in b["items"]} <= me.subtree,
    "/api/v1/lines": lambda me, b: {x["username"] for x in b["items"]} <= me.lines,
    "/api/v1/live/sessions": lambda me, b: {s["line_id"] for s in b} <= me.line_ids,
    "/api/v1/lines/online": lambda me, b: {x["line_id"] for x in b["items"]} <= me.line_ids,
    # What a reseller sells: packages and the bouquets' names, of its own tenant.
    "/api/v1/packages": _own_tenant,
    "/api/v1/packages/{package_id}": _own_tenant,
    "/api/v1/bouquets": _own_tenant,
    "/api/v1/bouquets/{bouquet_id}": _own_tenant,
    **PUBLIC_MAY_READ,
}


def _get_routes(server: RunningServer) -> list[tuple[str, list[dict[str, Any]]]]:
    doc = httpx.get(f"{server.base_url}/api/v1/openapi.json", timeout=30).json()
    return [
        (path, ops["get"].get("parameters", []))
        for path, ops in doc["paths"].items()
        if "get" in ops
    ]


@pytest.mark.parametrize("who", ["reseller", "sub"])
def test_resellers_read_only_their_subtree_on_every_get_route(
    reseller_world: ResellerWorld, shared_server: RunningServer, who: str
) -> None:
    rw = reseller_world
    me = _caller(rw, who)  # for "sub", its parent's line and user are outside it too
    routes = _get_routes(shared_server)
    assert len(routes) >= 40
    path_values, query_values = _path_values(rw, who), _query_values(rw)
    leaks: list[str] = []
    with rw.world.client(who) as c:
        for path, parameters in routes:
            names = [p["name"] for p in parameters if p["in"] == "path"]
            missing = [n for n in names if n not in path_values]
            assert not missing, f"{path}: give the test a value for {missing}"
            url = path.format(**{n: path_values[n] for n in names})
            queries = {p["name"] for p in parameters if p["in"] == "query"}
            widened = {k: v for k, v in query_values.items() if k in queries}
            for params in ({}, widened) if widened else ({},):
                r = c.get(url, params=params)
                if r.status_code in (403, 404):
                    continue
                check = RESELLER_MAY_READ.get(path)
                if r.status_code != 200 or check is None or not check(me, r.json()):
                    leaks.append(f"GET {url} {params}: {r.status_code} {r.text[:300]}")
    assert not leaks, "\n".join(leaks)


def test_resellers_lose_what_the_review_found(reseller_world: ResellerWorld) -> None:
    """The reads of the security review, one by one: all refused to a reseller."""
    o = reseller_world.objects
    with reseller_world.world.client("reseller") as c:
        for url in (
            f"/api/v1/live/channels/{o['channel']['id']}",
            "/api/v1/epg/sources",
            f"/api/v1/epg/sources/{o['source']['id']}",
            "/api/v1/epg/runs",
            f"/api/v1/epg/runs/{o['run']['id']}",
            "/api/v1/epg/mappings",
            "/api/v1/epg/guide-channels",
            f"/api/v1/epg/channels/{o['channel']['id']}/shows",
            f"/api/v1/channels/{o['channel']['id']}/share-link",
        ):
            r = c.get(url)
            assert r.status_code == 403, (url, r.text)
            assert "gpass" not in r.text and "News 24" not in r.text
    # Staff still read them.
    with reseller_world.world.client("support") as c:
        assert c.get(f"/api/v1/epg/sources/{o['source']['id']}").status_code == 200
        assert c.get("/api/v1/epg/runs").json()["total"] >= 2


PATTERN = [{"kind": "test_pattern", "url": "testsrc://320x180@25"}]


def _watch_ts(stack: ExitStack, server: RunningServer, line: dict[str, Any], cid: int) -> None:
    """Start a TS viewer of ``line`` and keep it connected until ``stack`` closes."""
    client = stack.enter_context(httpx.Client(base_url=server.base_url, timeout=60))
    url = f"/live/{line['username']}/secret1/{cid}.ts"
    response = stack.enter_context(client.stream("GET", url, follow_redirects=True))
    assert response.status_code == 200, url
    chunks = response.iter_bytes()
    # Held until the stack closes: a dropped iterator closes the response (and the session).
    stack.callback(chunks.close)
    assert next(chunks)[:1] == b"\x47"


def test_live_sessions_show_a_reseller_only_its_lines(
    reseller_world: ResellerWorld, shared_server: RunningServer
) -> None:
    o, world = reseller_world.objects, reseller_world.world
    with world.client() as c:
        channel = created(c.post("/api/v1/channels", json={"name": "Pattern", "sources": PATTERN}))
        items = [{"item_type": "channel", "item_id": channel["id"]}]
        r = c.put(f"/api/v1/bouquets/{o['bouquet']['id']}/items", json={"items": items})
        assert r.status_code == 200, r.text
        with ExitStack() as viewers:
            for who in ("reseller", "sibling"):
                _watch_ts(viewers, shared_server, o[f"line-{who}"], channel["id"])
            deadline = time.monotonic() + 30
            while len(sessions := c.get("/api/v1/live/sessions").json()) < 2:
                assert time.monotonic() < deadline, sessions
                time.sleep(0.2)
            seen: dict[str, set[str]] = {}
            for who in ("reseller", "sub", "sibling"):
                with world.client(who) as r_client:
                    listed = r_client.get("/api/v1/live/sessions").json()
                seen[who] = {s["username"] for s in listed}
            assert {s["username"] for s in sessions} == {
                o["line-reseller"]["username"],
                o["line-sibling"]["username"],
            }
    assert seen == {
        "reseller": {o["line-reseller"]["username"]},
        "sub": set(),
        "sibling": {o["line-sibling"]["username"]},
    }


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


# -- creator reads -------------------------------------------------------------------------
#
# A creator of tenant alpha walks every GET route with alpha's ids (a channel that is not
# its own, lines, users, sessions...): only its own account, its own channel and the
# public routes may answer 200, and what they show is checked.

CREATOR_MAY_READ: dict[str, Any] = {
    "/api/v1/auth/me": lambda mine, b: b["id"] == mine["user_id"],
    "/api/v1/auth/api-keys": lambda mine, b: b == [],
    "/api/v1/auth/totp": lambda mine, b: set(b) == set(TotpState.model_fields),
    "/api/v1/creator/channels": lambda mine, b: [c["id"] for c in b] == [mine["channel_id"]],
    "/api/v1/creator/audience": lambda mine, b: (
        [r["channel_id"] for r in b["items"]] == [mine["channel_id"]]
    ),
    **PUBLIC_MAY_READ,
}


def test_creators_read_only_their_own_channel_on_every_get_route(
    reseller_world: ResellerWorld, shared_server: RunningServer
) -> None:
    rw = reseller_world
    creator = add_user(shared_server, rw.world.id, f"creator-{rw.world.slug}", Role.creator)
    with rw.world.client() as c:
        own = created(
            c.post(
                "/api/v1/channels",
                json={"name": "Creator Own", "sources": [{"kind": "push_rtmp"}],
                      "owner_user_id": creator.id},
            )
        )  # fmt: skip
    mine = {"user_id": creator.id, "channel_id": own["id"]}
    routes = _get_routes(shared_server)
    path_values, query_values = _path_values(rw, "reseller"), _query_values(rw)
    leaks: list[str] = []
    with shared_server.client(creator.token) as c:
        for path, parameters in routes:
            names = [p["name"] for p in parameters if p["in"] == "path"]
            url = path.format(**{n: path_values[n] for n in names})
            queries = {p["name"] for p in parameters if p["in"] == "query"}
            widened = {k: v for k, v in query_values.items() if k in queries}
            for params in ({}, widened) if widened else ({},):
                r = c.get(url, params=params)
                if r.status_code in (403, 404):
                    continue
                check = CREATOR_MAY_READ.get(path)
                if r.status_code != 200 or check is None or not check(mine, r.json()):
                    leaks.append(f"GET {url} {params}: {r.status_code} {r.text[:300]}")
        # Its own channel's pages answer; the same pages of another channel are 404.
        for suffix in ("", "/go-live", "/shows"):
            assert c.get(f"/api/v1/creator/channels/{own['id']}{suffix}").status_code == 200
            other = c.get(f"/api/v1/creator/channels/{path_values['channel_id']}{suffix}")
            assert other.status_code == 404
    assert not leaks, "\n".join(leaks)


# -- syndication -----------------------------------------------------------------------------
#
# Two fresh panels: "owner-panel" offers a channel that bravo-like "partner-panel" carries.
# Neither reads the other's lines, other channels, stream keys or viewers; each moves only
# its own side of the syndication.


def test_syndication_crosses_no_private_data(shared_server: RunningServer) -> None:
    owner, partner = (
        make_tenant(shared_server, "owner-panel"),
        make_tenant(shared_server, "partner-panel"),
    )
    owner_objs, partner_objs = _populate(owner), _populate(partner)
    with owner.client() as a:
        offered = created(a.post("/api/v1/channels", json={"name": "Offered", "sources": PATTERN}))
        keyed = a.get(f"/api/v1/channels/{owner_objs['channels']['id']}").json()
        assert keyed["stream_key"]
        offer = created(
            a.post(
                "/api/v1/syndication/offers",
                json={"channel_id": offered["id"], "partner_code": partner.partner_code()},
            )
        )
    with partner.client() as b:
        request = created(b.post("/api/v1/syndication/requests", json={"offer_id": offer["id"]}))
        # The partner cannot approve its own request, nor withdraw the owner's offer.
        assert b.post(f"/api/v1/syndication/partners/{request['id']}/approve").status_code == 404
        assert b.post(f"/api/v1/syndication/offers/{offer['id']}/withdraw").status_code == 404
        assert b.get("/api/v1/syndication/partners").json() == []
    with owner.client() as a:
        # Nor can the owner cancel the partner's request in its name.
        assert a.post(f"/api/v1/syndication/requests/{request['id']}/cancel").status_code == 404
        assert a.get("/api/v1/syndication/requests").json() == []
        r = a.post(f"/api/v1/syndication/partners/{request['id']}/approve")
        assert r.status_code == 200, r.text
    with partner.client() as b:
        entry_id = b.get("/api/v1/syndication/requests").json()[0]["entry_channel_id"]
        bouquet = partner_objs["bouquets"]
        items = [{"item_type": "channel", "item_id": entry_id}]
        assert b.put(f"/api/v1/bouquets/{bouquet['id']}/items", json={"items": items}).is_success
    with ExitStack() as viewers:
        # A viewer in each panel, both on the owner's running channel.
        with owner.client() as a:
            items = [{"item_type": "channel", "item_id": offered["id"]}]
            r = a.put(
                f"/api/v1/bouquets/{owner_objs['bouquets']['id']}/items", json={"items": items}
            )
            assert r.status_code == 200
        _watch_ts(viewers, shared_server, owner_objs["lines"], offered["id"])
        _watch_ts(viewers, shared_server, partner_objs["lines"], entry_id)
        secrets = (keyed["stream_key"], owner_objs["lines"]["username"], "Offered")
        with partner.client() as b:
            sessions = b.get("/api/v1/live/sessions").json()
            assert [(s["username"], s["channel_id"]) for s in sessions] == [
                (partner_objs["lines"]["username"], entry_id)
            ]
            reads = {
                "channels": b.get("/api/v1/channels", params={"per_page": 500}),
                "entry": b.get(f"/api/v1/channels/{entry_id}"),
                "lines": b.get("/api/v1/lines", params={"per_page": 500}),
                "sessions": b.get("/api/v1/live/sessions"),
                "requests": b.get("/api/v1/syndication/requests"),
                "directory": b.get("/api/v1/syndication/directory"),
                "audit": b.get("/api/v1/audit", params={"per_page": 500}),
            }
            for name, r in reads.items():
                assert r.status_code == 200, (name, r.text)
                leaked = [s for s in secrets[:2] if s in r.text]
                assert not leaked, (name, leaked)
            assert reads["entry"].json()["sources"] == []
            assert reads["entry"].json()["stream_key"] is None
            for other in (offered["id"], owner_objs["channels"]["id"]):
                assert b.get(f"/api/v1/channels/{other}").status_code == 404
            assert b.get(f"/api/v1/lines/{owner_objs['lines']['id']}").status_code == 404
            assert b.get("/api/v1/syndication/audience").json() == []
        with owner.client() as a:
            sessions = a.get("/api/v1/live/sessions").json()
            assert [s["username"] for s in sessions] == [owner_objs["lines"]["username"]]
            partner_line = partner_objs["lines"]["username"]
            for url in (
                "/api/v1/syndication/partners",
                "/api/v1/syndication/audience",
                "/api/v1/lines?per_page=500",
                "/api/v1/audit?per_page=500",
                "/api/v1/live/sessions",
            ):
                r = a.get(url)
                assert r.status_code == 200 and partner_line not in r.text, (url, r.text)
            assert a.get(f"/api/v1/lines/{partner_objs['lines']['id']}").status_code == 404
            assert a.get(f"/api/v1/channels/{entry_id}").status_code == 404
            audience = a.get("/api/v1/syndication/audience").json()
            assert [(x["partner_tenant_id"], x["viewers_now"]) for x in audience] == [
                (partner.id, 1)
            ]


def test_partner_codes_are_each_panels_own(shared_server: RunningServer) -> None:
    """A panel reads its own partner code only; offering to a code answers with the
    partner's name and nothing else of it, and no read of either panel shows the other's
    code (a code is handed out by its panel, never learnt from the platform)."""
    owner, partner = (
        make_tenant(shared_server, "code-owner"),
        make_tenant(shared_server, "code-partner"),
    )
    owner_code, partner_code = owner.partner_code(), partner.partner_code()
    assert owner_code != partner_code
    with owner.client() as a:
        offered = created(a.post("/api/v1/channels", json={"name": "Coded", "sources": PATTERN}))
        offer = created(
            a.post(
                "/api/v1/syndication/offers",
                json={"channel_id": offered["id"], "partner_code": partner_code},
            )
        )
        assert (offer["partner_name"], offer["partner_tenant_id"]) == ("Code-Partner", partner.id)
        reads = [
            a.get(url)
            for url in (
                "/api/v1/syndication/partner-code",
                "/api/v1/syndication/offers",
                "/api/v1/syndication/partners",
                "/api/v1/syndication/directory",
                f"/api/v1/tenants/{owner.id}",
                "/api/v1/tenants",
                "/api/v1/audit?per_page=500",
            )
        ]
        assert reads[0].json()["partner_code"] == owner_code
        assert a.get(f"/api/v1/tenants/{partner.id}").status_code == 404
    with partner.client() as b:
        created(b.post("/api/v1/syndication/requests", json={"offer_id": offer["id"]}))
        reads += [
            b.get(url)
            for url in (
                "/api/v1/syndication/directory",
                "/api/v1/syndication/requests",
                "/api/v1/audit?per_page=500",
            )
        ]
        assert b.get("/api/v1/syndication/partner-code").json()["partner_code"] == partner_code
    for r in reads[:7]:
        assert r.status_code == 200 and partner_code not in r.text, r.text
    for r in reads[7:]:
        assert r.status_code == 200 and owner_code not in r.text, r.text
