"""The session-slot contract (cluster/session_slots.py), run in process and against Redis."""

from __future__ import annotations

import asyncio

import pytest

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.cluster.session_slots import (
    EXPIRED_GRACE_SECONDS,
    NEW_SESSION,
    TENANT_MAX_VIEWERS,
    USER_MAX_CONNECTIONS,
    Kicked,
    PlayLabel,
    Reserved,
    SessionSlots,
    SlotRefused,
    SlotRequest,
)
from support.slot_requests import T0, TTL, described, ids, play


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


LABEL = PlayLabel("viewer", 7, "ts")


async def test_a_won_slot_is_described_by_its_reservation(slots: SessionSlots) -> None:
    # Quotes, a backslash and non-ASCII text survive the store's JSON both ways.
    odd = play(NEW_SESSION, ua='VLC "3" \\ Ünïcode/✓', label=PlayLabel('zoë "x"', 9, "hls"))
    first = await slots.reserve(odd, T0 + 0.123456)
    plain = await slots.reserve(play(NEW_SESSION, label=None), T0 + 1)  # not described
    assert await slots.descriptions(1) == {first.session_id: described(odd, T0 + 0.123456)}
    # Refused plays store nothing: the line's limit, then the plan's.
    with pytest.raises(SlotRefused):
        await slots.reserve(play(NEW_SESSION, label=LABEL), T0 + 2)
    with pytest.raises(SlotRefused):
        await slots.reserve(play(NEW_SESSION, line=11, tenant_max=2, label=LABEL), T0 + 2)
    over_plan = play(NEW_SESSION, line=12, node=2, tenant_max=2, label=LABEL)
    refused = await slots.reserve_many([play(NEW_SESSION, node=2, label=LABEL), over_plan], T0 + 3)
    assert all(isinstance(r, SlotRefused) for r in refused)
    assert await slots.descriptions(2) == {}
    # A retried reserve of a held session keeps the description it had.
    await slots.reserve(play(first.session_id, label=LABEL), T0 + 4)
    assert await slots.descriptions(1) == {first.session_id: described(odd, T0 + 0.123456)}
    # Each play of a batch is described on its own node, with the batch's clock.
    got = await slots.reserve_many(
        [play(NEW_SESSION, line=20, node=2, label=LABEL), play(NEW_SESSION, line=21, node=3)],
        T0 + 5,
    )
    assert isinstance(got[0], Reserved) and isinstance(got[1], Reserved)
    assert await slots.descriptions(2) == {
        got[0].session_id: described(play(0, line=20, node=2, label=LABEL), T0 + 5)
    }
    assert await slots.descriptions(3) == {}
    assert plain.session_id not in await slots.descriptions(1)


async def test_a_description_goes_with_its_slot(slots: SessionSlots) -> None:
    def labelled(**kw: object) -> SlotRequest:
        return play(NEW_SESSION, limit=0, label=LABEL, **kw)  # type: ignore[arg-type]

    released, ended, kicked, left, lost, dropped = [
        (await slots.reserve(labelled(node=node, line=line), T0)).session_id
        for node, line in ((1, 10), (1, 10), (1, 30), (2, 10), (3, 10), (1, 10))
    ]
    assert set(await slots.descriptions(1)) == {released, ended, kicked, dropped}
    await slots.release([released])
    assert await slots.end(ended, 1) == 1
    replacing = await slots.reserve(
        play(NEW_SESSION, line=30, limit=1, policy=ConnectionPolicy.kick_oldest, label=LABEL),
        T0 + 1,
    )
    assert replacing.kicked == (Kicked(kicked, 1),)
    await slots.renew(2, [left], TTL, T0 + 1)  # confirmed, then no longer listed: it ended
    await slots.renew(2, [], TTL, T0 + 2)
    assert list(await slots.descriptions(3)) == [lost]
    await slots.release_node(3)
    await slots.forget(1, [dropped])  # the panel's prune of a session it saw end
    assert await slots.descriptions(1) == {
        replacing.session_id: described(labelled(line=30), T0 + 1)
    }
    assert await slots.descriptions(2) == {}
    assert await slots.descriptions(3) == {}


