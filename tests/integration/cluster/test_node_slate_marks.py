"""A session the panel ends with a slate (a syndication's cut, panel/nodes/control.py): its
mark waits in the shared store for the node's next heartbeat, whose reply names it in
``end_slated`` (the node's TS player gets the clip before the end), even when the sweep's
prune of sessions' descriptions runs in between; and what that prune keeps: a lapsed
session's description, while its node may renew it back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from palinsesto.panel.nodes.control import ENDED_SLATE, NodeControl
from support.node_world import PASSWORD, FakeNode, add_server, make_tenant
from support.server import RunningServer, make_settings, run_server


@pytest.fixture
def panel(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """`palinsesto panel` (no local engine), sweeping every 0.5 s, nodes lost after 10 s."""
    settings = make_settings(
        tmp_path, database_url, node_heartbeat_seconds=0.5, node_lease_seconds=10.0
    )
    with run_server(settings, local_node=False) as running:
        yield running


def test_a_slate_mark_outlives_the_prune_until_its_nodes_heartbeat(panel: RunningServer) -> None:
    side = make_tenant(panel, "alpha", max_connections=3)
    _, token = add_server(panel, side.id, "edge-a")
    node = FakeNode(panel, token, "http://edge-a.invalid:8001")
    assert node.register().status_code == 200
    with httpx.Client(base_url=panel.base_url, timeout=10) as c:
        r = c.get(f"/live/{side.line}/{PASSWORD}/{side.channel}.ts", follow_redirects=False)
    assert r.status_code == 302, r.text
    grant = node.tokens().verify(urlsplit(r.headers["location"]).path[6:-3], time.time())
    node.alive = [grant.session_id]
    assert node.beat().status_code == 200
    control = panel.ctx.services["nodes"]
    assert isinstance(control, NodeControl)
    # The in-process slot store is plain dicts: safe to call from the test's own loop.
    ended = asyncio.run(control.end_session(grant.session_id, None, slate=ENDED_SLATE))
    assert ended
    # The next sweep prunes descriptions (it does so once a minute: made due now).
    control._pruned_at = 0.0
    deadline = time.monotonic() + 10
    while control._pruned_at == 0.0:
        assert time.monotonic() < deadline, "the sweep did not prune"
        time.sleep(0.05)
    assert node.beat().status_code == 200
    assert node.last is not None
    assert grant.session_id in node.last.end_sessions
    assert node.last.end_slated == (grant.session_id,)
    node.alive = []
    assert node.beat().status_code == 200  # told once: the mark is gone with that reply
    assert node.last is not None and node.last.end_slated == ()


def test_a_lapsed_sessions_description_outlives_the_prune_while_it_may_come_back(
    panel: RunningServer,
) -> None:
    """A slot its node did not renew in time lapses but may be renewed back within the
    grace: the sessions list must still describe it then, so the prune keeps it."""
    side = make_tenant(panel, "alpha", max_connections=3)
    node_id, token = add_server(panel, side.id, "edge-a")
    node = FakeNode(panel, token, "http://edge-a.invalid:8001")
    assert node.register().status_code == 200
    with httpx.Client(base_url=panel.base_url, timeout=10) as c:
        r = c.get(f"/live/{side.line}/{PASSWORD}/{side.channel}.ts", follow_redirects=False)
    assert r.status_code == 302, r.text
    grant = node.tokens().verify(urlsplit(r.headers["location"]).path[6:-3], time.time())
    control = panel.ctx.services["nodes"]
    assert isinstance(control, NodeControl)
    slots = control.slots
    # The store takes the caller's clock: a call from past the slot's life lapses it.
    later = time.time() + control.lease_seconds + panel.ctx.settings.play_token_ttl_seconds + 5
    assert asyncio.run(slots.line_count(side.id, side.line_id, later)) == 0
    assert asyncio.run(slots.lapsed_of_node(node_id)) == [grant.session_id]
    control._pruned_at = 0.0
    deadline = time.monotonic() + 10
    while control._pruned_at == 0.0:
        assert time.monotonic() < deadline, "the sweep did not prune"
        time.sleep(0.05)
    described = asyncio.run(slots.descriptions(node_id))
    assert described[grant.session_id]["username"] == side.line
