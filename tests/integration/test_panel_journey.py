"""The whole journey of issue 14 against one real server, through the public HTTP APIs only,
as its users would walk it: a panel signs itself up on the trial plan, its owner invites a
creator by e-mail (a local SMTP server receives it), the creator accepts, signs in and goes
live by pushing a test pattern over RTMP with ffmpeg; a second panel signs up, requests the
channel the first offers it, is approved, bundles it and plays it on its line with ffmpeg
(the URL taken from its get.php playlist); the revocation cuts that player (measured); and
the first panel's plan refuses its next channel, line and viewer with a clear error. On
SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.admin_api import created
from support.media import FFMPEG, play
from support.server import RunningServer, make_settings, run_server
from support.smtp_sink import SmtpSink, smtp_sink

PASSWORD = "owner-password-1"
CREATOR_PASSWORD = "drummer-password-1"
LINK = re.compile(r"http://\S+/invite#(\S+)")
CUT_WITHIN = 5.0  # seconds from the revocation to the end of the partner's player (acceptance)


@dataclass
class Platform:
    server: RunningServer
    sink: SmtpSink
    clients: list[httpx.Client] = field(default_factory=list)

    def signed_in(self, username: str, password: str) -> httpx.Client:
        """A client with ``username``'s token, closed when the test ends."""
        client = self.server.client(self.server.token(username, password))
        self.clients.append(client)
        return client


@pytest.fixture
def platform(database_url: str, tmp_path: Path) -> Iterator[Platform]:
    with smtp_sink() as sink:
        settings = make_settings(
            tmp_path,
            database_url,
            signup="open",
            signup_plan="trial",
            smtp_url=sink.url,
            mail_from="panel@platform.example",
            live_idle_stop_seconds=30,
        )
        with run_server(settings) as server:
            platform = Platform(server, sink)
            yield platform
            for client in platform.clients:
                client.close()


def _until(check: Callable[[], Any], within: float, what: str) -> Any:
    """Poll ``check`` until it returns something true; that value."""
    deadline = time.monotonic() + within
    while not (found := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.1)
    return found


async def _until_async(check: Callable[[], Any], within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while not (found := await asyncio.to_thread(check)):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)
    return found


