"""The dashboard as a platform admin: this server's CPU, memory and network, and the viewers
chart over the range chosen (1 h / 24 h / 7 d), its axis and its points spanning that range."""

from __future__ import annotations

import re

from panel_browser import Panel, axe_serious, make_user
from playwright.sync_api import expect

from palinsesto.accounts.models import Role
from support.server import RunningServer


def test_server_figures_and_the_chart_range(panel: Panel, sqlite_server: RunningServer) -> None:
    make_user(sqlite_server, "plato", Role.platform_admin, tenant_slug=None)
    make_user(sqlite_server, "olivia", Role.owner)
    page = panel.page
    panel.sign_in("plato")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    cpu = page.get_by_role("region", name="Server CPU")
    expect(cpu.locator(".value")).to_have_text(re.compile(r"^\d+ %$"))
    expect(cpu).to_contain_text("cores")
    expect(page.get_by_role("region", name="Server memory")).to_contain_text("in use")
    expect(page.get_by_role("region", name="Server network")).to_contain_text("bit/s")

    chart = page.get_by_test_id("viewer-chart")
    expect(chart.get_by_role("heading")).to_have_text("Viewers, last 24 hours")
    expect(chart.locator("text.axis").last).to_have_text("now")
    expect(chart.locator("text.axis", has_text="-18 h")).to_have_count(1)
    range_group = chart.get_by_role("group", name="Time range")
    range_group.get_by_role("button", name="1 h").click()
    expect(chart.get_by_role("heading")).to_have_text("Viewers, last hour")
    expect(range_group.get_by_role("button", name="1 h")).to_have_attribute("aria-pressed", "true")
    expect(chart.locator("text.axis", has_text="-45 min")).to_have_count(1)
    # The server began keeping points moments ago: the time before is shaded, and the line
    # runs from there to now (a point a minute), not squeezed into the last pixel.
    expect(chart.locator("rect.unknown")).to_have_count(1)
    expect(chart.locator("path.line")).to_have_count(1)
    expect(chart).to_contain_text("Kept since the server started")
    page.evaluate("window.scrollTo(0, 0)")
    panel.screenshot("dashboard-server")

    range_group.get_by_role("button", name="7 d").click()
    expect(chart.get_by_role("heading")).to_have_text("Viewers, last 7 days")
    expect(chart.locator("text.axis", has_text="-7 d")).to_have_count(1)
    # The choice is kept while the tab lives: the dashboard comes back on 7 days.
    panel.open("Tenants")
    panel.open("Dashboard")
    expect(chart.get_by_role("heading")).to_have_text("Viewers, last 7 days")
    assert axe_serious(page) == []

    # A tenant's owner is not shown the platform's machine.
    page.get_by_role("button", name="Sign out").click()
    panel.sign_in("olivia")
    expect(page.get_by_role("region", name="Viewers now")).to_be_visible()
    expect(page.get_by_role("region", name="Server CPU")).to_have_count(0)
