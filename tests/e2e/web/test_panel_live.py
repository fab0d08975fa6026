"""The panel with the live engine running: chromium plays the preview and the public watch
page (hls.js, H.264/AAC from a 320x180 test pattern), the dashboard's figures move without a
reload, every page opens without a console error, and ending a session cuts the viewer."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

from panel_browser import PASSWORD, Panel, make_user
from playwright.sync_api import Page, expect
from sqlalchemy import select

from palinsesto.accounts.models import Line, LineBouquet, Role, Tenant
from palinsesto.catalog.models import Bouquet, BouquetItem, Channel, ChannelMode, ItemType
from palinsesto.outbound.media_files import FILE_REFUSED
from support.server import RunningServer

PATTERN = [{"kind": "test_pattern", "url": "testsrc://320x180@25"}]
PLAY_TIMEOUT_MS = 25_000


def _plays_past(page: Page, selector: str, seconds: float) -> None:
    """Wait until the <video> has really played ``seconds`` of media (decoded, not just
    loaded): currentTime only advances while frames are being presented."""
    page.wait_for_function(
        f"() => {{ const v = document.querySelector({selector!r});"
        f" return v && !v.paused && v.currentTime > {seconds}; }}",
        timeout=PLAY_TIMEOUT_MS,
    )


def _seed(server: RunningServer, *, public: bool) -> tuple[int, int]:
    """The owner's tenant gets a test-pattern channel in a bouquet and a line on it."""
    make_user(server, "olivia", Role.owner)
    with server.ctx.db.transaction() as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == "acme"))
        channel = Channel(
            tenant_id=tenant_id,
            name="Pattern TV",
            sources=PATTERN,
            mode=ChannelMode.on_demand,
            public_watch=public,
        )
        bouquet = Bouquet(tenant_id=tenant_id, name="Main")
        line = Line(tenant_id=tenant_id, username="viewer-tv", password="pw-viewer-tv")
        session.add_all([channel, bouquet, line])
        session.flush()
        session.add(
            BouquetItem(bouquet_id=bouquet.id, item_type=ItemType.channel, item_id=channel.id)
        )
        session.add(LineBouquet(line_id=line.id, bouquet_id=bouquet.id))
        return tenant_id, channel.id


@dataclass
class TsReader:
    """A viewer's app reading ``/live/U/P/ID.ts`` from the data plane on a raw socket."""

    port: int
    path: str
    received: int = 0
    closed_at: float | None = None
    status: int = 0
    _sock: socket.socket = field(init=False)

    def start(self) -> TsReader:
        self._sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        self._sock.sendall(
            f"GET {self.path} HTTP/1.1\r\nHost: x\r\nUser-Agent: tv-box\r\n\r\n".encode()
        )
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                head += self._sock.recv(4096)
            self.status = int(head.split()[1])
            while data := self._sock.recv(65536):
                self.received += len(data)
        except OSError:
            pass
        self.closed_at = time.monotonic()

    def close(self) -> None:
        self._sock.close()


