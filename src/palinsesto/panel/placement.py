"""Which node carries which channel, and which node a new viewer is sent to.

Pure functions over what the panel knows of its nodes (their leases: state, capacity,
load) and the current placements; the caller stores what they return in the shared state
(every replica sees the same). Rules:

* Only nodes of the channel's own tenant are ever considered.
* An always-on channel (or a push channel: its encoder publishes to one node) goes to the
  least-loaded online node and stays there (sticky) while that node is not lost.
* An on-demand channel is placed at its first play on the least-loaded online node with
  room for a viewer.
* A viewer goes to the channel's origin while it has room; when it is full (viewers ≥
  capacity) to an edge with room, else to a new edge on the least-loaded other online node
  with room. Edges pull the channel from the origin, so the upstream sees one connection.
* A lost node's channels are re-placed; a draining node keeps serving what it has (its
  viewers, and the edges that pull from it when it is an origin) but gets no new channel
  and no new viewer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from palinsesto.protocol.messages import NodeState


@dataclass(frozen=True, slots=True)
class NodeView:
    """A node as placement sees it (its lease)."""

    id: int
    tenant_id: int
    state: NodeState
    viewers: int = 0
    max_viewers: int = 1000  # the server's capacity
    channels: int = 0
    max_channels: int = 100
    egress_mbps: float = 0.0
    max_egress_mbps: float = 1000.0

    @property
    def load(self) -> float:
        """The fullest of its resources, 0..1 (and above when overcommitted)."""
        return max(
            self.viewers / max(self.max_viewers, 1),
            self.channels / max(self.max_channels, 1),
            self.egress_mbps / max(self.max_egress_mbps, 1.0),
        )

    @property
    def has_room(self) -> bool:
        return self.viewers < self.max_viewers

    @property
    def online(self) -> bool:
        return self.state is NodeState.online


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a channel runs: its origin (pulls the sources, or receives the push) and the
    edges that relay it from the origin."""

    channel_id: int
    tenant_id: int
    origin: int
    edges: tuple[int, ...] = ()

    @property
    def nodes(self) -> tuple[int, ...]:
        return (self.origin, *self.edges)


class NoNodeAvailable(LookupError):
    """No online node of the tenant can take the channel or the viewer (503)."""


def _candidates(nodes: Iterable[NodeView], tenant_id: int) -> list[NodeView]:
    return sorted(
        (n for n in nodes if n.tenant_id == tenant_id and n.online), key=lambda n: (n.load, n.id)
    )


def least_loaded(
    nodes: Iterable[NodeView], tenant_id: int, *, need_room: bool, exclude: Iterable[int] = ()
) -> NodeView | None:
    """The tenant's online node with the lowest load (ties: lowest id), if any."""
    skip = set(exclude)
    for node in _candidates(nodes, tenant_id):
        if node.id not in skip and (node.has_room or not need_room):
            return node
    return None


def _with_channel(node: NodeView) -> NodeView:
    return replace(node, channels=node.channels + 1)


def place_pinned(
    channels: Iterable[tuple[int, int]],
    nodes: Mapping[int, NodeView],
    placements: Mapping[int, Placement],
) -> dict[int, Placement]:
    """Placements for always-on and push channels, given as ``(channel id, tenant id)``.

    A channel keeps its nodes while they live (a lost origin is replaced by its first live
    edge, see :func:`repair`); new ones are spread over the least-loaded online nodes,
    counting what this call adds. A channel no online node of its tenant can take is left
    out.
    """
    view = dict(nodes)
    result: dict[int, Placement] = {}
    for channel_id, tenant_id in sorted(channels):
        current = placements.get(channel_id)
        if current is not None and current.tenant_id == tenant_id:
            kept = repair(current, view)
            if kept is not None:
                result[channel_id] = kept
                continue
        node = least_loaded(view.values(), tenant_id, need_room=False)
        if node is None:
            continue
        view[node.id] = _with_channel(node)
        result[channel_id] = Placement(channel_id, tenant_id, node.id)
    return result


def repair(placement: Placement, nodes: Mapping[int, NodeView]) -> Placement | None:
    """``placement`` without lost nodes: a lost edge is dropped; a lost origin is replaced
    by its first live edge (which then pulls the sources itself). None: nothing is left."""
    alive = [
        n
        for n in placement.nodes
        if n in nodes
        and nodes[n].state is not NodeState.lost
        and nodes[n].tenant_id == placement.tenant_id
    ]
    if not alive:
        return None
    if len(alive) == len(placement.edges) + 1:
        return placement  # every node lives (each admission asks: no copy then)
    return replace(placement, origin=alive[0], edges=tuple(alive[1:]))


def node_for_viewer(
    channel_id: int,
    tenant_id: int,
    nodes: Mapping[int, NodeView],
    placement: Placement | None,
) -> tuple[NodeView, Placement]:
    """The node a new viewer of the channel is sent to, and the channel's placement after
    it (a new placement, or a new edge, when needed). Raises :class:`NoNodeAvailable`."""
    current = repair(placement, nodes) if placement is not None else None
    if current is not None and current.tenant_id != tenant_id:
        current = None
    if current is None:
        node = least_loaded(nodes.values(), tenant_id, need_room=True)
        if node is None:
            raise NoNodeAvailable("no streaming server online")
        return node, Placement(channel_id, tenant_id, node.id)
    for node_id in current.nodes:  # the origin first, then the edges in order
        node = nodes[node_id]
        if node.online and node.has_room:
            return node, current
    edge = least_loaded(nodes.values(), tenant_id, need_room=True, exclude=current.nodes)
    if edge is None:
        raise NoNodeAvailable("no streaming server has room")
    return edge, replace(current, edges=(*current.edges, edge.id))


def placements_of(node_id: int, placements: Iterable[Placement]) -> list[tuple[Placement, bool]]:
    """The placements that involve ``node_id``, each with True where it is the origin."""
    return [(p, p.origin == node_id) for p in placements if node_id in p.nodes]
