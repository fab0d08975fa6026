"""The panel's control of its nodes: who a node token is, what a heartbeat changes, which
channels each node carries, and which node a viewer is sent to.

Leases, placements and session slots live in the cluster's shared stores
(cluster/node_leases.py, cluster/session_slots.py: in process, or in Redis for several
replicas), so whichever replica a node or a player reaches decides alike. Steady state
costs no database query: node identities, the key ring, channel facts and the tenants'
pinned channels are cached and dropped on change events (``servers``, ``catalog``,
``play_keys``). The database is written when a node registers, and at most every
:data:`PERSIST_SECONDS` per node after that (its last heartbeat, its state).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar, cast
from urllib.parse import quote

from sqlalchemy import select, update

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.catalog.models import ChannelMode
from palinsesto.cluster.events import ChangeEvents
from palinsesto.cluster.models import Server, ServerStatus
from palinsesto.cluster.node_leases import NodeLease, NodeLeases
from palinsesto.cluster.servers import hash_node_token
from palinsesto.cluster.session_slots import (
    GROUP_MAX_VIEWERS,
    NEW_SESSION,
    TENANT_MAX_VIEWERS,
    PlayLabel,
    Reserved,
    SessionSlots,
    SlotRefused,
    SlotRequest,
)
from palinsesto.config import Settings
from palinsesto.db import Database
from palinsesto.panel import placement as place
from palinsesto.panel.nodes.archives import ClusterArchives, archive_node
from palinsesto.panel.nodes.keyring import PlayKeyRing
from palinsesto.panel.nodes.syndication_watch import (
    SyndicationWatch,
    offer_group,
    syndication_group,
)
from palinsesto.panel.playback.access import Grant, PlaybackAccess, SyndicatedTerms
from palinsesto.panel.playback.admission import (
    SyndicationFull,
    SyndicationTotalFull,
    TooManyConnections,
    TooManyViewers,
)
from palinsesto.panel.playback.lines import LineView
from palinsesto.panel.playback.vod_access import VodAccess, VodGrant
from palinsesto.panel.playback.watch_tokens import is_signed_line
from palinsesto.protocol.messages import (
    Assignment,
    ChannelLoad,
    Heartbeat,
    NodeState,
    PanelReply,
    Registration,
)
from palinsesto.protocol.play_tokens import PlayKind, relayed_subject, source_tag, window_subject
from palinsesto.protocol.sources import SourceKind
from palinsesto.protocol.watermark import code_for
from palinsesto.trust.watermark import record_mark

# A session ended with a slate: its description becomes {SLATE_MARK: ENDED_SLATE, SLATE_AT: t}.
SLATE_MARK = "slate"
SLATE_AT = "slate_at"  # when it was marked (unix s): the prune keeps it a while
ENDED_SLATE = "ended"

# What the admin's sessions list says a play is.
OUTPUTS = {
    PlayKind.ts: "ts",
    PlayKind.hls: "hls",
    PlayKind.vod: "movie",  # or "series": the item's kind, as the all-in-one says
    PlayKind.archive: "timeshift",
    PlayKind.relay: "relay",
    PlayKind.vod_hls: "movie-hls",  # or "series-hls"
    PlayKind.vod_proxy: "movie",
}
# Plays whose node URL carries what their token is signed over after the token.
URL_PREFIXES = {
    PlayKind.vod: "vod",
    PlayKind.vod_hls: "vodhls",
    PlayKind.vod_proxy: "vodproxy",
    PlayKind.archive: "archive",
}

log = logging.getLogger(__name__)
T = TypeVar("T")

IDENTITY_TTL = 30.0  # backstop: a revocation is normally seen at once (change event)
PERSIST_SECONDS = 30.0
PRUNE_SECONDS = 60.0  # how often the sweep drops descriptions of sessions that lapsed
ON_DEMAND_IDLE_SECONDS = 60.0  # an on-demand placement no node reports viewers for
# Admission reads a tenant's leases and a channel's placement from the shared store at most
# this often (each a Redis round trip); viewers sent meanwhile are counted here.
ADMISSION_CACHE_SECONDS = 0.5


class NoArchive(LookupError):
    """No online node's archive holds any of a catch-up window (404)."""


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


@dataclass(frozen=True, slots=True)
class AdmittedSession:
    """A session admitted to a node, for the admin's sessions list: described in the
    shared store beside its slot by the reservation that won it (a
    :class:`~palinsesto.cluster.session_slots.PlayLabel`), whichever replica admitted it."""

    session_id: int
    tenant_id: int
    line_id: int
    username: str
    channel_id: int
    node_id: int
    ip: str
    user_agent: str
    output: str
    started_at: float


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


def _view(lease: NodeLease, extra_viewers: int, max_egress: float) -> place.NodeView:
    return place.NodeView(
        lease.node_id,
        lease.tenant_id,
        lease.state,
        viewers=lease.viewers + extra_viewers,
        max_viewers=lease.capacity_viewers,
        channels=len(lease.channels),
        max_channels=lease.max_channels or 100,
        egress_mbps=lease.egress_mbps,
        max_egress_mbps=max_egress,
    )


def _slot_groups(terms: SyndicatedTerms) -> tuple[tuple[str, int | None], ...]:
    """The slot groups of a partner's play: its syndication's (the per-partner cap, and the
    audience's count), then, when the offer caps all its partners together, the offer's."""
    partner = (syndication_group(terms.syndication_id), terms.max_viewers)
    total = terms.total_cap()
    if total is None:
        return (partner,)
    return (partner, (offer_group(total[0]), total[1]))


