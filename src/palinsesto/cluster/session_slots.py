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
  A slot is held while ``now < expires``; every call purges slots that expired before it
  counts anything.
- :meth:`SessionSlots.reserve` checks, in one atomic step: the tenant plan's
  ``max_viewers`` (always refused, never a kick: another customer's viewer must not lose its
  picture), then the line's ``max_connections``. At the limit, ``refuse`` raises
  :class:`SlotRefused`; ``kick_oldest`` frees exactly enough slots, choosing victims with the
  same IP and user agent first, then the same IP, then the oldest (so zapping on one device
  never kicks another), and puts each victim on its node's kick queue. A play that replaces
  one of its line's sessions is not a new viewer, so the plan's limit is then not checked.
  Reserving a session id that is already held renews it and kicks nobody (a retried call).
- :meth:`renew` returns the ids that are no longer held, so the node cuts them: released,
  kicked, held by another node, or unknown. A slot that merely *expired* (its node or the
  store was out of reach for a while) is held again if its line and tenant still have room,
  so an outage does not cut every viewer once it is over; a kicked one never comes back.
- After the Redis store lost its data (a restart without persistence), sessions admitted
  before are held again when their node renews them, without counting against any limit
  until they end (their line is not known any more). This needs session ids from
  :meth:`next_session_id`, which never reuses an id, even across such a loss.
- :class:`SlotsUnavailable`: the store cannot be reached. The panel then refuses new plays
  (503 with the reason) and must not cut any session because of it; the store recovers by
  itself once Redis answers again.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.config import Settings

USER_MAX_CONNECTIONS = "USER_MAX_CONNECTIONS"
TENANT_MAX_VIEWERS = "TENANT_MAX_VIEWERS"
# How long a slot that expired may still be renewed back (see the module doc).
EXPIRED_GRACE_SECONDS = 3600.0

K = TypeVar("K")


