"""Node leases and channel placement, shared by every panel replica.

Each heartbeat a replica receives is written here (:meth:`NodeLeases.beat`), so whichever
replica admits the next viewer sees every node's liveness and load. A node is

- ``lost`` once ``lease_seconds`` pass without a beat (its slots are then freed and its
  channels placed elsewhere, by the panel);
- ``draining`` when the admin (or the node itself) says so: it keeps what it serves and
  takes nothing new;
- ``online`` otherwise.

Placement should also prefer nodes heard from recently (:attr:`NodeLease.beat_age` within
two heartbeat intervals): a node killed outright stops getting players within a couple of
seconds, long before its lease lapses.

Channel placement records which nodes carry a channel and as what: the ``origin`` pulls it
from its sources, ``edge`` nodes pull it from the origin. :meth:`NodeLeases.place` with
``origin`` is a claim: it fails while another node is the origin, so two replicas never
start a channel's upstream twice.

The in-process store serves the all-in-one server; the Redis store
(:mod:`palinsesto.cluster.node_leases_redis`) several replicas; :func:`make_node_leases`
picks one. Both pass one contract suite (tests/integration/cluster/test_node_leases.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from palinsesto.config import Settings
from palinsesto.protocol.messages import NodeState

Role = Literal["origin", "edge"]
ROLES: tuple[Role, ...] = ("origin", "edge")


@dataclass(frozen=True, slots=True)
class NodeLease:
    """What a node said in its last heartbeat. ``state`` is what the panel told it (online
    or draining); :meth:`NodeLeases.nodes` returns the effective state and ``last_beat``
    (unix time of the beat), ``beat_age`` (seconds since) and ``lease_until``."""

    node_id: int
    tenant_id: int
    state: NodeState
    public_url: str
    rtmp_url: str = ""
    viewers: int = 0
    egress_mbps: float = 0.0
    cpu_percent: float = 0.0
    capacity_viewers: int = 0
    max_channels: int = 0
    channels: dict[int, int] = field(default_factory=dict)  # channel id -> viewers
    # channel id -> what the node's catch-up archive holds of it: (start, end) stretches
    archives: dict[int, list[tuple[float, float]]] = field(default_factory=dict)
    archive_bytes: dict[int, int] = field(default_factory=dict)  # channel id -> disk used
    srt_ingest: dict[int, str] = field(default_factory=dict)  # channel id -> srt:// URL
    last_beat: float = 0.0
    beat_age: float = 0.0
    lease_until: float = 0.0

    def to_json(self) -> dict[str, Any]:
        # Field by field: dataclasses.asdict deep-copies, and this runs on every heartbeat.
        return {
            "node_id": self.node_id,
            "tenant_id": self.tenant_id,
            "state": self.state.value,
            "public_url": self.public_url,
            "rtmp_url": self.rtmp_url,
            "viewers": self.viewers,
            "egress_mbps": self.egress_mbps,
            "cpu_percent": self.cpu_percent,
            "capacity_viewers": self.capacity_viewers,
            "max_channels": self.max_channels,
            "channels": {str(k): v for k, v in self.channels.items()},
            "archives": {str(k): v for k, v in self.archives.items()},
            "archive_bytes": {str(k): v for k, v in self.archive_bytes.items()},
            "srt_ingest": {str(k): v for k, v in self.srt_ingest.items()},
            "last_beat": self.last_beat,
            "beat_age": self.beat_age,
            "lease_until": self.lease_until,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> NodeLease:
        values = dict(raw)
        values["state"] = NodeState(values["state"])
        values["channels"] = {int(k): int(v) for k, v in values.get("channels", {}).items()}
        values["archives"] = {
            int(k): [(float(a), float(b)) for a, b in v]
            for k, v in values.get("archives", {}).items()
        }
        values["archive_bytes"] = {
            int(k): int(v) for k, v in values.get("archive_bytes", {}).items()
        }
        values["srt_ingest"] = {int(k): str(v) for k, v in values.get("srt_ingest", {}).items()}
        return cls(**values)


class LeasesUnavailable(RuntimeError):
    """The shared store cannot be reached (the Redis store; the in-process one never is)."""


def effective(lease: NodeLease, draining: bool, now: float) -> NodeLease:
    """``lease`` as seen at ``now``: lost after its lease, draining if flagged."""
    if now >= lease.lease_until:
        state = NodeState.lost
    elif draining or lease.state is NodeState.draining:
        state = NodeState.draining
    else:
        state = NodeState.online
    return dataclasses.replace(lease, state=state, beat_age=max(0.0, now - lease.last_beat))


def check_role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise ValueError(f"role: expected origin or edge, not {role!r}")


class NodeLeases:
    """The in-process store (one panel, no Redis)."""

    def __init__(self) -> None:
        self._leases: dict[int, NodeLease] = {}
        self._draining: set[int] = set()
        self._placements: dict[int, dict[int, Role]] = {}  # channel -> node -> role
        self._of_node: dict[int, set[int]] = {}  # node -> channels
        self._lock = asyncio.Lock()

    async def beat(self, lease: NodeLease, lease_seconds: float, now: float) -> None:
        """Record a heartbeat: the node is alive until ``now + lease_seconds``."""
        stamped = dataclasses.replace(
            lease, last_beat=now, beat_age=0.0, lease_until=now + lease_seconds
        )
        async with self._lock:
            self._leases[lease.node_id] = stamped

    async def nodes(self, tenant_id: int | None, now: float) -> list[NodeLease]:
        """Every node (of one tenant, or all), lost ones included until forgotten, by id."""
        async with self._lock:
            leases = [
                effective(lease, lease.node_id in self._draining, now)
                for lease in self._leases.values()
                if tenant_id is None or lease.tenant_id == tenant_id
            ]
        return sorted(leases, key=lambda lease: lease.node_id)

    async def set_draining(self, node_id: int, draining: bool) -> None:
        async with self._lock:
            if draining:
                self._draining.add(node_id)
            else:
                self._draining.discard(node_id)

    async def forget(self, node_id: int) -> None:
        """Drop the node's lease and draining flag (its placements: :meth:`clear_node`)."""
        async with self._lock:
            self._leases.pop(node_id, None)
            self._draining.discard(node_id)

    async def place(self, channel_id: int, node_id: int, role: Role) -> bool:
        """Record that ``node_id`` carries the channel as ``role``. False (and nothing
        changes) when ``role`` is origin and another node already is the origin."""
        check_role(role)
        async with self._lock:
            nodes = self._placements.setdefault(channel_id, {})
            if role == "origin" and any(r == "origin" and n != node_id for n, r in nodes.items()):
                return False
            nodes[node_id] = role
            self._of_node.setdefault(node_id, set()).add(channel_id)
            return True

    async def placements(self, channel_id: int) -> list[tuple[int, Role]]:
        """(node id, role) pairs, the origin first, then by node id."""
        async with self._lock:
            nodes = dict(self._placements.get(channel_id, {}))
        return sorted(nodes.items(), key=lambda item: (item[1] != "origin", item[0]))

    async def channels_of_node(self, node_id: int) -> list[int]:
        async with self._lock:
            return sorted(self._of_node.get(node_id, ()))

    async def unplace(self, channel_id: int, node_id: int) -> None:
        async with self._lock:
            self._unplace(channel_id, node_id)

    async def clear_node(self, node_id: int) -> list[int]:
        """Remove every placement of ``node_id``; the channels it carried."""
        async with self._lock:
            channels = sorted(self._of_node.get(node_id, ()))
            for channel_id in channels:
                self._unplace(channel_id, node_id)
            return channels

    async def close(self) -> None:
        """Release what the store holds (nothing here; the Redis store closes its pool)."""

    def _unplace(self, channel_id: int, node_id: int) -> None:
        nodes = self._placements.get(channel_id)
        if nodes is not None:
            nodes.pop(node_id, None)
            if not nodes:
                del self._placements[channel_id]
        channels = self._of_node.get(node_id)
        if channels is not None:
            channels.discard(channel_id)
            if not channels:
                del self._of_node[node_id]


def make_node_leases(settings: Settings) -> NodeLeases:
    """The store for this process: Redis when ``PALINSESTO_REDIS_URL`` is set, else in-process."""
    if not settings.redis_url:
        return NodeLeases()
    from palinsesto.cluster.node_leases_redis import RedisNodeLeases

    return RedisNodeLeases(settings.redis_url, settings.redis_key_prefix)