def _host_tenant(grant: Grant) -> int:
    """Whose nodes serve the play: a syndicated channel's owner's, else the line's tenant's."""
    terms = grant.syndicated
    return terms.owner_tenant_id if terms is not None else grant.line.tenant_id


def _shown_item(grant: Grant) -> int | None:
    """What the partner's sessions list names: its own entry, not the owner's channel id."""
    return grant.syndicated.entry_id if grant.syndicated is not None else None


def placement_of(
    channel_id: int, tenant_id: int, rows: Sequence[tuple[int, str]]
) -> place.Placement | None:
    """The store's (node, role) rows as a :class:`~palinsesto.panel.placement.Placement`."""
    origins = [n for n, role in rows if role == "origin"]
    edges = tuple(n for n, role in rows if role != "origin")
    if not origins:
        return None if not edges else place.Placement(channel_id, tenant_id, edges[0], edges[1:])
    return place.Placement(channel_id, tenant_id, origins[0], edges)


class NodeControl:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        events: ChangeEvents,
        access: PlaybackAccess,
        keys: PlayKeyRing,
        leases: NodeLeases,
        slots: SessionSlots,
    ) -> None:
        self.settings, self._db, self.access, self.keys = settings, db, access, keys
        self.leases, self.slots = leases, slots
        self.vod_access = VodAccess(db, events, access)
        self.archives = ClusterArchives()  # what the nodes record (the player API reads it)
        self._events = events
        self._identities: dict[str, tuple[float, NodeIdentity | None]] = {}
        self._tenant_nodes: dict[int, tuple[int, bool]] = {}
        self._pinned: dict[int, tuple[int, list[tuple[int, bool]]]] = {}
        self._since_beat: Counter[int] = Counter()  # viewers sent since the node's last beat
        self._egress_caps: dict[int, float] = {}
        self._loads: dict[int, tuple[ChannelLoad, ...]] = {}  # the beats this replica got
        self._persisted: dict[int, tuple[NodeState, float]] = {}
        self._placed_at: dict[int, float] = {}  # on-demand placements: when first made
        self._line_counts: dict[tuple[int, int], tuple[float, int]] = {}
        self._lease_cache: dict[int, tuple[float, list[NodeLease]]] = {}
        self._placement_cache: dict[int, tuple[float, place.Placement | None]] = {}
        # (tenant, line, kind, item, ip, user agent) -> (session, node) of VOD plays
        self._file_plays: dict[tuple[object, ...], tuple[int, int]] = {}
        self._pruned_at = 0.0
        self._reads: dict[tuple[str, int], asyncio.Future[Any]] = {}
        # tenant -> (the cached leases they were built from, views, node public URLs)
        self._views_cache: dict[
            int, tuple[list[NodeLease], dict[int, place.NodeView], dict[int, str]]
        ] = {}
        self._lock = threading.Lock()
        # The loop the node service runs on (set by it): line changes are rechecked there.
        self.loop: asyncio.AbstractEventLoop | None = None
        self._rechecks: set[asyncio.Task[int]] = set()
        events.subscribe(self._on_change)
        # Partners' viewers of syndicated channels: cut when it ends, their audience.
        self.syndication = SyndicationWatch(
            db, events, slots, partial(self.end_session, slate=ENDED_SLATE), self.end_session
        )

    @property
    def lease_seconds(self) -> float:
        return float(self.settings.node_lease_seconds)

    def _on_change(self, tenant_id: int, topic: str) -> None:
        if topic == "lines":
            loop = self.loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._spawn_recheck, tenant_id)
            return
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

    def _forget_identity(self, node_id: int) -> None:
        with self._lock:
            for digest, (_, found) in list(self._identities.items()):
                if found is not None and found.id == node_id:
                    del self._identities[digest]

    def tenant_has_nodes(self, tenant_id: int, *, cached_only: bool = False) -> bool | None:
        """Whether the tenant has a node that registered at least once and is not revoked
        (None: not cached and ``cached_only``). Such a tenant's viewers are admitted to its
        nodes; a server created but never started changes nothing yet."""
        version = self._events.version(tenant_id, "servers")
        hit = self._tenant_nodes.get(tenant_id)
        if hit is not None and hit[0] == version:
            return hit[1]
        if cached_only:
            return None
        with self._db.session() as session:
            found = session.scalar(
                select(Server.id)
                .where(
                    Server.tenant_id == tenant_id,
                    Server.status != ServerStatus.disabled,
                    Server.last_heartbeat_at.is_not(None),
                )
                .limit(1)
            )
        self._tenant_nodes[tenant_id] = (version, found is not None)
        return found is not None

    # ---- registration and heartbeats ----

    def _record_registration(self, node: NodeIdentity, reg: Registration) -> NodeIdentity:
        with self._db.transaction() as session:
            row = session.get(Server, node.id)
            if row is None or row.status == ServerStatus.disabled:
                raise UnknownNode("unknown or revoked node token")
            row.public_url = reg.public_url.rstrip("/") or row.public_url
            row.rtmp_url = reg.rtmp_url.rstrip("/")
            row.egress_mbps = reg.capacity.egress_mbps
            row.max_channels = reg.capacity.max_channels
            row.cpus = reg.capacity.cpus
            row.version = reg.version[:40]
            row.status = ServerStatus.online
            row.last_heartbeat_at = datetime.now(UTC)
            return _identity(row)

    async def register(self, node: NodeIdentity, reg: Registration) -> PanelReply:
        """Record what the node says of itself; a node that registers again (a restart)
        serves nothing yet, so its old sessions' slots are freed."""
        node = await asyncio.to_thread(self._record_registration, node, reg)
        if not self.tenant_has_nodes(node.tenant_id, cached_only=True):
            # Its first node: every replica now sends the tenant's viewers to nodes.
            self._events.publish(node.tenant_id, "servers")
        self._forget_identity(node.id)
        await self.slots.release_node(node.id)
        now = time.time()
        self._persisted[node.id] = (NodeState.online, now)
        self._loads.pop(node.id, None)
        await self._beat(node, None, now)
        await self.place_pinned(node.tenant_id)
        return await self._reply(node, ())

    async def _beat(self, node: NodeIdentity, beat: Heartbeat | None, now: float) -> None:
        self._egress_caps[node.id] = float(node.egress_mbps)
        lease = NodeLease(
            node.id,
            node.tenant_id,
            NodeState.draining if node.draining else NodeState.online,
            node.public_url,
            node.rtmp_url,
            viewers=beat.viewers if beat else 0,
            egress_mbps=beat.egress_mbps if beat else 0.0,
            cpu_percent=beat.cpu_percent if beat else 0.0,
            capacity_viewers=node.max_viewers,
            max_channels=node.max_channels,
            channels={c.channel_id: c.viewers for c in beat.channels} if beat else {},
            archives={a.channel_id: list(a.stretches) for a in beat.archives} if beat else {},
            archive_bytes={a.channel_id: a.bytes for a in beat.archives} if beat else {},
            srt_ingest=dict(beat.srt_ingest) if beat else {},
        )
        await self.leases.beat(lease, self.lease_seconds, now)
        self._since_beat.pop(node.id, None)
        self._lease_cache.pop(node.tenant_id, None)

    async def heartbeat(self, node: NodeIdentity, beat: Heartbeat) -> PanelReply:
        now = time.time()
        known = node.id in self._loads
        self._loads[node.id] = beat.channels
        await self._beat(node, beat, now)
        ended = tuple(e.session_id for e in beat.ended)
        if ended:
            await self.slots.release(ended)
        refused = await self.slots.renew(node.id, beat.alive, self.lease_seconds, now)
        kicks = await self.slots.take_kicks(node.id)
        slated: tuple[int, ...] = ()
        if kicks:  # ended with a slate (end_session): its mark is where its description was
            marked = await self.slots.descriptions_of(node.id, kicks)
            slated = tuple(i for i, d in marked.items() if d.get(SLATE_MARK) == ENDED_SLATE)
        await self.slots.forget(node.id, (*ended, *refused, *slated))
        if not known:  # the first beat this replica hears (another took the register)
            await self.place_pinned(node.tenant_id)
        return await self._reply(node, tuple(dict.fromkeys((*kicks, *refused))), slated)

    async def _reply(
        self, node: NodeIdentity, end_sessions: tuple[int, ...], slated: tuple[int, ...] = ()
    ) -> PanelReply:
        if self.keys.stale():
            await asyncio.to_thread(self.keys.refresh_if_stale)
        return PanelReply(
            node_id=node.id,
            state=NodeState.draining if node.draining else NodeState.online,
            heartbeat_seconds=float(self.settings.node_heartbeat_seconds),
            lease_seconds=self.lease_seconds,
            keys=self.keys.keys,
            assignments=tuple(await self.assignments(node.id, node.tenant_id)),
            end_sessions=end_sessions,
            token_ttl_seconds=self.settings.play_token_ttl_seconds,
            hls_session_timeout_seconds=self.settings.hls_session_timeout_seconds,
            end_slated=slated,
        )

    # ---- channels on nodes ----

    async def views(self, tenant_id: int, now: float) -> dict[int, place.NodeView]:
        leases = await self.leases.nodes(tenant_id, now)
        return {
            lease.node_id: _view(
                lease,
                self._since_beat[lease.node_id],
                self._egress_caps.get(lease.node_id, 1000.0),
            )
            for lease in leases
        }

    async def _cached_leases(self, tenant_id: int, now: float) -> list[NodeLease]:
        hit = self._lease_cache.get(tenant_id)
        if hit is not None and time.monotonic() - hit[0] < ADMISSION_CACHE_SECONDS:
            return hit[1]
        return await self._once(("leases", tenant_id), lambda: self._read_leases(tenant_id, now))

    async def _admission_views(
        self, tenant_id: int, now: float
    ) -> tuple[dict[int, place.NodeView], dict[int, str]]:
        """:meth:`views` from the cached leases, and each node's public URL: built once per
        lease read (not per admission, a view per node each time), then kept current by
        :meth:`_count_viewer`."""
        leases = await self._cached_leases(tenant_id, now)
        hit = self._views_cache.get(tenant_id)
        if hit is not None and hit[0] is leases:
            return hit[1], hit[2]
        views = {
            lease.node_id: _view(
                lease,
                self._since_beat[lease.node_id],
                self._egress_caps.get(lease.node_id, 1000.0),
            )
            for lease in leases
        }
        urls = {lease.node_id: lease.public_url for lease in leases}
        self._views_cache[tenant_id] = (leases, views, urls)
        return views, urls

    def _count_viewer(self, tenant_id: int, node_id: int) -> None:
        """One more viewer sent to ``node_id`` (``_since_beat`` already counts it): the
        cached views say so too, as a rebuild from ``_since_beat`` would."""
        hit = self._views_cache.get(tenant_id)
        found = hit[1].get(node_id) if hit is not None else None
        if hit is not None and found is not None:
            hit[1][node_id] = place.NodeView(
                found.id,
                found.tenant_id,
                found.state,
                found.viewers + 1,
                found.max_viewers,
                found.channels,
                found.max_channels,
                found.egress_mbps,
                found.max_egress_mbps,
            )

    async def _read_leases(self, tenant_id: int, now: float) -> list[NodeLease]:
        found = await self.leases.nodes(tenant_id, now)
        self._lease_cache[tenant_id] = (time.monotonic(), found)
        return found

    async def _once(self, key: tuple[str, int], read: Callable[[], Awaitable[T]]) -> T:
        """``await read()``, shared by every admission asking for ``key`` meanwhile: when a
        cached entry lapses under load, the store is read once, not once per request in
        flight (each read is a Redis round trip)."""
        pending = self._reads.get(key)
        if pending is None:
            pending = asyncio.ensure_future(read())
            self._reads[key] = pending
            pending.add_done_callback(lambda _: self._reads.pop(key, None))
        # Shielded: a waiter that gives up (its client left) does not cancel the others'.
        return cast(T, await asyncio.shield(pending))

    async def placement(
        self, channel_id: int, tenant_id: int, *, cached: bool = False
    ) -> place.Placement | None:
        if cached:
            hit = self._placement_cache.get(channel_id)
            if hit is None or time.monotonic() - hit[0] >= ADMISSION_CACHE_SECONDS:
                await self._once(
                    ("placement", channel_id), lambda: self.placement(channel_id, tenant_id)
                )
                hit = self._placement_cache.get(channel_id)
            if hit is not None:
                found = hit[1]
                return found if found is None or found.tenant_id == tenant_id else None
        rows = list(await self.leases.placements(channel_id))
        found = placement_of(channel_id, tenant_id, rows)
        if len(self._placement_cache) > 100_000:
            self._placement_cache.clear()
        self._placement_cache[channel_id] = (time.monotonic(), found)
        return found

    async def store_placement(self, new: place.Placement, old: place.Placement | None) -> bool:
        """Write the difference between ``old`` and ``new``; False when another replica
        claimed the origin first (the caller reads the placement again)."""
        self._placement_cache.pop(new.channel_id, None)
        if old is not None:
            for node_id in set(old.nodes) - set(new.nodes):
                await self.leases.unplace(new.channel_id, node_id)
            if old.origin != new.origin:
                await self.leases.unplace(new.channel_id, old.origin)
        if old is None or old.origin != new.origin:
            if not await self.leases.place(new.channel_id, new.origin, "origin"):
                return False
        for edge in new.edges:
            if old is None or edge not in old.edges:
                await self.leases.place(new.channel_id, edge, "edge")
        return True

    def _pinned_rows(self, tenant_id: int) -> list[tuple[int, bool]]:
        access = self.access
        ids: dict[int, bool] = {}
        for info in access.tenant_channels(ChannelMode.always_on, tenant_id):
            ids[info.id] = False
        for info in access.archived_channels(tenant_id):
            ids[info.id] = False
        for kind in (SourceKind.push_rtmp, SourceKind.push_srt):
            for info in access.push_channels(kind, tenant_id):
                ids[info.id] = True
        return sorted(ids.items())

    async def pinned_channels(self, tenant_id: int) -> list[tuple[int, bool]]:
        """The tenant's channels that run without viewers, ``(id, is_push)``: always-on,
        archived (recorded) and push channels (their encoder publishes to one node)."""
        version = self._events.version(tenant_id, "catalog")
        hit = self._pinned.get(tenant_id)
        if hit is not None and hit[0] == version:
            return hit[1]
        found = await asyncio.to_thread(self._pinned_rows, tenant_id)
        self._pinned[tenant_id] = (version, found)
        return found

    async def place_pinned(self, tenant_id: int) -> None:
        """(Re)place the tenant's pinned channels (sticky; lost nodes' channels move)."""
        now = time.time()
        views = await self.views(tenant_id, now)
        pinned = [cid for cid, _ in await self.pinned_channels(tenant_id)]
        current = {}
        for channel_id in pinned:
            found = await self.placement(channel_id, tenant_id)
            if found is not None:
                current[channel_id] = found
        placed = place.place_pinned(((cid, tenant_id) for cid in pinned), views, current)
        for channel_id, new in placed.items():
            if current.get(channel_id) != new:
                await self.store_placement(new, current.get(channel_id))

    async def channel_info(self, tenant_id: int, channel_id: int) -> Any:
        try:
            return self.access.channel(tenant_id, channel_id, cached_only=True)
        except LookupError:  # NotCached
            return await asyncio.to_thread(self.access.channel, tenant_id, channel_id)

    async def assignments(self, node_id: int, tenant_id: int) -> list[Assignment]:
        """What the node must carry: its placements, with the origin node's URL where it
        is an edge. Only channels of its own tenant are ever looked at."""
        pinned = dict(await self.pinned_channels(tenant_id))
        found: list[Assignment] = []
        for channel_id in await self.leases.channels_of_node(node_id):
            info = await self.channel_info(tenant_id, channel_id)
            if info is None or not info.enabled or info.tenant_id != tenant_id:
                continue
            placement = await self.placement(channel_id, tenant_id)
            if placement is None:
                continue
            is_origin = placement.origin == node_id
            origin_url = "" if is_origin else await self.origin_url(placement)
            found.append(Assignment(info, is_origin and channel_id in pinned, origin_url))
        return found

    async def origin_url(self, placement: place.Placement) -> str:
        """The base URL of the placement's origin node: its edges pull
        ``<origin_url>/relay/<token>.ts`` with a relay token they sign themselves (they hold
        the keys; node/remote.py), so the URL stays the same while the origin does."""
        for lease in await self.leases.nodes(placement.tenant_id, time.time()):
            if lease.node_id == placement.origin:
                return lease.public_url.rstrip("/")
        return ""

    # ---- lost nodes ----

    async def sweep(self) -> list[int]:
        """Free lost nodes' slots, re-place their channels, drop idle on-demand placements
        and persist node states; the ids of nodes found lost. Idempotent: every replica
        runs it every heartbeat period."""
        now = time.time()
        lost: list[int] = []
        tenants: set[int] = set()
        persist: list[tuple[NodeLease, NodeState]] = []
        every = await self.leases.nodes(None, now)
        self.archives.update(every)
        if now - self._pruned_at >= PRUNE_SECONDS:
            self._pruned_at = now
            for lease in every:
                await self._prune_descriptions(lease.node_id, now)
        for lease in every:
            tenants.add(lease.tenant_id)
            if lease.state is NodeState.lost:
                lost.append(lease.node_id)
                freed = await self.slots.release_node(lease.node_id)
                if freed:
                    log.warning("node %s lost: %d sessions freed", lease.node_id, freed)
            if self._due(lease, now):
                persist.append((lease, lease.state))
        if persist:
            await asyncio.to_thread(self._persist, persist)
        for tenant_id in tenants:
            await self._repair_tenant(tenant_id, now)
        return lost

    async def _repair_tenant(self, tenant_id: int, now: float) -> None:
        leases = await self.leases.nodes(tenant_id, now)
        views = {
            x.node_id: _view(x, self._since_beat[x.node_id], self._egress_caps.get(x.node_id, 1e3))
            for x in leases
        }
        # Viewers per (node, channel) from the shared leases: every replica sees them.
        watched = {(x.node_id, cid) for x in leases for cid, n in x.channels.items() if n}
        pinned = {cid for cid, _ in await self.pinned_channels(tenant_id)}
        channels: set[int] = set()
        for node_id in views:
            channels.update(await self.leases.channels_of_node(node_id))
        for channel_id in channels - pinned:
            current = await self.placement(channel_id, tenant_id)
            if current is None:
                continue
            kept = place.repair(current, views)
            if kept is None or self._idle(current, watched, now):
                for node_id in current.nodes:
                    await self.leases.unplace(channel_id, node_id)
                self._placed_at.pop(channel_id, None)
            elif kept != current:
                await self.store_placement(kept, current)
        await self.place_pinned(tenant_id)

    def _idle(self, placement: place.Placement, watched: set[tuple[int, int]], now: float) -> bool:
        """An on-demand placement none of its nodes has reported a viewer of for
        :data:`ON_DEMAND_IDLE_SECONDS`: it is dropped (the nodes stop the channel)."""
        if any((node_id, placement.channel_id) in watched for node_id in placement.nodes):
            self._placed_at[placement.channel_id] = now
            return False
        since = self._placed_at.setdefault(placement.channel_id, now)
        return now - since >= ON_DEMAND_IDLE_SECONDS

    def _due(self, lease: NodeLease, now: float) -> bool:
        last = self._persisted.get(lease.node_id)
        if last is not None and last[0] is lease.state and now - last[1] < PERSIST_SECONDS:
            return False
        self._persisted[lease.node_id] = (lease.state, now)
        return True

    def _persist(self, leases: list[tuple[NodeLease, NodeState]]) -> None:
        with self._db.transaction() as session:
            for lease, state in leases:
                status = ServerStatus.offline if state is NodeState.lost else ServerStatus.online
                session.execute(
                    update(Server)
                    .where(Server.id == lease.node_id, Server.status != ServerStatus.disabled)
                    .values(
                        status=status,
                        last_heartbeat_at=datetime.fromtimestamp(lease.last_beat, UTC),
                    )
                )

    # ---- admission ----

    async def admit(self, grant: Grant, kind: PlayKind, ip: str, user_agent: str) -> Admitted:
        """Reserve a slot on the node the viewer is sent to; the URL of the 302. Raises
        NoNodeAvailable, TooManyConnections / TooManyViewers / SyndicationFull,
        SlotsUnavailable.

        A partner's play of a syndicated channel (``grant.syndicated``) goes to the
        owner's nodes, placed as the owner's own viewers are (the same running channel,
        never a second ingest), with a token in the owner's name that its nodes accept;
        its slot is the partner's line's (its limits, its plan) and counts in the
        syndication's group (the offer's cap on this partner, cluster-wide) and, when the
        offer caps all its partners together, in the offer's group too."""
        line, channel = grant.line, grant.channel
        host = _host_tenant(grant)
        now = time.time()
        views, _ = await self._admission_views(host, now)
        current = await self.placement(channel.id, host, cached=True)
        node, placement = place.node_for_viewer(channel.id, host, views, current)
        if placement != current:
            if not await self.store_placement(placement, current):
                # Another replica placed the channel's origin meanwhile: send the viewer
                # where that placement says (its origin or an edge), as that replica would.
                current = await self.placement(channel.id, host)
                node, placement = place.node_for_viewer(channel.id, host, views, current)
                if placement != current:
                    await self.store_placement(placement, current)
            self._placed_at.setdefault(channel.id, now)
        label = PlayLabel(line.username, _shown_item(grant) or channel.id, OUTPUTS[kind])
        reserved = await self._reserve(
            line, grant.policy, grant.max_viewers, node.id, ip, user_agent, label, now,
            grant.syndicated,
        )  # fmt: skip
        if channel.watermark:
            # The node plays the session's A/B sequence of code_for(session_id) and tags
            # its TS with the session id: the play is recorded before the viewer arrives.
            output = OUTPUTS[kind]
            try:
                await asyncio.to_thread(self._record_mark, grant, reserved.session_id, output)
            except BaseException:
                await self.slots.release([reserved.session_id])  # no play without its mark
                raise
        return await self._issue(
            reserved, node.id, grant.line, kind, channel.id, ip, user_agent, b"", now,
            host=host,
        )  # fmt: skip

    async def _reserve(
        self,
        line: LineView,
        policy: ConnectionPolicy,
        max_viewers: int | None,
        node_id: int,
        ip: str,
        user_agent: str,
        label: PlayLabel,
        now: float,
        syndicated: SyndicatedTerms | None = None,
    ) -> Reserved:
        """A slot of the line on ``node_id`` (a VOD or catch-up play counts against
        ``max_connections`` as a live one does), described by ``label`` for the sessions
        list of every replica: in the reservation's own round trip (a separate write cost
        the panel as much CPU as the rest of an admission); a syndicated play's also in its
        syndication's group, capped at the offer's ``max_viewers``, and in the offer's,
        capped at its ``max_viewers_total`` (both checked in the same round trip)."""
        request = SlotRequest(
            line.tenant_id,
            line.id,
            NEW_SESSION,  # allocated by reserve, in the same Redis round trip
            line.max_connections,
            policy,
            node_id,
            ip,
            user_agent,
            max_viewers,
            self.lease_seconds + self.settings.play_token_ttl_seconds,
            label,
            _slot_groups(syndicated) if syndicated is not None else (),
        )
        try:
            return await self.slots.reserve(request, now)
        except SlotRefused as exc:
            if exc.code == TENANT_MAX_VIEWERS:
                raise TooManyViewers(str(exc)) from None
            if exc.code == GROUP_MAX_VIEWERS and syndicated is not None:
                if exc.group != syndication_group(syndicated.syndication_id):
                    # The offer's group: the all-in-one's refusal, word for word.
                    raise SyndicationTotalFull(
                        "the channel's owner allows its partners no more viewers"
                    ) from None
                raise SyndicationFull(
                    "the channel's owner allows this panel "
                    f"{syndicated.max_viewers} viewers at once"
                ) from None
            raise TooManyConnections(str(exc)) from None

    async def _issue(
        self,
        reserved: Reserved,
        node_id: int,
        line: LineView,
        kind: PlayKind,
        item_id: int,
        ip: str,
        user_agent: str,
        subject: bytes,
        now: float,
        tail: str = "",
        *,
        host: int | None = None,
    ) -> Admitted:
        """Sign the play token for a reserved slot; the node URL it opens. ``tail``: what
        follows the token in a VOD or catch-up URL (the subject, as the node reads it).
        ``host``: the tenant whose node serves it (the owner of a syndicated channel; else
        the line's)."""
        session_id = reserved.session_id
        host = line.tenant_id if host is None else host
        self._since_beat[node_id] += 1
        self._count_viewer(host, node_id)
        _, urls = await self._admission_views(host, now)
        lease_url = urls.get(node_id, "")
        bind = ip if self.settings.play_token_bind_ip else None
        token = self.keys.tokens.issue(
            tenant_id=host,
            line_id=line.id,
            channel_id=item_id,
            session_id=session_id,
            kind=kind,
            expires=int(now) + self.settings.play_token_ttl_seconds,
            client_ip=bind,
            subject=subject,
        )
        self._line_counts.pop((line.tenant_id, line.id), None)
        prefix = URL_PREFIXES.get(kind)
        if prefix is not None:
            url = f"{lease_url}/{prefix}/{token}/{tail}"
        else:
            url = f"{lease_url}/play/{token}.{'m3u8' if kind is PlayKind.hls else 'ts'}"
        return Admitted(node_id, session_id, url, tuple(k.session_id for k in reserved.kicked))

    def _record_mark(self, grant: Grant, session_id: int, output: str) -> None:
        with self._db.transaction() as session:
            record_mark(
                session,
                tenant_id=grant.line.tenant_id,
                channel_id=grant.channel.id,
                line_id=grant.line.id,
                username=grant.line.username,
                session_id=session_id,
                output=output,
                slot_seconds=self.settings.watermark_slot_seconds,
                code=code_for(session_id),
            )

    async def admit_file(
        self, grant: VodGrant, relative_path: str, ip: str, user_agent: str, hls: bool = False
    ) -> Admitted:
        """A movie's or episode's play, sent to the least loaded online node of the tenant:
        every node of a tenant sees the tenant's media folder (README, "Several machines"),
        so any may serve it. ``relative_path``: the file inside the tenant's folder;
        ``hls``: played as VOD HLS cut by the node (``/vodhls/``), else the file itself.

        The same device asking again for the same item while its play is held (players
        that seek by asking the original URL again) is the same play, as on the all-in-one
        (playback/vod_plays.py): the same session and node, no second slot. This replica
        remembers its own admissions for that."""
        tail = quote(relative_path, safe="/")
        kind = PlayKind.vod_hls if hls else PlayKind.vod
        output = f"{grant.item.kind.value}-hls" if hls else grant.item.kind.value
        return await self._admit_item(
            grant, kind, relative_path.encode(), tail + (".m3u8" if hls else ""), output,
            ip, user_agent,
        )  # fmt: skip

    async def admit_relayed(
        self, grant: VodGrant, source_url: str, extension: str, ip: str, user_agent: str
    ) -> Admitted:
        """A remote movie or episode the node relays (``delivery = proxy``): the node asks
        the panel for the source URL (node API ``vod-sources``), which no URL the viewer
        sees contains; the token is signed over the item's kind and the source's tag, so a
        forged one costs the panel nothing."""
        kind, tag = grant.item.kind.value, source_tag(source_url)
        # As asked (the player may care), in the form the node's path takes: any case and
        # no extension at all are valid panel paths.
        tail = f"{tag}/{kind}" + (f".{extension.lower()}" if extension else "")
        return await self._admit_item(
            grant, PlayKind.vod_proxy, relayed_subject(kind, tag), tail, kind, ip, user_agent,
        )  # fmt: skip

    async def _admit_item(
        self,
        grant: VodGrant,
        kind: PlayKind,
        subject: bytes,
        tail: str,
        output: str,
        ip: str,
        user_agent: str,
    ) -> Admitted:
        line = grant.line
        now = time.time()
        key = (line.tenant_id, line.id, grant.item.kind.value, grant.item.id, kind, ip, user_agent)
        reserved, node_id = await self._held_play(key)
        if reserved is None:
            views, _ = await self._admission_views(line.tenant_id, now)
            node = place.least_loaded(views.values(), line.tenant_id, need_room=True)
            if node is None:
                raise place.NoNodeAvailable("no streaming server has room")
            node_id = node.id
            label = PlayLabel(line.username, grant.item.id, output)
            reserved = await self._reserve(
                line, grant.policy, grant.max_viewers, node_id, ip, user_agent, label, now
            )
            if len(self._file_plays) > 100_000:
                self._file_plays.clear()
            self._file_plays[key] = (reserved.session_id, node_id)
        return await self._issue(
            reserved, node_id, line, kind, grant.item.id, ip, user_agent, subject, now,
            tail,
        )  # fmt: skip

    async def _held_play(self, key: tuple[object, ...]) -> tuple[Reserved | None, int]:
        """The session of this device's play of this item, if its slot is still held."""
        hit = self._file_plays.get(key)
        if hit is None:
            return None, 0
        session_id, node_id = hit
        if session_id in await self.slots.sessions_of_node(node_id):
            return Reserved(session_id), node_id
        del self._file_plays[key]
        return None, 0

    async def admit_archive(
        self, grant: Grant, start: int, minutes: int, output: str, ip: str, user_agent: str
    ) -> Admitted:
        """A catch-up play of ``minutes`` from ``start`` (unix s), sent to the node whose
        archive holds most of that window; :class:`NoArchive` when none holds any of it."""
        line, channel = grant.line, grant.channel
        host = _host_tenant(grant)  # a syndicated channel's archive: its owner's nodes'
        now = time.time()
        leases = await self._cached_leases(host, now)
        end = min(start + minutes * 60.0, now)
        node_id = archive_node(leases, channel.id, float(start), end)
        if not node_id:
            raise NoArchive("NO_ARCHIVE: nothing recorded in that window")
        label = PlayLabel(
            line.username, _shown_item(grant) or channel.id, OUTPUTS[PlayKind.archive]
        )
        reserved = await self._reserve(
            line, grant.policy, grant.max_viewers, node_id, ip, user_agent, label, now,
            grant.syndicated,
        )  # fmt: skip
        return await self._issue(
            reserved, node_id, line, PlayKind.archive, channel.id, ip, user_agent,
            window_subject(start, minutes), now, f"{start}/{minutes}.{output}",
            host=host,
        )  # fmt: skip

    async def sessions(self, tenant_id: int | None) -> list[AdmittedSession]:
        """The sessions the tenant's nodes (None: every node) hold now, whichever replica
        admitted them: the shared slots say which are alive, their descriptions who
        watches what."""
        found: list[AdmittedSession] = []
        # Every node: a partner's viewers of a syndicated channel are on its owner's nodes
        # (and the owner's nodes list them only to the partner).
        for lease in await self.leases.nodes(None, time.time()):
            if lease.state is NodeState.lost:
                continue
            alive = set(await self.slots.sessions_of_node(lease.node_id))
            for session_id, details in (await self.slots.descriptions(lease.node_id)).items():
                if tenant_id is not None and details.get("tenant_id") != tenant_id:
                    continue
                if session_id in alive:
                    found.append(
                        AdmittedSession(session_id=session_id, node_id=lease.node_id, **details)
                    )
        return sorted(found, key=lambda s: s.started_at)

    async def _prune_descriptions(self, node_id: int, now: float) -> None:
        """Descriptions the store holds for no slot (the store drops a description with
        its slot; these were written apart from one, e.g. by a replica of an older
        version). A lapsed slot's stays: its node may renew it back within the grace.
        A slate mark (:meth:`end_session`) is of an ended slot and waits for its node's
        next heartbeat: kept :data:`PRUNE_SECONDS` (a node that never beats again drops it
        then; one lost drops it at once, ``release_node``)."""
        alive = set(await self.slots.sessions_of_node(node_id))
        alive.update(await self.slots.lapsed_of_node(node_id))
        described = await self.slots.descriptions(node_id)
        await self.slots.forget(
            node_id,
            [
                i
                for i, d in described.items()
                if i not in alive and not float(d.get(SLATE_AT, 0.0)) + PRUNE_SECONDS > now
            ],
        )

    # ---- what the panel shows ----

    async def node_status(self, tenant_id: int | None) -> dict[int, dict[str, Any]]:
        """Each node's state and load from the shared leases. A lost node's load is None
        (unknown): its last beat's figures are no longer true, only its beat's age is."""
        now = time.time()
        status: dict[int, dict[str, Any]] = {}
        for lease in await self.leases.nodes(tenant_id, now):
            known = lease.state is not NodeState.lost
            status[lease.node_id] = {
                "state": lease.state.value,
                "heartbeat_age_seconds": round(lease.beat_age, 1),
                "viewers": lease.viewers if known else None,
                "egress_mbps": lease.egress_mbps if known else None,
                "cpu_percent": lease.cpu_percent if known else None,
                "channels": len(lease.channels) if known else None,
                "origin_of": None,
                "edge_of": None,
            }
            if known:
                origins, edges = await self._roles_of(lease.node_id, lease.tenant_id)
                status[lease.node_id].update(origin_of=origins, edge_of=edges)
        return status

    async def _roles_of(self, node_id: int, tenant_id: int) -> tuple[int, int]:
        """How many channels the node originates and relays, as the placements say."""
        origins = edges = 0
        for channel_id in await self.leases.channels_of_node(node_id):
            rows = await self.leases.placements(channel_id)
            found = placement_of(channel_id, tenant_id, rows)
            if found is None or node_id not in found.nodes:
                continue
            if found.origin == node_id:
                origins += 1
            else:
                edges += 1
        return origins, edges

    async def channel_loads(self, tenant_id: int | None) -> dict[int, dict[str, Any]]:
        """Each channel's viewers summed over the live nodes that carry it (shared leases),
        with the runner's state where this replica heard the node's beat."""
        found: dict[int, dict[str, Any]] = {}
        for lease in await self.leases.nodes(tenant_id, time.time()):
            if lease.state is NodeState.lost:
                continue
            states = {c.channel_id: c for c in self._loads.get(lease.node_id, ())}
            for channel_id, viewers in lease.channels.items():
                load = states.get(channel_id)
                entry = found.setdefault(
                    channel_id, {"viewers": 0, "state": "running", "healthy": True, "nodes": []}
                )
                entry["viewers"] += viewers
                if load is not None:
                    entry["state"] = load.state if load.state != "running" else entry["state"]
                    entry["healthy"] = entry["healthy"] and load.healthy
                entry["nodes"].append(lease.node_id)
        return found

    def active_count(self, tenant_id: int, line_id: int) -> int:
        """The player API's ``active_cons`` from the shared slots: the last count read
        (at most a couple of seconds old), refreshed in the background."""
        key = (tenant_id, line_id)
        hit = self._line_counts.get(key)
        if hit is None or time.monotonic() - hit[0] > 2.0:
            try:
                asyncio.get_running_loop().create_task(self._count(key))
            except RuntimeError:
                pass  # no loop (a worker thread): the cached figure stands
        return hit[1] if hit is not None else 0

    async def _count(self, key: tuple[int, int]) -> None:
        try:
            count = await self.slots.line_count(key[0], key[1], time.time())
        except Exception:  # noqa: BLE001 - the store is down: keep the last figure
            return
        if len(self._line_counts) > 100_000:
            self._line_counts.clear()
        self._line_counts[key] = (time.monotonic(), count)

    async def end_session(self, session_id: int, tenant_id: int | None, *, slate: str = "") -> bool:
        """End a session on a node, whichever replica admitted it (False: no session of
        that tenant has this id). Its slot is released and the node is told in the reply to
        its next heartbeat ("sessions to end"), whichever replica that beat reaches.
        ``slate`` (:data:`ENDED_SLATE`): its TS player gets that clip before the end; the
        mark replaces its description until that heartbeat, written in the same atomic
        step as the kick (a heartbeat in between would take the kick without it). Without
        one, the description goes with the slot."""
        mark = {SLATE_MARK: slate, SLATE_AT: time.time()} if slate else None
        return bool(await self.slots.end(session_id, tenant_id, mark=mark))

    def _spawn_recheck(self, tenant_id: int) -> None:
        task = asyncio.get_running_loop().create_task(self.recheck_lines(tenant_id))
        self._rechecks.add(task)
        task.add_done_callback(self._rechecks.discard)

    async def recheck_lines(self, tenant_id: int) -> int:
        """End the node sessions of ``tenant_id``'s lines that may play no more (the line
        disabled, banned, expired or deleted, its tenant suspended, the channel blocked
        for it), as the all-in-one's engine does on the same ``lines`` change: wherever
        they play (a partner's viewers are on another panel's nodes) and whichever replica
        admitted them. Every replica hears the change; ending twice is a no-op. Returns
        how many this call ended."""
        try:
            found = await self.sessions(tenant_id)
        except Exception as exc:  # noqa: BLE001 - the store is away: nothing to decide
            log.warning("line changes of tenant %d not applied on nodes: %s", tenant_id, exc)
            return 0
        if not found:
            return 0
        tenant = await asyncio.to_thread(self.access.tenant, tenant_id)
        now = time.time()
        ended = 0
        for session in found:
            if tenant.active and is_signed_line(session.line_id):
                continue  # a signed browser play (playback/watch_tokens.py), not a line
            if tenant.active:
                line = await asyncio.to_thread(self.access.lines.lookup, session.username)
                allowed = (
                    line is not None
                    and line.id == session.line_id
                    and line.status(now) == "Active"
                    and not (
                        session.output in ("ts", "hls", "timeshift")
                        and ("channel", session.channel_id) in line.blocked
                    )
                )
                if allowed:
                    continue
            if await self.end_session(session.session_id, tenant_id):
                ended += 1
        if ended:
            log.info("tenant %d: %d node session(s) ended after a line change", tenant_id, ended)
        return ended

    async def ingest_node(self, tenant_id: int, channel_id: int) -> NodeLease | None:
        """The node a push channel is pinned to (its encoder publishes there)."""
        placement = await self.placement(channel_id, tenant_id)
        if placement is None:
            return None
        for lease in await self.leases.nodes(tenant_id, time.time()):
            if lease.node_id == placement.origin:
                return lease
        return None

    async def set_draining(self, node_id: int, draining: bool) -> None:
        """Apply a drain switch at once (the node hears it at its next beat)."""
        await self.leases.set_draining(node_id, draining)
        self._forget_identity(node_id)
