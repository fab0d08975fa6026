"""Slot groups (cluster/session_slots.py): a syndicated channel's cap on one partner's
viewers, counted across lines, nodes and replicas; run in process and against Redis."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.cluster.session_slots import (
    GROUP_MAX_VIEWERS,
    NEW_SESSION,
    SessionSlots,
    SlotRefused,
    SlotRequest,
)
from support.slot_requests import T0, TTL, play


def grouped(line: int, *, cap: int | None = 2, node: int = 1, **kw: object) -> SlotRequest:
    base = play(NEW_SESSION, line=line, node=node, limit=0, **kw)  # type: ignore[arg-type]
    return dataclasses.replace(base, group="syn:5", group_max=cap)


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
