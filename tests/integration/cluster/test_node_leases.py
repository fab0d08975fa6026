"""The node-lease and placement contract (cluster/node_leases.py), in process and on Redis;
then what only the Redis store does (outages)."""

from __future__ import annotations

import time

import pytest

from palinsesto.cluster.node_leases import (
    LeasesUnavailable,
    NodeLease,
    NodeLeases,
    make_node_leases,
)
from palinsesto.cluster.node_leases_redis import RedisNodeLeases
from palinsesto.config import Settings
from palinsesto.protocol.messages import NodeState
from support.redis_servers import REDIS_URL, PrivateRedis

T0 = 1_000_000.0
LEASE = 10.0


def lease(
    node_id: int, tenant_id: int = 1, state: NodeState = NodeState.online, **fields: object
) -> NodeLease:
    return NodeLease(
        node_id,
        tenant_id,
        state,
        f"http://198.51.100.{node_id}:8001",
        **fields,  # type: ignore[arg-type]
    )


async def test_a_beat_is_seen_with_its_load_and_age(leases: NodeLeases) -> None:
    sent = lease(
        3,
        rtmp_url="rtmp://198.51.100.3:1935/live",
        viewers=120,
        egress_mbps=450.5,
        cpu_percent=37.5,
        capacity_viewers=2000,
        max_channels=50,
        channels={41: 100, 42: 20},
    )
    await leases.beat(sent, LEASE, T0)
    [seen] = await leases.nodes(None, T0 + 1.5)
    assert seen.state is NodeState.online
    assert seen.last_beat == T0
    assert seen.beat_age == 1.5
    assert seen.lease_until == T0 + LEASE
    assert (seen.viewers, seen.egress_mbps, seen.cpu_percent) == (120, 450.5, 37.5)
    assert (seen.capacity_viewers, seen.max_channels) == (2000, 50)
    assert seen.channels == {41: 100, 42: 20}
    assert seen.rtmp_url == sent.rtmp_url and seen.public_url == sent.public_url


async def test_a_node_is_lost_once_its_lease_lapses_and_back_when_it_beats(
    leases: NodeLeases,
) -> None:
    await leases.beat(lease(1), LEASE, T0)
    await leases.beat(lease(2), LEASE, T0 + 5)
    states = {n.node_id: n.state for n in await leases.nodes(None, T0 + LEASE)}
    assert states == {1: NodeState.lost, 2: NodeState.online}
    await leases.beat(lease(1), LEASE, T0 + 11)
    states = {n.node_id: n.state for n in await leases.nodes(None, T0 + 12)}
    assert states == {1: NodeState.online, 2: NodeState.online}


async def test_nodes_of_one_tenant(leases: NodeLeases) -> None:
    await leases.beat(lease(1, tenant_id=1), LEASE, T0)
    await leases.beat(lease(2, tenant_id=2), LEASE, T0)
    await leases.beat(lease(3, tenant_id=1), LEASE, T0)
    assert [n.node_id for n in await leases.nodes(1, T0)] == [1, 3]
    assert [n.node_id for n in await leases.nodes(2, T0)] == [2]
    assert await leases.nodes(9, T0) == []
    assert [n.node_id for n in await leases.nodes(None, T0)] == [1, 2, 3]


async def test_draining_survives_beats_until_lifted(leases: NodeLeases) -> None:
    await leases.beat(lease(1), LEASE, T0)
    await leases.set_draining(1, True)
    await leases.beat(lease(1), LEASE, T0 + 2)
    [node] = await leases.nodes(None, T0 + 3)
    assert node.state is NodeState.draining
    await leases.set_draining(1, False)
    [node] = await leases.nodes(None, T0 + 3)
    assert node.state is NodeState.online
    # A node that says it drains (the lease's own state) drains too; lost beats both.
    await leases.beat(lease(2, state=NodeState.draining), LEASE, T0 + 3)
    states = {n.node_id: n.state for n in await leases.nodes(None, T0 + 4)}
    assert states == {1: NodeState.online, 2: NodeState.draining}
    await leases.set_draining(1, True)
    states = {n.node_id: n.state for n in await leases.nodes(None, T0 + 30)}
    assert states == {1: NodeState.lost, 2: NodeState.lost}


async def test_forget_removes_the_node(leases: NodeLeases) -> None:
    await leases.beat(lease(1, tenant_id=4), LEASE, T0)
    await leases.beat(lease(2, tenant_id=4), LEASE, T0)
    await leases.set_draining(1, True)
    await leases.forget(1)
    await leases.forget(99)  # unknown: harmless
    assert [n.node_id for n in await leases.nodes(4, T0)] == [2]
    # Coming back later, it starts afresh (not draining).
    await leases.beat(lease(1, tenant_id=4), LEASE, T0 + 1)
    assert {n.node_id: n.state for n in await leases.nodes(4, T0 + 1)}[1] is NodeState.online


async def test_placement_has_one_origin_and_any_number_of_edges(leases: NodeLeases) -> None:
    assert await leases.place(7, 1, "origin")
    assert await leases.place(7, 1, "origin")  # again: still its own
    assert not await leases.place(7, 2, "origin")
    assert await leases.place(7, 3, "edge")
    assert await leases.place(7, 2, "edge")
    assert await leases.place(8, 2, "origin")
    assert await leases.placements(7) == [(1, "origin"), (2, "edge"), (3, "edge")]
    assert await leases.channels_of_node(2) == [7, 8]
    await leases.unplace(7, 1)
    assert await leases.placements(7) == [(2, "edge"), (3, "edge")]
    assert await leases.place(7, 2, "origin")  # an edge promoted once the origin left
    assert await leases.placements(7) == [(2, "origin"), (3, "edge")]
    assert await leases.clear_node(2) == [7, 8]
    assert await leases.placements(7) == [(3, "edge")]
    assert await leases.placements(8) == []
    assert await leases.channels_of_node(2) == []
    assert await leases.clear_node(2) == []
    with pytest.raises(ValueError, match="origin or edge"):
        await leases.place(7, 4, "primary")  # type: ignore[arg-type]


async def test_an_outage_raises_then_recovers_without_a_new_store(
    own_redis: PrivateRedis,
) -> None:
    store = RedisNodeLeases(own_redis.url, "outage")
    try:
        now = time.time()
        await store.beat(lease(1), 3.0, now - 2.0)
        own_redis.stop()
        with pytest.raises(LeasesUnavailable, match="unreachable"):
            await store.nodes(None, now)
        own_redis.start()
        # Redis came back; no beat could land while it was away (here it also lost its
        # data, so nodes must beat again to be seen).
        assert await store.nodes(None, time.time()) == []
        await store.beat(lease(1), 3.0, now - 2.0)
        # The beat is older than its lease by now, yet for one lease after the recovery
        # the node is not declared lost: the outage, not the node, kept it silent.
        [node] = await store.nodes(None, now + 2.0)
        assert node.state is NodeState.online
        [node] = await store.nodes(None, time.time() + 3.5)
        assert node.state is NodeState.lost
    finally:
        await store.close()


def test_the_settings_pick_the_store() -> None:
    assert type(make_node_leases(Settings())) is NodeLeases
    chosen = make_node_leases(Settings(redis_url=REDIS_URL, redis_key_prefix="x"))
    assert isinstance(chosen, RedisNodeLeases)
