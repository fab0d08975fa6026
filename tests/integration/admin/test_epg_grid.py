"""The guide grid (GET /epg/grid): a page of channels × one day of programmes in the
tenant's time zone, from an imported XMLTV document as players are served it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from support.admin_api import TenantWorld, created, make_tenant, root_client
from support.server import RunningServer


def _xmltv(day: date) -> bytes:
    def at(d: date, hour: int) -> str:
        return f"{d:%Y%m%d}{hour:02d}0000 +0000"

    before = day - timedelta(days=1)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<tv><channel id="news.grid"><display-name>News</display-name></channel>
<programme start="{at(before, 20)}" stop="{at(before, 21)}" channel="news.grid">
<title>Yesterday evening</title></programme>
<programme start="{at(day, 6)}" stop="{at(day, 8)}" channel="news.grid">
<title>Morning news</title><desc>Headlines.</desc></programme>
<programme start="{at(day, 8)}" stop="{at(day, 9)}" channel="news.grid">
<title>Weather</title></programme></tv>""".encode()


def _import(c: httpx.Client, document: bytes) -> None:
    source = created(c.post("/api/v1/epg/sources", json={"name": "Guide"}))
    r = c.put(
        f"/api/v1/epg/sources/{source['id']}/document",
        files={"file": ("guide.xml", document, "text/xml")},
    )
    assert r.status_code == 200, r.text
    r = c.post(f"/api/v1/epg/sources/{source['id']}/import", params={"wait": "true"})
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text


def test_a_day_of_programmes_per_channel(sqlite_server: RunningServer) -> None:
    world: TenantWorld = make_tenant(sqlite_server, "grid")
    other = make_tenant(sqlite_server, "gridless")
    today = datetime.now(UTC).date()
    with world.client() as c:
        _import(c, _xmltv(today))
        news = created(
            c.post(
                "/api/v1/channels",
                json={"name": "News", "number": 1, "epg_channel_id": "news.grid"},
            )
        )
        created(c.post("/api/v1/channels", json={"name": "Blank", "number": 2}))
        grid = c.get("/api/v1/epg/grid").json()
        assert grid["day"] == today.isoformat() and grid["timezone"] == "UTC"
        midnight = int(datetime(today.year, today.month, today.day, tzinfo=UTC).timestamp())
        assert (grid["start"], grid["stop"]) == (midnight, midnight + 86_400)
        assert grid["start"] <= grid["now"] < grid["stop"] and grid["total"] == 2
        first, second = grid["items"]
        assert (first["id"], first["name"]) == (news["id"], "News")
        assert [(p["title"], p["start"] - midnight) for p in first["programmes"]] == [
            ("Morning news", 6 * 3600),
            ("Weather", 8 * 3600),
        ]
        assert first["programmes"][0]["description"] == "Headlines."
        assert second["name"] == "Blank" and second["programmes"] == []
        yesterday = c.get("/api/v1/epg/grid", params={"day": str(today - timedelta(days=1))})
        assert [p["title"] for p in yesterday.json()["items"][0]["programmes"]] == [
            "Yesterday evening"
        ]
        for far in ("9999-12-31", "0001-01-01"):
            r = c.get("/api/v1/epg/grid", params={"day": far})
            assert r.status_code == 422 and "day" in r.json()["error"]["fields"], r.text
        one = c.get("/api/v1/epg/grid", params={"per_page": 1, "page": 2}).json()
        assert [x["name"] for x in one["items"]] == ["Blank"] and one["total"] == 2
    # Resellers do not read the catalogue; another tenant sees its own (empty) grid.
    with world.client("reseller") as r:
        assert r.get("/api/v1/epg/grid").status_code == 403
    with other.client() as o:
        assert o.get("/api/v1/epg/grid").json()["items"] == []
    with root_client(sqlite_server) as root:
        assert root.get("/api/v1/epg/grid").status_code == 422
        chosen = root.get("/api/v1/epg/grid", params={"tenant_id": world.id}).json()
        assert [x["name"] for x in chosen["items"]] == ["News", "Blank"]
        # The tenant's day: from Rome, midnight is an hour or two before UTC's.
        r = root.patch(f"/api/v1/tenants/{world.id}", json={"timezone": "Europe/Rome"})
        assert r.status_code == 200, r.text
    with world.client() as c:
        rome = c.get("/api/v1/epg/grid", params={"day": str(today)}).json()
    local = datetime(today.year, today.month, today.day, tzinfo=ZoneInfo("Europe/Rome"))
    assert rome["start"] == int(local.timestamp()) and rome["timezone"] == "Europe/Rome"