async def test_ending_with_a_mark_queues_the_kick_and_the_mark_in_one_step(
    slots: SessionSlots,
) -> None:
    held = (await slots.reserve(play(NEW_SESSION, limit=0, label=LABEL), T0)).session_id
    plain = (await slots.reserve(play(NEW_SESSION, limit=0, label=LABEL), T0)).session_id
    assert await slots.renew(1, [held, plain], TTL, T0 + 1) == []
    mark = {"slate": "ended", "slate_at": T0 + 1.123456789}
    # Another tenant's end changes nothing and leaves no mark.
    assert await slots.end(held, 2, mark=mark) == 0
    assert await slots.descriptions_of(1, [held]) == {held: described(play(0, label=LABEL), T0)}
    assert await slots.end(held, 1, mark=mark) == 1
    assert await slots.end(plain, None) == 1
    # The node's heartbeat right after finds each kick with what replaced its description:
    # the mark (exactly as given), or nothing.
    assert await slots.take_kicks(1) == [held, plain]
    assert await slots.descriptions_of(1, [held, plain]) == {held: mark}
    assert await slots.sessions_of_node(1) == []
    # An unknown or ended session gets no mark.
    assert await slots.end(plain, None, mark=mark) == 0
    assert await slots.descriptions(1) == {held: mark}
    await slots.release_node(1)
    assert await slots.descriptions(1) == {}


async def test_a_nodes_lapsed_slots_are_listed_while_it_may_renew_them_back(
    slots: SessionSlots,
) -> None:
    """What the sweep keeps the descriptions of: held slots and lapsed ones in their grace."""
    lapsing = (await slots.reserve(play(NEW_SESSION, ttl=5), T0)).session_id
    held = (await slots.reserve(play(NEW_SESSION, ttl=5), T0)).session_id
    elsewhere = (await slots.reserve(play(NEW_SESSION, line=11, ttl=5, node=2), T0)).session_id
    assert await slots.lapsed_of_node(1) == []
    assert await slots.renew(1, [held], TTL, T0 + 1) == []
    assert await slots.line_count(1, 10, T0 + 6) == 1  # the other two lapsed
    assert await slots.lapsed_of_node(1) == [lapsing]
    assert await slots.lapsed_of_node(2) == [elsewhere]
    assert await slots.renew(1, [held, lapsing], TTL, T0 + 7) == []  # renewed back
    assert await slots.lapsed_of_node(1) == []
    assert await slots.sessions_of_node(1) == sorted([held, lapsing])
    # Past node 2's grace, node 1's two (lapsed again after their renewal) are in theirs.
    late = T0 + 6 + EXPIRED_GRACE_SECONDS + 1
    assert await slots.line_count(1, 10, late) == 0
    assert await slots.lapsed_of_node(1) == sorted([held, lapsing])
    assert await slots.lapsed_of_node(2) == []
    assert await slots.line_count(1, 10, late + TTL + EXPIRED_GRACE_SECONDS) == 0
    assert await slots.lapsed_of_node(1) == []


async def test_a_lapsed_slot_keeps_its_description_until_its_grace_is_over(
    slots: SessionSlots,
) -> None:
    req = play(NEW_SESSION, ttl=5, label=LABEL)
    session_id = (await slots.reserve(req, T0)).session_id
    other = (await slots.reserve(play(NEW_SESSION, ttl=5, label=LABEL), T0)).session_id
    assert await slots.line_count(1, 10, T0 + 6) == 0  # both lapsed: the player never came
    # Its node may still renew it back, so its description stays meanwhile...
    assert set(await slots.descriptions(1)) == {session_id, other}
    assert await slots.renew(1, [session_id], TTL, T0 + 7) == []
    assert await slots.descriptions(1) == {
        session_id: described(req, T0),
        other: described(req, T0),
    }
    # ...and goes with the slot once the grace is over (the next call that purges).
    late = T0 + 6 + EXPIRED_GRACE_SECONDS + 1
    await slots.renew(1, [session_id], TTL, late - 1)  # the renewed one stays held
    assert await slots.line_count(1, 10, late) == 1
    assert await slots.descriptions(1) == {session_id: described(req, T0)}