def test_preview_and_public_watch_page_play_in_the_browser(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    _, channel_id = _seed(sqlite_server, public=True)
    page = panel.page
    panel.sign_in("olivia")
    panel.open("Channels")
    expect(page.locator(f'[data-live-channel="{channel_id}"]')).to_have_text("stopped")
    page.get_by_role("button", name="Edit Pattern TV").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_test_id("live-state")).to_have_text("stopped")
    dialog.get_by_role("button", name="Play preview").click()
    _plays_past(page, "video.preview", 2.0)
    expect(dialog.get_by_role("status").filter(has_text="Playing.")).to_be_visible()
    # The status block refreshes itself: running, the test pattern, its frame rate.
    expect(dialog.get_by_test_id("live-state")).to_have_text("running", timeout=8_000)
    expect(dialog.get_by_text("#1 test_pattern")).to_be_visible()
    expect(dialog.get_by_text(" fps").first).to_be_visible()
    # The channel's own picture and stream facts (probe), fetched with the token as a blob.
    thumb = dialog.get_by_test_id("channel-thumbnail")
    expect(thumb).to_be_visible(timeout=15_000)
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=channel-thumbnail]');"
        " return i && i.complete && i.naturalWidth === 320; }",
        timeout=10_000,
    )
    assert (thumb.get_attribute("src") or "").startswith("blob:")
    expect(dialog.get_by_test_id("probe-resolution")).to_have_text("320×180")
    expect(dialog.get_by_text("h264", exact=False).first).to_be_visible()
    src = page.eval_on_selector("video.preview", "v => v.src")
    assert src.startswith("blob:")  # hls.js feeding Media Source Extensions
    dialog.locator("video.preview").scroll_into_view_if_needed()
    panel.screenshot("channel")
    link = dialog.get_by_role("link", name="/watch/").get_attribute("href")
    dialog.get_by_role("button", name="Close").click()
    expect(page.locator(f'[data-live-channel="{channel_id}"]')).to_contain_text("running")

    # The public watch page: no credentials asked, it plays.
    assert link
    page.goto(link)
    expect(page.get_by_role("heading", name="Pattern TV")).to_be_visible()
    expect(page.get_by_label("Username")).to_be_hidden()
    _plays_past(page, "#video", 2.0)
    expect(page.get_by_role("status")).to_have_text("Live")
    panel.screenshot("watch")


def test_dashboard_sessions_and_every_page_with_the_engine_running(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    tenant_id, channel_id = _seed(sqlite_server, public=False)
    token = sqlite_server.token("olivia", PASSWORD)
    engine = sqlite_server.ctx.services["live"]
    with sqlite_server.client(token) as c:
        broken = c.post(
            "/api/v1/channels",
            json={"name": "Broken feed", "sources": [{"kind": "file", "url": "/no/such.ts"}]},
        ).json()
        assert c.post(f"/api/v1/live/channels/{broken['id']}/start").status_code == 200
    page = panel.page
    panel.sign_in("olivia")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    viewers = page.get_by_role("region", name="Viewers now")
    expect(viewers).to_contain_text("0")
    expect(page.get_by_text(FILE_REFUSED).first).to_be_visible(timeout=8_000)

    reader = TsReader(engine.port, f"/live/viewer-tv/pw-viewer-tv/{channel_id}.ts").start()
    try:
        # The figures move on their own: no reload, no navigation.
        expect(viewers.locator(".value")).to_have_text("1", timeout=10_000)
        expect(page.get_by_role("region", name="Channels")).to_contain_text("1 running")
        expect(page.get_by_role("region", name="Channels")).to_contain_text("failing")
        expect(page.get_by_role("region", name="Bandwidth out")).to_contain_text(
            "bit/s", timeout=8_000
        )
        expect(page.get_by_role("region", name="Bandwidth out").locator(".value")).not_to_have_text(
            "0 bit/s", timeout=8_000
        )
        chart = page.get_by_test_id("viewer-chart").locator("path.line")
        expect(chart).to_have_count(1)
        panel.screenshot("dashboard")

        # Every page once: each renders its heading, none logs a console error.
        for name in panel.nav_links():
            panel.open(name)
            page.wait_for_timeout(300)  # let its requests finish (errors would be logged)

        panel.open("Live sessions")
        row = page.locator("tbody tr", has_text="viewer-tv")
        expect(row).to_contain_text("Pattern TV")
        expect(row).to_contain_text("TS")
        expect(row).to_contain_text("tv-box")
        assert reader.status == 200 and reader.received > 0
        panel.screenshot("sessions")
        page.get_by_role("button", name="End session of viewer-tv on Pattern TV").click()
        ended = time.monotonic()
        deadline = ended + 2.0
        while reader.closed_at is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert reader.closed_at is not None, "the viewer was still receiving 2 s after End"
        expect(page.get_by_text("Nobody is watching right now.")).to_be_visible()
        assert not [s for s in engine.sessions.all() if s.tenant_id == tenant_id]
    finally:
        reader.close()
