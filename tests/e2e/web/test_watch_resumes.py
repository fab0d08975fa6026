"""The public watch page through an outage: a real ffmpeg publishes over RTMP, chromium
plays it, the publisher stops and the page says the channel is offline, the publisher comes
back and the page plays again by itself; the unmute button turns the sound on."""

from __future__ import annotations

import subprocess

from panel_browser import PASSWORD, Panel, axe_serious, make_user
from playwright.sync_api import Page, expect
from sqlalchemy import select

from palinsesto.accounts.models import Role
from palinsesto.catalog.models import Channel
from support.media import FFMPEG
from support.server import RunningServer

PLAY_TIMEOUT_MS = 40_000


def _publish(url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-re",
         "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=440",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
         "-c:a", "aac", "-b:a", "32k", "-f", "flv", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


def _plays_on(page: Page, seconds: float) -> None:
    """The <video> really advances ``seconds`` from where it is now."""
    start = page.eval_on_selector("#video", "v => v.currentTime")
    page.wait_for_function(
        f"() => {{ const v = document.querySelector('#video');"
        f" return !v.paused && v.currentTime > {start + seconds}; }}",
        timeout=PLAY_TIMEOUT_MS,
    )


def test_watch_page_shows_offline_and_resumes_when_the_publisher_returns(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    make_user(sqlite_server, "olivia", Role.owner)
    with sqlite_server.client(sqlite_server.token("olivia", PASSWORD)) as c:
        r = c.post(
            "/api/v1/channels",
            json={
                "name": "Studio B",
                "mode": "always_on",
                "public_watch": True,
                "sources": [{"kind": "push_rtmp", "url": ""}],
            },
        )
        assert r.status_code == 201, r.text
        channel_id = r.json()["id"]
        rtmp = c.get("/api/v1/live/ingest").json()["rtmp_url"]
        link = c.get(f"/api/v1/channels/{channel_id}/share-link").json()["url"]
    with sqlite_server.ctx.db.session() as session:
        key = session.scalar(select(Channel.stream_key).where(Channel.id == channel_id))
    # While nothing is published the stream answers 503/404; the browser logs those loads.
    panel.expected_statuses.update({404, 503})
    page = panel.page
    status = page.get_by_role("status")
    publisher = _publish(f"{rtmp}/{key}")
    try:
        page.goto(link)
        expect(page.get_by_role("heading", name="Studio B")).to_be_visible()
        expect(status).to_have_text("Live", timeout=PLAY_TIMEOUT_MS)
        _plays_on(page, 2.0)
        assert axe_serious(page) == []
        unmute = page.get_by_role("button", name="Unmute")
        assert page.eval_on_selector("#video", "v => v.muted")
        unmute.click()
        expect(page.get_by_role("button", name="Mute")).to_be_visible()
        assert not page.eval_on_selector("#video", "v => v.muted")

        _stop(publisher)
        expect(status).to_contain_text("Offline", timeout=PLAY_TIMEOUT_MS)
        panel.screenshot("watch-offline")

        publisher = _publish(f"{rtmp}/{key}")
        expect(status).to_have_text("Live", timeout=60_000)
        _plays_on(page, 2.0)
    finally:
        _stop(publisher)
