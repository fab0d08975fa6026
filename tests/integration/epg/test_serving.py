"""The EPG admin API and the served guide over real HTTP, on SQLite and PostgreSQL:
upload and import, review list, scheduled shows, live mark, and the exact shapes of
``get_short_epg``, ``get_simple_data_table`` and ``xmltv.php`` (validated against the DTD)."""

from __future__ import annotations

import base64
import gzip
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from lxml import etree

from palinsesto.accounts.models import AdminUser, Line, LineBouquet, Role, Tenant
from palinsesto.accounts.security import hash_password
from palinsesto.catalog.models import Bouquet, BouquetItem, Channel, ItemType
from support.server import RunningServer
from support.xmltv_docs import GuideSpec, programme_desc, programme_title, xmltv_bytes

DTD = etree.DTD(str(Path(__file__).with_name("xmltv.dtd")))
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass
class Setup:
    token: str
    tenant_id: int
    channels: dict[str, int]
    start: int


def _setup(server: RunningServer, slug: str) -> Setup:
    hour = int(time.time()) // 3600 * 3600
    with server.ctx.db.transaction() as s:
        tenant = Tenant(name=slug.title(), slug=slug)
        s.add(tenant)
        s.flush()
        s.add(
            AdminUser(
                tenant_id=tenant.id,
                username=f"owner-{slug}",
                password_hash=hash_password("pw-" + slug),
                role=Role.owner,
            )
        )
        channels = {
            "a0": Channel(
                tenant_id=tenant.id, name="Uno", epg_channel_id="a0.example", archive_days=2
            ),
            "a1": Channel(tenant_id=tenant.id, name="Due", epg_channel_id="a1.example"),
            "a4": Channel(tenant_id=tenant.id, name="Canale A 4 Sport"),  # review by name
            "studio": Channel(tenant_id=tenant.id, name="Drum Studio"),  # own shows
        }
        s.add_all(channels.values())
        bouquet = Bouquet(tenant_id=tenant.id, name="All")
        s.add(bouquet)
        s.flush()
        for i, ch in enumerate(channels.values()):
            s.add(
                BouquetItem(
                    bouquet_id=bouquet.id, item_type=ItemType.channel, item_id=ch.id, position=i
                )
            )
        line = Line(tenant_id=tenant.id, username=f"viewer-{slug}", password="pw-viewer")
        s.add(line)
        s.flush()
        s.add(LineBouquet(line_id=line.id, bouquet_id=bouquet.id, position=0))
        tenant_id = tenant.id
        ids = {k: c.id for k, c in channels.items()}
    return Setup(server.token(f"owner-{slug}", "pw-" + slug), tenant_id, ids, hour - 86400)


def _import(server: RunningServer, setup: Setup) -> dict:
    spec = GuideSpec(channels=8, days=3, start=setup.start, prefix="a", offset_minutes=120)
    with server.client(setup.token) as c:
        r = c.post("/api/v1/epg/sources", json={"name": "Provider", "priority": 5})
        assert r.status_code == 201, r.text
        source = r.json()
        files = {"file": ("guide.xml.gz", gzip.compress(xmltv_bytes(spec)), "application/gzip")}
        r = c.put(f"/api/v1/epg/sources/{source['id']}/document", files=files)
        assert r.status_code == 200 and r.json()["uploaded"] is True, r.text
        r = c.post(f"/api/v1/epg/sources/{source['id']}/import", params={"wait": "true"})
        assert r.status_code == 200, r.text
        return r.json()


