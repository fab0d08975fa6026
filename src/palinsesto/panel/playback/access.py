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

import hmac
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from palinsesto.accounts.lines import ip_allowed
from palinsesto.accounts.models import ConnectionPolicy, Tenant, TenantStatus
from palinsesto.accounts.throttle import LockedOut
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
    LoginThrottled,
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

_MAX_ROW_ID = 2**31 - 1


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
    # All partners' viewers of the offer at once, together: counted per offer where the
    # per-partner cap is counted per syndication (panel/playback/admission.py).
    offer_id: int = 0
    max_viewers_total: int | None = None
    entry_id: int = 0  # the partner's entry (its own channel id for the syndicated one)

    def over(self, now: float) -> bool:
        return self.until is not None and now >= self.until

    def total_cap(self) -> tuple[int, int] | None:
        """(offer id, cap) for admission when the offer caps all partners together."""
        if self.max_viewers_total is None:
            return None
        return (self.offer_id, self.max_viewers_total)


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


class OwnerUnavailable(LineRefused):
    """The channel's owner (another panel) is suspended: its channel plays to no partner
    until it is resumed; the syndication and the entry stay (503, the offline slate)."""

    code = "CHANNEL_UNAVAILABLE"

    def __init__(self, message: str, tenant_id: int) -> None:
        super().__init__(message)
        self.tenant_id = tenant_id  # the viewer's panel: its slate setting applies


@dataclass(frozen=True, slots=True)
class _Granted:
    """A grant remembered for :meth:`PlaybackAccess.authorize_fast`: valid while ``line``
    is the line directory's cached object and the tenant's versions are these."""

    line: LineView
    catalog_version: int
    lines_version: int
    grant: Grant


GRANTS_KEPT = 200_000  # (line, channel, output) grants remembered; then cleared


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
        self._granted: dict[tuple[str, int, str], _Granted] = {}
        self._lock = threading.Lock()

    def authorize_fast(self, req: PlaybackRequest) -> Grant | None:
        """The grant :meth:`authorize` would give, from a grant remembered by
        :meth:`authorize_remembering` for the same line, channel and output; None when
        there is none or any check would need more than a comparison (then ask
        :meth:`authorize`, which gives the same answer, refusals included).

        The remembered facts hold while the line directory keeps the same line object
        (dropped on the tenant's ``lines`` and ``catalog`` changes: a new password, a
        suspension, other bouquets) and the tenant's versions have not moved (channel,
        bouquet contents, plan). What depends on the request is checked every time: the
        password (constant time; a wrong one goes the slow way and counts as a failure),
        the expiry, the allowed addresses and user agents, the Host (a tenant's domain),
        the sign-in throttle (a locked out address is refused, :class:`LoginThrottled`, as
        authenticate does first) and the rights gate (blackouts, territories). Syndicated
        entries always go the slow way."""
        line = self.lines.cached_view(req.username)
        if not line or req.username == SIGNED_USER:
            return None
        assert isinstance(line, LineView)
        hit = self._granted.get((req.username, req.stream_id, req.output))
        if hit is None or hit.line is not line or hit.grant.syndicated is not None:
            return None  # a syndicated entry: its owner's catalogue and term count too
        tenant_id = line.tenant_id
        if req.host:  # a tenant's own domain plays only its lines (the slow way refuses)
            try:
                if self.host_tenant(req.host, cached_only=True) not in (None, tenant_id):
                    return None
            except NotCached:
                return None
        events = self._events
        if (
            hit.catalog_version != events.version(tenant_id, "catalog")
            or hit.lines_version != events.version(tenant_id, "lines")
            or not hmac.compare_digest(line.password.encode(), req.password.encode())
            or (line.exp_date is not None and line.exp_date <= req.now)  # Expired now
            or (line.allowed_ips and not ip_allowed(req.ip, line.allowed_ips))
            or (line.allowed_user_agents and req.user_agent not in line.allowed_user_agents)
        ):
            return None
        try:
            self.lines.throttle.succeed(req.ip, req.username)
        except LockedOut as exc:
            raise LoginThrottled(exc.retry_after) from None
        try:
            self.check_rights(tenant_id, req, cached_only=True)
        except NotCached:
            return None
        return hit.grant

    def grants_remembered(self) -> int:
        """How many grants :meth:`authorize_fast` may answer from (tests, diagnostics)."""
        return len(self._granted)

    def authorize_remembering(self, req: PlaybackRequest, *, cached_only: bool = False) -> Grant:
        """:meth:`authorize`, and remember its grant for :meth:`authorize_fast` when the
        line was cached before (the versions are read before the facts they vouch for, so
        a change arriving meanwhile makes the remembered grant stale, never wrong)."""
        before = self.lines.cached_view(req.username)
        versions = (0, 0)
        if isinstance(before, LineView):
            events = self._events
            versions = (
                events.version(before.tenant_id, "catalog"),
                events.version(before.tenant_id, "lines"),
            )
        grant = self.authorize(req, cached_only=cached_only)
        if grant.line is before and req.username != SIGNED_USER:
            if len(self._granted) >= GRANTS_KEPT:
                self._granted.clear()
            key = (req.username, req.stream_id, req.output)
            self._granted[key] = _Granted(grant.line, versions[0], versions[1], grant)
        return grant

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
        line.check_not_blocked(ItemType.channel.value, req.stream_id)
        self.check_rights(line.tenant_id, req, cached_only=cached_only)
        terms = self.syndicated(line.tenant_id, req.stream_id, cached_only=cached_only)
        if terms is not None:
            self.check_terms(terms, line.tenant_id, req.stream_id, req.ip, req.now)
            if not self.tenant(terms.owner_tenant_id, cached_only=cached_only).active:
                raise OwnerUnavailable(
                    f"the owner of channel {req.stream_id} is suspended", line.tenant_id
                )
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
            # Ids are int4 on PostgreSQL: a larger one (any URL may carry it) names nothing.
            row = session.get(Channel, channel_id) if 0 < channel_id <= _MAX_ROW_ID else None
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
                        found.offer_id,
                        found.max_viewers_total,
                        channel_id,
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
