"""The Catch-up archive page in chromium: a test-pattern channel with catch-up days is
recorded by the running engine, and the page shows its real oldest and newest recorded
times and the disk it uses (read against the archive on disk, before and after)."""

from __future__ import annotations

import re
import time
from datetime import datetime

from panel_browser import Panel, make_user
from playwright.sync_api import expect
from sqlalchemy import select

from palinsesto.accounts.models import Role, Tenant
from palinsesto.catalog.models import Channel, ChannelMode
from support.server import RunningServer

PATTERN = [{"kind": "test_pattern", "url": "testsrc://320x180@25"}]


def _unix(iso: str | None) -> float:
    assert iso, "no datetime attribute"
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_the_archive_page_shows_a_recorded_channels_times_and_disk_use(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    make_user(sqlite_server, "olivia", Role.owner)
    with sqlite_server.ctx.db.transaction() as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == "acme"))
        channel = Channel(
            tenant_id=tenant_id,
            name="Recorded TV",
            sources=PATTERN,
            mode=ChannelMode.on_demand,  # archiving makes it run with no viewer
            archive_days=2,
        )
        session.add(channel)
        session.flush()
        channel_id = channel.id
    sqlite_server.ctx.events.publish(tenant_id, "catalog")
    sqlite_server.ctx.events.publish(tenant_id, "channels")
    archive = sqlite_server.ctx.services["archive"]
    key = (tenant_id, channel_id)
    deadline = time.monotonic() + 60
    while True:
        before = archive.status(key)
        if before["bytes"] and before["newest"] - before["oldest"] >= 6:
            break
        assert time.monotonic() < deadline, f"nothing recorded: {before}"
        time.sleep(0.5)

    page = panel.page
    panel.sign_in("olivia")
    panel.open("Catch-up archive")
    row = page.locator(f"[data-archive-channel='{channel_id}']")
    expect(row).to_contain_text("Recorded TV")
    expect(row).to_contain_text("Recording")
    oldest = row.get_by_test_id("oldest").locator("time")
    newest = row.get_by_test_id("newest").locator("time")
    expect(oldest).not_to_be_empty()
    shown_oldest = _unix(oldest.get_attribute("datetime"))
    shown_newest = _unix(newest.get_attribute("datetime"))
    shown_bytes = int(row.get_by_test_id("bytes").get_attribute("data-bytes") or "-1")
    after = archive.status(key)

    # The oldest recorded second does not move; the newest and the size only grow.
    assert abs(shown_oldest - before["oldest"]) < 0.002
    assert before["newest"] - 0.002 <= shown_newest <= after["newest"] + 0.002
    assert shown_newest - shown_oldest >= 6
    assert before["bytes"] <= shown_bytes <= after["bytes"]
    on_disk = sum(p.stat().st_size for p in archive.folder(key).glob("*.ts"))
    assert 0 < shown_bytes <= on_disk
    expect(row.get_by_test_id("bytes")).to_have_text(
        re.compile(r"^\d+(\.\d)? (kB|MB) in \d+ files?$")
    )
    usage = page.get_by_test_id("archive-usage")
    assert int(usage.get_attribute("data-bytes") or "-1") >= shown_bytes
    expect(usage).to_contain_text("used")
    page.evaluate("window.scrollTo(0, 0)")
    panel.screenshot("archive")
