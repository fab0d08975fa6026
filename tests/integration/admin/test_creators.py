"""Creators over real HTTP: the owner invites by e-mail (a local SMTP server receives it),
the link makes a creator once, the creator sees and edits only its own channels, goes live
with ffmpeg pushing RTMP, and its audience page counts the line that plays it."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from palinsesto.accounts.models import CreatorInvite
from support.admin_api import TenantWorld, created, make_tenant
from support.media import FFMPEG
from support.server import RunningServer, make_settings, run_server
from support.smtp_sink import SmtpSink, smtp_sink

CREATOR_PASSWORD = "drummer-password-1"
LINK = re.compile(r"(http://\S+/invite#(\S+))")


@pytest.fixture
def mailed(database_url: str, tmp_path: Path) -> Iterator[tuple[RunningServer, SmtpSink]]:
    with smtp_sink() as sink:
        settings = make_settings(
            tmp_path, database_url, smtp_url=sink.url, mail_from="panel@platform.example"
        )
        with run_server(settings) as server:
            yield server, sink


def invite(world: TenantWorld, sink: SmtpSink, email: str) -> str:
    """Invite ``email``; the token of the link the mail carries."""
    before = len(sink.messages)
    with world.client() as c:
        sent = created(c.post("/api/v1/creators/invites", json={"email": email}))
    assert sent["sent"] is True and sent["link"] is None, sent
    mail = sink.wait_for(before + 1)[-1]
    assert mail["To"] == email and mail["From"] == "panel@platform.example"
    found = LINK.search(mail.get_content())
    assert found, mail.get_content()
    return found.group(2)


def accept(server: RunningServer, token: str, username: str) -> httpx.Response:
    with server.client() as c:
        return c.post(
            f"/api/v1/public/invites/{token}/accept",
            json={"username": username, "password": CREATOR_PASSWORD},
        )


def creator_id(server: RunningServer, username: str) -> int:
    with server.client(server.token(username, CREATOR_PASSWORD)) as c:
        return int(c.get("/api/v1/auth/me").json()["id"])


def test_an_invited_creator_sees_and_edits_only_its_own_channels(
    mailed: tuple[RunningServer, SmtpSink],
) -> None:
    server, sink = mailed
    world = make_tenant(server, "studio")
    token = invite(world, sink, "drummer@music.example")
    with server.client() as anon:
        view = anon.get(f"/api/v1/public/invites/{token}")
        assert view.status_code == 200 and view.json()["email"] == "drummer@music.example"
        # A mangled signature or secret names nothing.
        head, secret, signature = token.split(".")
        for bad in (f"{head}.{secret}.{'0' * 32}", f"{head}.x{secret}.{signature}", "1.2"):
            r = anon.get(f"/api/v1/public/invites/{bad}")
            assert r.status_code == 404 and r.json()["error"]["code"] == "invite_invalid"
    r = accept(server, token, "drummer")
    assert r.status_code == 201 and r.json()["role"] == "creator", r.text
    again = accept(server, token, "drummer2")  # single use
    assert again.status_code == 404 and again.json()["error"]["code"] == "invite_invalid"
    me = creator_id(server, "drummer")

    with world.client() as owner:
        own = created(
            owner.post(
                "/api/v1/channels",
                json={"name": "Drum Live", "sources": [{"kind": "push_rtmp"}], "owner_user_id": me},
            )
        )
        other = created(owner.post("/api/v1/channels", json={"name": "Tenant News"}))
        line = created(owner.post("/api/v1/lines", json={"username": "fan1", "password": "pw1"}))
        # Only a creator of this panel may own a channel.
        r = owner.patch(
            f"/api/v1/channels/{other['id']}",
            json={"owner_user_id": world.users["reseller"].id},
        )
        assert r.status_code == 422 and "owner_user_id" in r.json()["error"]["fields"]
        creators = owner.get("/api/v1/creators").json()
        assert [(c["username"], c["channel_ids"]) for c in creators] == [("drummer", [own["id"]])]
        invites = owner.get("/api/v1/creators/invites").json()
        assert invites[0]["used_at"] is not None and invites[0]["user_id"] == me

    with server.client(server.token("drummer", CREATOR_PASSWORD)) as c:
        mine = c.get("/api/v1/creator/channels").json()
        assert [ch["id"] for ch in mine] == [own["id"]] and mine[0]["stream_key"]
        assert c.get(f"/api/v1/creator/channels/{other['id']}").status_code == 404
        assert (
            c.patch(f"/api/v1/creator/channels/{other['id']}", json={"name": "x"}).status_code
            == 404
        )
        renamed = c.patch(f"/api/v1/creator/channels/{own['id']}", json={"name": "Drums!"})
        assert renamed.status_code == 200 and renamed.json()["name"] == "Drums!"
        rotated = c.post(f"/api/v1/creator/channels/{own['id']}/stream-key").json()
        assert rotated["stream_key"] != mine[0]["stream_key"]
        show = created(
            c.post(
                f"/api/v1/creator/channels/{own['id']}/shows",
                json={"title": "Groove class", "start": "2030-01-01T18:00:00Z",
                      "end": "2030-01-01T19:00:00Z", "weekly_days": [2]},
            )
        )  # fmt: skip
        assert [s["id"] for s in c.get(f"/api/v1/creator/channels/{own['id']}/shows").json()] == [
            show["id"]
        ]
        assert c.post(
            f"/api/v1/creator/channels/{other['id']}/shows",
            json={"title": "x", "start": "2030-01-01T18:00:00Z", "end": "2030-01-01T19:00:00Z"},
        ).status_code == 404  # fmt: skip
        # Nothing of the tenant beyond its own channels.
        for url in (
            "/api/v1/lines",
            f"/api/v1/lines/{line['id']}",
            "/api/v1/users",
            "/api/v1/channels",
            f"/api/v1/channels/{other['id']}",
            "/api/v1/live/sessions",
            "/api/v1/creators",
            "/api/v1/domains",
            "/api/v1/branding",
            f"/api/v1/epg/channels/{own['id']}/shows",
        ):
            r = c.get(url)
            assert r.status_code == 403, (url, r.text)
            assert "fan1" not in r.text and "Tenant News" not in r.text
        assert (
            c.post("/api/v1/lines", json={"username": "x1", "password": "pw1"}).status_code == 403
        )
    # The owner sees the show in the tenant's guide tools.
    with world.client() as owner:
        shows = owner.get(f"/api/v1/epg/channels/{own['id']}/shows").json()
        assert [s["title"] for s in shows] == ["Groove class"]


def test_an_expired_invitation_is_refused(mailed: tuple[RunningServer, SmtpSink]) -> None:
    server, sink = mailed
    world = make_tenant(server, "late")
    token = invite(world, sink, "late@music.example")
    with server.ctx.db.transaction() as session:
        row = session.get(CreatorInvite, int(token.split(".")[0]))
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    r = accept(server, token, "latecomer")
    assert r.status_code == 404 and r.json()["error"]["code"] == "invite_invalid"


def test_without_smtp_the_owner_gets_the_link_to_copy(server: RunningServer) -> None:
    world = make_tenant(server, "nomail")
    with world.client() as c:
        sent = created(c.post("/api/v1/creators/invites", json={"email": "a@b.example"}))
        assert sent["sent"] is False and "PALINSESTO_SMTP_URL" in sent["message"]
        r = c.post("/api/v1/creators/invites", json={"email": "not an address"})
        assert r.status_code == 422 and "email" in r.json()["error"]["fields"]
    token = sent["link"].split("#", 1)[1]
    assert accept(server, token, "copied").status_code == 201


@contextmanager
def _process(argv: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _until(check: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, what
        time.sleep(0.25)


def test_a_creator_goes_live_and_sees_its_audience(sqlite_url: str, tmp_path: Path) -> None:
    with run_server(make_settings(tmp_path, sqlite_url)) as server:
        world = make_tenant(server, "golive")
        with world.client() as owner:
            sent = created(owner.post("/api/v1/creators/invites", json={"email": "g@l.example"}))
        assert accept(server, sent["link"].split("#", 1)[1], "golive-creator").status_code == 201
        me = creator_id(server, "golive-creator")
        with world.client() as owner:
            channel = created(
                owner.post(
                    "/api/v1/channels",
                    json={"name": "Stage", "sources": [{"kind": "push_rtmp"}],
                          "owner_user_id": me},
                )
            )  # fmt: skip
            bouquet = created(owner.post("/api/v1/bouquets", json={"name": "All"}))
            items = [{"item_type": "channel", "item_id": channel["id"]}]
            owner.put(f"/api/v1/bouquets/{bouquet['id']}/items", json={"items": items})
            created(
                owner.post(
                    "/api/v1/lines",
                    json={"username": "viewer1", "password": "pw1",
                          "bouquet_ids": [bouquet["id"]]},
                )
            )  # fmt: skip
        creator = server.client(server.token("golive-creator", CREATOR_PASSWORD))
        go = creator.get(f"/api/v1/creator/channels/{channel['id']}/go-live").json()
        assert go["rtmp_url"] and go["stream_key"], go
        push = [
            FFMPEG, "-hide_banner", "-loglevel", "error", "-re",
            "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "60",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-f", "flv",
            f"{go['rtmp_url']}/{go['stream_key']}",
        ]  # fmt: skip
        with _process(push):
            _until(
                lambda: (
                    creator.get(f"/api/v1/creator/channels/{channel['id']}/go-live").json()[
                        "status"
                    ]
                    == "running"
                ),
                30,
                "the channel did not go live",
            )
            playlist = httpx.get(
                f"{server.base_url}/get.php",
                params={"username": "viewer1", "password": "pw1", "type": "m3u_plus",
                        "output": "ts"},
            )  # fmt: skip
            assert playlist.status_code == 200, playlist.text
            url = next(u for u in playlist.text.splitlines() if u.startswith("http"))
            watch = [FFMPEG, "-hide_banner", "-loglevel", "error", "-i", url, "-f", "null", "-"]
            with _process(watch):

                def one_viewer() -> dict[str, Any] | None:
                    rows = creator.get("/api/v1/creator/audience").json()["items"]
                    return rows[0] if rows and rows[0]["viewers_now"] == 1 else None

                row = _until(one_viewer, 30, "the audience never showed the viewer")
        creator.close()
    assert row["channel_id"] == channel["id"] and row["peak_viewers"] >= 1
    assert row["by_app"] == {"FFmpeg": 1} and row["by_country"] == {"unknown": 1}
    assert "127.0.0.1" not in str(row)
