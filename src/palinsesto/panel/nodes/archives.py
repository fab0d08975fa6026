"""What the nodes' catch-up archives hold, as their heartbeats report it: the player API's
``tv_archive`` / ``has_archive`` in ``palinsesto panel`` mode, and the node a catch-up play
is sent to.

A channel with ``archive_days`` is recorded on the node that runs it (its origin: pinned
channels, panel/nodes/control.py); each heartbeat lists the recorded stretches of the
channels the node records, and they travel in its lease (Redis), so every replica sees
them. The player API reads the copy the replica's sweep keeps (one heartbeat period old at
most); admission reads the leases themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from palinsesto.cluster.node_leases import NodeLease
from palinsesto.node.archive.index import covers
from palinsesto.protocol.messages import NodeState

Stretches = list[tuple[float, float]]


def overlap(stretches: Stretches, start: float, end: float) -> float:
    """Seconds of [start, end] the stretches hold."""
    return sum(max(0.0, min(e, end) - max(s, start)) for s, e in stretches)


def archive_node(leases: Iterable[NodeLease], channel_id: int, start: float, end: float) -> int:
    """The online node whose archive holds most of [start, end] of the channel (0: none
    holds any of it)."""
    best, best_held = 0, 0.0
    for lease in leases:
        if lease.state is not NodeState.online:
            continue
        held = overlap(lease.archives.get(channel_id, []), start, end)
        if held > best_held:
            best, best_held = lease.node_id, held
    return best


@dataclass(frozen=True, slots=True)
class NodeArchive:
    """What one node's archive holds of one channel."""

    node_id: int
    stretches: Stretches
    bytes: int  # 0 when the node did not say


class ClusterArchives:
    """The archive facts of every node, by (tenant, channel): what ``ArchiveStore`` answers
    on the all-in-one (``recorded_any``, ``holds``), for the player API, and per node what
    the admin's archive status lists."""

    quota_bytes = 0  # each node applies its own archive quota

    def __init__(self) -> None:
        self._held: dict[tuple[int, int], list[NodeArchive]] = {}

    def update(self, leases: Iterable[NodeLease]) -> None:
        """Adopt what the nodes reported (every lease the sweep read; lost nodes' archives
        are out of reach, so they hold nothing)."""
        held: dict[tuple[int, int], list[NodeArchive]] = {}
        for lease in sorted(leases, key=lambda lease: lease.node_id):
            if lease.state is NodeState.lost:
                continue
            for channel_id, stretches in lease.archives.items():
                if stretches:
                    used = lease.archive_bytes.get(channel_id, 0)
                    held.setdefault((lease.tenant_id, channel_id), []).append(
                        NodeArchive(lease.node_id, stretches, used)
                    )
        self._held = held

    def stretches(self, key: tuple[int, int]) -> list[Stretches]:
        """Each node's recorded stretches of the channel."""
        return [found.stretches for found in self._held.get(key, [])]

    def by_node(self, key: tuple[int, int]) -> list[NodeArchive]:
        """Each node's archive of the channel (what the admin's archive status lists)."""
        return list(self._held.get(key, []))

    def channels_of(self, tenant_id: int) -> list[int]:
        """The tenant's channels some node holds recordings of."""
        return sorted(channel for tenant, channel in self._held if tenant == tenant_id)

    def recorded_any(self, key: tuple[int, int]) -> bool:
        return key in self._held

    def holds(self, key: tuple[int, int], start: float, end: float) -> bool:
        return any(covers(found.stretches, start, end) for found in self._held.get(key, []))
