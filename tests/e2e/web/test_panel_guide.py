"""The TV guide page: channels × today's programmes from an imported XMLTV guide, the one on
now marked and a line at now, another day a click away."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from panel_browser import PASSWORD, Panel, axe_serious, make_user
from playwright.sync_api import expect

from palinsesto.accounts.models import Role
from support.server import RunningServer


def _xmltv(now: int) -> bytes:
    def at(t: int) -> str:
        return datetime.fromtimestamp(t, UTC).strftime("%Y%m%d%H%M%S +0000")

    start = now - now % 60 - 1800
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<tv><channel id="news.guide"><display-name>News</display-name></channel>
<programme start="{at(start - 3600)}" stop="{at(start)}" channel="news.guide">
<title>Earlier bulletin</title></programme>
<programme start="{at(start)}" stop="{at(start + 3600)}" channel="news.guide">
<title>On air now</title><desc>What is on.</desc></programme>
<programme start="{at(start + 3600)}" stop="{at(start + 7200)}" channel="news.guide">
<title>Later magazine</title></programme></tv>""".encode()


def _seed(server: RunningServer) -> None:
    make_user(server, "olivia", Role.owner)
    with server.client(server.token("olivia", PASSWORD)) as c:
        r = c.post(
            "/api/v1/channels", json={"name": "News", "number": 1, "epg_channel_id": "news.guide"}
        )
        assert r.status_code == 201, r.text
        assert c.post("/api/v1/channels", json={"name": "Local", "number": 2}).status_code == 201
        source = c.post("/api/v1/epg/sources", json={"name": "Guide"}).json()
        r = c.put(
            f"/api/v1/epg/sources/{source['id']}/document",
            files={"file": ("guide.xml", _xmltv(int(time.time())), "text/xml")},
        )
        assert r.status_code == 200, r.text
        r = c.post(f"/api/v1/epg/sources/{source['id']}/import", params={"wait": "true"})
        assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text


def test_guide_grid_with_the_programme_on_now(panel: Panel, sqlite_server: RunningServer) -> None:
    _seed(sqlite_server)
    panel.sign_in("olivia")
    panel.open("TV guide")
    page = panel.page
    news = page.get_by_role("list", name="Programmes of News")
    expect(news.get_by_role("listitem")).to_have_count(3, timeout=10_000)
    on_now = news.locator("li.on-now")
    expect(on_now).to_have_count(1)
    expect(on_now).to_contain_text("On air now")
    expect(news).to_contain_text("Later magazine")
    expect(page.locator(".guide-now")).to_be_visible()
    # The now-line crosses the programme on now.
    line, box = page.locator(".guide-now").bounding_box(), on_now.bounding_box()
    assert line and box and box["x"] <= line["x"] <= box["x"] + box["width"]
    expect(
        page.get_by_role("list", name="Programmes of Local").get_by_text(
            "No guide: this channel has no EPG id."
        )
    ).to_be_in_viewport()
    expect(page.get_by_role("main").get_by_role("status")).to_have_text("2 channels")
    assert axe_serious(page) == []
    panel.screenshot("guide")

    today = page.locator(".guide-day").inner_text()
    page.get_by_role("button", name="Next day").click()
    expect(page.locator(".guide-day")).not_to_have_text(today)
    expect(news).to_contain_text("No programmes this day.")
    expect(page.locator(".guide-now")).to_be_hidden()
    page.get_by_role("button", name="Today").click()
    expect(page.locator(".guide-day")).to_have_text(today)
    expect(news.locator("li.on-now")).to_have_count(1)
