"""Syndication end to end, over real HTTP with ffmpeg as the players: tenant alpha offers a
channel pulled from a local upstream, bravo requests it, alpha approves, bravo bundles and
plays it; one runner, one ffmpeg and one upstream connection serve both panels; the
offer's viewer cap refuses bravo's next viewer; revocation cuts bravo's player (measured)
and takes the channel out of bravo's lists; both audit logs say so."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.admin_api import TenantWorld, created, make_tenant, root_client
from support.media import FFMPEG, PacedTsServer, make_sample_ts, play
from support.node_world import FakeNode, add_server
from support.server import RunningServer, make_settings, run_server

GEOIP = Path("/work/shared/geoip-test-mmdb/GeoLite2-Country-Test.mmdb")
GB, SE = "81.2.69.160", "89.160.20.112"  # per the test databases' README
CUT_WITHIN = 5.0  # seconds from the revocation to the end of bravo's stream (acceptance)


@dataclass
class Pair:
    server: RunningServer
    upstream: PacedTsServer
    alpha: TenantWorld
    bravo: TenantWorld
    channel: dict[str, Any]  # alpha's channel X
    alpha_line: dict[str, Any]

    @property
    def engine(self) -> Any:
        return self.server.ctx.services["live"]

    def live_url(self, line: dict[str, Any], stream_id: int) -> str:
        return f"http://127.0.0.1:{self.engine.port}/live/{line['username']}/secret1/{stream_id}.ts"


@pytest.fixture
async def pair(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Pair]:
    upstream = PacedTsServer(make_sample_ts(tmp_path / "sample.ts").read_bytes(), 4.0)
    await upstream.start()
    settings = make_settings(
        tmp_path,
        sqlite_url,
        outbound_allow_networks="127.0.0.1/32",
        live_idle_stop_seconds=30,
        usage_sample_seconds=1,
        trusted_proxies="127.0.0.1",  # the territory test's viewers come through a proxy
        geoip_db=str(GEOIP),
    )
    try:
        with run_server(settings) as server:
            alpha = make_tenant(server, "alpha")
            bravo = make_tenant(server, "bravo")
            with alpha.client() as a:
                channel = created(
                    a.post(
                        "/api/v1/channels",
                        json={
                            "name": "Drums Live",
                            "epg_channel_id": "drums.alpha",
                            "sources": [{"kind": "http_ts", "url": upstream.url}],
                        },
                    )
                )
                bouquet = created(a.post("/api/v1/bouquets", json={"name": "Alpha Main"}))
                items = [{"item_type": "channel", "item_id": channel["id"]}]
                r = a.put(f"/api/v1/bouquets/{bouquet['id']}/items", json={"items": items})
                assert r.status_code == 200, r.text
                line = created(
                    a.post(
                        "/api/v1/lines",
                        json={"username": "alpha-viewer", "password": "secret1",
                              "bouquet_ids": [bouquet["id"]], "max_connections": 2},
                    )
                )  # fmt: skip
            yield Pair(server, upstream, alpha, bravo, channel, line)
    finally:
        await upstream.stop()


def _ffmpeg_pulls(url: str) -> int:
    """ffmpeg processes of this machine whose command line reads ``url``."""
    found = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and b"ffmpeg" in argv[0] and url.encode() in argv:
            found += 1
    return found


def _capture(url: str, user_agent: str) -> bytes:
    """A TS viewer that keeps every byte until the server ends the stream."""
    data = bytearray()
    with httpx.Client(timeout=60) as c:
        with c.stream("GET", url, headers={"user-agent": user_agent}) as r:
            assert r.status_code == 200, r.status_code
            for chunk in r.iter_bytes():
                data += chunk
    return bytes(data)


def _pictures(data: bytes, folder: Path) -> list[bytes]:
    """The stream's pictures, each scaled to 8x8 RGB."""
    path = folder / "captured.ts"
    path.write_bytes(data)
    out = subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-i", str(path), "-map", "0:v:0",
         "-vf", "scale=8:8,format=rgb24", "-fps_mode", "passthrough", "-f", "rawvideo", "-"],
        capture_output=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    return [out[i : i + 192] for i in range(0, len(out) - 191, 192)]


