"""A platform admin creates a tenant in the panel and is offered to add its owner at once;
the owner it adds can sign in to that tenant."""

from __future__ import annotations

import httpx
from panel_browser import Panel, axe_serious
from playwright.sync_api import expect
from sqlalchemy import select

from palinsesto.accounts.models import AdminUser, Role, Tenant
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
