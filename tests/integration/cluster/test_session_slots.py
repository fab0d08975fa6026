"""The session-slot contract (cluster/session_slots.py), run in process and against Redis."""

from __future__ import annotations

import asyncio

import pytest

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.cluster.session_slots import (
    NEW_SESSION,
    TENANT_MAX_VIEWERS,
    USER_MAX_CONNECTIONS,
    Kicked,
    Reserved,
    SessionSlots,
    SlotRefused,
)
from support.slot_requests import T0, TTL, ids, play


async def test_session_ids_are_never_reused(slots: SessionSlots) -> None:
    got = await ids(slots, 100)
    assert len(set(got)) == 100
    assert got == sorted(got)


async def test_a_new_session_gets_its_id_from_reserve_itself(slots: SessionSlots) -> None:
    before = await slots.next_session_id()
    first = await slots.reserve(play(NEW_SESSION), T0)
    second = await slots.reserve(play(NEW_SESSION, node=2), T0 + 1)
    assert before < first.session_id < second.session_id
    assert await slots.next_session_id() > second.session_id
    assert await slots.line_count(1, 10, T0 + 1) == 2
    assert sorted(await slots.sessions_of_node(1)) == [first.session_id]
    with pytest.raises(SlotRefused):
        await slots.reserve(play(NEW_SESSION), T0 + 2)
    # Reserving the allocated id again is a retry, not a new play.
    assert (await slots.reserve(play(first.session_id), T0 + 3)).session_id == first.session_id
    assert await slots.line_count(1, 10, T0 + 3) == 2


async def test_refuse_policy_refuses_the_play_beyond_the_limit(slots: SessionSlots) -> None:
    a, b, c = await ids(slots, 3)
    assert (await slots.reserve(play(a), T0)).kicked == ()
    assert (await slots.reserve(play(b, node=2), T0 + 1)).kicked == ()
    with pytest.raises(SlotRefused) as refused:
        await slots.reserve(play(c), T0 + 2)
    assert refused.value.code == USER_MAX_CONNECTIONS
    assert await slots.line_count(1, 10, T0 + 2) == 2
    assert await slots.tenant_count(1, T0 + 2) == 2
    # Another line, and the same line id in another tenant, have their own counts.
    d, e = await ids(slots, 2)
    await slots.reserve(play(d, line=11), T0 + 3)
    await slots.reserve(play(e, tenant=2), T0 + 3)
    assert await slots.line_count(1, 10, T0 + 3) == 2
    assert await slots.line_count(2, 10, T0 + 3) == 1


async def test_no_limit_admits_everyone(slots: SessionSlots) -> None:
    for session_id in await ids(slots, 20):
        await slots.reserve(play(session_id, limit=0), T0)
    assert await slots.line_count(1, 10, T0) == 20


async def test_a_retried_reserve_neither_counts_twice_nor_kicks(slots: SessionSlots) -> None:
    a, b = await ids(slots, 2)
    policy = ConnectionPolicy.kick_oldest
    await slots.reserve(play(a, policy=policy), T0)
    await slots.reserve(play(b, policy=policy), T0 + 1)
    again = await slots.reserve(play(b, policy=policy), T0 + 2)
    assert again.kicked == ()
    assert await slots.line_count(1, 10, T0 + 2) == 2
    assert await slots.take_kicks(1) == []


async def test_kick_oldest_prefers_same_device_then_same_ip_then_oldest(
    slots: SessionSlots,
) -> None:
    kick = ConnectionPolicy.kick_oldest
    old_other, same_ip, same_device, newer_other = await ids(slots, 4)
    await slots.reserve(play(old_other, limit=0, ip="198.51.100.9", node=1), T0)
    await slots.reserve(play(same_ip, limit=0, ip="192.0.2.1", ua="Kodi", node=2), T0 + 1)
    await slots.reserve(play(same_device, limit=0, node=3), T0 + 2)
    await slots.reserve(play(newer_other, limit=0, ip="198.51.100.8", node=1), T0 + 3)

    # Limit 4, a fifth play from 192.0.2.1 / VLC: the same device goes first.
    first = await ids(slots, 1)
    got = await slots.reserve(play(first[0], limit=4, policy=kick, node=1), T0 + 4)
    assert got.kicked == (Kicked(same_device, 3),)
    # Next from that address with another player: the other same-IP session goes.
    second = await ids(slots, 1)
    got = await slots.reserve(play(second[0], limit=4, policy=kick, ua="Safari", node=1), T0 + 5)
    assert got.kicked == (Kicked(same_ip, 2),)
    # From elsewhere: the oldest.
    third = await ids(slots, 1)
    got = await slots.reserve(play(third[0], limit=4, policy=kick, ip="203.0.113.5"), T0 + 6)
    assert got.kicked == (Kicked(old_other, 1),)
    assert await slots.line_count(1, 10, T0 + 6) == 4
    # Each victim is on its own node's queue, once; taking empties it.
    assert await slots.take_kicks(3) == [same_device]
    assert await slots.take_kicks(2) == [same_ip]
    assert await slots.take_kicks(1) == [old_other]
    assert await slots.take_kicks(1) == []
    # A kicked session is not held: its node's renew says so, even with room on the line.
    await slots.release([third[0]])
    assert await slots.renew(3, [same_device], TTL, T0 + 7) == [same_device]


