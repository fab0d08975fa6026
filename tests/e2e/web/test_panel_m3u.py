"""Operating the catalogue as a user clicks it: an M3U playlist imported with a preview and
kept in step by a scheduled refresh, a whole category added to a bouquet, three channels
edited at once, and a platform admin's channel list by tenant name. No console errors, no
serious accessibility violations."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from panel_browser import Panel, axe_serious, make_user, record_errors
from playwright.sync_api import Browser, expect
from sqlalchemy import select, update

from palinsesto.accounts.models import Role, Tenant
from palinsesto.catalog.models import (
    Bouquet,
    BouquetItem,
    Category,
    CategoryKind,
    Channel,
    ChannelCategory,
    M3USource,
)
from support.server import ADMIN_PASSWORD, ADMIN_USER, RunningServer, make_settings, run_server
from support.stand_ins import StandIn, stand_in

SECRET = "pr0vider-pass"
PATH = f"/get.php?username=me&password={SECRET}"
PLAYLIST = f"""#EXTM3U
#EXTINF:-1 tvg-id="uno.it" group-title="News",Uno
http://streams.example/live/me/{SECRET}/1.ts
#EXTINF:-1 tvg-id="due.it" group-title="Sport",Due
http://streams.example/live/me/{SECRET}/2.ts
#EXTINF:-1 group-title="Sport",Tre
http://streams.example/live/me/{SECRET}/3.ts
"""
PATTERN = [{"kind": "test_pattern", "url": "testsrc://320x180@25"}]


@pytest.fixture
def provider() -> Iterator[StandIn]:
    with stand_in({PATH: (200, {}, PLAYLIST.encode())}) as running:
        yield running


@pytest.fixture
def server(provider: StandIn, sqlite_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    settings = make_settings(
        tmp_path,
        sqlite_url,
        # The stand-in plays the provider on the internet: its one port is allowed.
        outbound_allow_networks=f"127.0.0.1:{provider.port}",
        m3u_check_seconds=1,
    )
    with run_server(settings) as running:
        yield running


@pytest.fixture
def panel(browser: Browser, server: RunningServer) -> Iterator[Panel]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    result = Panel(page, server.base_url)
    page.on("console", record_errors(result))
    page.on("pageerror", lambda exc: result.errors.append(f"page error: {exc}"))
    yield result
    context.close()
    assert result.errors == [], "console errors:\n" + "\n".join(result.errors)


def _tenant_id(server: RunningServer, slug: str = "acme") -> int:
    with server.ctx.db.session() as session:
        found = session.scalar(select(Tenant.id).where(Tenant.slug == slug))
        assert found is not None
        return found


def _seed_targets(server: RunningServer) -> None:
    tenant_id = _tenant_id(server)
    with server.ctx.db.transaction() as session:
        session.add_all(
            [
                Category(tenant_id=tenant_id, kind=CategoryKind.live, name="Imported"),
                Bouquet(tenant_id=tenant_id, name="Provider"),
            ]
        )


def _channels(server: RunningServer) -> dict[str, Channel]:
    with server.ctx.db.session() as session:
        rows = session.scalars(select(Channel)).all()
        session.expunge_all()
        return {c.name: c for c in rows}


def test_m3u_import_with_preview_and_a_scheduled_refresh(
    panel: Panel, server: RunningServer, provider: StandIn
) -> None:
    make_user(server, "olivia", Role.owner)
    _seed_targets(server)
    panel.sign_in("olivia")
    page = panel.page
    # The empty channel list offers the import.
    panel.open("Channels")
    page.get_by_role("link", name="Import an M3U playlist").click()
    page.get_by_role("heading", level=1, name="M3U import").wait_for()

    page.get_by_label("Playlist address").fill(f"{provider.base}{PATH}")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".counts")).to_have_text(
        "3 entries: 3 new, 0 updated, 0 unchanged, 0 skipped."
    )
    entries = page.get_by_role("table", name="Playlist entries")
    expect(entries.locator("tbody tr")).to_have_count(3)
    expect(entries).to_contain_text("http://streams.example")
    assert SECRET not in page.locator("main").inner_text()
    assert _channels(server) == {}  # the preview changed nothing
    assert axe_serious(page) == []
    panel.screenshot("m3u-preview")

    page.get_by_label("Category").select_option(label="Imported")
    page.get_by_label("Bouquet").select_option(label="Provider")
    page.get_by_label("Refresh this playlist automatically").check()
    page.get_by_label("Refresh every (hours)").fill("1")
    page.get_by_label("Source name").fill("My provider")
    page.get_by_role("button", name="Import").click()
    result = page.get_by_role("status", name="Import result")
    expect(result).to_contain_text("3 created, 0 updated, 0 unchanged")
    expect(result).to_contain_text("3 added to the bouquet")
    sources = page.get_by_role("table", name="M3U sources")
    row = sources.locator("tr", has_text="My provider")
    expect(row).to_contain_text("1 hour")
    expect(row).to_contain_text("OK: 3 created")
    expect(row).to_contain_text("password=***")
    assert SECRET not in page.locator("main").inner_text()
    channels = _channels(server)
    assert sorted(channels) == ["Due", "Tre", "Uno"]

    # An hour later the provider has moved Uno and dropped Tre: the job (every second
    # here) refreshes the source on its own.
    moved = PLAYLIST.replace("/1.ts", "/1-new.ts").split("#EXTINF:-1 group-title")[0]
    provider.routes[PATH] = (200, {}, moved.encode())
    with server.ctx.db.transaction() as session:
        session.execute(
            update(M3USource).values(next_run_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    deadline = time.monotonic() + 20
    while not (summary := _summary(server)).get("disabled") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert summary["disabled"] == 1 and summary["updated"] == 1, summary
    panel.open("Channels")
    panel.open("M3U import")
    row = page.get_by_role("table", name="M3U sources").locator("tr", has_text="My provider")
    expect(row).to_contain_text("1 updated, 1 unchanged, 1 disabled (gone from the list)")
    panel.screenshot("m3u-sources")
    channels = _channels(server)
    assert not channels["Tre"].enabled and channels["Uno"].enabled
    assert channels["Uno"].sources[0]["url"].endswith("/1-new.ts")

    # Tre comes back; "Refresh now" brings it in at once.
    provider.routes[PATH] = (200, {}, PLAYLIST.encode())
    row.get_by_role("button", name="Refresh now My provider").click()
    expect(page.locator("#toast")).to_contain_text("1 back in the list")
    assert _channels(server)["Tre"].enabled
    assert axe_serious(page) == []


def _summary(server: RunningServer) -> dict[str, int]:
    with server.ctx.db.session() as session:
        found = session.scalar(select(M3USource.last_summary))
        return dict(found or {})


def _seed_channels(server: RunningServer) -> dict[str, int]:
    make_user(server, "olivia", Role.owner)
    tenant_id = _tenant_id(server)
    with server.ctx.db.transaction() as session:
        news = Category(tenant_id=tenant_id, kind=CategoryKind.live, name="News")
        sport = Category(tenant_id=tenant_id, kind=CategoryKind.live, name="Sport")
        basic = Bouquet(tenant_id=tenant_id, name="Basic")
        session.add_all([news, sport, basic])
        session.flush()
        ids = {"news": news.id, "sport": sport.id, "basic": basic.id}
        for number, (name, category) in enumerate(
            [("Rai News", news), ("Sky News", news), ("Calcio", sport), ("Tennis", sport)],
            start=1,
        ):
            channel = Channel(tenant_id=tenant_id, name=name, number=number, sources=PATTERN)
            session.add(channel)
            session.flush()
            session.add(ChannelCategory(channel_id=channel.id, category_id=category.id))
            ids[name] = channel.id
        return ids


def test_a_whole_category_is_added_to_a_bouquet(panel: Panel, server: RunningServer) -> None:
    ids = _seed_channels(server)
    panel.sign_in("olivia")
    panel.open("Bouquets")
    page = panel.page
    page.get_by_role("button", name="Edit Basic").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Add a whole category").select_option(label="News (Live TV)")
    dialog.get_by_role("button", name="Add whole category").click()
    expect(dialog.get_by_role("status").filter(has_text="added")).to_have_text(
        "2 added; the bouquet holds 2 items."
    )
    expect(dialog.get_by_role("list", name="Items in order").locator("li")).to_have_count(2)
    assert axe_serious(page) == []
    panel.screenshot("bouquet-category")
    with server.ctx.db.session() as session:
        held = session.scalars(
            select(BouquetItem.item_id)
            .where(BouquetItem.bouquet_id == ids["basic"])
            .order_by(BouquetItem.position)
        ).all()
    assert held == [ids["Rai News"], ids["Sky News"]]


def test_three_channels_are_edited_at_once(panel: Panel, server: RunningServer) -> None:
    ids = _seed_channels(server)
    panel.sign_in("olivia")
    panel.open("Channels")
    page = panel.page
    table = page.locator("table.data")
    # Categories show by name, not by id.
    expect(table.locator("tr", has_text="Calcio")).to_contain_text("Sport")
    for name in ("Rai News", "Sky News", "Calcio"):
        page.get_by_label(f"Select {name}").check()
    page.get_by_role("button", name="Edit 3 selected…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Set category").select_option(label="Sport")
    dialog.get_by_label("Add to bouquet").select_option(label="Basic")
    dialog.get_by_label("Status").select_option(label="Disabled")
    dialog.get_by_label("Transcode profile").select_option(index=2)
    assert axe_serious(page) == []
    panel.screenshot("channels-bulk-edit")
    dialog.get_by_role("button", name="Apply to 3 channels").click()
    expect(page.locator("#toast")).to_have_text("3 channels updated.")
    expect(page.get_by_role("dialog")).to_have_count(0)
    channels = _channels(server)
    for name in ("Rai News", "Sky News", "Calcio"):
        assert not channels[name].enabled
        assert channels[name].category_ids == [ids["sport"]]
        assert channels[name].transcode_profile != "copy"
    assert channels["Tennis"].enabled
    with server.ctx.db.session() as session:
        held = session.scalars(
            select(BouquetItem.item_id).where(BouquetItem.bouquet_id == ids["basic"])
        ).all()
    assert sorted(held) == sorted(ids[n] for n in ("Rai News", "Sky News", "Calcio"))
    # Filtered by category, picked by name.
    page.get_by_label("Category", exact=True).select_option(label="News")
    expect(table.locator("tbody tr")).to_have_count(0)
    expect(page.get_by_text("No channels yet.")).to_be_visible()


def test_a_platform_admin_sees_and_filters_channels_by_tenant_name(
    panel: Panel, server: RunningServer
) -> None:
    _seed_channels(server)
    make_user(server, "bob", Role.owner, tenant_slug="bravo")
    with server.ctx.db.transaction() as session:
        session.add(
            Channel(tenant_id=_tenant_id(server, "bravo"), name="Bravo One", sources=PATTERN)
        )
    panel.sign_in(ADMIN_USER, ADMIN_PASSWORD)
    panel.open("Channels")
    page = panel.page
    table = page.locator("table.data")
    expect(table.locator("thead")).to_contain_text("Tenant")
    expect(table.locator("tr", has_text="Bravo One")).to_contain_text("Bravo")
    expect(table.locator("tr", has_text="Calcio")).to_contain_text("Acme")
    page.get_by_label("Search tenant").fill("brav")
    page.get_by_label("Tenant", exact=True).select_option(label="Bravo")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody")).to_contain_text("Bravo One")
    assert axe_serious(page) == []


def test_a_platform_admin_imports_into_the_tenant_it_picks(
    panel: Panel, server: RunningServer, provider: StandIn
) -> None:
    make_user(server, "bob", Role.owner, tenant_slug="bravo")
    panel.sign_in(ADMIN_USER, ADMIN_PASSWORD)
    panel.open("M3U import")
    page = panel.page
    page.get_by_label("Tenant").select_option(label="Bravo")
    page.get_by_label("Playlist address").fill(f"{provider.base}{PATH}")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".counts")).to_contain_text("3 new")
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("status", name="Import result")).to_contain_text("3 created")
    bravo = _tenant_id(server, "bravo")
    assert {c.tenant_id for c in _channels(server).values()} == {bravo}
