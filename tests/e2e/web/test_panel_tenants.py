"""A platform admin creates a tenant in the panel and is offered to add its owner at once;
the owner it adds can sign in to that tenant."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from panel_browser import Panel, axe_serious
from playwright.sync_api import expect
from sqlalchemy import select

from palinsesto.accounts.models import AdminUser, Role, Tenant
from palinsesto.accounts.usage import add_usage, record_storage
from palinsesto.panel.playback.metering import UsageSample
from support.server import ADMIN_PASSWORD, ADMIN_USER, RunningServer


def test_a_new_tenant_offers_to_add_its_owner(panel: Panel, sqlite_server: RunningServer) -> None:
    panel.sign_in(ADMIN_USER, ADMIN_PASSWORD)
    panel.open("Tenants")
    page = panel.page
    page.get_by_role("button", name="New tenant").click()
    page.get_by_label("Name", exact=True).fill("Hotel Lago")
    page.get_by_label("Short name").fill("hotel-lago")
    page.get_by_role("button", name="Create", exact=True).click()
    offer = page.get_by_role("dialog", name="Add the owner of Hotel Lago")
    expect(offer).to_be_visible()
    assert axe_serious(page) == []
    offer.get_by_label("Owner's user name").fill("lago-owner")
    offer.get_by_label("Password", exact=True).fill("a-long-owner-password")
    offer.get_by_role("button", name="Add owner").click()
    expect(page.get_by_text("Owner lago-owner added to Hotel Lago.")).to_be_visible()
    with sqlite_server.ctx.db.session() as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == "hotel-lago"))
        owner = session.scalar(select(AdminUser).where(AdminUser.username == "lago-owner"))
        assert owner is not None and owner.role is Role.owner and owner.tenant_id == tenant_id
    r = httpx.post(
        f"{sqlite_server.base_url}/api/v1/auth/token",
        data={"username": "lago-owner", "password": "a-long-owner-password"},
        timeout=30,
    )
    assert r.status_code == 200, r.text


def test_a_tenants_usage_shows_its_storage_and_exports_it(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    today = datetime.now(UTC).date()
    with sqlite_server.ctx.db.transaction() as session:
        tenant = Tenant(name="Hotel Lago", slug="hotel-lago")
        session.add(tenant)
        session.flush()
        add_usage(session, [UsageSample(tenant.id, today, 7200, 4, 3_000_000_000)])
        record_storage(session, today, {tenant.id: 12_500_000_000})
    panel.sign_in(ADMIN_USER, ADMIN_PASSWORD)
    panel.open("Tenants")
    page = panel.page
    page.get_by_role("button", name="Edit Hotel Lago").click()
    usage = page.get_by_role("region", name="Usage, last 30 days")
    expect(usage).to_contain_text(
        "2.0 viewer-hours, peak 4 viewers, 3.00 GB out, up to 12.50 GB stored."
    )
    table = usage.get_by_role("table", name="Usage of Hotel Lago per day")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody td[data-label='Storage (GB)']")).to_have_text("12.50")
    assert axe_serious(page) == []
    usage.scroll_into_view_if_needed()
    panel.screenshot("tenant-usage")
    with page.expect_download() as download:
        usage.get_by_role("button", name="Download CSV").click()
    path = download.value.path()
    assert path is not None
    lines = path.read_text().splitlines()
    header, row = lines[0].split(","), lines[1].split(",")
    assert dict(zip(header, row, strict=True))["storage_bytes"] == "12500000000"
