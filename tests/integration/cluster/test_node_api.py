"""The panel's node API and node admission over real HTTP: node tokens (rotate, revoke),
register and heartbeat, assignments, the /live 302 to a node with a play token, session
slots (limits, kicks, renewals), key rotation, and tenant isolation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.node.remote import relay_url
from palinsesto.node.token_delivery import RELAY
from palinsesto.protocol.messages import REGISTER_PATH, NodeState
from palinsesto.protocol.play_tokens import PlayKind, PlayTokens
from support.admin_api import root_client
from support.databases import temporary_database
from support.node_world import FakeNode, TenantSide, add_server, make_tenant, set_policy
from support.redis_servers import REDIS_URL, private_redis, redis_prefix
from support.server import RunningServer, make_settings, run_server


@pytest.fixture
def panel(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """The application as `palinsesto panel` runs it (no local engine), each backend."""
    settings = make_settings(tmp_path, database_url, node_lease_seconds=3.0)
    with run_server(settings, local_node=False) as running:
        yield running


def play(server: RunningServer, side: TenantSide, path: str) -> httpx.Response:
    with httpx.Client(base_url=server.base_url, timeout=10) as c:
        return c.get(path.format(u=side.line, p="node-line-pw"), follow_redirects=False)


def test_node_tokens_rotate_revoke_and_malformed_bodies(panel: RunningServer) -> None:
    side = make_tenant(panel, "alpha")
    server_id, token = add_server(panel, side.id, "edge-a")
    node = FakeNode(panel, token, "http://edge-a.invalid:8001")
    r = node.register()
    assert r.status_code == 200, r.text
    assert node.last is not None and node.last.node_id == server_id
    assert node.last.state is NodeState.online and node.last.keys
    # The token is only ever shown at creation and rotation.
    with root_client(panel) as c:
        listed = c.get(f"/api/v1/servers/{server_id}").json()
        assert "token" not in listed and token not in str(listed)
        assert listed["status"] == "online" and listed["version"] == "test"
        rotated = c.post(f"/api/v1/servers/{server_id}/token")
        assert rotated.status_code == 200, rotated.text
        new_token = rotated.json()["token"]
    assert new_token != token
    assert node.beat().status_code == 401  # the old token stopped working at once
    node.token = new_token
    assert node.beat().status_code == 200
    # Malformed bodies: 422 with the protocol's sentence.
    with httpx.Client(base_url=panel.base_url) as c:
        auth = {"Authorization": f"Bearer {new_token}"}
        bad = c.post(REGISTER_PATH, json={"name": 3}, headers=auth)
        assert bad.status_code == 422 and "name: expected a string" in bad.text
        assert c.post(REGISTER_PATH, content=b"{", headers=auth).status_code == 422
        assert c.post(REGISTER_PATH, json={}).status_code == 401  # no token
        assert (
            c.post(REGISTER_PATH, json={}, headers={"Authorization": "Bearer x"}).status_code == 401
        )
    assert play(panel, side, f"/live/{{u}}/{{p}}/{side.channel}.ts").status_code == 302
    with root_client(panel) as c:
        assert c.delete(f"/api/v1/servers/{server_id}/token").status_code == 200
    assert node.beat().status_code == 401
    # Revoked: no viewer is sent to it any more, even before its lease lapses.
    assert play(panel, side, f"/live/{{u}}/{{p}}/{side.channel}.ts").status_code == 503


def test_admission_redirects_to_the_node_with_a_signed_play_token(panel: RunningServer) -> None:
    side = make_tenant(panel, "alpha", max_connections=3)
    server_id, token = add_server(panel, side.id, "edge-a")
    node = FakeNode(panel, token, "http://edge-a.invalid:8001")
    assert node.register().status_code == 200
    # The always-on channel is placed on the node as soon as it registers.
    assert side.always_on in node.assigned()
    assert side.channel not in node.assigned()

    before = time.time()
    r = play(panel, side, f"/live/{{u}}/{{p}}/{side.channel}.ts")
    assert r.status_code == 302, r.text
    target = urlsplit(r.headers["location"])
    assert f"{target.scheme}://{target.netloc}" == "http://edge-a.invalid:8001"
    assert target.path.startswith("/play/") and target.path.endswith(".ts")
    grant = node.tokens().verify(target.path[6:-3], time.time())
    assert (grant.tenant_id, grant.line_id, grant.channel_id) == (
        side.id,
        side.line_id,
        side.channel,
    )
    assert grant.kind is PlayKind.ts and not grant.bound_to_ip
    assert before + 59 <= grant.expires <= time.time() + 61

    short = play(panel, side, f"/{{u}}/{{p}}/{side.channel}.m3u8")
    assert short.status_code == 302
    path = urlsplit(short.headers["location"]).path
    assert path.endswith(".m3u8")
    assert node.tokens().verify(path[6:-5], time.time()).kind is PlayKind.hls

    # The on-demand channel is now assigned to the node (placed at its first play).
    node.alive = [grant.session_id]
    assert node.beat().status_code == 200
    assert {side.channel, side.always_on} <= node.assigned()
    assert node.last is not None and node.last.end_sessions == ()
    # Refusals are mapped as on every viewer surface.
    with httpx.Client(base_url=panel.base_url) as c:
        assert c.get(f"/live/{side.line}/wrong/{side.channel}.ts").status_code == 401
        assert c.get(f"/live/{side.line}/node-line-pw/999999.ts").status_code == 404
    # A node API lookup of one channel of its own tenant.
    with httpx.Client(base_url=panel.base_url) as c:
        auth = {"Authorization": f"Bearer {token}"}
        one = c.get(f"/node-api/v1/channels/{side.channel}", headers=auth)
        assert one.status_code == 200 and one.json()["channel"]["id"] == side.channel


def test_line_limits_refuse_or_kick_across_the_nodes(panel: RunningServer) -> None:
    side = make_tenant(panel, "alpha", max_connections=1, policy=ConnectionPolicy.refuse)
    _, token = add_server(panel, side.id, "edge-a")
    node = FakeNode(panel, token, "http://edge-a.invalid:8001")
    assert node.register().status_code == 200
    first = play(panel, side, f"/live/{{u}}/{{p}}/{side.channel}.ts")
    assert first.status_code == 302
    first_session = node.tokens().verify(
        urlsplit(first.headers["location"]).path[6:-3], time.time()
    )
    refused = play(panel, side, f"/live/{{u}}/{{p}}/{side.channel}.ts")
    assert refused.status_code == 429 and "USER_MAX_CONNECTIONS" in refused.text

    set_policy(panel, side.id, ConnectionPolicy.kick_oldest)
    second = play(panel, side, f"/live/{{u}}/{{p}}/{side.channel}.ts")
    assert second.status_code == 302
    node.alive = [first_session.session_id]
    assert node.beat().status_code == 200
    assert node.last is not None and first_session.session_id in node.last.end_sessions


def test_unknown_sessions_are_ended_and_ended_ones_free_their_slot(panel: RunningServer) -> None:
    side = make_tenant(panel, "alpha", max_connections=1, policy=ConnectionPolicy.refuse)
    _, token = add_server(panel, side.id, "edge-a")
    node = FakeNode(panel, token, "http://edge-a.invalid:8001")
    assert node.register().status_code == 200
    node.alive = [123456789]
    assert node.beat().status_code == 200
    assert node.last is not None and node.last.end_sessions == (123456789,)
    first = play(panel, side, f"/live/{{u}}/{{p}}/{side.channel}.ts")
    grant = node.tokens().verify(urlsplit(first.headers["location"]).path[6:-3], time.time())
    assert play(panel, side, f"/live/{{u}}/{{p}}/{side.channel}.ts").status_code == 429
    node.alive = []
    assert node.beat(ended=(grant.session_id,)).status_code == 200
    assert play(panel, side, f"/live/{{u}}/{{p}}/{side.channel}.ts").status_code == 302


def test_a_lost_nodes_slots_are_freed_and_no_node_means_503(panel: RunningServer) -> None:
    side = make_tenant(panel, "alpha", max_connections=1, policy=ConnectionPolicy.refuse)
    _, token = add_server(panel, side.id, "edge-a")
    node = FakeNode(panel, token, "http://edge-a.invalid:8001")
    assert node.register().status_code == 200
    assert play(panel, side, f"/live/{{u}}/{{p}}/{side.channel}.ts").status_code == 302
    time.sleep(3.5)  # the lease (3 s) lapses; the sweep runs every heartbeat period
    gone = play(panel, side, f"/live/{{u}}/{{p}}/{side.channel}.ts")
    assert gone.status_code == 503 and "no streaming server online" in gone.text
    with root_client(panel) as c:
        status = c.get("/api/v1/nodes/status").json()["items"]
        assert status[0]["state"] == "lost"
    assert node.register().status_code == 200  # back: the old session's slot was freed
    assert play(panel, side, f"/live/{{u}}/{{p}}/{side.channel}.ts").status_code == 302


def test_a_lost_nodes_load_reads_as_unknown_and_its_last_beat_stays(
    panel: RunningServer,
) -> None:
    side = make_tenant(panel, "alpha")
    _, token = add_server(panel, side.id, "edge-a")
    node = FakeNode(panel, token, "http://edge-a.invalid:8001")
    assert node.register().status_code == 200
    assert node.beat(viewers=2).status_code == 200
    with root_client(panel) as c:
        (live,) = c.get("/api/v1/nodes/status").json()["items"]
        assert (live["state"], live["viewers"], live["egress_mbps"]) == ("online", 2, 1.5)
        deadline = time.monotonic() + 30  # the lease is 3 s
        while live["state"] != "lost" and time.monotonic() < deadline:
            time.sleep(0.2)
            (live,) = c.get("/api/v1/nodes/status").json()["items"]
    assert live["state"] == "lost", live
    assert live["heartbeat_age_seconds"] >= 3.0
    unknown = {k: live[k] for k in ("viewers", "egress_mbps", "cpu_percent", "channels")}
    assert unknown == dict.fromkeys(unknown), live


def test_the_account_call_on_a_panel_names_no_rtmp_port_of_its_own(panel: RunningServer) -> None:
    """`palinsesto panel` takes no RTMP (its nodes do): rtmp_port stays a str(int), as apps
    parse it (reference §3.2), and is "0" rather than a port nothing listens on."""
    side = make_tenant(panel, "alpha")
    query = {"username": side.line, "password": "node-line-pw"}
    r = httpx.get(f"{panel.base_url}/player_api.php", params=query, timeout=10)
    assert r.status_code == 200, r.text
    server = r.json()["server_info"]
    assert server["rtmp_port"] == "0"
    assert server["port"] == panel.base_url.rsplit(":", 1)[1]


def test_servers_show_the_role_the_placement_gives_not_a_stored_label(
    panel: RunningServer,
) -> None:
    """A node originates some channels and relays others: /nodes/status counts both from
    the placements; /servers no longer shows (or takes) a per-server role."""
    side = make_tenant(panel, "alpha", max_connections=2)
    nodes = {}
    for name in ("edge-a", "edge-b"):
        server_id, token = add_server(panel, side.id, name, capacity=1)
        nodes[server_id] = FakeNode(panel, token, f"http://{name}.invalid:8001")
        assert nodes[server_id].register().status_code == 200
    url = f"/live/{{u}}/{{p}}/{side.channel}.ts"
    first = play(panel, side, url)
    assert first.status_code == 302
    origin = next(i for i, n in nodes.items() if first.headers["location"].startswith(n.public_url))
    assert nodes[origin].beat(viewers=1).status_code == 200  # the origin is full now
    second = play(panel, side, url)
    assert second.status_code == 302
    (edge,) = set(nodes) - {origin}
    assert second.headers["location"].startswith(nodes[edge].public_url)
    with root_client(panel) as c:
        status = {s["id"]: s for s in c.get("/api/v1/nodes/status").json()["items"]}
        # The tenant's always-on channel has an origin too, on either node.
        assert sum(s["origin_of"] for s in status.values()) == 2
        assert status[origin]["origin_of"] >= 1 and status[origin]["edge_of"] == 0
        assert status[edge]["edge_of"] == 1
        listed = c.get("/api/v1/servers", params={"tenant_id": side.id}).json()["items"]
        assert listed and all("role" not in s for s in listed)
        r = c.patch(f"/api/v1/servers/{edge}", json={"role": "main"})
        assert r.status_code == 422 and "role" in r.json()["error"]["fields"]


def test_draining_nodes_get_no_new_viewers(panel: RunningServer) -> None:
    side = make_tenant(panel, "alpha", max_connections=5)
    server_id, token = add_server(panel, side.id, "edge-a")
    node = FakeNode(panel, token, "http://edge-a.invalid:8001")
    assert node.register().status_code == 200
    with root_client(panel) as c:
        r = c.post(f"/api/v1/servers/{server_id}/drain", json={"draining": True})
        assert r.status_code == 200 and r.json()["draining"] is True
    assert node.beat().status_code == 200
    assert node.last is not None and node.last.state is NodeState.draining
    assert play(panel, side, f"/live/{{u}}/{{p}}/{side.channel}.ts").status_code == 503


def test_key_rotation_keeps_old_tokens_verifying(panel: RunningServer) -> None:
    side = make_tenant(panel, "alpha", max_connections=5)
    _, token = add_server(panel, side.id, "edge-a")
    node = FakeNode(panel, token, "http://edge-a.invalid:8001")
    assert node.register().status_code == 200
    old_ring = node.tokens()
    r = play(panel, side, f"/live/{{u}}/{{p}}/{side.channel}.ts")
    old_token = urlsplit(r.headers["location"]).path[6:-3]
    with root_client(panel) as c:
        rotated = c.post("/api/v1/play-keys/rotate")
        assert rotated.status_code == 200, rotated.text
        new_id = rotated.json()["key_id"]
    assert node.beat().status_code == 200
    assert node.last is not None
    ids = [k.key_id for k in node.last.keys]
    assert ids[-1] == new_id and len(ids) == 2  # the retired key stays during its grace
    ring = node.tokens()
    assert ring.verify(old_token, time.time()).channel_id == side.channel
    fresh = play(panel, side, f"/live/{{u}}/{{p}}/{side.channel}.ts")
    fresh_token = urlsplit(fresh.headers["location"]).path[6:-3]
    assert ring.verify(fresh_token, time.time()).key_id == new_id
    with pytest.raises(ValueError):
        old_ring.verify(fresh_token, time.time())  # signed with the new key
    # Only platform admins rotate.
    with httpx.Client(base_url=panel.base_url) as c:
        assert c.post("/api/v1/play-keys/rotate").status_code == 401


def test_nodes_never_see_another_tenants_channels_or_sessions(panel: RunningServer) -> None:
    a = make_tenant(panel, "alpha", max_connections=5)
    b = make_tenant(panel, "bravo", max_connections=5)
    _, token_a = add_server(panel, a.id, "edge-a")
    _, token_b = add_server(panel, b.id, "edge-b")
    node_a = FakeNode(panel, token_a, "http://edge-a.invalid:8001")
    node_b = FakeNode(panel, token_b, "http://edge-b.invalid:8001")
    assert node_a.register().status_code == 200
    assert node_b.register().status_code == 200
    ra = play(panel, a, f"/live/{{u}}/{{p}}/{a.channel}.ts")
    rb = play(panel, b, f"/live/{{u}}/{{p}}/{b.channel}.ts")
    assert ra.headers["location"].startswith("http://edge-a.invalid:8001/play/")
    assert rb.headers["location"].startswith("http://edge-b.invalid:8001/play/")
    # A line of tenant A asking for B's channel: not found in its tenant.
    assert play(panel, a, f"/live/{{u}}/{{p}}/{b.channel}.ts").status_code == 404
    grant_b = PlayTokens(
        list(node_b.last.keys)
    ).verify(  # type: ignore[union-attr]
        urlsplit(rb.headers["location"]).path[6:-3], time.time()
    )
    node_a.alive = [grant_b.session_id]  # A claims B's session: refused, ended
    assert node_a.beat().status_code == 200
    assert node_a.last is not None and grant_b.session_id in node_a.last.end_sessions
    assert node_b.beat().status_code == 200
    assert node_a.assigned() == {a.channel, a.always_on}
    assert node_b.assigned() == {b.channel, b.always_on}
    with httpx.Client(base_url=panel.base_url) as c:
        auth = {"Authorization": f"Bearer {token_a}"}
        assert c.get(f"/node-api/v1/channels/{b.channel}", headers=auth).status_code == 404
    # B's session survived A's claim.
    node_b.alive = [grant_b.session_id]
    assert node_b.beat().status_code == 200
    assert node_b.last is not None and node_b.last.end_sessions == ()
    # Each tenant's staff sees only its own nodes.
    with root_client(panel) as c:
        assert len(c.get("/api/v1/nodes/status").json()["items"]) == 2


def test_the_all_in_one_keeps_serving_tenants_without_nodes(
    sqlite_server: RunningServer,
) -> None:
    a = make_tenant(sqlite_server, "alpha", max_connections=5)
    b = make_tenant(sqlite_server, "bravo", max_connections=5)
    _, token_a = add_server(sqlite_server, a.id, "edge-a")
    assert (
        FakeNode(sqlite_server, token_a, "http://edge-a.invalid:8001").register().status_code == 200
    )
    to_node = play(sqlite_server, a, f"/live/{{u}}/{{p}}/{a.channel}.ts")
    assert to_node.headers["location"].startswith("http://edge-a.invalid:8001/play/")
    local = play(sqlite_server, b, f"/live/{{u}}/{{p}}/{b.channel}.ts")
    assert local.status_code == 302
    engine = sqlite_server.ctx.services["live"]
    assert local.headers["location"].endswith(
        f":{engine.port}/live/{b.line}/node-line-pw/{b.channel}.ts"
    )


def test_redis_away_refuses_new_plays_with_503_and_recovers(
    sqlite_url: str, tmp_path: Path
) -> None:
    with private_redis(tmp_path) as redis_server:
        settings = make_settings(
            tmp_path, sqlite_url, redis_url=redis_server.url, redis_key_prefix="n3-degraded"
        )
        with run_server(settings, local_node=False) as panel:
            side = make_tenant(panel, "alpha", max_connections=5)
            _, token = add_server(panel, side.id, "edge-a")
            node = FakeNode(panel, token, "http://edge-a.invalid:8001")
            assert node.register().status_code == 200
            url = f"/live/{{u}}/{{p}}/{side.channel}.ts"
            assert play(panel, side, url).status_code == 302
            redis_server.stop()
            time.sleep(0.6)  # past the admission's lease cache
            away = play(panel, side, url)
            assert away.status_code == 503 and "session store unavailable" in away.text
            assert node.beat().status_code == 503  # the node keeps its last reply
            redis_server.start()  # empty, as after a crash without persistence
            deadline = time.monotonic() + 10
            while node.beat().status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert play(panel, side, url).status_code == 302


def test_play_tokens_bound_to_the_client_address(sqlite_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, sqlite_url, play_token_bind_ip=True)
    with run_server(settings, local_node=False) as panel:
        side = make_tenant(panel, "alpha")
        _, token = add_server(panel, side.id, "edge-a")
        node = FakeNode(panel, token, "http://edge-a.invalid:8001")
        assert node.register().status_code == 200
        r = play(panel, side, f"/live/{{u}}/{{p}}/{side.channel}.ts")
        signed = urlsplit(r.headers["location"]).path[6:-3]
        ring = node.tokens()
        assert ring.verify(signed, time.time(), "127.0.0.1").bound_to_ip
        with pytest.raises(ValueError, match="another address"):
            ring.verify(signed, time.time(), "198.51.100.7")


def test_two_panel_replicas_share_nodes_slots_and_keys(tmp_path: Path) -> None:
    """The node beats to one replica; viewers reach the other; limits hold across both."""
    with temporary_database("postgresql", tmp_path) as url, redis_prefix() as prefix:
        shared = {"redis_url": REDIS_URL, "redis_key_prefix": prefix}
        one = make_settings(tmp_path / "one", url, **shared)
        two = make_settings(tmp_path / "two", url, **shared)
        (tmp_path / "one").mkdir()
        (tmp_path / "two").mkdir()
        with (
            run_server(one, local_node=False) as first,
            run_server(two, local_node=False) as second,
        ):
            side = make_tenant(first, "alpha", max_connections=1, policy=ConnectionPolicy.refuse)
            _, token = add_server(first, side.id, "edge-a")
            node = FakeNode(first, token, "http://edge-a.invalid:8001")
            assert node.register().status_code == 200
            url_path = f"/live/{{u}}/{{p}}/{side.channel}.ts"
            deadline = time.monotonic() + 10
            r = play(second, side, url_path)
            while r.status_code != 302 and time.monotonic() < deadline:
                time.sleep(0.2)  # until the second replica hears of the first node
                r = play(second, side, url_path)
            assert r.status_code == 302, r.text
            grant = node.tokens().verify(urlsplit(r.headers["location"]).path[6:-3], time.time())
            assert grant.channel_id == side.channel
            # The line's one connection is taken, whichever replica is asked.
            assert play(first, side, url_path).status_code == 429
            assert play(second, side, url_path).status_code == 429
            node.alive = [grant.session_id]
            assert node.beat().status_code == 200
            assert node.last is not None and node.last.end_sessions == ()
            assert node.beat(ended=(grant.session_id,)).status_code == 200
            assert play(first, side, url_path).status_code == 302


def test_a_full_origin_gets_an_edge_that_relays_from_it(panel: RunningServer) -> None:
    side = make_tenant(panel, "alpha", max_connections=5)
    _, token_a = add_server(panel, side.id, "edge-a", capacity=1)
    _, token_b = add_server(panel, side.id, "edge-b", capacity=1)
    node_a = FakeNode(panel, token_a, "http://edge-a.invalid:8001")
    node_b = FakeNode(panel, token_b, "http://edge-b.invalid:8001")
    assert node_a.register().status_code == 200
    assert node_b.register().status_code == 200
    url = f"/live/{{u}}/{{p}}/{side.channel}.ts"
    first = urlsplit(play(panel, side, url).headers["location"])
    second = urlsplit(play(panel, side, url).headers["location"])
    assert {first.netloc, second.netloc} == {"edge-a.invalid:8001", "edge-b.invalid:8001"}
    origin, edge = (node_a, node_b) if first.netloc.startswith("edge-a") else (node_b, node_a)
    assert edge.beat(viewers=1).status_code == 200
    assert origin.beat(viewers=1).status_code == 200
    assert edge.last is not None and origin.last is not None
    relayed = next(a for a in edge.last.assignments if a.channel.id == side.channel)
    carried = next(a for a in origin.last.assignments if a.channel.id == side.channel)
    assert carried.origin_url == ""  # the origin pulls the sources itself
    # The origin node's base URL: the edge appends /relay/<token>.ts with a token it signs
    # (node/remote.py), a URL the origin's data plane answers.
    assert relayed.origin_url == origin.public_url
    relay = urlsplit(relay_url(relayed.origin_url, "t0ken"))
    assert RELAY.match(relay.path) and relay.netloc == urlsplit(origin.public_url).netloc
    # Both full now: the next viewer is refused rather than overloading a node.
    third = play(panel, side, url)
    assert third.status_code == 503 and "no streaming server has room" in third.text