def _player(server: RunningServer, slug: str, **params: object) -> object:
    with server.client() as c:
        r = c.get(
            "/player_api.php",
            params={"username": f"viewer-{slug}", "password": "pw-viewer", **params},
        )
        assert r.status_code == 200, r.text
        return r.json()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_import_through_the_api_and_serve_exact_shapes(server: RunningServer) -> None:
    setup = _setup(server, "sigma")
    run = _import(server, setup)
    assert run["status"] == "succeeded" and run["programmes"] == 8 * 108 and run["skipped"] == 0
    assert run["channels"] == 8 and run["error"] == "" and run["duration_ms"] >= 0
    now = int(time.time())
    short = _player(server, "sigma", action="get_short_epg", stream_id=setup.channels["a0"])
    listings = short["epg_listings"]  # type: ignore[index]
    assert len(listings) == 4  # default limit (§4.8)
    first = listings[0]
    index = (int(first["start_timestamp"]) - setup.start) // 2400
    assert int(first["start_timestamp"]) <= now < int(first["stop_timestamp"])
    assert first["title"] == _b64(programme_title(0, index))
    assert first["description"] == _b64(programme_desc(0, index))
    assert first["channel_id"] == "a0.example" and first["lang"] == "it"
    assert isinstance(first["start_timestamp"], str) and isinstance(first["stop_timestamp"], str)
    start = datetime.fromtimestamp(int(first["start_timestamp"]), UTC).strftime(TIME_FORMAT)
    assert first["start"] == start  # server_info.timezone is UTC in tests
    assert [int(x["start_timestamp"]) for x in listings] == [
        int(first["start_timestamp"]) + 2400 * i for i in range(4)
    ]
    limited = _player(
        server, "sigma", action="get_short_epg", stream_id=setup.channels["a1"], limit=2
    )
    assert len(limited["epg_listings"]) == 2  # type: ignore[index]

    table = _player(server, "sigma", action="get_simple_data_table", stream_id=setup.channels["a0"])
    rows = table["epg_listings"]  # type: ignore[index]
    assert len(rows) == 108
    assert sum(r["now_playing"] for r in rows) == 1
    for r in rows:
        assert r["end"] == datetime.fromtimestamp(int(r["stop_timestamp"]), UTC).strftime(
            TIME_FORMAT
        )
        # Nothing was recorded: catch-up is offered only where the archive holds the
        # programme (tests/integration/media/test_archive.py plays the positive case).
        assert r["has_archive"] == 0
    none = _player(server, "sigma", action="get_short_epg", stream_id=setup.channels["studio"])
    assert none == {"epg_listings": []}

    with server.client() as c:
        r = c.get(
            "/xmltv.php",
            params={
                "username": "viewer-sigma",
                "password": "pw-viewer",
                "prev_days": 1,
                "next_days": 1,
            },
        )
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    doc = etree.fromstring(r.content)
    assert DTD.validate(doc), DTD.error_log.filter_from_errors()
    channel_ids = [ch.get("id") for ch in doc.findall("channel")]
    assert channel_ids[:2] == ["a0.example", "a1.example"]
    programmes = [p for p in doc.findall("programme") if p.get("channel") == "a0.example"]
    assert len(programmes) == 108  # the window [hour - 1 day, hour + 2 days) holds it all
    p = programmes[5]
    idx = (
        int(datetime.strptime(p.get("start"), "%Y%m%d%H%M%S %z").timestamp()) - setup.start
    ) // 2400
    assert p.findtext("title") == programme_title(0, idx)
    assert p.findtext("desc") == programme_desc(0, idx)
    assert p.get("start").endswith(" +0000") and len(p.get("stop")) == 20
    with server.client() as c:
        r = c.get(
            "/xmltv.php",
            params={
                "username": "viewer-sigma",
                "password": "pw-viewer",
                "prev_days": 0,
                "next_days": 0,
            },
        )
    doc = etree.fromstring(r.content)
    assert DTD.validate(doc)
    assert len([p for p in doc.findall("programme") if p.get("channel") == "a1.example"]) == 36


