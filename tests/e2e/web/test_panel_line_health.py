"""Lines, as the operator sees them: who is online now (connections / limit) in the list,
and "why can't this line play?" on a line's page, in sentences with the fix."""

from __future__ import annotations

import httpx
from panel_browser import Panel, axe_serious, make_user
from playwright.sync_api import expect
from sqlalchemy import select

from palinsesto.accounts.models import Line, LineBouquet, Role, Tenant
from palinsesto.catalog.models import Bouquet, BouquetItem, Channel, ChannelMode, ItemType
from support.server import RunningServer

PATTERN = [{"kind": "test_pattern", "url": "testsrc://320x180@25"}]


def _seed(server: RunningServer) -> int:
    make_user(server, "olivia", Role.owner)
    with server.ctx.db.transaction() as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == "acme"))
        channel = Channel(
            tenant_id=tenant_id, name="Pattern TV", sources=PATTERN, mode=ChannelMode.on_demand
        )
        bouquet = Bouquet(tenant_id=tenant_id, name="Main")
        session.add_all([channel, bouquet])
        session.flush()
        session.add(
            BouquetItem(bouquet_id=bouquet.id, item_type=ItemType.channel, item_id=channel.id)
        )
        watcher = Line(tenant_id=tenant_id, username="watcher", password="pw-watch-1")
        bare = Line(tenant_id=tenant_id, username="no-bouquet", password="pw-bare-1")
        session.add_all([watcher, bare])
        session.flush()
        session.add(LineBouquet(line_id=watcher.id, bouquet_id=bouquet.id))
        return channel.id


def test_online_column_and_diagnosis(panel: Panel, sqlite_server: RunningServer) -> None:
    channel_id = _seed(sqlite_server)
    panel.sign_in("olivia")
    panel.open("Lines")
    page = panel.page
    table = page.locator("tbody")
    watcher_row = table.locator("tr", has_text="watcher")
    expect(watcher_row.locator("[data-online-line]")).to_have_text("offline")

    url = f"{sqlite_server.base_url}/live/watcher/pw-watch-1/{channel_id}.ts"
    with (
        httpx.Client(timeout=60) as viewer,
        viewer.stream("GET", url, follow_redirects=True) as stream,
    ):
        assert stream.status_code == 200
        chunks = stream.iter_bytes()
        assert next(chunks)[:1] == b"\x47"
        # The column refreshes itself while the list is on screen.
        expect(watcher_row.locator("[data-online-line]")).to_have_text(
            "online · 1 / 1", timeout=20_000
        )
        expect(
            table.locator("tr", has_text="no-bouquet").locator("[data-online-line]")
        ).to_have_text("offline")
        panel.screenshot("lines-online")

        page.get_by_role("button", name="Edit watcher").click()
        dialog = page.get_by_role("dialog")
        diagnosis = dialog.locator("section.diagnosis")
        expect(diagnosis.get_by_role("heading", name="Why can't this line play?")).to_be_visible()
        expect(diagnosis).to_contain_text("Connections now: 1 / 1.")
        # Its tenant replaces the oldest session by default: a note, not a refusal.
        expect(diagnosis).to_contain_text("another player will end the oldest one")
        expect(diagnosis).to_contain_text("It can play.")
        chunks.close()
    dialog.get_by_role("button", name="Close").click()

    page.get_by_role("button", name="Edit no-bouquet").click()
    dialog = page.get_by_role("dialog")
    diagnosis = dialog.locator("section.diagnosis")
    expect(diagnosis).to_contain_text("It cannot play until the problems below are fixed.")
    expect(diagnosis).to_contain_text("This line has no bouquet, so its playlist is empty.")
    expect(diagnosis).to_contain_text("Fix: Edit the line and give it at least one bouquet.")
    assert axe_serious(page) == []
    diagnosis.scroll_into_view_if_needed()
    panel.screenshot("line-diagnosis")