async def test_kick_oldest_frees_exactly_enough_when_the_limit_went_down(
    slots: SessionSlots,
) -> None:
    a, b, c, d = await ids(slots, 4)
    for offset, session_id in enumerate((a, b, c)):
        await slots.reserve(play(session_id, limit=3, ip=f"198.51.100.{offset}"), T0 + offset)
    got = await slots.reserve(
        play(d, limit=2, policy=ConnectionPolicy.kick_oldest, ip="203.0.113.1"), T0 + 5
    )
    assert [k.session_id for k in got.kicked] == [a, b]
    assert await slots.line_count(1, 10, T0 + 5) == 2


async def test_tenant_max_viewers_is_refused_never_kicked(slots: SessionSlots) -> None:
    kick = ConnectionPolicy.kick_oldest
    a, b, c, d = await ids(slots, 4)
    await slots.reserve(play(a, line=10, limit=1, policy=kick, tenant_max=2), T0)
    await slots.reserve(play(b, line=11, limit=1, policy=kick, tenant_max=2), T0 + 1)
    with pytest.raises(SlotRefused) as refused:
        await slots.reserve(play(c, line=12, limit=1, policy=kick, tenant_max=2), T0 + 2)
    assert refused.value.code == TENANT_MAX_VIEWERS
    assert await slots.take_kicks(1) == []
    # Replacing one of its own line's sessions is not a new viewer: allowed at the limit.
    got = await slots.reserve(play(d, line=10, limit=1, policy=kick, tenant_max=2), T0 + 3)
    assert got.kicked == (Kicked(a, 1),)
    assert await slots.tenant_count(1, T0 + 3) == 2
    # Another tenant has its own count.
    other = await ids(slots, 1)
    await slots.reserve(play(other[0], tenant=2, tenant_max=1), T0 + 3)


async def test_expired_slots_are_freed_before_counting(slots: SessionSlots) -> None:
    a, b, c = await ids(slots, 3)
    await slots.reserve(play(a, ttl=10), T0)
    await slots.reserve(play(b, ttl=20), T0)
    assert await slots.line_count(1, 10, T0 + 9.9) == 2
    assert await slots.line_count(1, 10, T0 + 10) == 1
    assert await slots.tenant_count(1, T0 + 10) == 1
    # The expired place is free for a new play.
    await slots.reserve(play(c), T0 + 11)
    assert await slots.line_count(1, 10, T0 + 11) == 2
    assert await slots.sessions_of_node(1) == sorted([b, c])


async def test_renew_extends_and_reports_what_is_not_held(slots: SessionSlots) -> None:
    a, b, released, never = await ids(slots, 4)
    await slots.reserve(play(a, ttl=10), T0)
    await slots.reserve(play(b, ttl=10, node=2), T0)
    await slots.release([released])  # releasing an unknown id is harmless
    assert await slots.renew(1, [a, never], 10, T0 + 8) == [never]
    # a lives on; b was not renewed and lapsed.
    assert await slots.line_count(1, 10, T0 + 15) == 1
    # Another node cannot renew a session it does not hold.
    assert await slots.renew(1, [b], 10, T0 + 15) == [b]
    await slots.release([a])
    assert await slots.renew(1, [a], 10, T0 + 16) == [a]
    assert await slots.line_count(1, 10, T0 + 16) == 0
    assert await slots.renew(1, [], 10, T0 + 16) == []


async def test_an_expired_slot_comes_back_only_if_its_line_has_room(slots: SessionSlots) -> None:
    a, b, c = await ids(slots, 3)
    await slots.reserve(play(a, limit=1, ttl=10, node=1), T0)
    await slots.reserve(play(b, line=11, limit=1, ttl=10, node=1), T0)
    # Both lapse (say the store was out of reach); a's place is taken meanwhile.
    await slots.reserve(play(c, limit=1, node=2), T0 + 20)
    assert await slots.renew(1, [a, b], 10, T0 + 21) == [a]
    assert await slots.line_count(1, 11, T0 + 21) == 1
    assert await slots.line_count(1, 10, T0 + 21) == 1


async def test_release_frees_the_place(slots: SessionSlots) -> None:
    a, b = await ids(slots, 2)
    await slots.reserve(play(a, limit=1), T0)
    await slots.release([a])
    await slots.reserve(play(b, limit=1), T0 + 1)
    assert await slots.line_count(1, 10, T0 + 1) == 1