def test_review_list_manual_choice_and_tenant_scope(server: RunningServer) -> None:
    setup = _setup(server, "tau")
    other = _setup(server, "upsilon")
    _import(server, setup)
    with server.client(setup.token) as c:
        review = c.get("/api/v1/epg/mappings", params={"state": "review"}).json()
        assert review["total"] == 1
        item = review["items"][0]
        assert item["channel_id"] == setup.channels["a4"] and item["method"] == "name"
        assert item["guide_channel"]["xmltv_id"] == "a4.example"
        assert 0.6 <= item["confidence"] < 0.9
        exact = c.get("/api/v1/epg/mappings", params={"state": "accepted"}).json()
        assert {m["guide_channel"]["xmltv_id"] for m in exact["items"]} == {
            "a0.example",
            "a1.example",
        }
        # Reject, then choose another guide channel by hand.
        r = c.post(f"/api/v1/epg/mappings/{item['id']}/reject")
        assert r.status_code == 200 and r.json()["state"] == "rejected"
        guide = c.get("/api/v1/epg/guide-channels", params={"q": "a6.example"}).json()["items"][0]
        r = c.put(
            f"/api/v1/epg/channels/{setup.channels['a4']}/mapping",
            json={"guide_channel_id": guide["id"]},
        )
        assert r.status_code == 200 and r.json()["method"] == "manual"
        # A re-import re-matches: the manual choice and the rejection both survive.
        sources = c.get("/api/v1/epg/sources").json()["items"]
        r = c.post(f"/api/v1/epg/sources/{sources[0]['id']}/import", params={"wait": "true"})
        assert r.json()["status"] == "succeeded"
        mine = c.get("/api/v1/epg/mappings", params={"channel_id": setup.channels["a4"]}).json()
        states = {(m["guide_channel"]["xmltv_id"], m["method"], m["state"]) for m in mine["items"]}
        assert states == {("a4.example", "name", "rejected"), ("a6.example", "manual", "accepted")}
        runs = c.get("/api/v1/epg/runs", params={"source_id": sources[0]["id"]}).json()
        assert runs["total"] == 2 and runs["items"][0]["status"] == "succeeded"
    # The channel took the guide's id and its guide is a6's.
    short = _player(server, "tau", action="get_short_epg", stream_id=setup.channels["a4"])
    first = short["epg_listings"][0]  # type: ignore[index]
    assert first["channel_id"] == "a6.example"
    index = (int(first["start_timestamp"]) - setup.start) // 2400
    assert base64.b64decode(first["title"]).decode() == programme_title(6, index)
    # Another tenant sees none of it.
    with server.client(other.token) as c:
        assert c.get(f"/api/v1/epg/sources/{sources[0]['id']}").status_code == 404
        assert c.post(f"/api/v1/epg/mappings/{item['id']}/accept").status_code == 404
        assert c.get(f"/api/v1/epg/runs/{runs['items'][0]['id']}").status_code == 404
        assert c.get(f"/api/v1/epg/channels/{setup.channels['a4']}/shows").status_code == 404
        assert c.get("/api/v1/epg/mappings").json()["total"] == 0
        r = c.put(
            f"/api/v1/epg/channels/{other.channels['a4']}/mapping",
            json={"guide_channel_id": guide["id"]},
        )
        assert r.status_code == 422


def test_scheduled_weekly_show_and_live_mark(server: RunningServer) -> None:
    setup = _setup(server, "phi")
    studio = setup.channels["studio"]
    now = int(time.time())
    begin = datetime.fromtimestamp(now - 600, UTC)
    end = datetime.fromtimestamp(now + 3000, UTC)
    # Weekly days are the show's own days, in its time zone (Rome is a day ahead of UTC
    # for an hour or two every night).
    weekday = begin.astimezone(ZoneInfo("Europe/Rome")).isoweekday()
    with server.client(setup.token) as c:
        r = c.post(
            f"/api/v1/epg/channels/{studio}/shows",
            json={
                "title": "Drum lesson",
                "description": "Paradiddles",
                "start": begin.isoformat(),
                "end": end.isoformat(),
                "weekly_days": [weekday],
                "timezone": "Europe/Rome",
            },
        )
        assert r.status_code == 201, r.text
        show = r.json()
        assert show["weekly_days"] == [weekday] and show["live"] is True
        bad = c.post(
            f"/api/v1/epg/channels/{studio}/shows",
            json={"title": "x", "start": end.isoformat(), "end": begin.isoformat()},
        )
        assert bad.status_code == 422
        assert len(c.get(f"/api/v1/epg/channels/{studio}/shows").json()) == 1
    short = _player(server, "phi", action="get_short_epg", stream_id=studio, limit=3)
    rows = short["epg_listings"]  # type: ignore[index]
    assert [base64.b64decode(r["title"]).decode() for r in rows] == ["Drum lesson"] * 3
    assert rows[0]["channel_id"] == f"palinsesto-{studio}"
    starts = [int(r["start_timestamp"]) for r in rows]
    assert starts[0] == now - 600 and starts[1] - starts[0] in (
        7 * 86400 - 3600,
        7 * 86400,
        7 * 86400 + 3600,
    )
    server.ctx.services["epg"].mark_live(setup.tenant_id, studio, True)
    live = _player(server, "phi", action="get_short_epg", stream_id=studio, limit=2)
    titles = [base64.b64decode(r["title"]).decode() for r in live["epg_listings"]]  # type: ignore[index]
    assert titles == ["LIVE: Drum lesson", "Drum lesson"]
    server.ctx.services["epg"].mark_live(setup.tenant_id, studio, False)
    after = _player(server, "phi", action="get_short_epg", stream_id=studio, limit=1)
    assert base64.b64decode(after["epg_listings"][0]["title"]).decode() == "Drum lesson"  # type: ignore[index]


