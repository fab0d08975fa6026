"""Slot groups (cluster/session_slots.py): a syndicated channel's cap on one partner's
viewers, and its offer's on all partners together, counted across lines, nodes and
replicas; run in process and against Redis."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.cluster.session_slots import (
    GROUP_MAX_VIEWERS,
    NEW_SESSION,
    Kicked,
    Reserved,
    SessionSlots,
    SlotRefused,
    SlotRequest,
)
from support.slot_requests import T0, TTL, play


def grouped(line: int, *, cap: int | None = 2, node: int = 1, **kw: object) -> SlotRequest:
    base = play(NEW_SESSION, line=line, node=node, limit=0, **kw)  # type: ignore[arg-type]
    return dataclasses.replace(base, groups=(("syn:5", cap),))


def partner(
    syndication: int, line: int, *, cap: int | None = None, total: int | None = 3, node: int = 1
) -> SlotRequest:
    """A play of partner ``syndication`` (its own cap) of offer 9 (``total`` for all)."""
    base = play(NEW_SESSION, tenant=syndication, line=line, node=node, limit=0)
    return dataclasses.replace(base, groups=((f"syn:{syndication}", cap), ("offer:9", total)))


async def test_a_full_group_refuses_whatever_the_line(slots: SessionSlots) -> None:
    a = await slots.reserve(grouped(10), T0)
    b = await slots.reserve(grouped(11, node=2), T0)
    with pytest.raises(SlotRefused) as refused:
        await slots.reserve(grouped(12), T0 + 1)
    assert refused.value.code == GROUP_MAX_VIEWERS
    # Outside the group, the same tenant plays on.
    await slots.reserve(play(NEW_SESSION, line=12, limit=0), T0 + 1)
    assert await slots.group_sessions("syn:5", T0 + 1) == sorted([a.session_id, b.session_id])
    await slots.release([a.session_id])
    c = await slots.reserve(grouped(12), T0 + 2)
    assert await slots.group_sessions("syn:5", T0 + 2) == sorted([b.session_id, c.session_id])


async def test_a_play_that_replaces_its_lines_session_is_not_a_new_viewer(
    slots: SessionSlots,
) -> None:
    kick = ConnectionPolicy.kick_oldest
    first = await slots.reserve(dataclasses.replace(grouped(10, cap=1), max_connections=1,
                                                    policy=kick), T0)  # fmt: skip
    again = await slots.reserve(dataclasses.replace(grouped(10, cap=1), max_connections=1,
                                                    policy=kick), T0 + 1)  # fmt: skip
    assert [k.session_id for k in again.kicked] == [first.session_id]
    assert await slots.group_sessions("syn:5", T0 + 1) == [again.session_id]


async def test_a_kicked_session_outside_the_group_frees_no_place_in_it(
    slots: SessionSlots,
) -> None:
    # Three lines (one connection each, kick_oldest) each watch another channel, then
    # switch to the syndicated one (cap 1): replacing a session outside the group frees
    # no place in it, so only the first switch gets in, and a refused one kicks nothing.
    kick = ConnectionPolicy.kick_oldest
    others = [
        await slots.reserve(play(NEW_SESSION, line=line, limit=1, policy=kick), T0)
        for line in (10, 11, 12)
    ]
    first = await slots.reserve(
        dataclasses.replace(grouped(10, cap=1), max_connections=1, policy=kick), T0 + 1
    )
    assert [k.session_id for k in first.kicked] == [others[0].session_id]
    for line, other in ((11, others[1]), (12, others[2])):
        with pytest.raises(SlotRefused) as refused:
            await slots.reserve(
                dataclasses.replace(grouped(line, cap=1), max_connections=1, policy=kick), T0 + 2
            )
        assert (refused.value.code, refused.value.group) == (GROUP_MAX_VIEWERS, "syn:5")
        assert await slots.line_count(1, line, T0 + 2) == 1  # its other session plays on
        assert other.session_id in await slots.sessions_of_node(1)
    assert await slots.group_sessions("syn:5", T0 + 3) == [first.session_id]
    assert await slots.take_kicks(1) == [others[0].session_id]


async def test_at_a_full_group_a_play_that_kicks_one_of_its_group_gets_in(
    slots: SessionSlots,
) -> None:
    kick = ConnectionPolicy.kick_oldest

    def line_a(req: SlotRequest, ua: str = "VLC/3") -> SlotRequest:
        return dataclasses.replace(req, max_connections=2, policy=kick, user_agent=ua)

    # Line 10 (two connections) has its oldest session in the group, its other elsewhere;
    # line 11 holds the group's other place (cap 2: full).
    in_group = await slots.reserve(line_a(grouped(10)), T0)
    elsewhere = await slots.reserve(line_a(play(NEW_SESSION, limit=0), ua="Kodi"), T0 + 1)
    b = await slots.reserve(grouped(11), T0 + 1)
    # The same device as ``elsewhere`` asks: that session would be the victim, outside the
    # group: refused, nothing kicked.
    with pytest.raises(SlotRefused) as refused:
        await slots.reserve(line_a(grouped(10), ua="Kodi"), T0 + 2)
    assert refused.value.group == "syn:5"
    assert await slots.line_count(1, 10, T0 + 2) == 2
    # Another device: the oldest goes, which was in the group: the play gets in.
    again = await slots.reserve(line_a(grouped(10), ua="Other"), T0 + 3)
    assert again.kicked == (Kicked(in_group.session_id, 1),)
    assert await slots.group_sessions("syn:5", T0 + 3) == sorted([b.session_id, again.session_id])
    assert await slots.take_kicks(1) == [in_group.session_id]
    assert elsewhere.session_id in await slots.sessions_of_node(1)


async def test_a_victim_frees_a_place_in_each_of_its_groups_only(slots: SessionSlots) -> None:
    kick = ConnectionPolicy.kick_oldest
    # Partner 5's line 10 (one connection) holds one of the offer's two places; partner 6
    # the other. Line 10 plays partner 5's channel again: its victim was in both groups.
    a = await slots.reserve(
        dataclasses.replace(partner(5, 10, cap=1, total=2), max_connections=1, policy=kick), T0
    )
    await slots.reserve(partner(6, 20, total=2), T0)
    again = await slots.reserve(
        dataclasses.replace(partner(5, 10, cap=1, total=2), max_connections=1, policy=kick),
        T0 + 1,
    )
    assert again.kicked == (Kicked(a.session_id, 1),)
    # Partner 6's line 21 (one connection) watches its own channel, then switches: its
    # victim is in no group; the offer is full: refused.
    own = await slots.reserve(play(NEW_SESSION, tenant=6, line=21, limit=1, policy=kick), T0 + 2)
    with pytest.raises(SlotRefused) as refused:
        await slots.reserve(
            dataclasses.replace(partner(6, 21, total=2), max_connections=1, policy=kick), T0 + 3
        )
    assert refused.value.group == "offer:9"
    assert own.session_id in await slots.sessions_of_node(1)
    assert len(await slots.group_sessions("offer:9", T0 + 3)) == 2


async def test_concurrent_plays_fill_a_group_exactly(slots: SessionSlots) -> None:
    results = await asyncio.gather(
        *(slots.reserve(grouped(100 + n, cap=3, node=1 + n % 4), T0) for n in range(30)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 3
    assert all(isinstance(r, SlotRefused) for r in results if isinstance(r, BaseException))


async def test_lapsed_and_ended_slots_leave_the_group(slots: SessionSlots) -> None:
    a = await slots.reserve(grouped(10), T0)
    await slots.reserve(grouped(11, node=2), T0)
    assert await slots.renew(1, [a.session_id], TTL, T0 + 1) == []
    # b's player never came: its pending slot lapses; a's node stops renewing: a lapses.
    assert await slots.group_sessions("syn:5", T0 + TTL + 2) == []
    # a's node comes back: a is held again (the group has room) and counts again.
    assert await slots.renew(1, [a.session_id], TTL, T0 + TTL + 3) == []
    assert await slots.group_sessions("syn:5", T0 + TTL + 3) == [a.session_id]
    assert await slots.end(a.session_id, 1) == 1
    assert await slots.group_sessions("syn:5", T0 + TTL + 4) == []


async def test_group_ticks_count_each_interval_once(slots: SessionSlots) -> None:
    first = await slots.group_tick(T0)
    assert first.counts == {}
    await slots.reserve(grouped(10, cap=None), T0)
    await slots.reserve(grouped(11, cap=None), T0)
    tick = await slots.group_tick(T0 + 2)
    assert (tick.seconds, tick.before, tick.counts) == (2.0, {}, {"syn:5": 2})
    # Another replica's tick right after sees only the interval since this one.
    again = await slots.group_tick(T0 + 2.5)
    assert (again.seconds, again.before, again.counts) == (0.5, {"syn:5": 2}, {"syn:5": 2})


# ---- a slot in two groups: a partner's, and its offer's (all partners together) ----


async def test_a_slot_counts_in_each_of_its_groups(slots: SessionSlots) -> None:
    a = await slots.reserve(partner(5, 10), T0)
    b = await slots.reserve(partner(6, 20, node=2), T0)
    assert await slots.group_sessions("syn:5", T0) == [a.session_id]
    assert await slots.group_sessions("syn:6", T0) == [b.session_id]
    assert await slots.group_sessions("offer:9", T0) == sorted([a.session_id, b.session_id])
    tick = await slots.group_tick(T0 + 1)
    assert tick.counts == {"syn:5": 1, "syn:6": 1, "offer:9": 2}


async def test_the_second_groups_cap_refuses_and_says_which(slots: SessionSlots) -> None:
    await slots.reserve(partner(5, 10, cap=2), T0)
    await slots.reserve(partner(5, 11, cap=2), T0)
    # Partner 5 is at its own cap: refused for it, naming its group (checked first).
    with pytest.raises(SlotRefused) as own:
        await slots.reserve(partner(5, 12, cap=2), T0 + 1)
    assert (own.value.code, own.value.group) == (GROUP_MAX_VIEWERS, "syn:5")
    third = await slots.reserve(partner(6, 20, cap=2), T0 + 1)
    # The offer holds 3 of 3: partner 6, with room of its own, is refused by the offer's.
    with pytest.raises(SlotRefused) as total:
        await slots.reserve(partner(6, 21, cap=2), T0 + 2)
    assert (total.value.code, total.value.group) == (GROUP_MAX_VIEWERS, "offer:9")
    assert "3" in str(total.value)
    # The refused plays hold nothing, in no group; another offer's group is not this one's.
    assert await slots.group_sessions("syn:6", T0 + 2) == [third.session_id]
    assert len(await slots.group_sessions("offer:9", T0 + 2)) == 3
    assert await slots.tenant_count(6, T0 + 2) == 1
    other = dataclasses.replace(partner(7, 30), groups=(("syn:7", None), ("offer:8", 1)))
    await slots.reserve(other, T0 + 2)
    # One viewer leaves: the offer has room again, for either partner.
    await slots.release([third.session_id])
    await slots.reserve(partner(6, 21, cap=2), T0 + 3)


async def test_concurrent_plays_of_two_partners_fill_the_offer_exactly(
    slots: SessionSlots,
) -> None:
    results = await asyncio.gather(
        *(slots.reserve(partner(5 + n % 2, 100 + n, node=1 + n % 4), T0) for n in range(30)),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    assert len(won) == 3
    refused = [r for r in results if isinstance(r, SlotRefused)]
    assert len(refused) == 27 and {r.group for r in refused} == {"offer:9"}
    assert await slots.group_sessions("offer:9", T0) == sorted(
        r.session_id for r in won if isinstance(r, Reserved)
    )


async def test_ending_and_lapsing_leave_every_group(slots: SessionSlots) -> None:
    a = await slots.reserve(partner(5, 10), T0)
    await slots.reserve(partner(6, 20, node=2), T0)
    assert await slots.renew(1, [a.session_id], TTL, T0 + 1) == []
    # b's player never came, a's node stops renewing: both lapse, out of all three groups.
    later = T0 + TTL + 2
    for group in ("syn:5", "syn:6", "offer:9"):
        assert await slots.group_sessions(group, later) == []
    assert await slots.renew(1, [a.session_id], TTL, later + 1) == []
    assert await slots.group_sessions("syn:5", later + 1) == [a.session_id]
    assert await slots.group_sessions("offer:9", later + 1) == [a.session_id]
    assert await slots.end(a.session_id, None) == 1
    for group in ("syn:5", "offer:9"):
        assert await slots.group_sessions(group, later + 2) == []
    c = await slots.reserve(partner(6, 21), later + 2)
    await slots.release([c.session_id])
    assert await slots.group_sessions("offer:9", later + 3) == []
    assert (await slots.group_tick(later + 3)).counts == {}


async def test_a_lapsed_slot_is_taken_back_only_if_each_group_has_room(
    slots: SessionSlots,
) -> None:
    a = await slots.reserve(partner(5, 10, cap=1, total=1), T0)
    assert await slots.renew(1, [a.session_id], TTL, T0 + 1) == []
    # a's node is out of reach; meanwhile partner 6 takes the offer's only place.
    late = T0 + TTL + 2
    b = await slots.reserve(partner(6, 20, total=1, node=2), late)
    assert await slots.renew(2, [b.session_id], TTL, late) == []
    # a's group (syn:5) has room, the offer's has none: a is not held again.
    assert await slots.renew(1, [a.session_id], TTL, late + 1) == [a.session_id]
    assert await slots.group_sessions("offer:9", late + 1) == [b.session_id]
    assert await slots.group_sessions("syn:5", late + 1) == []
    # The other way round: c's own partner's group fills while it is away.
    c = await slots.reserve(partner(7, 30, cap=1, total=5, node=3), late + 1)
    assert await slots.renew(3, [c.session_id], TTL, late + 2) == []
    assert await slots.renew(2, [b.session_id], TTL, late + 20) == []  # b's node keeps on
    later = late + 2 + TTL + 1  # c's node is out of reach now
    d = await slots.reserve(partner(7, 31, cap=1, total=5, node=2), later)
    assert await slots.renew(3, [c.session_id], TTL, later + 1) == [c.session_id]
    assert await slots.group_sessions("syn:7", later + 1) == [d.session_id]


def test_group_names_must_be_distinct_single_words() -> None:
    base = play(NEW_SESSION)
    for groups in ((("syn 5", 1),), (("", 1),), (("syn:5", 1), ("syn:5", 2))):
        with pytest.raises(ValueError, match="group names"):
            dataclasses.replace(base, groups=groups)
