"""A creator's whole journey in a real browser: the owner invites by e-mail from the panel
(a local SMTP server receives it), the creator opens the mailed link, chooses a password,
signs in, reads its stream key on "My channels", goes live with ffmpeg pushing RTMP, and its
"Audience" page shows the one line that plays the channel (ffmpeg reading get.php's URL)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from panel_browser import Panel
from playwright.sync_api import expect

from support.admin_api import USER_PASSWORD, created, make_tenant
from support.media import FFMPEG
from support.server import RunningServer, make_settings, run_server
from support.smtp_sink import SmtpSink, smtp_sink

CREATOR_PASSWORD = "my-drum-password"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as running:
        yield running


@pytest.fixture
def sqlite_server(sqlite_url: str, tmp_path: Path, sink: SmtpSink) -> Iterator[RunningServer]:
    settings = make_settings(tmp_path, sqlite_url, smtp_url=sink.url, mail_from="tv@drums.example")
    with run_server(settings) as running:
        yield running


def _popen(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def test_invited_creator_goes_live_and_sees_its_viewer(
    panel: Panel, sqlite_server: RunningServer, sink: SmtpSink
) -> None:
    page = panel.page
    page.set_default_timeout(30_000)  # the panel's first OpenAPI read is slow under load
    world = make_tenant(sqlite_server, "drums")
    with world.client() as owner:
        bouquet = created(owner.post("/api/v1/bouquets", json={"name": "All"}))

    panel.sign_in(world.users["owner"].username, USER_PASSWORD)
    panel.open("Creators")
    page.get_by_label("E-mail address").fill("drummer@music.example")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("The invitation was mailed to drummer@music.example.")).to_be_visible()
    mail = sink.wait_for(1)[0]
    link = re.search(r"http://\S+/invite#\S+", mail.get_content())
    assert link, mail.get_content()

    page.get_by_role("button", name="Sign out").click()
    page.goto(link.group(0))
    expect(page.get_by_role("heading", name="Join Drums as a creator")).to_be_visible()
    page.get_by_label("Username").fill("drummer")
    page.get_by_label("Password").fill(CREATOR_PASSWORD)
    page.get_by_role("button", name="Create my creator account").click()
    expect(page.get_by_role("heading", name="Account ready")).to_be_visible()
    # The link is spent: opening it again says so.
    panel.expected_statuses.add(404)
    page.reload()
    expect(page.locator("#invalid")).to_contain_text("not valid")

    with world.client() as owner:
        me = next(c for c in owner.get("/api/v1/creators").json() if c["username"] == "drummer")
        channel = created(
            owner.post(
                "/api/v1/channels",
                json={"name": "Drum Stage", "sources": [{"kind": "push_rtmp"}],
                      "owner_user_id": me["id"]},
            )
        )  # fmt: skip
        items = [{"item_type": "channel", "item_id": channel["id"]}]
        owner.put(f"/api/v1/bouquets/{bouquet['id']}/items", json={"items": items})
        created(
            owner.post(
                "/api/v1/lines",
                json={"username": "fan", "password": "fan-pw", "bouquet_ids": [bouquet["id"]]},
            )
        )

    panel.sign_in("drummer", CREATOR_PASSWORD)
    assert panel.nav_links() == ["My channels", "Audience"]
    panel.open("My channels")
    card = page.locator(f'section[data-channel="{channel["id"]}"]')
    expect(card.get_by_role("heading", name=re.compile("Drum Stage"))).to_be_visible()
    server_url = card.locator(".copy-row", has_text="Server").locator("code").inner_text()
    key = card.locator(".copy-row", has_text="Stream key").locator("code").inner_text()
    assert server_url.startswith("rtmp://") and len(key) > 10

    push = _popen([
        FFMPEG, "-hide_banner", "-loglevel", "error", "-re",
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "90",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-f", "flv", f"{server_url}/{key}",
    ])  # fmt: skip
    viewer: subprocess.Popen[bytes] | None = None
    try:
        page.reload()
        expect(card.get_by_role("heading", name=re.compile(r"\(running\)"))).to_be_visible(
            timeout=30_000
        )
        playlist = httpx.get(
            f"{sqlite_server.base_url}/get.php",
            params={"username": "fan", "password": "fan-pw", "type": "m3u_plus", "output": "ts"},
        )
        url = next(u for u in playlist.text.splitlines() if u.startswith("http"))
        viewer = _popen(
            [FFMPEG, "-hide_banner", "-loglevel", "error", "-i", url, "-f", "null", "-"]
        )
        panel.open("Audience")
        row = page.locator(f'#audience tr[data-channel="{channel["id"]}"]')
        expect(row.locator(".viewers-now")).to_have_text("1", timeout=30_000)
        expect(row).to_contain_text("FFmpeg: 1")
        expect(row).to_contain_text("unknown: 1")
        expect(page.locator("#audience")).not_to_contain_text("127.0.0.1")
        panel.screenshot("creator-audience")
    finally:
        for proc in (viewer, push):
            if proc is not None:
                proc.kill()
                proc.wait()