def _sign_up(platform: Platform, slug: str) -> tuple[int, httpx.Client]:
    """A public sign-up and the owner's first sign-in: (tenant id, the owner's client)."""
    with platform.server.client() as anon:
        r = anon.post(
            "/api/v1/signup",
            json={"panel_name": f"Panel {slug}", "slug": slug, "email": f"owner@{slug}.example",
                  "username": f"owner-{slug}", "password": PASSWORD},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        made = r.json()
        assert made["status"] == "active" and made["plan"] == "trial", made
    return int(made["tenant_id"]), platform.signed_in(f"owner-{slug}", PASSWORD)


def _playlist_urls(server: RunningServer, username: str, password: str) -> list[str]:
    with server.client() as c:
        r = c.get(
            "/get.php",
            params={"username": username, "password": password, "type": "m3u_plus",
                    "output": "ts"},
        )  # fmt: skip
    assert r.status_code == 200, r.text
    return [u for u in r.text.splitlines() if u.startswith("http")]


@contextmanager
def _publishing(rtmp_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """ffmpeg pushing a test pattern to ``rtmp_url`` until the block ends."""
    push = [
        FFMPEG, "-hide_banner", "-loglevel", "error", "-re",
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "300",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-f", "flv", rtmp_url,
    ]  # fmt: skip
    proc = subprocess.Popen(
        push, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@dataclass
class Viewer:
    """A raw TS viewer holding its stream open: what the plan counts as one."""

    status: int
    first: bytes
    # Kept so that the stream stays open: a dropped iterator closes its response.
    chunks: AsyncIterator[bytes] | None = None


async def _open_viewer(
    stack: AsyncExitStack, client: httpx.AsyncClient, url: str, device: str
) -> Viewer:
    """Open ``url`` as the player of ``device`` (its user agent) and read its first bytes."""
    headers = {"user-agent": device}
    response = await stack.enter_async_context(client.stream("GET", url, headers=headers))
    if response.status_code != 200:
        return Viewer(response.status_code, await response.aread())
    chunks = response.aiter_raw()
    return Viewer(200, await asyncio.wait_for(anext(chunks), 20), chunks)


async def test_sign_up_invite_go_live_syndicate_revoke_and_hit_the_plan(
    platform: Platform,
) -> None:
    server, sink = platform.server, platform.sink
    engine = server.ctx.services["live"]
    started = time.monotonic()

    # 1. Panel A signs itself up on the trial plan (small limits, published before sign-up).
    with server.client() as anon:
        offered = anon.get("/api/v1/signup").json()
        assert offered["mode"] == "open" and offered["plan"]["name"] == "trial", offered
        limits = offered["plan"]
    alpha_id, alpha = _sign_up(platform, "drumschool")

    # 2. A's owner invites a creator by e-mail; the creator follows the link, sets a
    # password and signs in.
    sent = created(alpha.post("/api/v1/creators/invites", json={"email": "drummer@music.example"}))
    assert sent["sent"] is True and sent["link"] is None, sent
    mail = sink.wait_for(1)[-1]
    assert mail["To"] == "drummer@music.example"
    found = LINK.search(mail.get_content())
    assert found, mail.get_content()
    token = found.group(1)
    with server.client() as anon:
        assert anon.get(f"/api/v1/public/invites/{token}").json()["email"] == (
            "drummer@music.example"
        )
        accepted = anon.post(
            f"/api/v1/public/invites/{token}/accept",
            json={"username": "drummer", "password": CREATOR_PASSWORD},
        )
        assert accepted.status_code == 201 and accepted.json()["role"] == "creator", accepted.text
    creator = platform.signed_in("drummer", CREATOR_PASSWORD)
    me = creator.get("/api/v1/auth/me").json()
    assert me["role"] == "creator" and me["tenant_id"] == alpha_id

    # 3. The owner gives the creator a push channel; the creator reads its ingest URL and
    # stream key and goes live with ffmpeg over RTMP.
    channel = created(
        alpha.post(
            "/api/v1/channels",
            json={"name": "Drums Live", "sources": [{"kind": "push_rtmp"}],
                  "owner_user_id": me["id"]},
        )
    )  # fmt: skip
    mine = creator.get("/api/v1/creator/channels").json()
    assert [c["id"] for c in mine] == [channel["id"]]
    go_live_path = f"/api/v1/creator/channels/{channel['id']}/go-live"
    go = creator.get(go_live_path).json()
    assert go["rtmp_url"].startswith("rtmp://") and go["stream_key"] == mine[0]["stream_key"]
    with _publishing(f"{go['rtmp_url']}/{go['stream_key']}") as pusher:
        _until(
            lambda: creator.get(go_live_path).json()["status"] == "running",
            30,
            f"the creator's channel did not go live: {pusher.poll()}",
        )

        # 4. Panel B signs up and hands A its partner code; A offers it the channel, B
        # requests, A approves, B bundles the entry and gives it a line.
        bravo_id, bravo = _sign_up(platform, "musicbox")
        code = bravo.get("/api/v1/syndication/partner-code").json()["partner_code"]
        offer = created(
            alpha.post(
                "/api/v1/syndication/offers",
                json={"channel_id": channel["id"], "partner_code": code, "max_viewers": 2},
            )
        )
        assert (offer["partner_tenant_id"], offer["partner_name"]) == (bravo_id, "Panel musicbox")
        assert [o["id"] for o in bravo.get("/api/v1/syndication/directory").json()] == [offer["id"]]
        request = created(
            bravo.post("/api/v1/syndication/requests", json={"offer_id": offer["id"]})
        )
        assert request["status"] == "requested" and request["entry_channel_id"] is None
        pending = alpha.get("/api/v1/syndication/partners", params={"status": "requested"}).json()
        assert [(p["id"], p["partner_name"]) for p in pending] == [
            (request["id"], "Panel musicbox")
        ]
        approved = alpha.post(f"/api/v1/syndication/partners/{request['id']}/approve")
        assert approved.status_code == 200 and approved.json()["status"] == "active", approved.text
        entry_id = bravo.get("/api/v1/syndication/requests").json()[0]["entry_channel_id"]
        entry = bravo.get(f"/api/v1/channels/{entry_id}").json()
        assert entry["name"] == "Drums Live" and entry["stream_key"] is None  # A's key stays A's
        bouquet = created(bravo.post("/api/v1/bouquets", json={"name": "Music"}))
        items = [{"item_type": "channel", "item_id": entry_id}]
        r = bravo.put(f"/api/v1/bouquets/{bouquet['id']}/items", json={"items": items})
        assert r.status_code == 200, r.text
        created(
            bravo.post(
                "/api/v1/lines",
                json={"username": "bravo-fan", "password": "fanpass1",
                      "bouquet_ids": [bouquet["id"]], "max_connections": 1},
            )
        )  # fmt: skip

        # 5. B's line plays it: the URL from B's playlist, decoded by ffmpeg.
        urls = await asyncio.to_thread(_playlist_urls, server, "bravo-fan", "fanpass1")
        assert len(urls) == 1 and urls[0].endswith(f"/{entry_id}.ts"), urls
        assert go["stream_key"] not in "".join(urls)
        player = asyncio.create_task(play(urls[0], 60, "-user_agent", "tv", timeout=90))

        def partner_watching() -> bool:
            rows = alpha.get("/api/v1/syndication/audience").json()
            return bool(rows) and rows[0]["viewers_now"] == 1

        await _until_async(partner_watching, 30, "B's viewer never showed in A's audience")
        assert {s.channel_id for s in engine.sessions.all()} == {channel["id"]}  # one ingest
        await asyncio.sleep(2)  # pictures flow for a while before the cut
        assert not player.done(), (await player)[1][-500:]

        # 6. A revokes: B's player is cut within seconds.
        revoked_at = time.monotonic()
        r = alpha.post(f"/api/v1/syndication/partners/{request['id']}/revoke")
        assert r.status_code == 200 and r.json()["status"] == "revoked", r.text
        frames, err = await asyncio.wait_for(player, 30)
        cut_after = time.monotonic() - revoked_at
        print(f"\nB's player cut {cut_after:.2f} s after A's revocation ({frames} frames decoded)")
        assert cut_after < CUT_WITHIN
        assert frames >= 25, err[-500:]
        assert await asyncio.to_thread(_playlist_urls, server, "bravo-fan", "fanpass1") == []
        assert bravo.get(f"/api/v1/channels/{entry_id}").status_code == 404

        # 7. A's plan: its next channel, line and viewer are refused with the reason.
        assert limits["max_channels"] == 2 and limits["max_lines"] == 5, limits
        created(alpha.post("/api/v1/channels", json={"name": "Lessons"}))
        refused = alpha.post("/api/v1/channels", json={"name": "One too many"})
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "plan_limit_reached"
        assert "plan allows 2 channels" in refused.json()["error"]["message"]
        viewers = limits["max_viewers"]
        own = created(alpha.post("/api/v1/bouquets", json={"name": "School"}))
        items = [{"item_type": "channel", "item_id": channel["id"]}]
        assert alpha.put(f"/api/v1/bouquets/{own['id']}/items", json={"items": items}).is_success
        created(
            alpha.post(
                "/api/v1/lines",
                json={"username": "pupil0", "password": "pupilpw1", "bouquet_ids": [own["id"]],
                      "max_connections": viewers + 1},
            )
        )  # fmt: skip
        for i in range(1, limits["max_lines"]):
            created(alpha.post("/api/v1/lines", json={"username": f"pupil{i}", "password": "pw1"}))
        refused = alpha.post("/api/v1/lines", json={"username": "pupil9", "password": "pw1"})
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "plan_limit_reached"
        assert f"plan allows {limits['max_lines']} lines" in refused.json()["error"]["message"]
        (url,) = await asyncio.to_thread(_playlist_urls, server, "pupil0", "pupilpw1")
        async with AsyncExitStack() as stack:
            client = await stack.enter_async_context(
                httpx.AsyncClient(timeout=30, follow_redirects=True)
            )
            held = [await _open_viewer(stack, client, url, f"device-{i}") for i in range(viewers)]
            assert len(engine.sessions.all()) == viewers
            assert [v.status for v in held] == [200] * viewers
            assert all(v.first[:1] == b"\x47" for v in held)  # MPEG-TS from the live channel
            over = await _open_viewer(stack, client, url, "device-extra")
            assert (over.status, over.first) == (429, b"TENANT_MAX_VIEWERS\n")
            frames, err = await play(url, 2, "-user_agent", "one-more")
            assert frames == 0 and "429" in err
        # The line's own allowance was not what refused it: a place is free again.
        await _until_async(lambda: not engine.sessions.all(), 10, "the viewers never left")
        frames, err = await play(url, 2, "-user_agent", "later")
        assert frames > 10, err[-500:]
    print(f"journey took {time.monotonic() - started:.1f} s")
