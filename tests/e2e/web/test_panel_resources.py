"""Channels, bouquets, lines, a reseller's scope and the creator quick start, in a browser."""

from __future__ import annotations

import re
import subprocess

from panel_browser import PASSWORD, Panel, make_user
from playwright.sync_api import Dialog, expect
from sqlalchemy import select

from palinsesto.accounts.models import Line, Role, Tenant
from palinsesto.catalog.models import Channel
from support.media import FFMPEG
from support.server import RunningServer


def _accept(dialog: Dialog) -> None:
    dialog.accept()


def test_owner_creates_a_push_channel_and_rotates_its_stream_key(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    make_user(sqlite_server, "olivia", Role.owner)
    panel.sign_in("olivia")
    panel.open("Channels")
    page = panel.page
    page.get_by_role("button", name="New channel").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name", exact=True).fill("Drum lessons")
    dialog.get_by_role("button", name="Add source").click()
    dialog.get_by_label("Kind").select_option("push_rtmp")
    dialog.get_by_label("When it runs").select_option("always_on")
    dialog.get_by_role("button", name="Create").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.locator("tbody")).to_contain_text("Drum lessons")
    with sqlite_server.ctx.db.session() as session:
        channel = session.scalar(select(Channel).where(Channel.name == "Drum lessons"))
        assert channel is not None and channel.sources[0]["kind"] == "push_rtmp"
        old_key = channel.stream_key
    assert old_key

    page.get_by_role("button", name="Edit Drum lessons").click()
    key = page.get_by_test_id("stream-key")
    expect(key).to_have_text(old_key)
    expect(page.get_by_role("link", name=re.compile("watch"))).to_be_visible()
    key.scroll_into_view_if_needed()
    panel.screenshot("stream-key")
    page.once("dialog", _accept)
    page.get_by_role("button", name="Rotate stream key").click()
    expect(key).not_to_have_text(old_key)
    with sqlite_server.ctx.db.session() as session:
        new_key = session.scalar(select(Channel.stream_key).where(Channel.id == channel.id))
    assert new_key != old_key
    expect(key).to_have_text(new_key)


def test_owner_builds_a_bouquet_and_sells_a_line_on_it(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    make_user(sqlite_server, "olivia", Role.owner)
    token = sqlite_server.token("olivia", PASSWORD)
    with sqlite_server.client(token) as c:
        for name in ("Arena One", "Arena Two"):
            r = c.post("/api/v1/channels", json={"name": name})
            assert r.status_code == 201, r.text
    panel.sign_in("olivia")
    page = panel.page
    panel.open("Bouquets")
    page.get_by_role("button", name="New bouquet").click()
    page.get_by_role("dialog").get_by_label("Name").fill("Sports")
    page.get_by_role("dialog").get_by_role("button", name="Create").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    page.get_by_role("button", name="Edit Sports").click()
    adder = page.get_by_label("Add a channel")
    for name in ("Arena Two", "Arena One"):
        adder.fill(name)
        page.get_by_role("button", name=f"Add {name}").click()
        expect(page.get_by_text("Order saved.")).to_be_visible()
    # Keyboard reorder: Arena One up above Arena Two.
    page.get_by_role("button", name="Move Arena One up").click()
    panel.screenshot("bouquet")
    with sqlite_server.client(token) as c:
        bouquet = c.get("/api/v1/bouquets", params={"q": "Sports"}).json()["items"][0]
        channels = {ch["name"]: ch["id"] for ch in c.get("/api/v1/channels").json()["items"]}
        expected = [channels["Arena One"], channels["Arena Two"]]
        for _ in range(50):
            items = c.get(f"/api/v1/bouquets/{bouquet['id']}/items").json()["items"]
            if [i["item_id"] for i in items] == expected:
                break
            page.wait_for_timeout(100)
        assert [i["item_id"] for i in items] == expected
    page.get_by_role("button", name="Close").click()

    panel.open("Lines")
    page.get_by_role("button", name="New line").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Username").fill("viewer-one")
    dialog.get_by_label("Password").fill("s3cret-pass")
    dialog.get_by_label("Bouquets", exact=True).select_option(label="Sports")
    dialog.get_by_role("button", name="Create").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.locator("tbody")).to_contain_text("viewer-one")
    panel.screenshot("lines")
    with sqlite_server.client(token) as c:
        line = c.get("/api/v1/lines", params={"q": "viewer-one"}).json()["items"][0]
    assert line["bouquet_ids"] == [bouquet["id"]] and line["password"]


def test_reseller_sees_only_its_own_lines(panel: Panel, sqlite_server: RunningServer) -> None:
    make_user(sqlite_server, "olivia", Role.owner)
    rita = make_user(sqlite_server, "rita", Role.reseller, credits=40)
    with sqlite_server.ctx.db.transaction() as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == "acme"))
        session.add(Line(tenant_id=tenant_id, username="ritas-customer", password="pw-1234567"))
        session.add(Line(tenant_id=tenant_id, username="house-line", password="pw-7654321"))
        session.flush()
        session.scalar(select(Line).where(Line.username == "ritas-customer")).reseller_id = rita
    panel.sign_in("rita")
    assert set(panel.nav_links()) <= {"My business", "Lines", "Resellers & users", "Credits"}
    assert "Lines" in panel.nav_links()
    panel.open("Lines")
    page = panel.page
    expect(page.get_by_role("status").filter(has_text="1 line")).to_be_visible()
    expect(page.locator("tbody")).to_contain_text("ritas-customer")
    expect(page.locator("tbody")).not_to_contain_text("house-line")
    panel.screenshot("reseller-lines")


def _publish(url: str) -> subprocess.Popen[bytes]:
    """OBS's part: a test picture pushed over RTMP."""
    return subprocess.Popen(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-re",
         "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-f", "flv", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def test_creator_quick_start_gives_obs_settings_and_a_watch_page(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    make_user(sqlite_server, "olivia", Role.owner)
    panel.sign_in("olivia")
    panel.open("Go live")
    page = panel.page
    page.get_by_label("Channel name").fill("Studio A")
    page.get_by_role("button", name="Create live channel").click()
    expect(page.get_by_text("In OBS: Settings → Stream")).to_be_visible()
    with sqlite_server.ctx.db.session() as session:
        key = session.scalar(select(Channel.stream_key).where(Channel.name == "Studio A"))
    assert key
    expect(page.locator("code", has_text=key)).to_be_visible()
    rtmp = page.locator("code", has_text=re.compile(r"^rtmp://.*/live$"))
    expect(rtmp).to_be_visible()
    # The page waits visibly for OBS, and says so the moment the encoder connects.
    encoder = page.locator(".encoder-state")
    expect(encoder).to_have_text("Waiting for your encoder…")
    panel.screenshot("go-live")
    publisher = _publish(f"{rtmp.inner_text()}/{key}")
    try:
        expect(encoder).to_contain_text("Live: your encoder is connected", timeout=30_000)
    finally:
        publisher.kill()
        publisher.wait(timeout=10)
    link = page.locator("code", has_text="/watch/").inner_text()
    page.goto(link)
    expect(page.get_by_role("heading", name="Studio A")).to_be_visible()
    expect(page.get_by_label("Username")).to_be_visible()
    panel.screenshot("watch-sign-in")
    # A forged link shows a clear message, not a channel.
    panel.expected_statuses.add(404)
    page.goto(link.rsplit("/", 1)[0] + "/1-forged")
    expect(page.get_by_role("heading", name="Channel not found")).to_be_visible()
