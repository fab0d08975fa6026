"""The all-in-one server's node: a :class:`ChannelHost` whose viewers sign in with line
credentials checked against this process's database.

Built once by the app (``ctx.services["live"]``) and started/stopped by its lifespan, on
the same event loop as the web app. Change events arrive from any thread and are moved
onto the loop: ``lines`` re-checks every session of the tenant (a disabled line is cut
within a second or two), ``catalog``/``channels`` stop runners whose channel changed, cut
publishers whose stream key was rotated, follow the SRT listeners and start always-on
channels. Always-on channels start a few at a time (``live_max_concurrent_starts``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from palinsesto.accounts.trials import end_trials
from palinsesto.accounts.usage import add_usage
from palinsesto.catalog.models import ChannelMode
from palinsesto.catalog.syndication import add_audience
from palinsesto.cluster.events import ChangeEvents
from palinsesto.config import Settings
from palinsesto.db import Database
from palinsesto.listeners import NodeSockets
from palinsesto.node.channel import PushFeed, RunnerTuning
from palinsesto.node.host import ChannelHost
from palinsesto.node.slate import SlateKind
from palinsesto.node.vod_hls_index import HlsIndexes
from palinsesto.node.vod_library import VodLibrary
from palinsesto.node.vod_proxy import RemoteProxy
from palinsesto.panel.local_node.delivery import Delivery
from palinsesto.panel.local_node.vod_delivery import VodDelivery
from palinsesto.panel.local_node.vod_hls_delivery import VodHlsDelivery
from palinsesto.panel.playback.access import Grant, NotCached, PlaybackAccess, PlaybackRequest
from palinsesto.panel.playback.admission import SessionRegistry, ViewingSession
from palinsesto.panel.playback.hls_tokens import SegmentTokens
from palinsesto.panel.playback.lines import LineDirectory
from palinsesto.panel.playback.metering import UsageMeter, UsageSample
from palinsesto.panel.playback.rights_gate import (
    CATALOG_CLOCK,
    ContentRefused,
    NotLoaded,
    RightsGate,
)
from palinsesto.panel.playback.syndication_audience import SyndicationAudience
from palinsesto.panel.playback.vod_access import VodAccess
from palinsesto.panel.playback.vod_plays import VodPlays
from palinsesto.panel.playback.watch_tokens import WatchTokens, is_signed_line
from palinsesto.protocol.channels import ChannelInfo
from palinsesto.protocol.sources import SourceKind
from palinsesto.trust.geo import CountryLookup
from palinsesto.trust.rights import RightsItem
from palinsesto.trust.watermark import record_mark

log = logging.getLogger(__name__)

SYNDICATION_SWEEP_SECONDS = 2.0  # how late an expired term may leave a partner's catalogue


class LiveEngine(ChannelHost):
    def __init__(
        self,
        settings: Settings,
        db: Database,
        events: ChangeEvents,
        lines: LineDirectory,
        tuning: RunnerTuning | None = None,
        sockets: NodeSockets | None = None,
    ) -> None:
        super().__init__(settings, tuning, sockets)
        self.events = events
        self._db = db
        geo = CountryLookup(settings.geoip_db) if settings.geoip_db else None
        self.rights = RightsGate(db, events, geo)
        self.access = PlaybackAccess(
            db, events, lines, WatchTokens(settings.secret_key or "unset"), self.rights
        )
        self.sessions = SessionRegistry(settings.hls_session_timeout_seconds)
        self.meter = UsageMeter(self.sessions)
        self.syndication_audience = SyndicationAudience(self.sessions)
        # Ends syndications whose term passed (catalog/syndication.py); set by the app.
        self.end_expired_syndications: Callable[[], object] = lambda: None
        self._swept_at = 0.0
        self.tokens = SegmentTokens(settings.secret_key or "unset", settings.hls_token_ttl_seconds)
        # Catch-up is advertised only while recorded: refresh the player API's lists.
        self.archive.on_change = lambda tenant_id: events.publish(tenant_id, "catalog.live")
        self.delivery = Delivery(self)
        self.vod_plays = VodPlays(self.sessions)
        self.vod_library = VodLibrary(
            settings.effective_media_root,
            self.supervisor,
            lambda: self.ffmpeg or settings.resolve_ffmpeg(),
            float(settings.vod_probe_timeout_seconds),
        )
        vod_access = VodAccess(db, events, self.access)
        ffmpeg = lambda: self.ffmpeg or settings.resolve_ffmpeg()  # noqa: E731
        self.vod_hls_indexes = HlsIndexes(settings.data_dir / "vod-hls", self.supervisor, ffmpeg)
        vod_hls = VodHlsDelivery(
            vod_access,
            self.sessions,
            SegmentTokens(
                settings.secret_key or "unset", settings.hls_token_ttl_seconds, "vod-hls"
            ),
            self.vod_hls_indexes,
            self.supervisor,
            ffmpeg,
        )
        self.vod = VodDelivery(
            vod_access,
            self.vod_plays,
            settings.effective_media_root,
            vod_hls,
            RemoteProxy(self.policy.outbound),
        )
        # Tenants whose channels run on their own streaming nodes (panel/nodes/): their
        # always-on channels do not run here too. Set by the app; may query the database.
        self.served_elsewhere: Callable[[int], bool | None] = lambda tenant_id: False
        # The same answer from memory only (None: not cached); set by the app.
        self.served_elsewhere_cached: Callable[[int], bool | None] = lambda tenant_id: False
        # A partner's play of a syndicated channel whose owner has nodes: the panel's node
        # admission, (status, body, Location); set by the app (None: refused, 503).
        self.admit_elsewhere: (
            Callable[[Grant, PlaybackRequest], Awaitable[tuple[int, bytes, str]]] | None
        ) = None
        events.subscribe(self._on_event)

    # ---- lifecycle (ChannelHost hooks) ----

    async def started(self) -> None:
        self.spawn(self._reaper())
        self.spawn(self._archive_pruner())
        self.spawn(self._meter_usage())
        always_on = await asyncio.to_thread(self.access.tenant_channels, ChannelMode.always_on)
        archived = await asyncio.to_thread(self.access.archived_channels)
        self.start_gradually(await self._served_here(always_on + archived))
        pushed = await asyncio.to_thread(self.access.push_channels, SourceKind.push_srt, None)
        await self.srt.sync(self.srt_endpoints(pushed), None)

    async def stopping(self) -> None:
        for session in self.sessions.all():
            self.sessions.end(session, "server stopping")
        await self._record_usage()  # what the stopped sessions used since the last sample

    async def channel_for_key(self, stream_key: str) -> ChannelInfo | None:
        return await asyncio.to_thread(self.access.channel_by_key, stream_key)

    # ---- sessions ----

    def active_count(self, line_id: int) -> int:
        """Connections of a line on this node (the player API's ``active_cons``)."""
        return self.sessions.active_count(line_id)

    def _on_event(self, tenant_id: int, topic: str) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if topic == "lines":
            loop.call_soon_threadsafe(self.spawn, self._recheck_lines(tenant_id))
        elif topic in ("catalog", "channels", "servers"):
            loop.call_soon_threadsafe(self.spawn, self._reconcile(tenant_id))

    async def _recheck_lines(self, tenant_id: int) -> None:
        now = time.time()
        lines = self.access.lines
        tenant = await asyncio.to_thread(self.access.tenant, tenant_id)
        for session in [s for s in self.sessions.all() if s.tenant_id == tenant_id]:
            if not tenant.active:
                self.sessions.end(session, "service suspended")
                continue
            if is_signed_line(session.line_id):
                continue  # a signed browser play (playback/watch_tokens.py), not a line
            line = await asyncio.to_thread(lines.lookup, session.username)
            if line is None or line.password != session.password or line.status(now) != "Active":
                self.sessions.end(session, "line changed: no longer allowed")
            elif ("channel", session.entry_id or session.channel_id) in line.blocked:
                self.sessions.end(session, "item blocked for the line after a notice")

    async def _served_here(self, infos: list[ChannelInfo]) -> list[ChannelInfo]:
        """``infos`` without the channels of tenants that have their own nodes."""
        tenants = {info.tenant_id for info in infos}
        elsewhere = {t for t in tenants if await asyncio.to_thread(self.served_elsewhere, t)}
        return [info for info in infos if info.tenant_id not in elsewhere]

    async def _reconcile(self, tenant_id: int) -> None:
        access = self.access
        if await asyncio.to_thread(self.served_elsewhere, tenant_id):
            # The tenant's nodes carry its channels now: stop what ran here unwatched.
            for channel_id, runner in list(self.runners.items()):
                if runner.spec.tenant_id == tenant_id and not runner.viewers:
                    await self.drop_runner(channel_id)
            return
        publishing: list[tuple[ChannelInfo, PushFeed]] = []
        # A rotated key (or a disabled channel) cuts its publisher at once.
        for publisher in self.publishers_of(tenant_id):
            info = await asyncio.to_thread(access.channel, tenant_id, publisher.channel_id)
            if info is None or not info.enabled or info.stream_key != publisher.key:
                publisher.cut("stream key rotated or channel disabled")
            elif publisher.feed is not None:
                publishing.append((info, publisher.feed))
        for channel_id, runner in list(self.runners.items()):
            if runner.spec.tenant_id != tenant_id:
                continue
            info = await asyncio.to_thread(access.channel, tenant_id, channel_id)
            if info is None or not info.enabled or info != self.info_of(channel_id):
                await self.drop_runner(channel_id)
        for info, feed in publishing:  # a still-valid publisher feeds the new runner
            if not feed.closed:
                self.push_connected(info, feed)
        pushed = await asyncio.to_thread(access.push_channels, SourceKind.push_srt, tenant_id)
        await self.srt.sync(self.srt_endpoints(pushed), tenant_id)
        always_on = await asyncio.to_thread(
            access.tenant_channels, ChannelMode.always_on, tenant_id
        )
        archived = await asyncio.to_thread(access.archived_channels, tenant_id)
        self.start_gradually(await self._served_here(always_on + archived))

    async def _reaper(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.sessions.expire_idle()
            for channel_id, runner in self.runners.items():
                runner.set_hls_sessions(self.sessions.hls_sessions_of(channel_id))
            now = time.time()
            self.syndication_audience.tick(now)
            await self._enforce_rights(now)
            await self._enforce_syndication(now)

    async def _enforce_rights(self, now: float) -> None:
        """Rights, territory and blackouts apply to viewers already watching: a play that
        admission would now refuse is switched to the blackout slate (TS) or ended (HLS).
        A tenant's catalogue whose validity changed with time alone is republished."""
        for tenant_id in CATALOG_CLOCK.due(self._db.engine, now):
            self.events.publish(tenant_id, "catalog")
        missing: set[int] = set()
        for session in self.sessions.all():
            try:
                self.rights.check(
                    session.tenant_id,
                    RightsItem.channel,
                    session.entry_id or session.channel_id,  # the viewer tenant's item
                    session.ip,
                    now,
                    cached_only=True,
                )
            except NotLoaded:
                missing.add(session.tenant_id)
            except ContentRefused as exc:
                await self._refuse_running(session, exc)
        for tenant_id in missing:  # checked on the next tick, from memory
            await asyncio.to_thread(self.rights.tenant, tenant_id)

    async def _refuse_running(self, session: ViewingSession, exc: ContentRefused) -> None:
        await self._cut_running(session, SlateKind.blackout, exc.code)

    async def _cut_running(self, session: ViewingSession, kind: SlateKind, reason: str) -> None:
        """End a running play: a TS player gets the ``kind`` slate, then the end of the
        stream; an HLS session ends (its next request is refused)."""
        switch = session.extra.pop("to_slate", None)
        if callable(switch) and not session.ended:
            clip = await self.slates.clip(kind)
            if clip and not session.ended:
                switch(clip, reason)
                return
        self.sessions.end(session, reason)

    async def _enforce_syndication(self, now: float) -> None:
        """A partner's viewers of a syndicated channel are cut once the syndication ends
        (revoked, withdrawn, the channel gone, the term passed): the entry then resolves to
        nothing, or to another channel. Expired terms are also ended in the database.
        While the owner's panel is suspended they are cut with the offline slate (the
        syndication stays; admission refuses them until the owner is resumed)."""
        missing: set[tuple[int, int]] = set()
        owners: set[int] = set()
        for session in self.sessions.all():
            if session.syndication_id is None or session.ended:
                continue
            key = (session.tenant_id, session.entry_id)
            try:
                info = self.access.channel(*key, cached_only=True)
                terms = self.access.syndicated(*key, cached_only=True)
            except NotCached:
                missing.add(key)
                continue
            if terms is not None:
                owner = terms.owner_tenant_id
                try:
                    owner_active = self.access.tenant(owner, cached_only=True).active
                except NotCached:
                    owners.add(owner)
                    owner_active = True  # checked on the next tick, from memory
                if not owner_active:
                    await self._cut_running(session, SlateKind.offline, "CHANNEL_UNAVAILABLE")
                    continue
            if (
                info is None
                or not info.enabled
                or info.id != session.channel_id
                or terms is None
                or terms.syndication_id != session.syndication_id
                or terms.over(now)
            ):
                await self._cut_running(session, SlateKind.ended, "SYNDICATION_ENDED")
        for tenant_id, entry_id in missing:  # checked on the next tick, from memory
            await asyncio.to_thread(self.access.channel, tenant_id, entry_id)
        for owner_id in owners:
            await asyncio.to_thread(self.access.tenant, owner_id)
        if now - self._swept_at >= SYNDICATION_SWEEP_SECONDS:
            self._swept_at = now
            try:
                await asyncio.to_thread(self.end_expired_syndications)
            except Exception:  # noqa: BLE001 - the database may be away; next tick
                log.exception("syndication sweep failed")

    async def _meter_usage(self) -> None:
        while True:
            await asyncio.sleep(self.settings.usage_sample_seconds)
            await self._record_usage()
            try:
                ended = await asyncio.to_thread(self._end_trials)
            except Exception:  # noqa: BLE001 - the database may be away; try next time
                log.exception("trial sweep failed")
                continue
            for tenant_id in ended:  # cuts the panel's viewers (see _recheck_lines)
                log.info("tenant %d suspended: its trial is over", tenant_id)
                self.events.publish(tenant_id, "lines")

    def record_mark(self, session: ViewingSession) -> int:
        """Record a watermarked play (trust/watermark.py); the code its sequence carries."""
        with self._db.transaction() as db:
            return record_mark(
                db,
                tenant_id=session.tenant_id,
                channel_id=session.channel_id,
                line_id=session.line_id,
                username=session.username,
                session_id=session.id,
                output=session.output,
                slot_seconds=self.settings.watermark_slot_seconds,
            )

    def _end_trials(self) -> list[int]:
        with self._db.transaction() as session:
            return end_trials(session, datetime.now(UTC))

    async def _record_usage(self) -> None:
        audience = self.syndication_audience.take()
        if audience:
            try:
                await asyncio.to_thread(self._write_audience, audience)
            except Exception:  # noqa: BLE001 - the database may be away; figures kept
                self.syndication_audience.give_back(audience)
                log.exception("syndication audience not recorded")
        samples = self.meter.sample()
        if not samples:
            return
        try:
            await asyncio.to_thread(self._write_usage, samples)
        except Exception:  # noqa: BLE001 - the database may be away; viewers keep watching
            log.exception("usage sample of %d tenants not recorded", len(samples))

    def _write_audience(self, figures: dict[int, tuple[int, int]]) -> None:
        with self._db.transaction() as session:
            add_audience(session, figures)

    def _write_usage(self, samples: list[UsageSample]) -> None:
        with self._db.transaction() as session:
            add_usage(session, samples)

    async def _archive_pruner(self) -> None:
        """Prune recordings by age and by tenant quota, every archive_prune_seconds."""
        while True:
            await asyncio.sleep(self.settings.archive_prune_seconds)
            try:
                archived = await asyncio.to_thread(self.access.archived_channels)
                days = {(i.tenant_id, i.id): i.archive_days for i in archived}
                await asyncio.to_thread(self.archive.prune, days)
            except Exception:
                log.exception("archive pruning failed")


def install_live(ctx: Any, sockets: NodeSockets | None = None) -> LiveEngine:
    """Build the engine for an :class:`~palinsesto.context.AppContext` and register it as
    ``services["live"]`` and, for the player API's ``active_cons``, ``services["sessions"]``.
    ``sockets``: the data plane's and RTMP's listeners, if bound already."""
    from palinsesto.panel.playback.lines import shared_line_directory

    lines = shared_line_directory(ctx.services, ctx.db, ctx.events, ctx.line_throttle)
    engine = LiveEngine(ctx.settings, ctx.db, ctx.events, lines, sockets=sockets)
    ctx.services["live"] = engine
    ctx.services["sessions"] = engine
    ctx.services["vod_library"] = engine.vod_library  # the admin API probes VOD files
    ctx.services["archive"] = engine.archive  # the player API's has_archive
    return engine