def _green_share(frame: bytes) -> float:
    """The share of 8x8 pixels that are the "ended" slate's dark green (0x204020)."""
    pixels = [frame[i : i + 3] for i in range(0, len(frame), 3)]
    return sum(1 for r, g, b in pixels if 45 < g < 95 and r < g - 15 and b < g - 15) / 64


async def _until(check: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


def _lists(server: RunningServer, line: dict[str, Any]) -> tuple[set[int], str, str]:
    """The stream ids of the line's player API, its playlist and its guide."""
    creds = {"username": line["username"], "password": "secret1"}
    with httpx.Client(base_url=server.base_url, timeout=30) as c:
        api = c.get("/player_api.php", params={**creds, "action": "get_live_streams"})
        playlist = c.get("/get.php", params={**creds, "type": "m3u_plus", "output": "ts"})
        guide = c.get("/xmltv.php", params=creds)
    assert api.status_code == playlist.status_code == guide.status_code == 200
    return {int(s["stream_id"]) for s in api.json()}, playlist.text, guide.text


async def test_a_partner_carries_plays_and_loses_a_syndicated_channel(pair: Pair) -> None:
    alpha, bravo, x = pair.alpha, pair.bravo, pair.channel
    # Alpha offers X to bravo, privately, with room for two of bravo's viewers at once.
    with alpha.client() as a:
        offer = created(
            a.post(
                "/api/v1/syndication/offers",
                json={
                    "channel_id": x["id"],
                    "partner_code": bravo.partner_code(),
                    "max_viewers": 2,
                },
            )
        )
    with bravo.client() as b:
        listed = b.get("/api/v1/syndication/directory")
        assert [o["id"] for o in listed.json()] == [offer["id"]]
        assert str(pair.upstream.port) not in listed.text  # the upstream stays alpha's
        request = created(b.post("/api/v1/syndication/requests", json={"offer_id": offer["id"]}))
        assert request["status"] == "requested" and request["entry_channel_id"] is None
    with alpha.client() as a:
        pending = a.get("/api/v1/syndication/partners", params={"status": "requested"}).json()
        assert [(p["id"], p["partner_name"]) for p in pending] == [(request["id"], "Bravo")]
        approved = a.post(f"/api/v1/syndication/partners/{request['id']}/approve")
        assert approved.status_code == 200 and approved.json()["status"] == "active"
    # Bravo's entry: read-only where it counts, numbered and bundled as bravo likes.
    with bravo.client() as b:
        mine = b.get("/api/v1/syndication/requests").json()[0]
        entry_id = mine["entry_channel_id"]
        entry = b.get(f"/api/v1/channels/{entry_id}").json()
        assert entry["sources"] == [] and entry["stream_key"] is None
        assert entry["syndication_id"] == request["id"] and entry["name"] == "Drums Live"
        refused = b.patch(f"/api/v1/channels/{entry_id}", json={"sources": []})
        assert refused.status_code == 403 and "owner" in refused.json()["error"]["message"]
        assert b.post(f"/api/v1/channels/{entry_id}/stream-key").status_code == 403
        assert b.delete(f"/api/v1/channels/{entry_id}").status_code == 403
        assert b.post(f"/api/v1/live/channels/{entry_id}/start").status_code == 403
        assert b.patch(f"/api/v1/channels/{entry_id}", json={"number": 701}).status_code == 200
        bouquet = created(b.post("/api/v1/bouquets", json={"name": "Bravo Music"}))
        items = [{"item_type": "channel", "item_id": entry_id}]
        r = b.put(f"/api/v1/bouquets/{bouquet['id']}/items", json={"items": items})
        assert r.status_code == 200, r.text
        # The offer does not allow paid bouquets: a package sold for credits is refused.
        paid = b.post(
            "/api/v1/packages",
            json={"name": "Paid", "duration_days": 30, "credits": 5,
                  "bouquet_ids": [bouquet["id"]]},
        )  # fmt: skip
        assert paid.status_code == 422 and "paid" in paid.json()["error"]["message"]
        line = created(
            b.post(
                "/api/v1/lines",
                json={"username": "bravo-viewer", "password": "secret1",
                      "bouquet_ids": [bouquet["id"]], "max_connections": 3},
            )
        )  # fmt: skip
    ids, playlist, guide = await asyncio.to_thread(_lists, pair.server, line)
    assert ids == {entry_id} and f"/{entry_id}.ts" in playlist and "drums.alpha" in guide
    assert str(pair.upstream.port) not in playlist

    # One viewer in each panel: both decode the same running channel.
    alpha_play = asyncio.create_task(
        play(pair.live_url(pair.alpha_line, x["id"]), 60, "-user_agent", "a", timeout=90)
    )
    bravo_url = pair.live_url(line, entry_id)
    bravo_plays = [asyncio.create_task(play(bravo_url, 60, "-user_agent", "tv", timeout=90))]
    captured = asyncio.create_task(asyncio.to_thread(_capture, bravo_url, "phone"))
    sessions = pair.engine.sessions
    await _until(lambda: len(sessions.all()) == 3, 30, "three viewers")
    await asyncio.sleep(3)  # pictures flow
    assert set(pair.engine.runners) == {x["id"]}  # bravo's entry has no runner of its own
    assert len(pair.upstream.writers) == 1  # one pull from the upstream
    assert await asyncio.to_thread(_ffmpeg_pulls, pair.upstream.url) == 1
    assert {s.channel_id for s in sessions.all()} == {x["id"]}
    assert sorted(s.tenant_id for s in sessions.all()) == sorted([alpha.id, bravo.id, bravo.id])

    # The cap: bravo's third viewer is refused with the reason (the line itself allows 3).
    frames, err = await play(bravo_url, 2, "-user_agent", "tablet")
    assert frames == 0 and "429" in err
    async with httpx.AsyncClient(timeout=30) as c:
        capped = await c.get(bravo_url, headers={"user-agent": "tablet"})
    assert capped.status_code == 429 and capped.text == "SYNDICATION_MAX_VIEWERS\n"

    # Alpha sees bravo's audience as counts, and nothing of bravo's viewers.
    await asyncio.sleep(2)
    with alpha.client() as a:
        figures = a.get("/api/v1/syndication/audience")
        assert figures.status_code == 200
        (row,) = figures.json()
        assert (row["partner_name"], row["viewers_now"], row["peak_viewers"]) == ("Bravo", 2, 2)
        assert row["watch_seconds"] >= 4
        for private in ("bravo-viewer", "127.0.0.1", "phone", "tablet"):
            assert private not in figures.text

    # Revocation: bravo's players end within seconds; alpha's keeps playing.
    with alpha.client() as a:
        revoked_at = time.monotonic()
        r = a.post(f"/api/v1/syndication/partners/{request['id']}/revoke")
        assert r.status_code == 200 and r.json()["status"] == "revoked"
    results = await asyncio.gather(*bravo_plays, captured)
    cut_after = time.monotonic() - revoked_at
    print(f"bravo's players cut {cut_after:.2f} s after the revocation")
    assert cut_after < CUT_WITHIN
    assert results[0][0] >= 50, results[0][1][-500:]  # frames decoded before the cut
    # The captured stream: live pictures, then the "ended" slate (green), then its end.
    pictures = await asyncio.to_thread(_pictures, results[1], pair.server.ctx.settings.data_dir)
    assert len(pictures) >= 50 and _green_share(pictures[0]) < 0.5
    assert _green_share(pictures[-1]) >= 0.9, pictures[-1]
    assert not alpha_play.done() and len(sessions.all()) == 1
    ids, playlist, guide = await asyncio.to_thread(_lists, pair.server, line)
    assert ids == set() and f"/{entry_id}.ts" not in playlist and "drums.alpha" not in guide
    async with httpx.AsyncClient(timeout=30) as c:
        gone = await c.get(bravo_url)
    assert gone.status_code in (403, 404), gone.text
    alpha_play.cancel()

    # Both panels' audit logs hold the revocation; bravo's entry is gone from its channels.
    for world in (alpha, bravo):
        with world.client() as c:
            log = c.get("/api/v1/audit", params={"entity": "syndication", "action": "revoke"})
            assert [e["entity_id"] for e in log.json()["items"]] == [str(request["id"])]
    with bravo.client() as b:
        assert b.get(f"/api/v1/channels/{entry_id}").status_code == 404
        assert b.get("/api/v1/syndication/requests").json()[0]["status"] == "revoked"


async def test_the_end_of_the_term_takes_the_channel_away(pair: Pair) -> None:
    """An auto-approved public offer whose term ends: the entry leaves bravo's lists by
    itself (the engine's sweep), and both audit logs record the end."""
    alpha, bravo, x = pair.alpha, pair.bravo, pair.channel
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 10))
    with alpha.client() as a:
        offer = created(
            a.post(
                "/api/v1/syndication/offers",
                json={"channel_id": x["id"], "until": until, "auto_approve": True},
            )
        )
    with bravo.client() as b:
        request = created(b.post("/api/v1/syndication/requests", json={"offer_id": offer["id"]}))
        assert request["status"] == "active" and request["entry_channel_id"]
        assert b.get(f"/api/v1/channels/{request['entry_channel_id']}").status_code == 200
    deadline = time.monotonic() + 25
    while True:
        with bravo.client() as b:
            if b.get(f"/api/v1/channels/{request['entry_channel_id']}").status_code == 404:
                break
        assert time.monotonic() < deadline, "the entry outlived its term"
        await asyncio.sleep(0.3)
    for world in (alpha, bravo):
        with world.client() as c:
            log = c.get("/api/v1/audit", params={"entity": "syndication", "action": "end"})
            assert [e["actor"] for e in log.json()["items"]] == ["system"]


