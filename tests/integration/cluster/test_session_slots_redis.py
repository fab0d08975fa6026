"""What only the Redis session store does: exact limits across processes, outages."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.cluster.session_slots import (
    NEW_SESSION,
    USER_MAX_CONNECTIONS,
    PlayLabel,
    Reserved,
    SessionSlots,
    SlotRefused,
    SlotsUnavailable,
    make_session_slots,
)
from palinsesto.cluster.session_slots_redis import RedisSessionSlots
from palinsesto.config import Settings
from support.redis_servers import REDIS_URL, PrivateRedis, redis_prefix
from support.slot_requests import T0, described, play

LABEL = PlayLabel("viewer", 7, "ts")
# The random run's plays: no group, a syndicated channel's alone, or a partner's with its
# offer's total (caps small enough to fill).
GROUP_MIXES: tuple[tuple[tuple[str, int | None], ...], ...] = (
    (),
    (),
    (("syn:1", 2),),
    (("syn:1", 1),),
    (("syn:2", None), ("offer:9", 2)),
    (("syn:2", 1), ("offer:9", 3)),
)

# One OS process: two clients (two connection pools) reserve its share of the plays, all
# at once, starting at the same instant as the other process.
_WORKER = """
import asyncio, json, sys, time
from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.cluster.session_slots import SlotRefused, SlotRequest
from palinsesto.cluster.session_slots_redis import RedisSessionSlots

url, prefix, start, ids = sys.argv[1], sys.argv[2], float(sys.argv[3]), json.loads(sys.argv[4])

async def main():
    clients = [RedisSessionSlots(url, prefix), RedisSessionSlots(url, prefix)]
    for client in clients:
        await client.line_count(1, 10, 0)  # connect before the start
    await asyncio.sleep(max(0.0, start - time.time()))
    async def one(n, session_id):
        req = SlotRequest(1, 10, session_id, 2, ConnectionPolicy.refuse, 1 + n % 3,
                          "192.0.2.1", "VLC", None, 30.0)
        try:
            await clients[n % 2].reserve(req, time.time())
            return "admitted"
        except SlotRefused as exc:
            return exc.code
    results = await asyncio.gather(*(one(n, i) for n, i in enumerate(ids)))
    for client in clients:
        await client.close()
    print(json.dumps(results))

