"""Movies in chromium as HLS: the panel's preview of an MKV (which a <video> cannot play
as a file) plays it through hls.js, cut into segments on the server; and the public watch
page plays a movie's share link with a line's credentials."""

from __future__ import annotations

import pytest
from panel_browser import PASSWORD, Panel, make_user
from playwright.sync_api import Page, expect
from sqlalchemy import select

from palinsesto.accounts.models import Role, Tenant
from support.server import RunningServer
from support.vod_media import VodSamples, make_samples

PLAY_TIMEOUT_MS = 40_000


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> VodSamples:
    return make_samples(tmp_path_factory.mktemp("movie-hls-samples"))


def _movie(server: RunningServer, samples: VodSamples, name: str, source: str) -> int:
    make_user(server, "olivia", Role.owner)
    with server.ctx.db.session() as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == "acme"))
    samples.install(server.ctx.settings.effective_media_root / str(tenant_id))
    with server.client(server.token("olivia", PASSWORD)) as c:
        r = c.post("/api/v1/movies", json={"name": name, "source_url": source})
        assert r.status_code == 201, r.text
        return int(r.json()["id"])


def _plays(page: Page, selector: str) -> None:
    page.wait_for_function(
        f"() => {{ const v = document.querySelector('{selector}');"
        " return v && !v.paused && v.currentTime > 1; }",
        timeout=PLAY_TIMEOUT_MS,
    )


def test_the_panel_preview_plays_an_mkv_as_hls(
    panel: Panel, sqlite_server: RunningServer, samples: VodSamples
) -> None:
    _movie(sqlite_server, samples, "Two Voices", "dual.mkv")
    page = panel.page
    panel.sign_in("olivia")
    panel.open("Movies")
    page.get_by_role("button", name="Edit Two Voices").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Play preview").click()
    expect(dialog.get_by_role("status").filter(has_text="as HLS")).to_be_visible()
    _plays(page, "video.preview")
    # hls.js feeds the element through Media Source Extensions: a blob: URL, not the file.
    assert page.eval_on_selector("video.preview", "v => v.currentSrc").startswith("blob:")
    expect(dialog.get_by_role("status").filter(has_text="Playing.")).to_be_visible()


def test_the_watch_page_plays_a_movie_with_a_lines_credentials(
    panel: Panel, sqlite_server: RunningServer, samples: VodSamples
) -> None:
    movie_id = _movie(sqlite_server, samples, "Feature", "feature.mp4")
    with sqlite_server.client(sqlite_server.token("olivia", PASSWORD)) as c:
        bouquet = c.post("/api/v1/bouquets", json={"name": "Films"}).json()
        items = [{"item_type": "movie", "item_id": movie_id}]
        r = c.put(f"/api/v1/bouquets/{bouquet['id']}/items", json={"items": items})
        assert r.status_code == 200, r.text
        r = c.post(
            "/api/v1/lines",
            json={
                "username": "viewer1",
                "password": "viewer-pass-1",
                "bouquet_ids": [bouquet["id"]],
            },
        )
        assert r.status_code == 201, r.text
        link = c.get(f"/api/v1/movies/{movie_id}/share-link").json()["url"]
    assert "/watch/m" in link
    page = panel.page
    page.goto(link)
    expect(page.get_by_role("heading", name="Feature")).to_be_visible()
    form = page.locator("#credentials")
    expect(form).to_contain_text("This movie is for subscribers")
    page.get_by_label("Username").fill("viewer1")
    page.get_by_label("Password").fill("viewer-pass-1")
    page.get_by_role("button", name="Watch").click()
    expect(page.get_by_role("status")).to_have_text("Playing", timeout=PLAY_TIMEOUT_MS)
    _plays(page, "#video")
    engine = sqlite_server.ctx.services["live"]
    assert [s.output for s in engine.sessions.all()] == ["movie-hls"]


def test_the_movie_form_sets_how_a_remote_source_is_delivered(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    make_user(sqlite_server, "olivia", Role.owner)
    page = panel.page
    panel.sign_in("olivia")
    panel.open("Movies")
    page.get_by_role("button", name="New movie").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill("Far Away")
    dialog.get_by_label("Source address").fill("https://cdn.example.com/far-away.mp4")
    delivery = dialog.get_by_label("Remote source delivery")
    expect(delivery).to_have_value("redirect")  # the schema's default
    delivery.select_option("proxy")
    dialog.get_by_role("button", name="Create").click()
    expect(page.get_by_role("button", name="Edit Far Away")).to_be_visible()
    with sqlite_server.client(sqlite_server.token("olivia", PASSWORD)) as c:
        (movie,) = c.get("/api/v1/movies", params={"q": "Far Away"}).json()["items"]
    assert movie["delivery"] == "proxy"
