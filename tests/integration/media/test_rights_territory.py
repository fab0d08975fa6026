"""Rights records, territory rules and blackouts, met the way viewers meet them: the player
API, get.php, xmltv.php and stream URLs over real sockets, ffmpeg as the player, GeoIP from
the shared MaxMind test databases behind a trusted proxy header (README "Rights")."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from palinsesto.catalog.models import Bouquet, BouquetItem, Channel, ItemType, Movie
from support.admin_api import root_client
from support.media import FFMPEG, play
from support.server import make_settings, run_server

from .conftest import LiveWorld, live_world

GEOIP = Path("/work/shared/geoip-test-mmdb/GeoLite2-Country-Test.mmdb")
GB, SE, UNKNOWN = "81.2.69.160", "89.160.20.112", "1.1.1.1"  # per the databases' README


def _iso(seconds_from_now: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds_from_now)).isoformat()


def _admin(live: LiveWorld, method: str, path: str, **body: Any) -> httpx.Response:
    with root_client(live.server) as c:
        return c.request(method, f"/api/v1{path}", json=body or None)


async def _answer(url: str, forwarded_for: str | None = None) -> tuple[int, bytes]:
    """Status and the first bytes of the body of a stream URL, then hang up."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    async with httpx.AsyncClient(timeout=30) as c:
        async with c.stream("GET", url, headers=headers) as r:
            async for chunk in r.aiter_bytes():
                return r.status_code, chunk
            return r.status_code, b""


def _listed(live: LiveWorld) -> dict[str, bool]:
    """Whether the pattern channel is in each list a player reads."""
    base, auth = live.server.base_url, {"username": live.username, "password": live.password}
    streams = httpx.get(
        f"{base}/player_api.php", params={**auth, "action": "get_live_streams"}, timeout=30
    ).json()
    m3u = httpx.get(f"{base}/get.php", params={**auth, "type": "m3u_plus"}, timeout=30).text
    guide = httpx.get(f"{base}/xmltv.php", params=auth, timeout=30).text
    return {
        "player_api": any(s["stream_id"] == live.pattern_id for s in streams),
        "get.php": f"/{live.pattern_id}.ts" in m3u,
        "xmltv": 'id="pattern.test"' in guide,
    }


def _movies(live: LiveWorld) -> list[str]:
    auth = {"username": live.username, "password": live.password}
    return [
        m["name"]
        for m in httpx.get(
            f"{live.server.base_url}/player_api.php",
            params={**auth, "action": "get_vod_streams"},
            timeout=30,
        ).json()
    ]


@pytest.fixture
def rights_live(database_url: str, tmp_path: Path) -> Any:
    with live_world(make_settings(tmp_path, database_url, live_idle_stop_seconds=2)) as world:
        with world.server.ctx.db.transaction() as session:
            session.get(Channel, world.pattern_id).epg_channel_id = "pattern.test"
            bouquet = session.query(Bouquet).filter_by(tenant_id=world.tenant_id).one()
            for name in ("Licensed Film", "Unlicensed Film"):
                movie = Movie(tenant_id=world.tenant_id, name=name)
                session.add(movie)
                session.flush()
                session.add(BouquetItem(bouquet_id=bouquet.id, item_type=ItemType.movie,
                                        item_id=movie.id))  # fmt: skip
        world.server.ctx.events.publish(world.tenant_id, "catalog")
        yield world


async def test_rights_gate_lists_and_stream_urls(rights_live: LiveWorld) -> None:
    live = rights_live
    everywhere = {"player_api": True, "get.php": True, "xmltv": True}
    nowhere = {"player_api": False, "get.php": False, "xmltv": False}
    assert _listed(live) == everywhere  # the tenant predates the setting: off
    assert sorted(_movies(live)) == ["Licensed Film", "Unlicensed Film"]
    r = _admin(live, "PATCH", f"/tenants/{live.tenant_id}", rights_required=True)
    assert r.status_code == 200 and r.json()["rights_required"] is True, r.text
    assert _listed(live) == nowhere
    assert await _answer(live.url(live.pattern_id)) == (451, b"RIGHTS_MISSING\n")

    # Bad input changes nothing: an unknown country code, no such item, an end before the start.
    base = {"tenant_id": live.tenant_id, "item_type": "channel", "item_id": live.pattern_id,
            "holder": "Acme Rights", "starts_at": _iso(-60)}  # fmt: skip
    assert _admin(live, "POST", "/rights", **base, territories=["XXX"]).status_code == 422
    assert _admin(live, "POST", "/rights", **{**base, "item_id": 99999}).status_code == 422
    assert _admin(live, "POST", "/rights", **base, ends_at=_iso(-120)).status_code == 422
    assert _listed(live) == nowhere

    contract = b"%PDF-1.4 licence for Pattern, worldwide"
    evidence = [{"filename": "licence.pdf", "content_base64": base64.b64encode(contract).decode()}]
    r = _admin(live, "POST", "/rights", **base, licence_ref="L-1", ends_at=_iso(6),
               evidence=evidence)  # fmt: skip
    assert r.status_code == 201, r.text
    record = r.json()
    assert record["evidence"][0]["sha256"] == hashlib.sha256(contract).hexdigest()
    with root_client(live.server) as c:
        got = c.get(f"/api/v1/rights/{record['id']}/evidence/{record['evidence'][0]['id']}")
    assert got.content == contract
    assert got.headers["x-content-sha256"] == hashlib.sha256(contract).hexdigest()
    alerts = _admin(live, "GET", "/rights/expiring").json()
    assert [(a["record"]["id"], a["alert_days"]) for a in alerts] == [(record["id"], 1)]

    assert _listed(live) == everywhere
    assert _movies(live) == []  # movies too: neither has a record yet
    with live.server.ctx.db.session() as session:
        film = session.query(Movie).filter_by(name="Licensed Film").one().id
    movie_rights = {**base, "item_type": "movie", "item_id": film, "territories": ["IT"]}
    assert _admin(live, "POST", "/rights", **movie_rights).status_code == 201
    assert _movies(live) == ["Licensed Film"]
    frames, err = await play(live.url(live.pattern_id), 1.0)
    assert frames >= 10, err[-1500:]

    # Past its end the item leaves every list by itself and its URL says why.
    deadline = time.monotonic() + 20
    while (await _answer(live.url(live.pattern_id)))[0] != 451:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.5)
    assert await _answer(live.url(live.pattern_id)) == (451, b"RIGHTS_EXPIRED\n")
    while _listed(live) != nowhere:
        assert time.monotonic() < deadline, _listed(live)
        await asyncio.sleep(0.5)


