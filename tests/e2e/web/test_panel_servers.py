"""The Servers page: a node's token shown once with a copy button, its live state from
heartbeats (polled), rotate, revoke and drain, in a browser."""

from __future__ import annotations

from panel_browser import Panel, make_user
from playwright.sync_api import Dialog, expect
from sqlalchemy import select

from palinsesto.accounts.models import Role
from palinsesto.cluster.models import Server
from support.node_world import FakeNode
from support.server import RunningServer


def _accept(dialog: Dialog) -> None:
    dialog.accept()


def test_owner_enrols_a_node_sees_it_online_and_rotates_drains_revokes(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    make_user(sqlite_server, "olivia", Role.owner)
    panel.sign_in("olivia")
    panel.open("Servers")
    page = panel.page
    page.get_by_role("button", name="New server").click()
    form = page.get_by_role("dialog")
    form.get_by_label("Name", exact=True).fill("edge-1")
    form.get_by_label("Public address").fill("http://edge-1.invalid:8001")
    form.get_by_role("button", name="Create").click()
    token_cell = page.get_by_test_id("node-token")
    expect(token_cell).to_be_visible()
    token = token_cell.inner_text()
    assert token.startswith("node_")
    expect(page.get_by_role("button", name="Copy token")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("tbody")).to_contain_text("edge-1")
    expect(page.locator("tbody")).to_contain_text("not registered yet")

    node = FakeNode(sqlite_server, token, "http://edge-1.invalid:8001")
    assert node.register().status_code == 200
    assert node.beat(viewers=3).status_code == 200
    # The table polls the nodes' state: online, with the load of the last heartbeat.
    expect(page.locator("tbody")).to_contain_text("online", timeout=10_000)
    expect(page.locator("tbody")).to_contain_text("3 viewers")
    panel.screenshot("servers-online")

    page.get_by_role("button", name="Edit edge-1").click()
    page.once("dialog", _accept)
    page.get_by_role("button", name="Rotate token").click()
    new_cell = page.get_by_test_id("node-token")
    expect(new_cell).to_be_visible()
    new_token = new_cell.inner_text()
    assert new_token.startswith("node_") and new_token != token
    assert node.beat().status_code == 401  # the old token stopped working
    node.token = new_token
    assert node.beat().status_code == 200

    page.get_by_role("button", name="Drain").click()
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    with sqlite_server.ctx.db.session() as session:
        assert session.scalar(select(Server.draining).where(Server.name == "edge-1")) is True
    assert node.beat().status_code == 200
    assert node.last is not None and node.last.state.value == "draining"

    page.once("dialog", _accept)
    page.get_by_role("button", name="Revoke token").click()
    expect(page.get_by_text("Token revoked")).to_be_visible()
    assert node.beat().status_code == 401


def test_a_lost_node_shows_its_last_heartbeat_and_an_unknown_load(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    make_user(sqlite_server, "lena", Role.owner)
    panel.sign_in("lena")
    panel.open("Servers")
    page = panel.page
    page.get_by_role("button", name="New server").click()
    form = page.get_by_role("dialog")
    form.get_by_label("Name", exact=True).fill("edge-9")
    form.get_by_label("Public address").fill("http://edge-9.invalid:8001")
    form.get_by_role("button", name="Create").click()
    node_token = page.get_by_test_id("node-token").inner_text()
    page.keyboard.press("Escape")
    node = FakeNode(sqlite_server, node_token, "http://edge-9.invalid:8001")
    assert node.register().status_code == 200
    assert node.beat(viewers=4).status_code == 200
    expect(page.locator("tbody")).to_contain_text("4 viewers", timeout=10_000)
    # No more heartbeats: once the lease (10 s) lapses the node is lost, its load unknown.
    expect(page.locator("tbody")).to_contain_text("lost", timeout=40_000)
    expect(page.locator("tbody")).to_contain_text("load unknown")
    expect(page.locator("tbody")).not_to_contain_text("viewers")