asyncio.run(main())
"""


async def test_concurrent_reserves_of_one_client_are_each_decided_in_order() -> None:
    # Sent together in script runs while one is in flight: each play still gets its own
    # id and answer, the first two admitted, the rest refused.
    with redis_prefix() as prefix:
        store = RedisSessionSlots(REDIS_URL, prefix)
        try:
            answers = await asyncio.gather(
                *(store.reserve(play(NEW_SESSION, limit=2), T0) for _ in range(20)),
                return_exceptions=True,
            )
            admitted = [a for a in answers if isinstance(a, Reserved)]
            assert answers[:2] == admitted
            assert len({a.session_id for a in admitted}) == 2
            assert all(
                isinstance(a, SlotRefused) and a.code == USER_MAX_CONNECTIONS for a in answers[2:]
            )
            assert await store.line_count(1, 10, T0) == 2
        finally:
            await store.close()


async def test_fifty_plays_from_two_processes_and_four_clients_get_exactly_two() -> None:
    with redis_prefix() as prefix:
        store = RedisSessionSlots(REDIS_URL, prefix)
        try:
            ids = [await store.next_session_id() for _ in range(50)]
            start = time.time() + 3.0
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
            command = [sys.executable, "-c", _WORKER, REDIS_URL, prefix, str(start)]
            workers = [
                subprocess.Popen([*command, json.dumps(half)], stdout=subprocess.PIPE, env=env)
                for half in (ids[:25], ids[25:])
            ]
            results: list[str] = []
            for worker in workers:
                out, _ = worker.communicate(timeout=60)
                assert worker.returncode == 0
                results += json.loads(out)
            assert results.count("admitted") == 2
            assert results.count("USER_MAX_CONNECTIONS") == 48
            assert await store.line_count(1, 10, time.time()) == 2
        finally:
            await store.close()


async def test_an_outage_refuses_then_recovers_without_a_new_store(
    own_redis: PrivateRedis,
) -> None:
    store = RedisSessionSlots(own_redis.url, "outage")
    try:
        before = [await store.next_session_id() for _ in range(3)]
        kick = ConnectionPolicy.kick_oldest
        await store.reserve(play(before[0], limit=1, policy=kick, node=1), T0)
        own_redis.stop()
        with pytest.raises(SlotsUnavailable, match="unreachable"):
            await store.reserve(play(before[1], limit=1, policy=kick, node=1), T0 + 1)
        with pytest.raises(SlotsUnavailable):
            await store.renew(1, [before[0]], 30, T0 + 1)
        with pytest.raises(SlotsUnavailable):
            await store.take_kicks(1)

        # Back, empty (no persistence): the same object works again.
        own_redis.start()
        after = await store.next_session_id()
        assert after > max(before)  # no id handed out before is handed out again
        # The viewer admitted before the loss is not cut when its node renews it...
        assert await store.renew(1, [before[0]], 30, T0 + 2) == []
        assert await store.sessions_of_node(1) == [before[0]]
        # ...while an id of this generation that nobody holds still is.
        assert await store.renew(1, [after], 30, T0 + 2) == [after]
        # Limits hold again for new plays.
        await store.reserve(play(before[1], limit=1, node=1), T0 + 3)
        assert await store.line_count(1, 10, T0 + 3) == 1
    finally:
        await store.close()


async def test_an_unreachable_redis_fails_fast_with_a_clear_reason(tmp_path: Path) -> None:
    server = PrivateRedis(tmp_path)  # never started: nothing listens on its port
    store = RedisSessionSlots(server.url, "nobody", timeout=0.5)
    try:
        started = time.monotonic()
        with pytest.raises(SlotsUnavailable, match=f"127.0.0.1:{server.port}"):
            await store.reserve(play(1), T0)
        assert time.monotonic() - started < 2
    finally:
        await store.close()


def test_the_settings_pick_the_store() -> None:
    assert type(make_session_slots(Settings())).__name__ == "SessionSlots"
    chosen = make_session_slots(Settings(redis_url=REDIS_URL, redis_key_prefix="x"))
    assert isinstance(chosen, RedisSessionSlots)


async def test_the_redis_store_decides_exactly_as_the_in_process_one() -> None:
    """A random run of plays, heartbeats, departures and silences, replayed on both stores:
    every answer and every count must be the same."""
    rng = random.Random(20261129)
    local = SessionSlots()
    with redis_prefix() as prefix:
        shared = RedisSessionSlots(REDIS_URL, prefix)
        try:
            now = T0
            for step in range(600):
                now += 25.0 if rng.random() < 0.02 else rng.choice((0.0, 0.2, 0.5, 1.0))
                action = rng.random()
                if action < 0.45:
                    session_id = await shared.next_session_id()
                    req = play(
                        session_id,
                        tenant=rng.choice((1, 2)),
                        line=rng.randrange(2),
                        limit=rng.choice((0, 1, 2, 2, 3)),
                        policy=rng.choice(list(ConnectionPolicy)),
                        node=rng.randrange(1, 4),
                        ip=rng.choice(("192.0.2.1", "192.0.2.2")),
                        ua=rng.choice(("VLC", "Kodi")),
                        tenant_max=rng.choice((None, 4, 6)),
                        ttl=rng.choice((5.0, 20.0)),
                        label=rng.choice((None, LABEL, PlayLabel('ä "q"', 2, "hls"))),
                    )
                    # Small caps, so that groups fill and replacing plays kick sessions in
                    # and out of them (victims are picked before the caps are checked).
                    req = dataclasses.replace(req, groups=rng.choice(GROUP_MIXES))
                    answers: list[object] = []
                    for store in (local, shared):
                        try:
                            answers.append(await store.reserve(req, now))
                        except SlotRefused as refused:
                            answers.append((refused.code, refused.group))
                    assert answers[0] == answers[1], f"step {step}: reserve {req}"
                elif action < 0.74:
                    node = rng.randrange(1, 4)
                    held = await local.sessions_of_node(node)
                    assert held == await shared.sessions_of_node(node), f"step {step}"
                    listed = [i for i in held if rng.random() < 0.97]
                    if rng.random() < 0.2:
                        listed.append(await shared.next_session_id())
                    got = [sorted(await s.renew(node, listed, 10.0, now)) for s in (local, shared)]
                    assert got[0] == got[1], f"step {step}: renew {node} {listed}"
                    kicks = [await s.take_kicks(node) for s in (local, shared)]
                    assert kicks[0] == kicks[1], f"step {step}: kicks of {node}"
                elif action < 0.8:
                    # An administrator ends one (with a slate mark or not; another tenant's
                    # staff or an unknown id: nothing), and the node's kicks come at once.
                    node = rng.randrange(1, 4)
                    held = await local.sessions_of_node(node)
                    target = rng.choice(held) if held and rng.random() < 0.9 else 12345
                    tenant = rng.choice((None, 1, 2))
                    mark = rng.choice((None, {"slate": "ended", "slate_at": now + 0.123}))
                    ended = [await s.end(target, tenant, mark=mark) for s in (local, shared)]
                    assert ended[0] == ended[1], f"step {step}: end {target} of {tenant}"
                    kicks = [await s.take_kicks(node) for s in (local, shared)]
                    assert kicks[0] == kicks[1], f"step {step}: kicks of {node}"
                elif action < 0.97:
                    node = rng.randrange(1, 4)
                    gone = [i for i in await local.sessions_of_node(node) if rng.random() < 0.2]
                    for store in (local, shared):
                        await store.release(gone)
                else:
                    node = rng.randrange(1, 4)
                    freed = [await s.release_node(node) for s in (local, shared)]
                    assert freed[0] == freed[1], f"step {step}: release_node {node}"
                for node in range(1, 4):
                    kept = [await s.descriptions(node) for s in (local, shared)]
                    assert kept[0] == kept[1], f"step {step}: descriptions of {node}"
                for group in ("syn:1", "syn:2", "offer:9"):
                    members = [await s.group_sessions(group, now) for s in (local, shared)]
                    assert members[0] == members[1], f"step {step}: group {group}"
                for tenant in (1, 2):
                    counts = [await s.tenant_count(tenant, now) for s in (local, shared)]
                    assert counts[0] == counts[1], f"step {step}: tenant {tenant}"
                    for line in range(2):
                        counts = [await s.line_count(tenant, line, now) for s in (local, shared)]
                        assert counts[0] == counts[1], f"step {step}: line {tenant}/{line}"
        finally:
            await shared.close()


async def test_a_session_reserved_on_one_replica_is_described_and_ended_on_another() -> None:
    """Replica A admits (its reservation, through the lean pipe, writes the description);
    replica B lists it, its node's heartbeat reaches B, and B ends it: no trace is left."""
    with redis_prefix() as prefix:
        a, b = RedisSessionSlots(REDIS_URL, prefix), RedisSessionSlots(REDIS_URL, prefix)
        try:
            now = time.time()
            first, second = (
                play(NEW_SESSION, limit=0, node=5, ua="Kodi/21", label=LABEL),
                play(NEW_SESSION, limit=0, node=5, label=PlayLabel("viewer", 8, "hls")),
            )
            one, two = await asyncio.gather(a.reserve(first, now), a.reserve(second, now))
            assert await b.descriptions(5) == {
                one.session_id: described(first, now),
                two.session_id: described(second, now),
            }
            assert await b.renew(5, [one.session_id, two.session_id], 30.0, now + 1) == []
            # Another tenant's staff cannot end it; its own can, from B.
            assert await b.end(one.session_id, 2) == 0
            assert one.session_id in await a.descriptions(5)
            assert await b.end(one.session_id, 1) == 5
            assert await b.take_kicks(5) == [one.session_id]
            # The node's next beat (to B) no longer lists the other: it ended there.
            assert await b.renew(5, [], 30.0, now + 2) == []
            assert await a.descriptions(5) == {}
            assert await a.sessions_of_node(5) == []
        finally:
            await a.close()
            await b.close()
