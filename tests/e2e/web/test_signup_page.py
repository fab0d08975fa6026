"""The public sign-up page in a real browser: a creator asks for a panel, is told per field
what is wrong, waits for approval, and signs in once the platform admin approves."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from panel_browser import Panel
from playwright.sync_api import expect

from support.admin_api import root_client
from support.server import RunningServer, make_settings, run_server

OWNER_PASSWORD = "drum-owner-password"


@pytest.fixture
def sqlite_server(
    request: pytest.FixtureRequest, sqlite_url: str, tmp_path: Path
) -> Iterator[RunningServer]:
    """The server the ``panel`` fixture opens, with the sign-up mode each test names."""
    with run_server(make_settings(tmp_path, sqlite_url, signup=request.param)) as running:
        yield running


@pytest.mark.parametrize("sqlite_server", ["approval"], indirect=True)
def test_sign_up_waits_for_approval_then_the_owner_signs_in(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    page = panel.page
    page.goto(f"{panel.base_url}/signup")
    expect(page.locator("#plan")).to_contain_text("“trial” plan")
    expect(page.locator("#plan")).to_contain_text("approved by the platform")

    page.get_by_label("Name of your service").fill("Drum Lessons")
    page.get_by_label("Short address").fill("drum-lessons")
    page.get_by_label("Your e-mail address").fill("teacher@")
    page.get_by_label("Username").fill("teacher")
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    panel.expected_statuses.add(422)
    with page.expect_response(re.compile(r"/api/v1/signup$")) as response:
        page.get_by_role("button", name="Create the panel").click()
    assert response.value.status == 422
    expect(page.locator('.field-error[data-for="email"]')).to_contain_text("valid e-mail")

    page.get_by_label("Your e-mail address").fill("teacher@drums.example")
    with page.expect_response(re.compile(r"/api/v1/signup$")) as response:
        page.get_by_role("button", name="Create the panel").click()
    assert response.value.status == 201
    expect(page.get_by_role("heading", name="Panel created")).to_be_visible()
    expect(page.locator("#done-message")).to_contain_text("waits for the platform's approval")
    expect(page.locator("#done-link")).to_be_hidden()

    with root_client(sqlite_server) as root:
        pending = root.get("/api/v1/tenants", params={"status": "pending"}).json()["items"]
        assert [t["slug"] for t in pending] == ["drum-lessons"]
        assert root.post(f"/api/v1/tenants/{pending[0]['id']}/approve").status_code == 200
    panel.sign_in("teacher", OWNER_PASSWORD)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


@pytest.mark.parametrize("sqlite_server", ["off"], indirect=True)
def test_sign_up_page_says_closed_when_off(panel: Panel, sqlite_server: RunningServer) -> None:
    panel.expected_statuses.add(404)
    page = panel.page
    page.goto(f"{panel.base_url}/signup")
    expect(page.locator("#closed")).to_be_visible()
    expect(page.locator("#signup")).to_be_hidden()
