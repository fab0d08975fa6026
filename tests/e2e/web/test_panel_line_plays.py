"""A line made in the web panel's form, as a user fills it in, plays: its get.php playlist
lists the channel, and ffmpeg decodes frames from the playlist's entry (review #2: the form
used to send ``allowed_outputs: []`` and every stream answered ``USER_DISALLOW_EXT``)."""

from __future__ import annotations

import subprocess

import httpx
from panel_browser import Panel, make_user
from playwright.sync_api import expect
from sqlalchemy import select

from palinsesto.accounts.models import Role, Tenant
from palinsesto.catalog.models import Bouquet, BouquetItem, Channel, ChannelMode, ItemType
from support.media import FFMPEG, count_frames
from support.player_checks import m3u_entries
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
        return channel.id


def test_line_created_in_the_form_plays_its_playlist(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    channel_id = _seed(sqlite_server)
    panel.sign_in("olivia")
    panel.open("Lines")
    page = panel.page
    page.get_by_role("button", name="New line").click()
    dialog = page.get_by_role("dialog")
    # The schema's defaults reach the form: both outputs are chosen before anyone clicks.
    outputs = dialog.get_by_label("Stream formats")
    expect(outputs.locator("option:checked")).to_have_text(["HLS (.m3u8)", "MPEG-TS (.ts)"])
    dialog.get_by_label("Username").fill("form-viewer")
    dialog.get_by_label("Password").fill("form-pass-1")
    dialog.get_by_label("Bouquets", exact=True).select_option(label="Main")
    dialog.get_by_role("button", name="Create").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.locator("tbody")).to_contain_text("form-viewer")

    r = httpx.get(
        f"{sqlite_server.base_url}/get.php",
        params={
            "username": "form-viewer",
            "password": "form-pass-1",
            "type": "m3u_plus",
            "output": "ts",
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    _, entries = m3u_entries(r.text)
    (entry,) = [e for e in entries if e["_url"].endswith(f"/{channel_id}.ts")]
    # ffmpeg as the viewer's player (Playwright's loop owns this thread: run it plainly).
    done = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-i", entry["_url"], "-t", "3", "-map", "0:v:0",
         "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=90,
    )  # fmt: skip
    assert count_frames(done.stderr) >= 25, done.stderr[-2000:]
