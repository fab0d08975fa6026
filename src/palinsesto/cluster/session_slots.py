"""Session slots: the cluster-wide count behind every line's ``max_connections``.

A panel replica admitting a play reserves a slot for the new session; the node that serves
it renews the slot with every heartbeat (the ``alive`` list) and releases it when the
viewer leaves. Because every replica asks the same store, a line with
``max_connections=2`` gets exactly two sessions however many replicas and nodes take part.
The in-process store below serves the all-in-one server; the Redis store
(:mod:`palinsesto.cluster.session_slots_redis`) several replicas. :func:`make_session_slots`
picks one from the settings. Both pass one contract suite
(tests/integration/cluster/test_session_slots.py).

Contract:

- ``now`` is unix time in seconds, given by the caller (every replica's clock is NTP'd).
  A reserved slot is *pending* until its node first renews it: it lapses after the
  request's ``ttl_seconds`` (the player never arrived). From then on it is *confirmed* and
  lives as long as its node keeps renewing (each renew holds all the node's confirmed slots
  for its ``ttl_seconds``): renewing costs one round trip per heartbeat, not one write per
  session. Every call purges what lapsed before it counts anything.
- :meth:`SessionSlots.reserve` checks, in one atomic step: the tenant plan's
  ``max_viewers`` (always refused, never a kick: another customer's viewer must not lose its
  picture), then the line's ``max_connections``. At the limit, ``refuse`` raises
  :class:`SlotRefused`; ``kick_oldest`` frees exactly enough slots, choosing victims with the
  same IP and user agent first, then the same IP, then the oldest (so zapping on one device
  never kicks another), and puts each victim on its node's kick queue. A play that replaces
  one of its line's sessions is not a new viewer, so the plan's limit is then not checked.
  Reserving a session id that is already held renews it and kicks nobody (a retried call).
- :meth:`renew` takes the *complete* list of the sessions the node serves (the heartbeat's
  ``alive``): a confirmed slot of that node missing from it is released (the viewer left
  and the release was lost). It returns the ids the node must cut: released, kicked, held
  by another node, or unknown. A slot that merely *lapsed* (its node or the store was out
  of reach for a while) is held again if its line and tenant still have room, so an outage
  does not cut every viewer once it is over; a kicked one never comes back. (A renew that
  arrives after a newer one from the same node, say a retried request processed late,
  may release a session started in between; the next renew then cuts it.)
- After the Redis store lost its data (a restart without persistence), sessions admitted
  before are held again when their node renews them, without counting against any limit
  until they end (their line is not known any more). This needs session ids from
  :meth:`next_session_id`, which never reuses an id, even across such a loss.
- A request may carry a :class:`PlayLabel` (who watches what): a slot it wins is then
  described, in the same atomic step, for the admin's sessions list on every replica
  (:meth:`SessionSlots.descriptions`); a refused one stores nothing. The description goes
  with the slot: released, ended, kicked, its node lost, or its grace after lapsing over.
- A request may put its slot in *groups* (:attr:`SlotRequest.groups`), each counted across
  tenants, lines and nodes and each with its own cap: a partner's viewers of a syndicated
  channel, and all partners' viewers of its offer. A group at its cap refuses
  (GROUP_MAX_VIEWERS, :attr:`SlotRefused.group` naming it), never kicks. A play that
  replaces its line's sessions (``kick_oldest``) picks its victims first: each frees a
  place only in the groups it is in, and a refused play kicks nobody. The slot leaves
  every group it is in when it ends or lapses, and is taken back only if each has room.
- :class:`SlotsUnavailable`: the store cannot be reached. The panel then refuses new plays
  (503 with the reason) and must not cut any session because of it; the store recovers by
  itself once Redis answers again.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.config import Settings

USER_MAX_CONNECTIONS = "USER_MAX_CONNECTIONS"
TENANT_MAX_VIEWERS = "TENANT_MAX_VIEWERS"
# One of a slot's groups (SlotRequest.groups) is full (SlotRefused.group says which): a
# syndicated channel's offer caps how many of one partner's viewers, or of all its partners
# together, watch at once, wherever they are admitted.
GROUP_MAX_VIEWERS = "SYNDICATION_MAX_VIEWERS"
# How long a slot that expired may still be renewed back (see the module doc).
EXPIRED_GRACE_SECONDS = 3600.0
# SlotRequest.session_id for a new session: reserve() allocates its id.
NEW_SESSION = 0

K = TypeVar("K")


class SlotRefused(Exception):
    """The play would exceed a limit. ``code``: USER_MAX_CONNECTIONS, TENANT_MAX_VIEWERS or
    GROUP_MAX_VIEWERS (the player API's error codes; the panel answers 429); ``group``: the
    full group's name for GROUP_MAX_VIEWERS, else ""."""

    def __init__(self, code: str, message: str, group: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.group = group


class SlotsUnavailable(RuntimeError):
    """The shared store cannot be reached: refuse new plays (503), keep the running ones."""


@dataclass(frozen=True, slots=True)
class SlotRequest:
    tenant_id: int
    line_id: int
    # 0: a new session, its id allocated by reserve() itself (Reserved.session_id), in the
    # same atomic step (one Redis round trip per admission instead of two)
    session_id: int
    max_connections: int  # 0 = no limit
    policy: ConnectionPolicy
    node_id: int  # the node the viewer is sent to (its kick queue gets the news)
    ip: str
    user_agent: str
    tenant_max_viewers: int | None  # the plan's max_viewers; None = no limit
    ttl_seconds: float  # the slot lapses unless renewed within this
    # The admission's: the slot is described with it (module doc); None = not described
    label: PlayLabel | None = None
    # The groups of slots it counts in, across tenants and lines: (name, how many the group
    # may hold; None = no limit), checked in this order: a partner's viewers of one
    # syndicated channel, all partners' viewers of its offer. A group at its limit refuses
    # (GROUP_MAX_VIEWERS), never kicks; a play that replaces its line's sessions counts
    # each victim out only of the groups that victim is in (it may have watched another
    # channel). Names are single words (the Redis store joins them).
    groups: tuple[tuple[str, int | None], ...] = ()

    def __post_init__(self) -> None:
        if self.groups:
            names = [name for name, _ in self.groups]
            if len(set(names)) != len(names) or any(n.split() != [n] for n in names):
                raise ValueError(f"group names must be distinct single words: {names!r}")


def group_refused(name: str, groups: tuple[tuple[str, int | None], ...]) -> SlotRefused:
    """The refusal of a play whose group ``name`` (one of ``groups``) is full."""
    return SlotRefused(GROUP_MAX_VIEWERS, f"the group allows {dict(groups)[name]} viewers", name)


@dataclass(frozen=True, slots=True)
class PlayLabel:
    """What a session's description says beyond its slot's own line, node, address and
    start: written by the reservation itself, so an admission is still one round trip."""

    username: str
    item_id: int  # the channel, movie or episode played
    output: str  # "ts", "hls", "movie", "series", "timeshift", "relay"


def description(req: SlotRequest, label: PlayLabel, started_at: float) -> dict[str, Any]:
    """A session's description as :meth:`SessionSlots.descriptions` returns it (the
    fields of the panel's ``AdmittedSession`` but its session and node)."""
    return {
        "tenant_id": req.tenant_id,
        "line_id": req.line_id,
        "username": label.username,
        "channel_id": label.item_id,
        "ip": req.ip,
        "user_agent": req.user_agent,
        "output": label.output,
        "started_at": started_at,
    }


@dataclass(frozen=True, slots=True)
class Kicked:
    session_id: int
    node_id: int


@dataclass(frozen=True, slots=True)
class Reserved:
    session_id: int
    kicked: tuple[Kicked, ...] = ()


@dataclass(frozen=True, slots=True)
class GroupTick:
    """:meth:`SessionSlots.group_tick`: ``before`` held for ``seconds``; ``counts`` now."""

    seconds: float
    before: dict[str, int]
    counts: dict[str, int]


@dataclass(slots=True)
class _Slot:
    tenant_id: int
    line_id: int
    node_id: int
    ip: str
    user_agent: str
    started: float
    pending_until: float  # until its node first renews it; then its node's lease counts
    # The limits it was admitted under, to take it back after it lapsed (module doc).
    max_connections: int
    tenant_max_viewers: int | None
    confirmed: bool = False
    groups: tuple[tuple[str, int | None], ...] = ()


def victim_rank(ip: str, user_agent: str, slot_ip: str, slot_ua: str) -> int:
    """0: same device (IP and user agent), 1: same IP, 2: anyone else."""
    if slot_ip == ip:
        return 0 if slot_ua == user_agent else 1
    return 2


def _discard(index: dict[K, set[int]], key: K, session_id: int) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(session_id)
        if not members:
            del index[key]


class SessionSlots:
    """The in-process store (one panel, no Redis). No call awaits anything, so each is
    atomic on the event loop. Same layout as the Redis store: a pending slot has its own
    expiry (a heap), a confirmed one lives as long as its node's lease."""

    def __init__(self) -> None:
        self._slots: dict[int, _Slot] = {}
        self._by_line: dict[tuple[int, int], set[int]] = {}
        self._by_tenant: dict[int, set[int]] = {}
        self._by_node: dict[int, set[int]] = {}
        self._by_group: dict[str, set[int]] = {}
        self._group_tick: tuple[float, dict[str, int]] | None = None
        self._node_until: dict[int, float] = {}  # a node's lease on its confirmed slots
        self._pending: list[tuple[float, int]] = []  # heap; stale entries are skipped
        self._lapsed: dict[int, tuple[_Slot, float]] = {}  # in the order they lapsed
        self._kicks: dict[int, list[int]] = {}
        self._described: dict[int, dict[int, dict[str, Any]]] = {}  # node -> id -> details
        # Ids start from the clock so that a restarted process never reuses one a node
        # still knows (see next_session_id).
        self._ids = itertools.count(time.time_ns() // 1_000_000 * 1000)

    # ---- the interface ----

    async def next_session_id(self) -> int:
        """A session id never handed out before by this store."""
        return next(self._ids)

    async def reserve(self, req: SlotRequest, now: float) -> Reserved:
        session_id = next(self._ids) if req.session_id == NEW_SESSION else req.session_id
        self._purge(now)
        held = self._slots.get(session_id)
        if held is not None:
            if not held.confirmed and held.pending_until < now + req.ttl_seconds:
                held.pending_until = now + req.ttl_seconds
                heapq.heappush(self._pending, (held.pending_until, session_id))
            return Reserved(session_id)
        self._forget_lapsed(session_id)  # admitted afresh
        line = self._by_line.get((req.tenant_id, req.line_id), set())
        limit = req.max_connections
        over = len(line) - limit + 1 if limit else 0
        replaces = over > 0 and req.policy is ConnectionPolicy.kick_oldest
        # Picked before any limit is checked (only a play that replaces pays for it): a
        # group's place is freed only by a victim that counted in that group.
        victims = self._victims(line, req.ip, req.user_agent, over) if replaces else []
        # Every victim is of this tenant (its line's): a replacing play is no new viewer.
        if req.tenant_max_viewers is not None and not replaces:
            if len(self._by_tenant.get(req.tenant_id, ())) >= req.tenant_max_viewers:
                raise SlotRefused(
                    TENANT_MAX_VIEWERS,
                    f"the plan allows {req.tenant_max_viewers} concurrent viewers",
                )
        if req.groups:
            full = self._full_group(req.groups, victims)
            if full is not None:
                raise group_refused(full, req.groups)
        if over > 0 and not replaces:
            raise SlotRefused(USER_MAX_CONNECTIONS, f"the line is at {limit} connections")
        kicked: list[Kicked] = []
        for victim in victims:
            node = self._slots[victim].node_id
            self._end_slot(victim)
            self._kicks.setdefault(node, []).append(victim)
            kicked.append(Kicked(victim, node))
        slot = _Slot(
            req.tenant_id,
            req.line_id,
            req.node_id,
            req.ip,
            req.user_agent,
            now,
            now + req.ttl_seconds,
            req.max_connections,
            req.tenant_max_viewers,
            groups=req.groups,
        )
        self._add(session_id, slot)
        heapq.heappush(self._pending, (slot.pending_until, session_id))
        if req.label is not None:
            described = description(req, req.label, now)
            self._described.setdefault(req.node_id, {})[session_id] = described
        return Reserved(session_id, tuple(kicked))

    async def reserve_many(
        self, requests: Sequence[SlotRequest], now: float
    ) -> list[Reserved | SlotRefused]:
        """:meth:`reserve` for each request, in order (bulk loads); a refusal is returned,
        not raised. Each play is decided atomically on its own, not the batch as a whole."""
        results: list[Reserved | SlotRefused] = []
        for req in requests:
            try:
                results.append(await self.reserve(req, now))
            except SlotRefused as refused:
                results.append(refused)
        return results

    async def renew(
        self, node_id: int, session_ids: Iterable[int], ttl_seconds: float, now: float
    ) -> list[int]:
        """``session_ids`` is everything ``node_id`` serves now: its slots are held until
        ``now + ttl_seconds``, its confirmed slots missing from the list are released (the
        viewers left), and the ids it must cut are returned (module doc)."""
        self._purge(now)
        listed = set(session_ids)
        gone: list[int] = []
        for session_id in listed:
            slot = self._slots.get(session_id)
            if slot is None:
                slot = self._take_back(session_id, node_id)
            if slot is None or slot.node_id != node_id:
                gone.append(session_id)
            else:
                slot.confirmed = True
        for session_id in list(self._by_node.get(node_id, ())):
            slot = self._slots[session_id]
            if slot.confirmed and session_id not in listed:
                self._end_slot(session_id)
        self._node_until[node_id] = now + ttl_seconds
        return sorted(gone)

    async def release(self, session_ids: Iterable[int]) -> None:
        """Free these sessions' slots (the viewers left); unknown ids are ignored."""
        for session_id in session_ids:
            self._end_slot(session_id)
            self._forget_lapsed(session_id)

    async def line_count(self, tenant_id: int, line_id: int, now: float) -> int:
        self._purge(now)
        return len(self._by_line.get((tenant_id, line_id), ()))

    async def tenant_count(self, tenant_id: int, now: float) -> int:
        self._purge(now)
        return len(self._by_tenant.get(tenant_id, ()))

    async def take_kicks(self, node_id: int) -> list[int]:
        """The sessions kicked off ``node_id`` since the last call (the queue is emptied)."""
        return self._kicks.pop(node_id, [])

    async def release_node(self, node_id: int) -> int:
        """Free every slot of a lost node (and its kick queue); how many were freed."""
        ids = list(self._by_node.get(node_id, ()))
        for session_id in ids:
            self._drop(session_id)
        for session_id in [i for i, (s, _) in self._lapsed.items() if s.node_id == node_id]:
            del self._lapsed[session_id]
        self._kicks.pop(node_id, None)
        self._node_until.pop(node_id, None)
        self._described.pop(node_id, None)
        return len(ids)

    async def sessions_of_node(self, node_id: int) -> list[int]:
        """The ids held by ``node_id`` (as of the last call that purged)."""
        return sorted(self._by_node.get(node_id, ()))

    async def lapsed_of_node(self, node_id: int) -> list[int]:
        """The ids of ``node_id`` that lapsed and that it may still renew back (within
        ``EXPIRED_GRACE_SECONDS``, as of the last call that purged)."""
        return sorted(i for i, (slot, _) in self._lapsed.items() if slot.node_id == node_id)

    async def end(
        self, session_id: int, tenant_id: int | None, *, mark: dict[str, Any] | None = None
    ) -> int:
        """An administrator ends a session, whichever replica admitted it: its slot is
        freed, its description dropped, and it goes on its node's kick queue (the node cuts
        it at its next heartbeat). ``mark``: put where its description was, in the same
        atomic step as the kick (an "end session" with a slate: the heartbeat that takes
        the kick finds its mark; it waits there until the panel forgets it). Its node's id,
        or 0 when no held session of ``tenant_id`` (None: any) has this id."""
        slot = self._slots.get(session_id)
        if slot is None or (tenant_id is not None and slot.tenant_id != tenant_id):
            return 0
        self._kicks.setdefault(slot.node_id, []).append(session_id)
        self._end_slot(session_id)
        if mark is not None:
            self._described.setdefault(slot.node_id, {})[session_id] = dict(mark)
        return slot.node_id

    # ---- groups: a syndicated channel's partner viewers, cluster-wide ----

    async def group_sessions(self, group: str, now: float) -> list[int]:
        """The ids the group holds now."""
        self._purge(now)
        return sorted(self._by_group.get(group, ()))

    async def group_tick(self, now: float) -> GroupTick:
        """Every group's count now, and the counts of the previous tick (by whichever
        replica made it) with the seconds since: count x seconds is watch time, each
        interval counted once however many replicas tick."""
        self._purge(now)
        counts = {g: len(ids) for g, ids in self._by_group.items() if ids}
        last, self._group_tick = self._group_tick, (now, counts)
        if last is None:
            return GroupTick(0.0, {}, counts)
        return GroupTick(max(0.0, now - last[0]), last[1], counts)

    # ---- who watches what: the admin's sessions list on any replica ----

    async def descriptions(self, node_id: int) -> dict[int, dict[str, Any]]:
        """The descriptions of ``node_id``'s sessions (:func:`description`), written by
        the reservations that carried a :class:`PlayLabel`. A lapsed slot's stays while
        its node may still renew it back, so some may not be held now."""
        return dict(self._described.get(node_id, {}))

    async def descriptions_of(
        self, node_id: int, session_ids: Iterable[int]
    ) -> dict[int, dict[str, Any]]:
        """The descriptions kept for these sessions of ``node_id`` (those that have one)."""
        kept = self._described.get(node_id, {})
        return {i: dict(kept[i]) for i in session_ids if i in kept}

    async def forget(self, node_id: int, session_ids: Iterable[int]) -> None:
        """Drop the descriptions of sessions that ended (their slots may be gone already:
        the store drops a description with its slot)."""
        for session_id in session_ids:
            self._undescribe(node_id, session_id)

    async def close(self) -> None:
        """Release what the store holds (nothing here; the Redis store closes its pool)."""

    # ---- bookkeeping ----

    def _add(self, session_id: int, slot: _Slot) -> None:
        self._slots[session_id] = slot
        self._by_line.setdefault((slot.tenant_id, slot.line_id), set()).add(session_id)
        self._by_tenant.setdefault(slot.tenant_id, set()).add(session_id)
        self._by_node.setdefault(slot.node_id, set()).add(session_id)
        for name, _ in slot.groups:
            self._by_group.setdefault(name, set()).add(session_id)

    def _drop(self, session_id: int) -> _Slot | None:
        slot = self._slots.pop(session_id, None)
        if slot is None:
            return None
        _discard(self._by_line, (slot.tenant_id, slot.line_id), session_id)
        _discard(self._by_tenant, slot.tenant_id, session_id)
        _discard(self._by_node, slot.node_id, session_id)
        for name, _ in slot.groups:
            _discard(self._by_group, name, session_id)
        return slot

    def _end_slot(self, session_id: int) -> None:
        """The slot is over (released, ended, kicked): it and its description go."""
        slot = self._drop(session_id)
        if slot is not None:
            self._undescribe(slot.node_id, session_id)

    def _forget_lapsed(self, session_id: int) -> None:
        entry = self._lapsed.pop(session_id, None)
        if entry is not None:
            self._undescribe(entry[0].node_id, session_id)

    def _undescribe(self, node_id: int, session_id: int) -> None:
        kept = self._described.get(node_id)
        if kept is not None:
            kept.pop(session_id, None)
            if not kept:
                del self._described[node_id]

    def _lapse(self, session_id: int, now: float) -> None:
        slot = self._drop(session_id)
        if slot is not None:
            slot.confirmed = False
            self._lapsed[session_id] = (slot, now)

    def _purge(self, now: float) -> None:
        for node_id in [n for n, until in self._node_until.items() if until <= now]:
            del self._node_until[node_id]
            for session_id in list(self._by_node.get(node_id, ())):
                if self._slots[session_id].confirmed:
                    self._lapse(session_id, now)
        while self._pending and self._pending[0][0] <= now:
            until, session_id = heapq.heappop(self._pending)
            slot = self._slots.get(session_id)
            if slot is not None and not slot.confirmed and slot.pending_until == until:
                self._lapse(session_id, now)
        while self._lapsed:
            oldest = next(iter(self._lapsed))
            if self._lapsed[oldest][1] + EXPIRED_GRACE_SECONDS > now:
                break
            self._forget_lapsed(oldest)

    def _take_back(self, session_id: int, node_id: int) -> _Slot | None:
        """A lapsed slot of this node held again, if its line and tenant have room."""
        entry = self._lapsed.get(session_id)
        if entry is None or entry[0].node_id != node_id:
            return None
        slot = entry[0]
        line = len(self._by_line.get((slot.tenant_id, slot.line_id), ()))
        tenant = len(self._by_tenant.get(slot.tenant_id, ()))
        if (
            (slot.max_connections and line >= slot.max_connections)
            or (slot.tenant_max_viewers is not None and tenant >= slot.tenant_max_viewers)
            or self._full_group(slot.groups) is not None
        ):
            return None
        del self._lapsed[session_id]
        self._add(session_id, slot)
        return slot

    def _full_group(
        self, groups: tuple[tuple[str, int | None], ...], victims: Sequence[int] = ()
    ) -> str | None:
        """The first of ``groups`` at its cap, if any, once ``victims`` (the sessions the
        play would kick) are gone: each frees a place only in the groups it counted in."""
        for name, cap in groups:
            if cap is None:
                continue
            members = self._by_group.get(name, set())
            if len(members) >= cap and len(members) - sum(v in members for v in victims) >= cap:
                return name
        return None

    def _victims(self, line: set[int], ip: str, user_agent: str, count: int) -> list[int]:
        def rank(session_id: int) -> tuple[int, float, int]:
            slot = self._slots[session_id]
            return (victim_rank(ip, user_agent, slot.ip, slot.user_agent), slot.started, session_id)

        return sorted(line, key=rank)[:count]


def make_session_slots(settings: Settings) -> SessionSlots:
    """The store for this process: Redis when ``PALINSESTO_REDIS_URL`` is set, else in-process."""
    if not settings.redis_url:
        return SessionSlots()
    from palinsesto.cluster.session_slots_redis import RedisSessionSlots

    return RedisSessionSlots(settings.redis_url, settings.redis_key_prefix)