def _xmltv_time(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y%m%d%H%M%S +0000")


def test_imported_programme_details_are_served_field_by_field(server: RunningServer) -> None:
    """Review #4: sub-title, category, episode-num, rating and lang that the imported guide
    had come back in xmltv.php, in the DTD's order."""
    setup = _setup(server, "delta")
    first, second, third = (int(time.time()) - 600 + i * 1800 for i in range(3))
    document = f"""<?xml version="1.0" encoding="utf-8"?>
<tv generator-info-name="provider">
  <channel id="a0.example"><display-name>Uno</display-name></channel>
  <programme start="{_xmltv_time(first)}" stop="{_xmltv_time(second)}" channel="a0.example">
    <title lang="it">Il Commissario</title>
    <title lang="en">The Inspector</title>
    <sub-title lang="it">Il caso &amp; la prova</sub-title>
    <desc lang="en">An English description</desc>
    <credits><director>Someone</director></credits>
    <category lang="it">Giallo</category>
    <category lang="en">Crime</category>
    <category>Series</category>
    <episode-num system="xmltv_ns">1.4.</episode-num>
    <episode-num system="onscreen">S02E05</episode-num>
    <rating system="VCHIP"><value>TV-14</value><icon src="http://img.example/r.png"/></rating>
    <rating><value>12+</value></rating>
    <star-rating><value>3/5</value></star-rating>
  </programme>
  <programme start="{_xmltv_time(second)}" stop="{_xmltv_time(third)}" channel="a0.example">
    <title>Plain</title>
  </programme>
</tv>
""".encode()
    with server.client(setup.token) as c:
        r = c.post("/api/v1/epg/sources", json={"name": "Provider", "priority": 5})
        assert r.status_code == 201, r.text
        source = r.json()["id"]
        files = {"file": ("guide.xml", document, "application/xml")}
        assert c.put(f"/api/v1/epg/sources/{source}/document", files=files).status_code == 200
        r = c.post(f"/api/v1/epg/sources/{source}/import", params={"wait": "true"})
        assert r.status_code == 200 and r.json()["programmes"] == 2, r.text
    with server.client() as c:
        r = c.get("/xmltv.php", params={"username": "viewer-delta", "password": "pw-viewer"})
    assert r.status_code == 200
    doc = etree.fromstring(r.content)
    assert DTD.validate(doc), DTD.error_log.filter_from_errors()
    detailed, plain = [p for p in doc.findall("programme") if p.get("channel") == "a0.example"]
    children = [
        (child.tag, dict(child.attrib), (child.text or "").strip(), child.findtext("value"))
        for child in detailed
    ]
    assert children == [
        ("title", {"lang": "it"}, "Il Commissario", None),
        ("sub-title", {"lang": "it"}, "Il caso & la prova", None),
        ("desc", {"lang": "en"}, "An English description", None),
        ("category", {"lang": "it"}, "Giallo", None),
        ("category", {"lang": "en"}, "Crime", None),
        ("category", {}, "Series", None),
        ("episode-num", {"system": "xmltv_ns"}, "1.4.", None),
        ("episode-num", {"system": "onscreen"}, "S02E05", None),
        ("rating", {"system": "VCHIP"}, "", "TV-14"),
        ("rating", {}, "", "12+"),
    ]
    assert [(c.tag, dict(c.attrib), c.text) for c in plain] == [("title", {}, "Plain")]
    # The player API still answers from the same rows.
    short = _player(server, "delta", action="get_short_epg", stream_id=setup.channels["a0"])
    assert [base64.b64decode(x["title"]).decode() for x in short["epg_listings"]] == [  # type: ignore[index]
        "Il Commissario",
        "Plain",
    ]