class SlotRefused(Exception):
    """The play would exceed a limit. ``code``: USER_MAX_CONNECTIONS or TENANT_MAX_VIEWERS
    (the player API's error codes; the panel answers 429)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SlotsUnavailable(RuntimeError):
    """The shared store cannot be reached: refuse new plays (503), keep the running ones."""


@dataclass(frozen=True, slots=True)
class SlotRequest:
    tenant_id: int
    line_id: int
    session_id: int
    max_connections: int  # 0 = no limit
    policy: ConnectionPolicy
    node_id: int  # the node the viewer is sent to (its kick queue gets the news)
    ip: str
    user_agent: str
    tenant_max_viewers: int | None  # the plan's max_viewers; None = no limit
    ttl_seconds: float  # the slot lapses unless renewed within this


@dataclass(frozen=True, slots=True)
class Kicked:
    session_id: int
    node_id: int


@dataclass(frozen=True, slots=True)
class Reserved:
    session_id: int
    kicked: tuple[Kicked, ...] = ()


@dataclass(slots=True)
class _Slot:
    tenant_id: int
    line_id: int
    node_id: int
    ip: str
    user_agent: str
    started: float
    expires: float
    # The limits it was admitted under, to take it back after it expired (module doc).
    max_connections: int
    tenant_max_viewers: int | None


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
    """The in-process store (one panel, no Redis). Calls never wait on I/O, so each is
    atomic on the event loop; a lock still guards them against callers on other threads'
    loops (tests, the benchmark)."""

    def __init__(self) -> None:
        self._slots: dict[int, _Slot] = {}
        self._by_line: dict[tuple[int, int], set[int]] = {}
        self._by_tenant: dict[int, set[int]] = {}
        self._by_node: dict[int, set[int]] = {}
        self._expired: dict[int, tuple[_Slot, float]] = {}  # id -> (slot, when it lapsed)
        self._kicks: dict[int, list[int]] = {}
        # Ids start from the clock so that a restarted process never reuses one a node
        # still knows (see next_session_id).
        self._ids = itertools.count(time.time_ns() // 1_000_000 * 1000)
        self._lock = asyncio.Lock()

    # ---- the interface ----

    async def next_session_id(self) -> int:
        """A session id never handed out before by this store."""
        return next(self._ids)

    async def reserve(self, req: SlotRequest, now: float) -> Reserved:
        async with self._lock:
            self._purge(now)
            held = self._slots.get(req.session_id)
            if held is not None:
                held.expires = max(held.expires, now + req.ttl_seconds)
                return Reserved(req.session_id)
            line = self._by_line.get((req.tenant_id, req.line_id), set())
            limit = req.max_connections
            over = len(line) - limit + 1 if limit else 0
            replaces = over > 0 and req.policy is ConnectionPolicy.kick_oldest
            if req.tenant_max_viewers is not None and not replaces:
                if len(self._by_tenant.get(req.tenant_id, ())) >= req.tenant_max_viewers:
                    raise SlotRefused(
                        TENANT_MAX_VIEWERS,
                        f"the plan allows {req.tenant_max_viewers} concurrent viewers",
                    )
            kicked: list[Kicked] = []
            if over > 0:
                if req.policy is ConnectionPolicy.refuse:
                    raise SlotRefused(USER_MAX_CONNECTIONS, f"the line is at {limit} connections")
                for victim in self._victims(line, req.ip, req.user_agent, over):
                    node = self._slots[victim].node_id
                    self._drop(victim)
                    self._kicks.setdefault(node, []).append(victim)
                    kicked.append(Kicked(victim, node))
            self._add(
                req.session_id,
                _Slot(
                    req.tenant_id,
                    req.line_id,
                    req.node_id,
                    req.ip,
                    req.user_agent,
                    now,
                    now + req.ttl_seconds,
                    req.max_connections,
                    req.tenant_max_viewers,
                ),
            )
            return Reserved(req.session_id, tuple(kicked))

    async def renew(
        self, node_id: int, session_ids: Iterable[int], ttl_seconds: float, now: float
    ) -> list[int]:
        """Extend the slots of ``node_id``'s sessions; the ids it must cut (module doc)."""
        async with self._lock:
            self._purge(now)
            gone: list[int] = []
            for session_id in session_ids:
                slot = self._slots.get(session_id)
                if slot is None:
                    slot = self._held_again(session_id, node_id)
                if slot is None or slot.node_id != node_id:
                    gone.append(session_id)
                else:
                    slot.expires = now + ttl_seconds
            return gone

    async def release(self, session_ids: Iterable[int]) -> None:
        """Free these sessions' slots (the viewers left); unknown ids are ignored."""
        async with self._lock:
            for session_id in session_ids:
                self._drop(session_id)
                self._expired.pop(session_id, None)

    async def line_count(self, tenant_id: int, line_id: int, now: float) -> int:
        async with self._lock:
            self._purge(now)
            return len(self._by_line.get((tenant_id, line_id), ()))

    async def tenant_count(self, tenant_id: int, now: float) -> int:
        async with self._lock:
            self._purge(now)
            return len(self._by_tenant.get(tenant_id, ()))

    async def take_kicks(self, node_id: int) -> list[int]:
        """The sessions kicked off ``node_id`` since the last call (the queue is emptied)."""
        async with self._lock:
            return self._kicks.pop(node_id, [])

    async def release_node(self, node_id: int) -> int:
        """Free every slot of a lost node (and its kick queue); how many were freed."""
        async with self._lock:
            ids = list(self._by_node.get(node_id, ()))
            for session_id in ids:
                self._drop(session_id)
            for session_id in [i for i, (s, _) in self._expired.items() if s.node_id == node_id]:
                del self._expired[session_id]
            self._kicks.pop(node_id, None)
            return len(ids)

    async def sessions_of_node(self, node_id: int) -> list[int]:
        """The ids held by ``node_id`` (expired ones included until the next purge)."""
        async with self._lock:
            return sorted(self._by_node.get(node_id, ()))

    async def close(self) -> None:
        """Release what the store holds (nothing here; the Redis store closes its pool)."""

    # ---- bookkeeping ----

    def _add(self, session_id: int, slot: _Slot) -> None:
        self._slots[session_id] = slot
        self._by_line.setdefault((slot.tenant_id, slot.line_id), set()).add(session_id)
        self._by_tenant.setdefault(slot.tenant_id, set()).add(session_id)
        self._by_node.setdefault(slot.node_id, set()).add(session_id)

    def _drop(self, session_id: int) -> _Slot | None:
        slot = self._slots.pop(session_id, None)
        if slot is None:
            return None
        _discard(self._by_line, (slot.tenant_id, slot.line_id), session_id)
        _discard(self._by_tenant, slot.tenant_id, session_id)
        _discard(self._by_node, slot.node_id, session_id)
        return slot

    def _purge(self, now: float) -> None:
        for session_id in [i for i, s in self._slots.items() if s.expires <= now]:
            slot = self._drop(session_id)
            if slot is not None:
                self._expired[session_id] = (slot, now)
        for session_id in [
            i for i, (_, at) in self._expired.items() if at + EXPIRED_GRACE_SECONDS <= now
        ]:
            del self._expired[session_id]

    def _held_again(self, session_id: int, node_id: int) -> _Slot | None:
        """An expired slot of this node taken back, if its line and tenant have room."""
        entry = self._expired.get(session_id)
        if entry is None or entry[0].node_id != node_id:
            return None
        slot = entry[0]
        line = len(self._by_line.get((slot.tenant_id, slot.line_id), ()))
        tenant = len(self._by_tenant.get(slot.tenant_id, ()))
        if (slot.max_connections and line >= slot.max_connections) or (
            slot.tenant_max_viewers is not None and tenant >= slot.tenant_max_viewers
        ):
            return None
        del self._expired[session_id]
        self._add(session_id, slot)
        return slot

    @staticmethod
    def _victim_order(slots: list[tuple[int, _Slot]], ip: str, user_agent: str) -> list[int]:
        ranked = sorted(
            slots,
            key=lambda item: (
                victim_rank(ip, user_agent, item[1].ip, item[1].user_agent),
                item[1].started,
                item[0],
            ),
        )
        return [session_id for session_id, _ in ranked]

    def _victims(self, line: set[int], ip: str, user_agent: str, count: int) -> list[int]:
        slots = [(i, self._slots[i]) for i in line]
        return self._victim_order(slots, ip, user_agent)[:count]


def make_session_slots(settings: Settings) -> SessionSlots:
    """The store for this process: Redis when ``PALINSESTO_REDIS_URL`` is set, else in-process."""
    if not settings.redis_url:
        return SessionSlots()
    from palinsesto.cluster.session_slots_redis import RedisSessionSlots

    return RedisSessionSlots(settings.redis_url, settings.redis_key_prefix)
