"""May this line play this channel now? Line authentication, output and bouquet checks.

Every delivery surface builds a :class:`PlaybackRequest` and calls
:meth:`PlaybackAccess.authorize` (reference §8.1 validation order: credentials → status →
allowed IPs/UAs → output format → stream in bouquet). Channels and bouquet contents are
cached per tenant and keyed by the tenant's ``catalog`` change version, so an edit makes
stale entries unreachable at once; membership is cached per *bouquet set*, not per line.
With ``cached_only`` a lookup that would query the database raises :class:`NotCached`
instead, so the event loop answers hits inline and moves misses to a worker thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from palinsesto.accounts.models import ConnectionPolicy, Tenant, TenantStatus
from palinsesto.catalog.models import BouquetItem, Channel, ChannelMode, ItemType
from palinsesto.catalog.syndication import resolve
from palinsesto.cluster.events import ChangeEvents
from palinsesto.db import Database
from palinsesto.panel.playback.domains import DomainDirectory, DomainsStale
from palinsesto.panel.playback.lines import (
    BadCredentials,
    LineDirectory,
    LineRefused,
    LineView,
    OutputNotAllowed,
)
from palinsesto.panel.playback.rights_gate import ContentRefused, NotLoaded, RightsGate
from palinsesto.panel.playback.watch_tokens import (
    SIGNED_USER,
    WatchKind,
    WatchTokenRefused,
    WatchTokens,
)
from palinsesto.protocol.channels import ChannelInfo
from palinsesto.protocol.sources import SourceKind
from palinsesto.trust.models import RightsRecord
from palinsesto.trust.rights import Refusal, RightsItem, RightsStatus


@dataclass(frozen=True, slots=True)
class PlaybackRequest:
    username: str
    password: str
    stream_id: int
    output: str  # "ts" or "m3u8"
    ip: str
    user_agent: str
    now: float
    # The request's Host header: on a tenant's own domain only that tenant's lines play
    # (another tenant's line is refused as a wrong password is).
    host: str = ""


@dataclass(frozen=True, slots=True)
class TenantPlayback:
    """A tenant's playback settings: connection policy (§9), placeholder clips (§13.22)."""

    policy: ConnectionPolicy = ConnectionPolicy.kick_oldest
    slates: bool = False
    max_viewers: int | None = None  # the plan's concurrent viewers (None = no limit)
    active: bool = True  # False: suspended or awaiting approval, nobody may watch


@dataclass(frozen=True, slots=True)
class SyndicatedTerms:
    """A partner's entry plays another tenant's channel on these terms (catalog/syndication)."""

    syndication_id: int
    owner_tenant_id: int
    until: float | None  # unix time; None: open-ended
    territories: frozenset[str]  # empty: worldwide
    max_viewers: int | None  # of this partner's viewers at once

    def over(self, now: float) -> bool:
        return self.until is not None and now >= self.until


@dataclass(frozen=True, slots=True)
class Grant:
    line: LineView
    channel: ChannelInfo  # what runs: for a syndicated entry, the owner's channel
    policy: ConnectionPolicy
    max_viewers: int | None = None
    syndicated: SyndicatedTerms | None = None


class SyndicationEnded(LineRefused):
    """The entry's syndication is over (revoked, withdrawn, term passed): 403."""

    code = "SYNDICATION_ENDED"


class NotCached(LookupError):
    """Answering needs the database; the caller retries in a worker thread."""


class UnknownChannel(LookupError):
    """No such channel in the line's tenant (404)."""

    code = "STREAM_NOT_FOUND"


class NotInBouquet(PermissionError):
    """The channel exists but none of the line's bouquets holds it (406, §8.2)."""

    code = "NOT_IN_BOUQUET"


def channel_info(row: Channel, session: Session) -> ChannelInfo:
    """What an engine runs of ``row`` (``session``: its rights records decide the mark)."""
    return ChannelInfo(
        row.id,
        row.tenant_id,
        row.name,
        tuple(dict(s) for s in row.sources or ()),
        row.mode == ChannelMode.on_demand,
        row.transcode_profile or "copy",
        row.enabled,
        row.stream_key,
        bool(row.public_watch),
        row.archive_days or 0,
        wants_watermark(session, row.tenant_id, row.id),
    )


