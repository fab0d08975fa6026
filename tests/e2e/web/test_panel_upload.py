"""Uploads in chromium: a file started earlier (as if the page had been reloaded
mid-upload) is listed as unfinished; choosing it again resumes from the server's byte
count, the progress bar reaches 100% and the movie appears in the Movies list."""

from __future__ import annotations

from pathlib import Path

from panel_browser import PASSWORD, Panel, make_user
from playwright.sync_api import expect

from palinsesto.accounts.models import Role
from support.server import RunningServer
from support.vod_media import make_mp4


def test_a_movie_upload_resumes_shows_progress_and_the_movie_appears(
    panel: Panel, sqlite_server: RunningServer, tmp_path: Path
) -> None:
    make_user(sqlite_server, "ursula", Role.owner)
    film = make_mp4(tmp_path / "Harbour.Lights.2019.mp4", seconds=30)
    data = film.read_bytes()
    # The first part went up before the "reload": the server holds these bytes.
    token = sqlite_server.token("ursula", PASSWORD)
    with sqlite_server.client(token) as c:
        r = c.post("/api/v1/uploads", json={"name": film.name, "total_bytes": len(data)})
        assert r.status_code == 201, r.text
        upload_id = r.json()["id"]
        first = 100_000
        r = c.put(
            f"/api/v1/uploads/{upload_id}",
            content=data[:first],
            headers={"Content-Range": f"bytes 0-{first - 1}/{len(data)}"},
        )
        assert r.status_code == 200, r.text

    page = panel.page
    ranges: list[str] = []
    page.on(
        "request",
        lambda request: (
            ranges.append(request.headers.get("content-range", ""))
            if request.method == "PUT"
            else None
        ),
    )
    panel.sign_in("ursula")
    panel.open("Uploads")
    expect(page.get_by_role("row").filter(has_text=film.name)).to_contain_text("of")
    page.get_by_label("Video file").set_input_files(str(film))
    page.get_by_role("button", name="Upload", exact=True).click()
    status = page.get_by_test_id("upload-status")
    expect(status).to_contain_text("Movie created: Harbour Lights", timeout=60_000)
    expect(status).to_contain_text("100%")
    expect(page.get_by_test_id("upload-progress")).to_have_attribute("value", "100")
    expect(page.get_by_text("None. Uploads left unfinished")).to_be_visible()
    # It resumed where the server stood: its only chunk starts at the bytes sent before.
    assert ranges == [f"bytes {first}-{len(data) - 1}/{len(data)}"], ranges
    panel.screenshot("upload")

    page.get_by_test_id("uploaded-movie").click()
    page.get_by_role("heading", level=1, name="Movies").wait_for()
    expect(page.get_by_role("row").filter(has_text="Harbour Lights")).to_contain_text("2019")
    stored = sqlite_server.ctx.settings.effective_media_root
    assert [p.read_bytes() == data for p in stored.glob(f"*/uploads/{film.name}")] == [True]