async def test_release_node_frees_a_lost_nodes_slots(slots: SessionSlots) -> None:
    a, b, c, d = await ids(slots, 4)
    kick = ConnectionPolicy.kick_oldest
    await slots.reserve(play(a, limit=0, node=7), T0)
    await slots.reserve(play(b, limit=0, node=7), T0)
    await slots.reserve(play(c, line=11, limit=1, node=7), T0)
    await slots.reserve(play(d, line=11, limit=1, policy=kick, node=8), T0 + 1)  # kicks c
    assert await slots.sessions_of_node(7) == sorted([a, b])
    assert await slots.release_node(7) == 2
    assert await slots.sessions_of_node(7) == []
    assert await slots.take_kicks(7) == []  # its queue went with it
    assert await slots.line_count(1, 10, T0 + 1) == 0
    assert await slots.tenant_count(1, T0 + 1) == 1
    assert await slots.renew(7, [a], TTL, T0 + 2) == [a]
    assert await slots.sessions_of_node(8) == [d]


async def test_fifty_concurrent_plays_on_a_line_of_two_get_exactly_two(
    slots: SessionSlots,
) -> None:
    session_ids = await ids(slots, 50)
    results = await asyncio.gather(
        *(slots.reserve(play(i, node=1 + n % 5), T0) for n, i in enumerate(session_ids)),
        return_exceptions=True,
    )
    admitted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, SlotRefused)]
    assert len(admitted) == 2
    assert len(refused) == 48
    assert await slots.line_count(1, 10, T0) == 2


async def test_reserve_many_decides_each_play_in_order(slots: SessionSlots) -> None:
    a, b, c, d = await ids(slots, 4)
    kick = ConnectionPolicy.kick_oldest
    results = await slots.reserve_many(
        [play(a), play(b), play(c), play(d, policy=kick, ip="203.0.113.1")], T0
    )
    assert [type(r).__name__ for r in results] == [
        "Reserved",
        "Reserved",
        "SlotRefused",
        "Reserved",
    ]
    refused = results[2]
    assert isinstance(refused, SlotRefused) and refused.code == USER_MAX_CONNECTIONS
    assert results[3] == Reserved(d, (Kicked(a, 1),))
    assert await slots.line_count(1, 10, T0) == 2
    assert await slots.reserve_many([], T0) == []


async def test_a_renew_lists_everything_the_node_serves(slots: SessionSlots) -> None:
    a, b, c = await ids(slots, 3)
    await slots.reserve(play(a, limit=0), T0)
    await slots.reserve(play(b, limit=0), T0)
    assert await slots.renew(1, [a, b], TTL, T0 + 1) == []
    # c is reserved but its player has not reached the node yet: a renew without it
    # leaves it pending; b, confirmed and no longer listed, has ended on the node.
    await slots.reserve(play(c, limit=0), T0 + 2)
    assert await slots.renew(1, [a], TTL, T0 + 3) == []
    assert await slots.line_count(1, 10, T0 + 3) == 2
    assert await slots.sessions_of_node(1) == sorted([a, c])
    assert await slots.renew(1, [a, b, c], TTL, T0 + 4) == [b]
    # An empty list: the node serves nobody any more.
    assert await slots.renew(1, [], TTL, T0 + 5) == []
    assert await slots.line_count(1, 10, T0 + 5) == 0


async def test_confirmed_slots_live_as_long_as_their_node_renews(slots: SessionSlots) -> None:
    a, b = await ids(slots, 2)
    await slots.reserve(play(a, ttl=5), T0)
    await slots.reserve(play(b, ttl=5, node=2), T0)
    await slots.renew(1, [a], 10, T0 + 1)  # confirmed: now held by node 1's lease
    await slots.renew(2, [b], 10, T0 + 1)
    for tick in range(2, 30, 4):
        assert await slots.renew(1, [a], 10, T0 + tick) == []
    # Node 2 went silent: its slot lapsed with its lease; node 1's lives on.
    assert await slots.line_count(1, 10, T0 + 30) == 1
    assert await slots.sessions_of_node(2) == []
    # Node 1 stops too: gone once its last lease ends.
    assert await slots.line_count(1, 10, T0 + 26 + 10) == 0


async def test_descriptions_written_in_one_batch_are_read_per_node(slots: SessionSlots) -> None:
    await slots.describe(1, 10, {"line_id": 1})
    await slots.describe_many({1: {11: {"line_id": 2}}, 2: {20: {"line_id": 3}}})
    assert await slots.descriptions(1) == {10: {"line_id": 1}, 11: {"line_id": 2}}
    assert await slots.descriptions(2) == {20: {"line_id": 3}}
    await slots.describe_many({})
    await slots.forget(1, [10])
    assert await slots.descriptions(1) == {11: {"line_id": 2}}
