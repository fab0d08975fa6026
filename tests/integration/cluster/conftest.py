"""The cluster stores of each backend (change events, session slots, node leases), and a
private Redis for outage tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from palinsesto.cluster.events import ChangeEvents
from palinsesto.cluster.events_redis import RedisChangeEvents
from palinsesto.cluster.node_leases import NodeLeases
from palinsesto.cluster.node_leases_redis import RedisNodeLeases
from palinsesto.cluster.session_slots import SessionSlots
from palinsesto.cluster.session_slots_redis import RedisSessionSlots
from support.change_events import BusMaker
from support.redis_servers import REDIS_URL, PrivateRedis, private_redis, redis_prefix


@pytest.fixture(params=["in-process", "redis"])
def bus(request: pytest.FixtureRequest) -> Iterator[ChangeEvents]:
    """One bus; every test that uses it runs on the in-process bus and on Redis."""
    if request.param == "in-process":
        events = ChangeEvents()
        yield events
        events.close()
        return
    with redis_prefix() as prefix:
        events = RedisChangeEvents(REDIS_URL, prefix)
        assert events.connected
        try:
            yield events
        finally:
            events.close()


@pytest.fixture
def buses() -> Iterator[BusMaker]:
    with redis_prefix() as prefix:
        maker = BusMaker(prefix)
        try:
            yield maker
        finally:
            maker.close_all()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A redis-server only this test uses, to stop and restart at will."""
    with private_redis(tmp_path) as server:
        yield server


@pytest.fixture(params=["in-process", "redis"])
async def slots(request: pytest.FixtureRequest) -> AsyncIterator[SessionSlots]:
    """One session-slot store; every test that uses it runs in process and on Redis."""
    if request.param == "in-process":
        store = SessionSlots()
        yield store
        await store.close()
        return
    with redis_prefix() as prefix:
        store = RedisSessionSlots(REDIS_URL, prefix)
        try:
            yield store
        finally:
            await store.close()


@pytest.fixture(params=["in-process", "redis"])
async def leases(request: pytest.FixtureRequest) -> AsyncIterator[NodeLeases]:
    """One node-lease store; every test that uses it runs in process and on Redis."""
    if request.param == "in-process":
        store = NodeLeases()
        yield store
        await store.close()
        return
    with redis_prefix() as prefix:
        store = RedisNodeLeases(REDIS_URL, prefix)
        try:
            yield store
        finally:
            await store.close()