async def test_geoip_allowed_denied_and_unknown_through_a_trusted_proxy(
    sqlite_url: str, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, sqlite_url, trusted_proxies="127.0.0.1", geoip_db=str(GEOIP))
    with live_world(settings) as live:
        rule = {"tenant_id": live.tenant_id, "item_type": "channel", "item_id": live.pattern_id}
        r = _admin(live, "PUT", "/territory-rules", **rule, allowed=["gb"], deny_unknown=True)
        assert r.status_code == 200 and r.json()["allowed"] == ["GB"], r.text
        url = live.url(live.pattern_id)
        assert await _answer(url, SE) == (451, b"GEO_BLOCKED\n")
        assert await _answer(url, UNKNOWN) == (451, b"GEO_UNKNOWN\n")
        assert await _answer(url) == (451, b"GEO_UNKNOWN\n")  # loopback itself: no country
        status, first = await _answer(url, GB)
        assert status == 200 and first[:1] == b"\x47", first[:40]  # an MPEG-TS sync byte
        # The rule is replaced as a whole: now GB is blocked and everyone else may watch.
        _admin(live, "PUT", "/territory-rules", **rule, blocked=["GB"])
        assert await _answer(url, GB) == (451, b"GEO_BLOCKED\n")
        assert (await _answer(url, SE))[0] == 200
        assert (await _answer(url, UNKNOWN))[0] == 200


def _blue_share(frame: bytes) -> float:
    """The share of 8x8 RGB pixels that are the blackout slate's blue."""
    pixels = [frame[i : i + 3] for i in range(0, len(frame), 3)]
    return sum(1 for r, g, b in pixels if b > 150 and r < 60 and g < 60) / len(pixels)


async def test_a_blackout_starting_during_a_play_switches_the_picture_to_the_slate(
    live: LiveWorld,
) -> None:
    proc = await asyncio.create_subprocess_exec(
        FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", live.url(live.pattern_id),
        "-map", "0:v:0", "-vf", "scale=8:8,format=rgb24", "-fps_mode", "passthrough",
        "-f", "rawvideo", "pipe:1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    frames: list[bytes] = []

    async def read() -> None:
        assert proc.stdout is not None
        while chunk := await proc.stdout.readexactly(192):
            frames.append(chunk)

    reader = asyncio.create_task(read())
    deadline = time.monotonic() + 30
    while len(frames) < 25:  # a second of the live picture
        assert time.monotonic() < deadline and not reader.done(), "no live picture"
        await asyncio.sleep(0.1)
    r = _admin(live, "POST", "/blackouts", tenant_id=live.tenant_id, item_type="channel",
               item_id=live.pattern_id, starts_at=_iso(1), ends_at=_iso(600))  # fmt: skip
    assert r.status_code == 201, r.text
    try:
        await asyncio.wait_for(proc.wait(), 30)  # the slate, then the end of the stream
    finally:
        if proc.returncode is None:
            proc.kill()
    with_live = len([f for f in frames if _blue_share(f) < 0.5])
    slate = [f for f in frames if _blue_share(f) >= 0.9]
    assert with_live >= 25 and len(slate) >= 25, (with_live, len(slate), len(frames))
    assert _blue_share(frames[-1]) >= 0.9  # the last picture the viewer saw is the slate
    # A new play during the blackout gets the slate at once, with the reason in a header.
    async with httpx.AsyncClient(timeout=30) as c:
        r = await c.get(live.url(live.pattern_id))
    assert r.status_code == 200 and r.headers["x-refusal-reason"] == "BLACKOUT"
    assert await _answer(live.url(live.pattern_id, "m3u8")) == (451, b"BLACKOUT\n")


@pytest.mark.parametrize(
    ("public_url", "required"),
    [("https://tv.example.com", True), ("", False), ("http://192.168.1.5:8000", False)],
)
def test_new_tenants_of_a_public_panel_require_rights(
    sqlite_url: str, tmp_path: Path, public_url: str, required: bool
) -> None:
    with run_server(make_settings(tmp_path, sqlite_url, public_url=public_url)) as server:
        with root_client(server) as c:
            made = c.post("/api/v1/tenants", json={"name": "New", "slug": "new-one"})
            assert made.status_code == 201, made.text
            assert made.json()["rights_required"] is required
            chosen = c.post("/api/v1/tenants", json={"name": "Own", "slug": "own-choice",
                                                     "rights_required": not required})  # fmt: skip
            assert chosen.json()["rights_required"] is (not required)