def test_bad_offers_are_refused_and_change_nothing(pair: Pair) -> None:
    alpha, bravo, x = pair.alpha, pair.bravo, pair.channel
    with alpha.client() as a:
        for body, field in (
            ({"channel_id": x["id"], "partner_tenant_id": alpha.id}, "partner_tenant_id"),
            ({"channel_id": x["id"], "until": "2001-01-01T00:00:00Z"}, "until"),
            ({"channel_id": x["id"], "territories": ["ITA"]}, "territories"),
            ({"channel_id": 999_999}, "channel_id"),
        ):
            r = a.post("/api/v1/syndication/offers", json=body)
            assert r.status_code == 422, (body, r.text)
            assert any(field in k for k in r.json()["error"]["fields"]), r.text
        assert a.get("/api/v1/syndication/offers").json() == []
    with bravo.client() as b:
        # Bravo cannot offer alpha's channel, nor request what nobody offered it.
        assert b.post("/api/v1/syndication/offers", json={"channel_id": x["id"]}).status_code == 422
        assert b.post("/api/v1/syndication/requests", json={"offer_id": 1}).status_code == 422


async def test_no_second_ingest_when_the_owner_streams_from_its_nodes(pair: Pair) -> None:
    """Once the owner's channel runs on its own streaming nodes, this server does not start
    it again for a partner's viewer: the panel's node admission sends the viewer to the
    owner's node, with a token in the owner's name for the owner's channel."""
    alpha, bravo, x = pair.alpha, pair.bravo, pair.channel
    with alpha.client() as a:
        offer = created(
            a.post("/api/v1/syndication/offers", json={"channel_id": x["id"], "auto_approve": True})
        )
    with bravo.client() as b:
        entry_id = created(b.post("/api/v1/syndication/requests", json={"offer_id": offer["id"]}))[
            "entry_channel_id"
        ]
        bouquet = created(b.post("/api/v1/bouquets", json={"name": "Bravo"}))
        items = [{"item_type": "channel", "item_id": entry_id}]
        assert b.put(f"/api/v1/bouquets/{bouquet['id']}/items", json={"items": items}).is_success
        line = created(
            b.post(
                "/api/v1/lines",
                json={"username": "bravo-two", "password": "secret1",
                      "bouquet_ids": [bouquet["id"]]},
            )
        )  # fmt: skip
    url = pair.live_url(line, entry_id)
    async with httpx.AsyncClient(timeout=30) as c:
        async with c.stream("GET", url) as r:  # served here while alpha has no node
            assert r.status_code == 200
    _, token = add_server(pair.server, alpha.id, "edge")  # alpha's node registers
    node = FakeNode(pair.server, token, "http://edge.test:8001")
    assert node.register().status_code == 200
    panel_url = f"{pair.server.base_url}/live/{line['username']}/secret1/{entry_id}.ts"
    for address in (url, panel_url):
        async with httpx.AsyncClient(timeout=30) as c:  # the data plane, the panel's port
            sent = await c.get(address)
        assert sent.status_code == 302, sent.text
        location = sent.headers["location"]
        assert location.startswith("http://edge.test:8001/play/"), location
        token = location.rsplit("/", 1)[1].removesuffix(".ts")
        grant = node.tokens().verify(token, time.time(), "127.0.0.1")
        assert (grant.tenant_id, grant.channel_id) == (alpha.id, x["id"])
    assert _ffmpeg_pulls(pair.upstream.url) <= 1  # the engine's runner from before, if alive


