"""The Library page in chromium: register a folder, scan it (progress, then the
unreadable file and ffmpeg's reason), see a movie's probe results, and play its preview
(a signed URL the <video> element plays directly: MP4, H.264/AAC)."""

from __future__ import annotations

from pathlib import Path

import pytest
from panel_browser import Panel, make_user
from playwright.sync_api import expect
from sqlalchemy import select

from palinsesto.accounts.models import Role, Tenant
from support.library_media import movie_folder
from support.server import RunningServer
from support.vod_media import VodSamples, make_samples


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> VodSamples:
    return make_samples(tmp_path_factory.mktemp("library-samples"))


def _tenant_folder(server: RunningServer) -> Path:
    with server.ctx.db.session() as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == "acme"))
    return server.ctx.settings.effective_media_root / str(tenant_id)


def test_library_scan_probe_results_and_movie_preview_in_the_browser(
    panel: Panel, sqlite_server: RunningServer, samples: VodSamples
) -> None:
    make_user(sqlite_server, "olivia", Role.owner)
    movie_folder(_tenant_folder(sqlite_server) / "films", samples)
    page = panel.page
    panel.sign_in("olivia")
    panel.open("Library")
    page.get_by_role("button", name="New library folder").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill("Films")
    dialog.get_by_label("Folder").fill("films")
    dialog.get_by_label("Kind").select_option(label="Movies")
    dialog.get_by_role("button", name="Create").click()
    expect(page.locator("[data-library-scan]")).to_contain_text("never scanned")

    page.get_by_role("button", name="Edit Films").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Scan now").click()
    expect(dialog.get_by_test_id("scan-state")).to_have_text("scanned", timeout=60_000)
    broken = dialog.get_by_test_id("files-broken")
    expect(broken).to_contain_text("Broken.Film.2020.mp4")
    expect(broken).to_contain_text("Invalid data found")
    expect(dialog.get_by_test_id("scan-progress")).to_have_attribute("value", "100")
    panel.screenshot("library")
    dialog.get_by_role("button", name="Close").click()

    panel.open("Movies")
    page.get_by_role("button", name="Edit The Movie Name").click()
    dialog = page.get_by_role("dialog")
    probe = dialog.get_by_test_id("probe")
    expect(probe).to_contain_text("h264 · 320×180")
    expect(probe).to_contain_text("1:30")
    expect(probe).to_contain_text("aac")
    dialog.get_by_role("button", name="Play preview").click()
    page.wait_for_function(
        "() => { const v = document.querySelector('video.preview');"
        " return v && !v.paused && v.currentTime > 1; }",
        timeout=25_000,
    )
    src = page.eval_on_selector("video.preview", "v => v.currentSrc")
    assert "/movie/~watch/" in src and src.endswith(".mp4")
    expect(dialog.get_by_role("status").filter(has_text="Playing.")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()

    # The two-audio MKV lists both languages.
    page.get_by_role("button", name="Edit Two Voices").click()
    expect(page.get_by_role("dialog").get_by_test_id("probe")).to_contain_text("eng · aac")
    expect(page.get_by_role("dialog").get_by_test_id("probe")).to_contain_text("ita · aac")