def wants_watermark(session: Session, tenant_id: int, channel_id: int) -> bool:
    """Whether an active rights record of the channel asks for the forensic watermark."""
    found = session.scalar(
        select(RightsRecord.id)
        .where(
            RightsRecord.tenant_id == tenant_id,
            RightsRecord.item_type == RightsItem.channel.value,
            RightsRecord.item_id == channel_id,
            RightsRecord.status == RightsStatus.active.value,
            RightsRecord.watermark.is_(True),
        )
        .limit(1)
    )
    return found is not None


@dataclass(frozen=True, slots=True)
class _ChannelHit:
    version: int  # the tenant's catalog version it was read at
    info: ChannelInfo | None
    terms: SyndicatedTerms | None = None
    owner: tuple[int, int] | None = None  # a syndicated entry's owner and its version

    def owner_current(self, events: ChangeEvents) -> bool:
        return self.owner is None or events.version(self.owner[0], "catalog") == self.owner[1]


class PlaybackAccess:
    """Authorization for plays, with the catalog lookups it needs cached in memory."""

    def __init__(
        self,
        db: Database,
        events: ChangeEvents,
        lines: LineDirectory,
        watch_tokens: WatchTokens | None = None,
        rights: RightsGate | None = None,
        domains: DomainDirectory | None = None,
    ) -> None:
        self._db, self._events, self.lines = db, events, lines
        self.watch_tokens = watch_tokens
        self.rights = rights
        self.domains = domains if domains is not None else DomainDirectory(db, events)
        self._channels: dict[tuple[int, int], _ChannelHit] = {}
        self._bouquets: dict[tuple[int, ItemType, tuple[int, ...]], tuple[int, frozenset[int]]] = {}
        self._tenants: dict[int, tuple[int, TenantPlayback]] = {}
        self._lock = threading.Lock()

    def authorize(self, req: PlaybackRequest, *, cached_only: bool = False) -> Grant:
        """The grant to play, or a LineRefused (ContentRefused: rights, territory, blackout) /
        UnknownChannel / NotInBouquet error (:class:`NotCached` with ``cached_only`` when an
        answer needs the database)."""
        if req.username == SIGNED_USER:
            if cached_only:
                raise NotCached("signed play")
            return self._authorize_signed(req)
        if cached_only and not self.lines.is_cached(req.username):
            raise NotCached(req.username)
        line = self.lines.authenticate(
            req.username,
            req.password,
            ip=req.ip,
            user_agent=req.user_agent,
            now=req.now,
            tenant_id=self.host_tenant(req.host, cached_only=cached_only),
        )
        if not line.allows_output(req.output):
            raise OutputNotAllowed(f"output {req.output} is not allowed for this line")
        channel = self.channel(line.tenant_id, req.stream_id, cached_only=cached_only)
        if channel is None or not channel.enabled:
            raise UnknownChannel(f"no channel {req.stream_id}")
        members = self.bouquet_channels(line.tenant_id, line.bouquet_ids, cached_only=cached_only)
        if req.stream_id not in members:
            raise NotInBouquet(f"channel {req.stream_id} is not in the line's bouquets")
        self.check_rights(line.tenant_id, req, cached_only=cached_only)
        terms = self.syndicated(line.tenant_id, req.stream_id, cached_only=cached_only)
        if terms is not None:
            self.check_terms(terms, line.tenant_id, req.stream_id, req.ip, req.now)
        tenant = self.tenant(line.tenant_id, cached_only=cached_only)
        return Grant(line, channel, tenant.policy, tenant.max_viewers, terms)

    def check_terms(
        self, terms: SyndicatedTerms, tenant_id: int, entry_id: int, ip: str, now: float
    ) -> None:
        """The offer's term and territories (the viewer cap is admission's, on the loop)."""
        if terms.over(now):
            raise SyndicationEnded(f"the syndication of channel {entry_id} is over")
        if terms.territories:
            country = self.rights.country(ip) if self.rights is not None else None
            if country is None or country not in terms.territories:
                raise ContentRefused(Refusal.rights_territory, tenant_id, entry_id)

    def host_tenant(self, host: str, *, cached_only: bool = False) -> int | None:
        """The tenant whose own domain ``host`` (a Host header) is; None: the platform's."""
        if not host:
            return None
        try:
            return self.domains.tenant_for_host(host, cached_only=cached_only)
        except DomainsStale:
            raise NotCached("tenant domains changed") from None

    def check_rights(self, tenant_id: int, req: PlaybackRequest, *, cached_only: bool) -> None:
        """Rights records, territory rules and blackouts (playback/rights_gate.py)."""
        self.check_item_rights(
            tenant_id, RightsItem.channel, req.stream_id, req.ip, req.now, cached_only=cached_only
        )

    def check_item_rights(
        self,
        tenant_id: int,
        item: RightsItem,
        item_id: int,
        ip: str,
        now: float,
        *,
        cached_only: bool,
    ) -> None:
        """The rights gate for any item: a channel, a movie, a series (its episodes)."""
        if self.rights is None:
            return
        try:
            self.rights.check(tenant_id, item, item_id, ip, now, cached_only=cached_only)
        except NotLoaded:
            raise NotCached(f"rights of tenant {tenant_id}") from None

    def _authorize_signed(self, req: PlaybackRequest) -> Grant:
        """A browser play with a watch token (playback/watch_tokens.py) instead of a line."""
        if self.watch_tokens is None:
            raise BadCredentials("signed playback is not enabled")
        try:
            grant = self.watch_tokens.verify(req.password, req.stream_id, req.now)
        except WatchTokenRefused as exc:
            raise BadCredentials(f"watch token refused: {exc}") from None
        if not grant.kind.is_live:
            raise BadCredentials("watch token refused: it is for a movie")
        line = grant.as_line()
        if not line.allows_output(req.output):
            raise OutputNotAllowed("signed playback is HLS only")
        channel = self.channel(grant.tenant_id, req.stream_id)
        if channel is None or not channel.enabled:
            raise UnknownChannel(f"no channel {req.stream_id}")
        if grant.kind is WatchKind.public and not channel.public_watch:
            raise NotInBouquet(f"channel {req.stream_id} is no longer public")
        tenant = self.tenant(grant.tenant_id)
        if not tenant.active:
            raise BadCredentials("this service is suspended")
        self.check_rights(grant.tenant_id, req, cached_only=False)
        return Grant(line, channel, tenant.policy, tenant.max_viewers)

    def channel(
        self, tenant_id: int, channel_id: int, *, cached_only: bool = False
    ) -> ChannelInfo | None:
        """The channel a play of ``channel_id`` in ``tenant_id`` runs: for a partner's
        syndicated entry, the owner's channel (same id, same runner), None once the
        syndication is over. Cached until either tenant's catalogue changes."""
        return self._channel_hit(tenant_id, channel_id, cached_only).info

    def syndicated(
        self, tenant_id: int, channel_id: int, *, cached_only: bool = False
    ) -> SyndicatedTerms | None:
        """The terms ``channel_id`` plays on, if it is a syndicated entry of ``tenant_id``."""
        return self._channel_hit(tenant_id, channel_id, cached_only).terms

    def _channel_hit(self, tenant_id: int, channel_id: int, cached_only: bool) -> _ChannelHit:
        version = self._events.version(tenant_id, "catalog")
        hit = self._channels.get((tenant_id, channel_id))
        if hit is not None and hit.version == version and hit.owner_current(self._events):
            return hit
        if cached_only:
            raise NotCached(f"channel {channel_id}")
        terms: SyndicatedTerms | None = None
        owner: tuple[int, int] | None = None
        with self._db.session() as session:
            row = session.get(Channel, channel_id)
            info = (
                channel_info(row, session)
                if row is not None and row.tenant_id == tenant_id
                else None
            )
            if row is not None and info is not None and row.syndication_id is not None:
                found = resolve(session, row, datetime.now(UTC))
                info = None
                if found is not None:
                    owner_id = found.owner_tenant_id
                    owner = (owner_id, self._events.version(owner_id, "catalog"))
                    info = channel_info(found.source, session)
                    terms = SyndicatedTerms(
                        found.syndication_id,
                        owner_id,
                        found.until.timestamp() if found.until is not None else None,
                        frozenset(found.territories),
                        found.max_viewers,
                    )
        hit = _ChannelHit(version, info, terms, owner)
        with self._lock:
            if len(self._channels) > 200_000:
                self._channels.clear()
            self._channels[(tenant_id, channel_id)] = hit
        return hit

    def bouquet_channels(
        self, tenant_id: int, bouquet_ids: tuple[int, ...], *, cached_only: bool = False
    ) -> frozenset[int]:
        return self.bouquet_items(tenant_id, ItemType.channel, bouquet_ids, cached_only=cached_only)

    def bouquet_items(
        self,
        tenant_id: int,
        item_type: ItemType,
        bouquet_ids: tuple[int, ...],
        *,
        cached_only: bool = False,
    ) -> frozenset[int]:
        """Ids of ``item_type`` the bouquets hold, cached per bouquet set and catalog version
        (channels for live, movies and series for VOD)."""
        key = (tenant_id, item_type, tuple(sorted(bouquet_ids)))
        version = self._events.version(tenant_id, "catalog")
        hit = self._bouquets.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        if cached_only:
            raise NotCached(f"bouquets {key[2]}")
        if not bouquet_ids:
            ids: frozenset[int] = frozenset()
        else:
            with self._db.session() as session:
                ids = frozenset(
                    session.scalars(
                        select(BouquetItem.item_id).where(
                            BouquetItem.bouquet_id.in_(key[2]),
                            BouquetItem.item_type == item_type,
                        )
                    ).all()
                )
        with self._lock:
            if len(self._bouquets) > 50_000:
                self._bouquets.clear()
            self._bouquets[key] = (version, ids)
        return ids

    def policy(self, tenant_id: int) -> ConnectionPolicy:
        return self.tenant(tenant_id).policy

    def tenant(self, tenant_id: int, *, cached_only: bool = False) -> TenantPlayback:
        """The tenant's playback settings, cached until its ``lines`` topic changes."""
        version = self._events.version(tenant_id, "lines")
        hit = self._tenants.get(tenant_id)
        if hit is not None and hit[0] == version:
            return hit[1]
        if cached_only:
            raise NotCached(f"tenant {tenant_id}")
        with self._db.session() as session:
            row = session.execute(
                select(
                    Tenant.connection_policy,
                    Tenant.playback_slates,
                    Tenant.max_viewers,
                    Tenant.status,
                ).where(Tenant.id == tenant_id)
            ).first()
        found = TenantPlayback()
        if row is not None:
            found = TenantPlayback(
                ConnectionPolicy(row[0] or found.policy),
                bool(row[1]),
                row[2],
                row[3] == TenantStatus.active,
            )
        self._tenants[tenant_id] = (version, found)
        return found

    def tenant_channels(self, mode: ChannelMode, tenant_id: int | None = None) -> list[ChannelInfo]:
        """Every enabled channel in ``mode``, of one tenant or of all (the engine starts
        always-on ones at boot and after catalog changes)."""
        query = select(Channel).where(Channel.mode == mode, Channel.enabled.is_(True))
        if tenant_id is not None:
            query = query.where(Channel.tenant_id == tenant_id)
        with self._db.session() as session:
            return [channel_info(r, session) for r in session.scalars(query).all()]

    def archived_channels(self, tenant_id: int | None = None) -> list[ChannelInfo]:
        """Every enabled channel with a catch-up archive (recorded, so always running)."""
        query = select(Channel).where(Channel.archive_days > 0, Channel.enabled.is_(True))
        if tenant_id is not None:
            query = query.where(Channel.tenant_id == tenant_id)
        with self._db.session() as session:
            return [channel_info(r, session) for r in session.scalars(query).all()]

    def push_channels(self, kind: SourceKind, tenant_id: int | None) -> list[ChannelInfo]:
        """Enabled channels with a ``kind`` push source (the SRT ingest listens for them)."""
        # A text match narrows the rows in SQL on both SQLite and PostgreSQL; the exact
        # check on the decoded list follows.
        query = select(Channel).where(
            Channel.enabled.is_(True), cast(Channel.sources, String).like(f"%{kind.value}%")
        )
        if tenant_id is not None:
            query = query.where(Channel.tenant_id == tenant_id)
        with self._db.session() as session:
            infos = [channel_info(r, session) for r in session.scalars(query).all()]
        return [i for i in infos if any(s.get("kind") == kind.value for s in i.sources)]

    def channel_by_key(self, stream_key: str) -> ChannelInfo | None:
        """The channel a push with ``stream_key`` publishes to (None: wrong key)."""
        if not stream_key:
            return None
        with self._db.session() as session:
            row = session.scalar(select(Channel).where(Channel.stream_key == stream_key))
            return channel_info(row, session) if row is not None and row.enabled else None