async def test_the_offers_territories_gate_the_partners_viewers(pair: Pair) -> None:
    alpha, bravo, x = pair.alpha, pair.bravo, pair.channel
    with alpha.client() as a:
        offer = created(
            a.post(
                "/api/v1/syndication/offers",
                json={"channel_id": x["id"], "auto_approve": True, "territories": ["se"]},
            )
        )
        assert offer["territories"] == ["SE"]
    with bravo.client() as b:
        entry_id = created(b.post("/api/v1/syndication/requests", json={"offer_id": offer["id"]}))[
            "entry_channel_id"
        ]
        bouquet = created(b.post("/api/v1/bouquets", json={"name": "Bravo"}))
        items = [{"item_type": "channel", "item_id": entry_id}]
        assert b.put(f"/api/v1/bouquets/{bouquet['id']}/items", json={"items": items}).is_success
        line = created(
            b.post(
                "/api/v1/lines",
                json={"username": "bravo-geo", "password": "secret1",
                      "bouquet_ids": [bouquet["id"]]},
            )
        )  # fmt: skip
    url = pair.live_url(line, entry_id)
    async with httpx.AsyncClient(timeout=30) as c:
        refused = await c.get(url, headers={"X-Forwarded-For": GB})
        assert (refused.status_code, refused.text) == (451, "RIGHTS_TERRITORY\n")
        async with c.stream("GET", url, headers={"X-Forwarded-For": SE}) as r:
            assert r.status_code == 200
            async for chunk in r.aiter_bytes():
                assert chunk[:1] == b"\x47"  # MPEG-TS from the owner's running channel
                break
    # The owner's own viewers are not bound by the terms it sets for partners.
    async with httpx.AsyncClient(timeout=30) as c:
        own = pair.live_url(pair.alpha_line, x["id"])
        async with c.stream("GET", own, headers={"X-Forwarded-For": GB}) as r:
            assert r.status_code == 200


def test_a_partner_at_its_channel_limit_gets_nothing_and_learns_nothing_of_it(pair: Pair) -> None:
    alpha, bravo, x = pair.alpha, pair.bravo, pair.channel
    with root_client(pair.server) as root:
        assert root.patch(f"/api/v1/tenants/{bravo.id}", json={"max_channels": 0}).is_success
    with alpha.client() as a:
        offer = created(
            a.post("/api/v1/syndication/offers", json={"channel_id": x["id"], "auto_approve": True})
        )
    with bravo.client() as b:
        r = b.post("/api/v1/syndication/requests", json={"offer_id": offer["id"]})
        assert r.status_code == 409 and r.json()["error"]["code"] == "plan_limit_reached"
        assert "0" not in r.json()["error"]["message"]  # the partner's figures stay its own
        assert b.get("/api/v1/syndication/requests").json() == []
        assert b.get("/api/v1/channels").json()["items"] == []
