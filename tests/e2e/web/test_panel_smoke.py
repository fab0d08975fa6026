"""The panel in a real browser: each role's navigation, a generic resource page end to end,
server-side field errors beside the fields, and a phone-sized screen."""

from __future__ import annotations

import re

from panel_browser import Panel, make_user
from playwright.sync_api import expect

from palinsesto.accounts.models import Role
from support.server import ADMIN_PASSWORD, ADMIN_USER, RunningServer


def test_root_redirects_to_the_panel_and_sign_in_rejects_a_wrong_password(panel: Panel) -> None:
    page = panel.page
    page.goto(panel.base_url + "/")
    assert page.url.endswith("/panel/")
    page.get_by_label("Username").fill(ADMIN_USER)
    page.get_by_label("Password").fill("not-the-password")
    panel.expected_statuses.add(401)
    with page.expect_response(re.compile(r"/auth/token$")) as response:
        page.get_by_role("button", name="Sign in").click()
    assert response.value.status == 401
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    panel.screenshot("sign-in")


def test_each_role_sees_its_own_navigation(panel: Panel, sqlite_server: RunningServer) -> None:
    make_user(sqlite_server, "olivia", Role.owner)
    make_user(sqlite_server, "sam", Role.support)
    make_user(sqlite_server, "rita", Role.reseller, credits=10)
    panel.sign_in(ADMIN_USER, ADMIN_PASSWORD)
    admin_links = panel.nav_links()
    assert {"Dashboard", "Categories", "Tenants"} <= set(admin_links)
    panel.page.get_by_role("button", name="Sign out").click()

    panel.sign_in("olivia")
    owner_links = panel.nav_links()
    assert "Categories" in owner_links and "Dashboard" in owner_links
    assert "Tenants" not in owner_links
    expect(panel.page.get_by_text("olivia · owner")).to_be_visible()
    panel.page.get_by_role("button", name="Sign out").click()

    panel.sign_in("sam")
    support_links = panel.nav_links()
    assert "Categories" in support_links and "Tenants" not in support_links
    panel.open("Categories")
    # Read-only: no create button, rows open as "View".
    expect(panel.page.get_by_role("button", name="New category")).to_have_count(0)
    panel.page.get_by_role("button", name="Sign out").click()

    panel.sign_in("rita")
    reseller_links = panel.nav_links()
    assert "Categories" not in reseller_links and "Dashboard" not in reseller_links
    assert "Tenants" not in reseller_links


def test_owner_creates_edits_and_filters_categories_with_field_errors(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    make_user(sqlite_server, "olivia", Role.owner)
    panel.sign_in("olivia")
    panel.open("Categories")
    page = panel.page
    page.get_by_role("button", name="New category").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Kind").select_option("live")
    dialog.get_by_label("Name").fill("News")
    dialog.get_by_label("Position").fill("99999999")
    panel.expected_statuses.add(422)
    with page.expect_response(re.compile(r"/api/v1/categories$")) as response:
        dialog.get_by_role("button", name="Create").click()
    assert response.value.status == 422
    # The API's message sits beside the field, and what was typed is still there.
    sort_field = dialog.get_by_label("Position")
    expect(sort_field).to_have_attribute("aria-invalid", "")
    error_id = sort_field.get_attribute("aria-describedby").split()[0]
    expect(page.locator(f"#{error_id}")).to_contain_text("Use a number no larger than")
    expect(dialog.get_by_label("Name")).to_have_value("News")
    panel.screenshot("form-errors")
    sort_field.fill("3")
    dialog.get_by_role("button", name="Create").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    row = page.get_by_role("row").filter(has_text="News")
    expect(row).to_have_count(1)

    for name in ("Sports", "Music"):
        page.get_by_role("button", name="New category").click()
        page.get_by_role("dialog").get_by_label("Kind").select_option("movie")
        page.get_by_role("dialog").get_by_label("Name").fill(name)
        page.get_by_role("dialog").get_by_role("button", name="Create").click()
        expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text="3 categories")).to_be_visible()

    # Filters and sort are server-side and kept in the address.
    page.get_by_label("Kind").select_option("movie")
    expect(page.get_by_role("status").filter(has_text="2 categories")).to_be_visible()
    assert "kind=movie" in page.url
    page.get_by_role("button", name=re.compile("^Name")).click()
    expect(page.locator("tbody tr").first).to_contain_text("Music")
    panel.screenshot("categories")

    page.get_by_role("button", name="Edit Music").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill("Concerts")
    dialog.get_by_role("button", name="Save").click()
    expect(page.locator("tbody")).to_contain_text("Concerts")
    with sqlite_server.client(sqlite_server.token("olivia", "panel-test-password")) as c:
        names = {c["name"] for c in c.get("/api/v1/categories").json()["items"]}
    assert names == {"News", "Sports", "Concerts"}


def test_phone_sized_screen_has_a_menu_button(panel: Panel, sqlite_server: RunningServer) -> None:
    make_user(sqlite_server, "olivia", Role.owner)
    panel.page.set_viewport_size({"width": 390, "height": 780})
    panel.sign_in("olivia")
    menu = panel.page.get_by_role("button", name="Menu")
    expect(menu).to_be_visible()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    panel.page.get_by_role("link", name="Categories").click()
    expect(panel.page.get_by_role("heading", level=1, name="Categories")).to_be_visible()
    panel.screenshot("phone")
