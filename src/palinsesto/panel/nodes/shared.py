"""What every panel replica must see alike about nodes: leases, placements, session slots.

In-process versions, behind the narrow interface the node API and admission use. The
cluster package's shared versions (Redis, for several replicas) take their place where
they exist; until then a `palinsesto panel` with several replicas shares the database and
change events, and each replica only knows the nodes that heartbeat to it.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.panel.placement import NodeView, Placement
from palinsesto.panel.playback.admission import TooManyConnections, TooManyViewers
from palinsesto.protocol.messages import ChannelLoad, NodeState


class SlotsUnavailable(RuntimeError):
    """The shared session store cannot be reached (503 "session store unavailable")."""


@dataclass(frozen=True, slots=True)
class NodeLease:
    """A node's latest registration and heartbeat."""

    node_id: int
    tenant_id: int
    name: str
    public_url: str
    rtmp_url: str
    draining: bool
    renewed_at: float  # wall clock, seconds
    max_viewers: int = 1000
    max_channels: int = 100
    max_egress_mbps: float = 1000.0
    viewers: int = 0
    egress_mbps: float = 0.0
    cpu_percent: float = 0.0
    channels: tuple[ChannelLoad, ...] = ()
    version: str = ""

    def state(self, now: float, lease_seconds: float) -> NodeState:
        if now - self.renewed_at > lease_seconds:
            return NodeState.lost
        return NodeState.draining if self.draining else NodeState.online

    def view(self, now: float, lease_seconds: float, extra_viewers: int = 0) -> NodeView:
        return NodeView(
            self.node_id,
            self.tenant_id,
            self.state(now, lease_seconds),
            viewers=self.viewers + extra_viewers,
            max_viewers=self.max_viewers,
            channels=len(self.channels),
            max_channels=self.max_channels,
            egress_mbps=self.egress_mbps,
            max_egress_mbps=self.max_egress_mbps,
        )


class NodeBoard:
    """Leases and placements (thread-safe; the node API runs on the loop, admission too)."""

    def __init__(self) -> None:
        self._leases: dict[int, NodeLease] = {}
        self._placements: dict[int, Placement] = {}
        self._lock = threading.Lock()

    def put_lease(self, lease: NodeLease) -> None:
        with self._lock:
            self._leases[lease.node_id] = lease

    def lease(self, node_id: int) -> NodeLease | None:
        return self._leases.get(node_id)

    def leases(self, tenant_id: int | None = None) -> list[NodeLease]:
        found = list(self._leases.values())
        return [x for x in found if tenant_id is None or x.tenant_id == tenant_id]

    def drop_lease(self, node_id: int) -> None:
        with self._lock:
            self._leases.pop(node_id, None)

    def placement(self, channel_id: int) -> Placement | None:
        return self._placements.get(channel_id)

    def placements(self, tenant_id: int | None = None) -> list[Placement]:
        found = list(self._placements.values())
        return [p for p in found if tenant_id is None or p.tenant_id == tenant_id]

    def put_placement(self, placement: Placement) -> None:
        with self._lock:
            self._placements[placement.channel_id] = placement

    def drop_placement(self, channel_id: int) -> None:
        with self._lock:
            self._placements.pop(channel_id, None)


@dataclass(slots=True)
class Slot:
    session_id: int
    tenant_id: int
    line_id: int
    node_id: int
    ip: str
    user_agent: str
    started_at: float
    username: str = ""
    channel_id: int = 0
    output: str = "ts"
    renewed_at: float = field(default=0.0)


class SessionSlots:
    """Per-line and per-tenant session slots across every node of the panel."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._ids = itertools.count(int(clock() * 1000) % 10**12)
        self._slots: dict[int, Slot] = {}
        self._kicks: dict[int, list[int]] = {}
        self._lock = threading.Lock()

    def new_session_id(self) -> int:
        return next(self._ids)

    def reserve(
        self,
        slot: Slot,
        *,
        max_connections: int,
        tenant_limit: int | None,
        policy: ConnectionPolicy,
    ) -> list[Slot]:
        """Take a slot for a new session; the sessions kicked to make room (their nodes
        get them in :meth:`take_kicks`). Raises TooManyConnections / TooManyViewers."""
        with self._lock:
            now = self._clock()
            slot.renewed_at = now
            active = [s for s in self._slots.values() if s.line_id == slot.line_id]
            full = bool(max_connections) and len(active) >= max_connections
            replaces = full and policy is ConnectionPolicy.kick_oldest
            if tenant_limit is not None and not replaces:
                count = sum(1 for s in self._slots.values() if s.tenant_id == slot.tenant_id)
                if count >= tenant_limit:
                    raise TooManyViewers(f"the plan allows {tenant_limit} concurrent viewers")
            kicked: list[Slot] = []
            if full:
                if policy is ConnectionPolicy.refuse:
                    raise TooManyConnections(f"line {slot.line_id} is at {max_connections}")
                same = sorted(
                    active,
                    key=lambda s: (
                        0 if (s.ip, s.user_agent) == (slot.ip, slot.user_agent) else 1,
                        s.started_at,
                    ),
                )
                kicked = same[: len(active) - max_connections + 1]
                for victim in kicked:
                    del self._slots[victim.session_id]
                    self._kicks.setdefault(victim.node_id, []).append(victim.session_id)
            self._slots[slot.session_id] = slot
            return kicked

    def renew(self, node_id: int, session_ids: tuple[int, ...]) -> list[int]:
        """Renew the node's live sessions; those it holds no slot for (kicked, or freed
        while the node was lost) are returned: the node must end them."""
        now = self._clock()
        refused = []
        with self._lock:
            for sid in session_ids:
                slot = self._slots.get(sid)
                if slot is None or slot.node_id != node_id:
                    refused.append(sid)
                else:
                    slot.renewed_at = now
        return refused

    def release(self, node_id: int, session_ids: tuple[int, ...]) -> None:
        with self._lock:
            for sid in session_ids:
                slot = self._slots.get(sid)
                if slot is not None and slot.node_id == node_id:
                    del self._slots[sid]

    def kick(self, session_id: int, tenant_id: int | None) -> bool:
        """End a session (an administrator's action): its node cuts it at its next beat.
        ``tenant_id`` None: any tenant's."""
        with self._lock:
            slot = self._slots.get(session_id)
            if slot is None or (tenant_id is not None and slot.tenant_id != tenant_id):
                return False
            del self._slots[session_id]
            self._kicks.setdefault(slot.node_id, []).append(session_id)
            return True

    def take_kicks(self, node_id: int) -> list[int]:
        with self._lock:
            return self._kicks.pop(node_id, [])

    def release_node(self, node_id: int) -> int:
        """Free every slot of a lost node; how many (idempotent: 0 the second time)."""
        with self._lock:
            gone = [sid for sid, s in self._slots.items() if s.node_id == node_id]
            for sid in gone:
                del self._slots[sid]
            self._kicks.pop(node_id, None)
            return len(gone)

    def line_count(self, line_id: int) -> int:
        return sum(1 for s in self._slots.values() if s.line_id == line_id)

    def of_node(self, node_id: int) -> list[Slot]:
        return [s for s in self._slots.values() if s.node_id == node_id]

    def all(self) -> list[Slot]:
        return list(self._slots.values())
