"""The panel's control of its nodes: who a node token is, what a heartbeat changes, which
channels each node carries, and which node a viewer is sent to.

Steady state costs no database query: node identities, the key ring, channel facts and
the tenants' pinned channels are cached and dropped on change events (``servers``,
``catalog``, ``play_keys``). The database is written when a node registers, and at most
every :data:`PERSIST_SECONDS` per node after that (its last heartbeat, its state).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from palinsesto.catalog.models import ChannelMode
from palinsesto.cluster.events import ChangeEvents
from palinsesto.cluster.models import Server, ServerStatus
from palinsesto.cluster.servers import hash_node_token
from palinsesto.config import Settings
from palinsesto.db import Database
from palinsesto.panel import placement as place
from palinsesto.panel.nodes.keyring import PlayKeyRing
from palinsesto.panel.nodes.shared import NodeBoard, NodeLease, SessionSlots, Slot
from palinsesto.panel.playback.access import Grant, PlaybackAccess
from palinsesto.protocol.messages import (
    Assignment,
    Heartbeat,
    NodeState,
    PanelReply,
    Registration,
)
from palinsesto.protocol.play_tokens import PlayKind
from palinsesto.protocol.sources import SourceKind

log = logging.getLogger(__name__)

IDENTITY_TTL = 30.0  # backstop: a revocation is normally seen at once (change event)
PERSIST_SECONDS = 30.0
RELAY_TOKEN_DAYS = 2  # relay URLs change once a day (an edge restarts its pull then)
ON_DEMAND_IDLE_SECONDS = 60.0  # an on-demand placement no node reports viewers for


class UnknownNode(LookupError):
    """No server has this token (never had, rotated or revoked): 401."""


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """A server row as the node API needs it (cached by token hash)."""

    id: int
    tenant_id: int
    name: str
    public_url: str
    rtmp_url: str
    max_viewers: int
    max_channels: int
    egress_mbps: int
    draining: bool


@dataclass(frozen=True, slots=True)
class Admitted:
    node_id: int
    session_id: int
    url: str
    kicked: tuple[int, ...]


def _identity(row: Server) -> NodeIdentity:
    return NodeIdentity(
        row.id,
        row.tenant_id,
        row.name,
        row.public_url,
        row.rtmp_url,
        row.capacity,
        row.max_channels or 100,
        row.egress_mbps or 1000,
        row.draining,
    )


class NodeControl:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        events: ChangeEvents,
        access: PlaybackAccess,
        keys: PlayKeyRing,
        board: NodeBoard | None = None,
        slots: SessionSlots | None = None,
    ) -> None:
        self.settings, self._db, self.access, self.keys = settings, db, access, keys
        self.board = board or NodeBoard()
        self.slots = slots or SessionSlots()
        self._events = events
        self._identities: dict[str, tuple[float, NodeIdentity | None]] = {}
        self._tenant_nodes: dict[int, tuple[int, bool]] = {}
        self._pinned: dict[int, tuple[int, list[tuple[int, bool]]]] = {}
        self._since_beat: Counter[int] = Counter()  # viewers sent since the node's last beat
        self._persisted: dict[int, tuple[NodeState, float]] = {}
        self._placed_at: dict[int, float] = {}  # on-demand placements: when first made
        self._lock = threading.Lock()
        self._events.subscribe(self._on_change)

    @property
    def lease_seconds(self) -> float:
        return self.settings.node_lease_seconds

    def _on_change(self, tenant_id: int, topic: str) -> None:
        if topic != "servers":
            return
        with self._lock:
            for digest, (_, found) in list(self._identities.items()):
                if found is None or found.tenant_id == tenant_id:
                    del self._identities[digest]

    # ---- who is calling ----

    def identity_cached(self, token: str) -> NodeIdentity | None | bool:
        """The cached answer for ``token`` (None: known bad), or False on a miss."""
        hit = self._identities.get(hash_node_token(token))
        if hit is None or time.monotonic() - hit[0] > IDENTITY_TTL:
            return False
        return hit[1]

    def identify(self, token: str) -> NodeIdentity:
        """The server ``token`` opens (database on a cache miss), or :class:`UnknownNode`."""
        digest = hash_node_token(token)
        hit = self._identities.get(digest)
        if hit is not None and time.monotonic() - hit[0] <= IDENTITY_TTL:
            found = hit[1]
        else:
            with self._db.session() as session:
                row = session.scalar(select(Server).where(Server.token_hash == digest))
                valid = row is not None and row.status != ServerStatus.disabled
                found = _identity(row) if row is not None and valid else None
            with self._lock:
                if len(self._identities) > 100_000:
                    self._identities.clear()
                self._identities[digest] = (time.monotonic(), found)
        if found is None:
            raise UnknownNode("unknown or revoked node token")
        return found

    def tenant_has_nodes(self, tenant_id: int, *, cached_only: bool = False) -> bool | None:
        """Whether the tenant has a server that is not disabled (None: not cached and
        ``cached_only``). Such a tenant's viewers are admitted to its nodes."""
        version = self._events.version(tenant_id, "servers")
        hit = self._tenant_nodes.get(tenant_id)
        if hit is not None and hit[0] == version:
            return hit[1]
        if cached_only:
            return None
        with self._db.session() as session:
            found = session.scalar(
                select(Server.id)
                .where(Server.tenant_id == tenant_id, Server.status != ServerStatus.disabled)
                .limit(1)
            )
        self._tenant_nodes[tenant_id] = (version, found is not None)
        return found is not None

    # ---- registration and heartbeats ----

    def register(self, node: NodeIdentity, reg: Registration) -> PanelReply:
        """Record what the node says of itself; a node that registers again (a restart)
        serves nothing yet, so its old sessions' slots are freed."""
        with self._db.transaction() as session:
            row = session.get(Server, node.id)
            if row is None:
                raise UnknownNode("unknown or revoked node token")
            row.public_url = reg.public_url.rstrip("/") or row.public_url
            row.rtmp_url = reg.rtmp_url.rstrip("/")
            row.egress_mbps = reg.capacity.egress_mbps
            row.max_channels = reg.capacity.max_channels
            row.cpus = reg.capacity.cpus
            row.version = reg.version[:40]
            row.status = ServerStatus.online
            row.last_heartbeat_at = datetime.now(UTC)
            node = _identity(row)
        self._forget_identity(node.id)
        self.slots.release_node(node.id)
        now = time.time()
        self._persisted[node.id] = (NodeState.online, now)
        lease = NodeLease(
            node.id,
            node.tenant_id,
            node.name,
            node.public_url,
            node.rtmp_url,
            node.draining,
            now,
            max_viewers=node.max_viewers,
            max_channels=node.max_channels,
            max_egress_mbps=float(node.egress_mbps),
            version=reg.version[:40],
        )
        self.board.put_lease(lease)
        self.place_pinned(node.tenant_id)
        return self._reply(lease, ())

    def _forget_identity(self, node_id: int) -> None:
        with self._lock:
            for digest, (_, found) in list(self._identities.items()):
                if found is not None and found.id == node_id:
                    del self._identities[digest]

    def heartbeat(self, node: NodeIdentity, beat: Heartbeat) -> PanelReply:
        now = time.time()
        previous = self.board.lease(node.id)
        lease = NodeLease(
            node.id,
            node.tenant_id,
            node.name,
            previous.public_url if previous else node.public_url,
            previous.rtmp_url if previous else node.rtmp_url,
            node.draining,
            now,
            max_viewers=node.max_viewers,
            max_channels=node.max_channels,
            max_egress_mbps=float(node.egress_mbps),
            viewers=beat.viewers,
            egress_mbps=beat.egress_mbps,
            cpu_percent=beat.cpu_percent,
            channels=beat.channels,
            version=previous.version if previous else "",
        )
        self.board.put_lease(lease)
        self._since_beat.pop(node.id, None)
        self.slots.release(node.id, tuple(e.session_id for e in beat.ended))
        refused = self.slots.renew(node.id, beat.alive)
        kicks = self.slots.take_kicks(node.id)
        if previous is None:  # first beat this replica hears (another took the register)
            self.place_pinned(node.tenant_id)
        ended = tuple(dict.fromkeys((*kicks, *refused)))
        return self._reply(lease, ended)

    def _reply(self, lease: NodeLease, end_sessions: tuple[int, ...]) -> PanelReply:
        self.keys.refresh_if_stale()
        return PanelReply(
            node_id=lease.node_id,
            state=NodeState.draining if lease.draining else NodeState.online,
            heartbeat_seconds=self.settings.node_heartbeat_seconds,
            lease_seconds=self.settings.node_lease_seconds,
            keys=self.keys.keys,
            assignments=tuple(self.assignments(lease.node_id, lease.tenant_id)),
            end_sessions=end_sessions,
            token_ttl_seconds=self.settings.play_token_ttl_seconds,
            hls_session_timeout_seconds=self.settings.hls_session_timeout_seconds,
        )

    # ---- channels on nodes ----

    def _views(self, tenant_id: int, now: float) -> dict[int, place.NodeView]:
        return {
            lease.node_id: lease.view(now, self.lease_seconds, self._since_beat[lease.node_id])
            for lease in self.board.leases(tenant_id)
        }

    def pinned_channels(self, tenant_id: int) -> list[tuple[int, bool]]:
        """The tenant's channels that run without viewers, ``(id, is_push)``: always-on,
        archived (recorded) and push channels (their encoder publishes to one node)."""
        version = self._events.version(tenant_id, "catalog")
        hit = self._pinned.get(tenant_id)
        if hit is not None and hit[0] == version:
            return hit[1]
        access = self.access
        ids: dict[int, bool] = {}
        for info in access.tenant_channels(ChannelMode.always_on, tenant_id):
            ids[info.id] = False
        for info in access.archived_channels(tenant_id):
            ids[info.id] = False
        for kind in (SourceKind.push_rtmp, SourceKind.push_srt):
            for info in access.push_channels(kind, tenant_id):
                ids[info.id] = True
        found = sorted(ids.items())
        self._pinned[tenant_id] = (version, found)
        return found

    def place_pinned(self, tenant_id: int) -> None:
        """(Re)place the tenant's pinned channels (sticky; lost nodes' channels move)."""
        now = time.time()
        views = self._views(tenant_id, now)
        pinned = self.pinned_channels(tenant_id)
        current = {p.channel_id: p for p in self.board.placements(tenant_id)}
        wanted = {cid for cid, _ in pinned}
        placed = place.place_pinned(((cid, tenant_id) for cid, _ in pinned), views, current)
        for channel_id, placement in placed.items():
            if current.get(channel_id) != placement:
                self.board.put_placement(placement)
        for channel_id in wanted - placed.keys():
            if channel_id in current:  # no node can take it now
                self.board.drop_placement(channel_id)

    def assignments(self, node_id: int, tenant_id: int) -> list[Assignment]:
        """What the node must carry: its placements, with the origin's relay URL where it
        is an edge. Only channels of its own tenant are ever looked at."""
        pinned = dict(self.pinned_channels(tenant_id))
        found: list[Assignment] = []
        for placement, is_origin in place.placements_of(node_id, self.board.placements(tenant_id)):
            if placement.tenant_id != tenant_id:
                continue
            info = self.access.channel(tenant_id, placement.channel_id)
            if info is None or not info.enabled:
                continue
            origin_url = "" if is_origin else self.relay_url(placement)
            always_on = is_origin and placement.channel_id in pinned
            found.append(Assignment(info, always_on, origin_url))
        return found

    def relay_url(self, placement: place.Placement) -> str:
        origin = self.board.lease(placement.origin)
        if origin is None:
            return ""
        day = 86_400
        expires = (int(time.time()) // day + RELAY_TOKEN_DAYS) * day
        token = self.keys.tokens.issue(
            tenant_id=placement.tenant_id,
            line_id=0,
            channel_id=placement.channel_id,
            session_id=0,
            kind=PlayKind.relay,
            expires=expires,
        )
        return f"{origin.public_url}/relay/{token}.ts"

    # ---- lost nodes ----

    def sweep(self) -> list[int]:
        """Free lost nodes' slots, re-place their channels, drop idle on-demand placements
        and persist node states; the ids of nodes found lost. Idempotent: every replica
        runs it every heartbeat period."""
        now = time.time()
        lost: list[int] = []
        tenants: set[int] = set()
        for lease in self.board.leases():
            state = lease.state(now, self.lease_seconds)
            tenants.add(lease.tenant_id)
            if state is NodeState.lost:
                lost.append(lease.node_id)
                freed = self.slots.release_node(lease.node_id)
                if freed:
                    log.warning("node %s lost: %d sessions freed", lease.node_id, freed)
            self._persist(lease, state, now)
        for tenant_id in tenants:
            views = self._views(tenant_id, now)
            pinned = {cid for cid, _ in self.pinned_channels(tenant_id)}
            for placement in self.board.placements(tenant_id):
                if placement.channel_id in pinned:
                    continue
                kept = place.repair(placement, views)
                if kept is None or self._idle(placement, now):
                    self.board.drop_placement(placement.channel_id)
                    self._placed_at.pop(placement.channel_id, None)
                elif kept != placement:
                    self.board.put_placement(kept)
            self.place_pinned(tenant_id)
        return lost

    def _idle(self, placement: place.Placement, now: float) -> bool:
        if now - self._placed_at.get(placement.channel_id, now) < ON_DEMAND_IDLE_SECONDS:
            return False
        for node_id in placement.nodes:
            lease = self.board.lease(node_id)
            if lease is None:
                continue
            if any(c.channel_id == placement.channel_id and c.viewers for c in lease.channels):
                return False
        return True

    def _persist(self, lease: NodeLease, state: NodeState, now: float) -> None:
        last = self._persisted.get(lease.node_id)
        if last is not None and last[0] is state and now - last[1] < PERSIST_SECONDS:
            return
        self._persisted[lease.node_id] = (state, now)
        status = ServerStatus.offline if state is NodeState.lost else ServerStatus.online
        beat = datetime.fromtimestamp(lease.renewed_at, UTC)
        with self._db.transaction() as session:
            session.execute(
                update(Server)
                .where(Server.id == lease.node_id, Server.status != ServerStatus.disabled)
                .values(status=status, last_heartbeat_at=beat)
            )

    # ---- admission ----

    def admit(self, grant: Grant, kind: PlayKind, ip: str, user_agent: str) -> Admitted:
        """Reserve a slot on the node the viewer is sent to; the URL of the 302. Raises
        NoNodeAvailable, TooManyConnections / TooManyViewers, SlotsUnavailable."""
        line, channel = grant.line, grant.channel
        now = time.time()
        views = self._views(line.tenant_id, now)
        current = self.board.placement(channel.id)
        node, placement = place.node_for_viewer(channel.id, line.tenant_id, views, current)
        session_id = self.slots.new_session_id()
        kicked = self.slots.reserve(
            Slot(
                session_id,
                line.tenant_id,
                line.id,
                node.id,
                ip,
                user_agent,
                now,
                line.username,
                channel.id,
                "hls" if kind is PlayKind.hls else "ts",
            ),
            max_connections=line.max_connections,
            tenant_limit=grant.max_viewers,
            policy=grant.policy,
        )
        if placement != current:
            self.board.put_placement(placement)
            self._placed_at.setdefault(channel.id, now)
        self._since_beat[node.id] += 1
        lease = self.board.lease(node.id)
        assert lease is not None  # views come from the leases
        bind = ip if self.settings.play_token_bind_ip else None
        token = self.keys.tokens.issue(
            tenant_id=line.tenant_id,
            line_id=line.id,
            channel_id=channel.id,
            session_id=session_id,
            kind=kind,
            expires=int(now) + self.settings.play_token_ttl_seconds,
            client_ip=bind,
        )
        ext = "m3u8" if kind is PlayKind.hls else "ts"
        url = f"{lease.public_url}/play/{token}.{ext}"
        return Admitted(node.id, session_id, url, tuple(s.session_id for s in kicked))

    # ---- what the panel shows ----

    def node_status(self, node_id: int) -> dict[str, Any] | None:
        lease = self.board.lease(node_id)
        if lease is None:
            return None
        now = time.time()
        return {
            "state": lease.state(now, self.lease_seconds).value,
            "heartbeat_age_seconds": round(now - lease.renewed_at, 1),
            "viewers": lease.viewers,
            "egress_mbps": lease.egress_mbps,
            "cpu_percent": lease.cpu_percent,
            "channels": len(lease.channels),
        }

    def channel_loads(self, tenant_id: int | None) -> dict[int, dict[str, Any]]:
        """Each channel's state summed over the nodes that carry it (from heartbeats)."""
        found: dict[int, dict[str, Any]] = {}
        now = time.time()
        for lease in self.board.leases(tenant_id):
            if lease.state(now, self.lease_seconds) is NodeState.lost:
                continue
            for load in lease.channels:
                entry = found.setdefault(
                    load.channel_id,
                    {"viewers": 0, "state": load.state, "healthy": load.healthy, "nodes": []},
                )
                entry["viewers"] += load.viewers
                entry["healthy"] = entry["healthy"] or load.healthy
                if load.state == "running":
                    entry["state"] = "running"
                entry["nodes"].append(lease.node_id)
        return found

    def active_count(self, line_id: int) -> int:
        """The player API's ``active_cons``: the line's slots on every node."""
        return self.slots.line_count(line_id)

    def end_session(self, session_id: int, tenant_id: int | None) -> bool:
        """End a session on a node (False: no such session of that tenant here)."""
        return self.slots.kick(session_id, tenant_id)

    def ingest_node(self, tenant_id: int, channel_id: int) -> NodeLease | None:
        """The node a push channel is pinned to (its encoder publishes there)."""
        placement = self.board.placement(channel_id)
        if placement is None or placement.tenant_id != tenant_id:
            return None
        return self.board.lease(placement.origin)

    def with_draining(self, node_id: int, draining: bool) -> None:
        """Apply a drain switch to the lease at once (the node hears it at its next beat)."""
        lease = self.board.lease(node_id)
        if lease is not None:
            self.board.put_lease(replace(lease, draining=draining))
        self._forget_identity(node_id)
