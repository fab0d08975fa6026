"""A channel made in the panel: the profile is a select with readable names, a bad source
is refused beside its field, and a source that fails at run time says why in the browser."""

from __future__ import annotations

from pathlib import Path

from panel_browser import Panel, make_user
from playwright.sync_api import expect
from sqlalchemy import select

from palinsesto.accounts.models import Role, Tenant
from palinsesto.catalog.models import Channel
from support.server import RunningServer


def test_profile_select_source_check_and_a_failing_preview(
    panel: Panel, sqlite_server: RunningServer, tmp_path: Path
) -> None:
    make_user(sqlite_server, "olivia", Role.owner)
    with sqlite_server.ctx.db.session() as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == "acme"))
    # The refused save and the offline preview are expected answers, not page errors.
    panel.expected_statuses |= {422, 503}
    page = panel.page
    panel.sign_in("olivia")
    panel.open("Channels")
    page.get_by_role("button", name="New channel").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name", exact=True).fill("Ladder")
    profile = dialog.get_by_label("Transcode profile")
    expect(profile.locator("option")).to_have_text(
        [
            "(none)",  # the form's generic "leave it to the server" (the default, copy)
            "Copy (remux, no re-encoding)",
            "H.264 360p (800 kbit/s)",
            "H.264 480p (1.2 Mbit/s)",
            "H.264 720p (2.5 Mbit/s)",
            "H.264 1080p (4.5 Mbit/s)",
        ]
    )
    profile.select_option(label="H.264 480p (1.2 Mbit/s)")
    dialog.get_by_role("button", name="Add source").click()
    dialog.get_by_label("Kind").select_option("test_pattern")
    dialog.get_by_label("Stream address").fill("testsrc://99999x1@500")
    dialog.get_by_role("button", name="Create").click()
    # Refused beside the field, nothing stored, the typed values stay.
    expect(dialog.locator(".field-error", has_text="testsrc://1280x720@25")).to_be_visible()
    with sqlite_server.ctx.db.session() as session:
        assert session.scalar(select(Channel).where(Channel.name == "Ladder")) is None
    # A file in the tenant's media folder that is no video passes the check on save and
    # fails at run time, with ffmpeg's own reason.
    folder = sqlite_server.ctx.settings.effective_media_root / str(tenant_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.ts").write_bytes(b"these are notes, not video\n" * 100)
    dialog.get_by_label("Kind").select_option("file")
    dialog.get_by_label("Stream address").fill("/notes.ts")
    dialog.get_by_role("button", name="Create").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    with sqlite_server.ctx.db.session() as session:
        stored = session.scalar(select(Channel).where(Channel.name == "Ladder"))
        assert stored is not None and stored.transcode_profile == "h264_480p"

    page.get_by_role("button", name="Edit Ladder").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Play preview").click()
    expect(dialog.get_by_role("status")).to_contain_text("The channel is offline", timeout=15_000)
    expect(dialog.get_by_text("Invalid data found").first).to_be_visible(timeout=8_000)
    expect(dialog.get_by_test_id("next-retry")).to_be_visible(timeout=8_000)
    # Viewers: the failed preview is not one (a request waiting for an imminent retry is
    # counted while it waits; once retries are further apart than a player waits, none).
    expect(dialog.locator("dd").nth(4)).to_have_text("0", timeout=25_000)
    panel.screenshot("channel-failing")
