"""The live engine of this node: channel runners, the data plane, ingest, sessions.

Built once by the app (``ctx.services["live"]``) and started/stopped by its lifespan, on
the same event loop as the web app. Change events arrive from any thread and are moved
onto the loop: ``lines`` re-checks every session of the tenant (a disabled line is cut
within a second or two), ``catalog``/``channels`` stop runners whose channel changed, cut
publishers whose stream key was rotated, follow the SRT listeners and start always-on
channels. Always-on channels start a few at a time (``live_max_concurrent_starts``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

from palinsesto.accounts.trials import end_trials
from palinsesto.accounts.usage import add_usage
from palinsesto.catalog.models import ChannelMode, SourceKind
from palinsesto.cluster.events import ChangeEvents
from palinsesto.config import Settings
from palinsesto.db import Database
from palinsesto.listeners import NodeSockets, address_of, bind_node
from palinsesto.media import dataplane
from palinsesto.media.archive import ArchiveStore
from palinsesto.media.channel import ChannelRunner, ChannelSpec, Failure, PushFeed, RunnerTuning
from palinsesto.media.delivery import Delivery
from palinsesto.media.ffmpeg import Source, SourceError, profile_for
from palinsesto.media.ingest.srt import SrtEndpoint, SrtIngest
from palinsesto.media.slate import SlateKind, Slates
from palinsesto.media.source_policy import SourcePolicy, SourceRefused
from palinsesto.media.supervisor import Supervisor
from palinsesto.media.vod_delivery import VodDelivery
from palinsesto.media.vod_library import VodLibrary
from palinsesto.outbound.pull_proxy import PullProxy
from palinsesto.playback.access import ChannelInfo, PlaybackAccess
from palinsesto.playback.admission import SessionRegistry, ViewingSession
from palinsesto.playback.hls_tokens import SegmentTokens
from palinsesto.playback.lines import LineDirectory
from palinsesto.playback.metering import UsageMeter, UsageSample
from palinsesto.playback.rights_gate import (
    CATALOG_CLOCK,
    ContentRefused,
    NotLoaded,
    RightsGate,
)
from palinsesto.playback.vod_access import VodAccess
from palinsesto.playback.vod_plays import VodPlays
from palinsesto.playback.watch_tokens import WatchTokens, is_signed_line
from palinsesto.trust.geo import CountryLookup
from palinsesto.trust.rights import RightsItem

log = logging.getLogger(__name__)


class LiveEngine:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        events: ChangeEvents,
        lines: LineDirectory,
        tuning: RunnerTuning | None = None,
        sockets: NodeSockets | None = None,
    ) -> None:
        """``sockets``: listeners bound beforehand (``palinsesto serve`` binds them before
        touching the database); without them :meth:`start` binds its own."""
        self.settings = settings
        self._sockets = sockets
        self.events = events
        self._db = db
        geo = CountryLookup(settings.geoip_db) if settings.geoip_db else None
        self.rights = RightsGate(db, events, geo)
        self.access = PlaybackAccess(
            db, events, lines, WatchTokens(settings.secret_key or "unset"), self.rights
        )
        self.sessions = SessionRegistry(settings.hls_session_timeout_seconds)
        self.meter = UsageMeter(self.sessions)
        self.tokens = SegmentTokens(settings.secret_key or "unset", settings.hls_token_ttl_seconds)
        self.policy = SourcePolicy.from_settings(settings)
        self.pull_proxy = PullProxy(self.policy.outbound)
        self.tuning = tuning or RunnerTuning(idle_stop=float(settings.live_idle_stop_seconds))
        self.supervisor = Supervisor()
        self.archive = ArchiveStore(
            settings.effective_archive_root, settings.archive_quota_mb * 1024 * 1024
        )
        # Catch-up is advertised only while recorded: refresh the player API's lists.
        self.archive.on_change = lambda tenant_id: events.publish(tenant_id, "catalog.live")
        self.runners: dict[int, ChannelRunner] = {}
        self._infos: dict[int, ChannelInfo] = {}
        self.delivery = Delivery(self)
        self.vod_plays = VodPlays(self.sessions)
        self.vod_library = VodLibrary(
            settings.effective_media_root,
            self.supervisor,
            lambda: self._ffmpeg or settings.resolve_ffmpeg(),
            float(settings.vod_probe_timeout_seconds),
        )
        self.vod = VodDelivery(
            VodAccess(db, events, self.access), self.vod_plays, settings.effective_media_root
        )
        self.port = 0
        self.rtmp_port = 0
        self._server: asyncio.Server | None = None
        self._rtmp: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ffmpeg = ""
        self.srt = SrtIngest(self)
        self.slates = Slates(self.supervisor, "")
        self._start_gate = asyncio.Semaphore(max(1, settings.live_max_concurrent_starts))
        self._queued_starts: set[int] = set()
        events.subscribe(self._on_event)

    @property
    def ffmpeg(self) -> str:
        return self._ffmpeg

    # ---- lifecycle ----

    async def start(self) -> None:
        from palinsesto.media.ingest.rtmp import RtmpIngest

        self._loop = asyncio.get_running_loop()
        self._ffmpeg = self.settings.resolve_ffmpeg()
        self.slates.ffmpeg = self._ffmpeg
        await self.pull_proxy.start()
        # A port that cannot be bound stops the start (ListenError): a server that would
        # answer /healthz and refuse every play with 503 hides the problem.
        sockets, self._sockets = self._sockets or bind_node(self.settings), None
        self._server = await dataplane.serve(self.delivery, sock=sockets.live)
        self.port = sockets.live.getsockname()[1]
        if sockets.rtmp is not None:
            self._rtmp = RtmpIngest(self)
            self.rtmp_port = await self._rtmp.start(sockets.rtmp)
        self._spawn(self._reaper())
        self._spawn(self._archive_pruner())
        self._spawn(self._meter_usage())
        always_on = await asyncio.to_thread(self.access.tenant_channels, ChannelMode.always_on)
        archived = await asyncio.to_thread(self.access.archived_channels)
        self.start_gradually(always_on + archived)
        pushed = await asyncio.to_thread(self.access.push_channels, SourceKind.push_srt, None)
        await self.srt.sync(self._srt_endpoints(pushed), None)
        log.info(
            "live data plane on %s, RTMP on %s",
            address_of(sockets.live),
            address_of(sockets.rtmp) if sockets.rtmp is not None else "(off)",
        )

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
        if self._rtmp is not None:
            await self._rtmp.stop()
        await self.srt.stop()
        await asyncio.gather(*(r.stop() for r in self.runners.values()), return_exceptions=True)
        writers = [r.archive.aclose() for r in self.runners.values() if r.archive is not None]
        await asyncio.gather(*writers, return_exceptions=True)  # recordings reach the disk
        for session in self.sessions.all():
            self.sessions.end(session, "server stopping")
        await self._record_usage()  # what the stopped sessions used since the last sample
        await self.supervisor.stop_all()
        await self.pull_proxy.stop()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- channels ----

    def srt_endpoint(self, info: ChannelInfo, source: Source) -> SrtEndpoint:
        """Port and passphrase of a push_srt source (see media/ingest/srt.py)."""
        raw_port = source.options.get("port", "")
        if raw_port:
            port = int(raw_port) if raw_port.isdigit() else 0
        elif self.settings.srt_port_base:
            port = self.settings.srt_port_base + info.id
        else:
            port = 0
        if not 0 < port < 65536:
            raise SourceError("push_srt has no usable port (srt_port_base + channel id)")
        passphrase = source.options.get("passphrase", "") or info.stream_key or ""
        # libsrt takes a 10-79 character passphrase; the channel's stream key is 32.
        if not 10 <= len(passphrase) <= 79:
            raise SourceError("push_srt needs a 10-79 character passphrase (the stream key)")
        host = source.options.get("host", "") or self.settings.srt_listen_host
        return SrtEndpoint(info.id, info.tenant_id, host, port, passphrase)

    def _srt_endpoints(self, infos: list[ChannelInfo]) -> list[tuple[ChannelInfo, SrtEndpoint]]:
        found = []
        for info in infos:
            for raw in info.sources:
                if raw.get("kind") != SourceKind.push_srt.value:
                    continue
                try:
                    found.append((info, self.srt_endpoint(info, Source.from_json(raw))))
                except SourceError as exc:
                    log.warning("channel %s: %s", info.id, exc)
                break
        return found

    def spec_for(self, info: ChannelInfo) -> tuple[ChannelSpec, list[str]]:
        """The runnable spec of a channel; sources refused by policy are left out, with why."""
        sources: list[Source] = []
        problems: list[str] = []
        for index, raw in enumerate(info.sources):
            try:
                source = Source.from_json(raw)
                if source.kind is SourceKind.push_srt:
                    self.srt_endpoint(info, source)
                elif source.kind is SourceKind.push_rtmp and not info.stream_key:
                    raise SourceError("push_rtmp needs the channel's stream key")
                source = self.policy.admit(info.tenant_id, source)
            except (SourceError, SourceRefused, ValueError) as exc:
                problems.append(f"source {index} refused: {exc}")
                continue
            sources.append(source)
        try:
            profile = profile_for(info.transcode_profile, self.settings.live_gpu_encoder)
        except SourceError as exc:
            problems.append(str(exc))
            profile = profile_for("copy")
        spec = ChannelSpec(
            info.tenant_id,
            info.id,
            info.name,
            tuple(sources),
            profile,
            # A recorded channel runs always: the archive holds what it broadcast.
            info.on_demand and info.archive_days <= 0,
            http_proxy=self.pull_proxy.url,
        )
        return spec, problems

    def runner(self, info: ChannelInfo) -> ChannelRunner:
        """The runner of ``info``'s channel, created if needed; started by the caller."""
        runner = self.runners.get(info.id)
        if runner is not None and self._infos.get(info.id) == info:
            return runner
        if runner is not None:
            self._spawn(runner.stop())
        spec, problems = self.spec_for(info)
        runner = ChannelRunner(spec, self.supervisor, self._ffmpeg, self.tuning)
        if info.archive_days > 0:
            runner.archive = self.archive.writer(info.tenant_id, info.id)
        for problem in problems:
            runner.failures.append(Failure(time.time(), -1, problem))
        self.runners[info.id] = runner
        self._infos[info.id] = info
        return runner

    def running(self, channel_id: int) -> ChannelRunner | None:
        runner = self.runners.get(channel_id)
        return runner if runner is not None and runner.running else None

    def start_gradually(self, infos: list[ChannelInfo]) -> None:
        """Start always-on channels at most ``live_max_concurrent_starts`` at a time: each
        start holds a slot until its channel has a keyframe (or 15 s passed)."""
        for info in infos:
            if info.id in self._queued_starts or self.running(info.id) is not None:
                continue
            self._queued_starts.add(info.id)
            self._spawn(self._gated_start(info))

    async def _gated_start(self, info: ChannelInfo) -> None:
        try:
            async with self._start_gate:
                runner = self.runner(info)
                if runner.running:
                    return
                runner.start()
                await runner.wait_ready(15.0)
        finally:
            self._queued_starts.discard(info.id)

    async def start_channel(self, info: ChannelInfo) -> ChannelRunner:
        """An operator's start: tries now, even while the channel is backing off."""
        runner = self.runner(info)
        runner.start(retry_now=True)
        return runner

    async def stop_channel(self, channel_id: int) -> None:
        runner = self.runners.get(channel_id)
        if runner is not None:
            await runner.stop()

    def channel_status(self, info: ChannelInfo) -> dict[str, Any]:
        runner = self.runners.get(info.id)
        ingest = {"rtmp_port": self.rtmp_port, "srt_port": self.srt.port_of(info.id)}
        archive = {"days": info.archive_days, **self.archive.status((info.tenant_id, info.id))}
        if runner is not None:
            return {**runner.status(), "ingest": ingest, "archive": archive}
        return {
            "ingest": ingest,
            "archive": archive,
            "publisher_connected": False,
            "state": "idle",
            "status": "stopped",
            "active_source": None,
            "bitrate_kbps": 0.0,
            "fps": 0.0,
            "speed": 0.0,
            "uptime_seconds": 0.0,
            "restarts": 0,
            "failed_rounds": 0,
            "retry_at": None,
            "retry_in_seconds": None,
            "viewers": 0,
            "dropped_viewers": 0,
            "failures": [],
        }

    # ---- push ingest hooks ----

    async def publish_started(self, stream_key: str, feed: PushFeed) -> ChannelRunner | None:
        """An RTMP publisher with ``stream_key`` connected; None means the key is wrong."""
        info = await asyncio.to_thread(self.access.channel_by_key, stream_key)
        if info is None:
            return None
        return self.push_connected(info, feed)

    def push_connected(self, info: ChannelInfo, feed: PushFeed) -> ChannelRunner:
        """A publisher (RTMP or SRT) is live: its feed becomes the channel's push source."""
        runner = self.runner(info)
        runner.attach_push(feed)
        return runner

    def push_disconnected(self, channel_id: int, feed: PushFeed) -> None:
        feed.close()
        for runner in self.runners.values():
            runner.detach_push(feed)

    # ---- sessions ----

    def active_count(self, line_id: int) -> int:
        """Connections of a line on this node (the player API's ``active_cons``)."""
        return self.sessions.active_count(line_id)

    def _on_event(self, tenant_id: int, topic: str) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if topic == "lines":
            loop.call_soon_threadsafe(self._spawn, self._recheck_lines(tenant_id))
        elif topic in ("catalog", "channels"):
            loop.call_soon_threadsafe(self._spawn, self._reconcile(tenant_id))

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

    async def _reconcile(self, tenant_id: int) -> None:
        access = self.access
        publishing: list[tuple[ChannelInfo, PushFeed]] = []
        if self._rtmp is not None:
            # A rotated key (or a disabled channel) cuts its publisher at once.
            for publisher in self._rtmp.publishers_of(tenant_id):
                info = await asyncio.to_thread(access.channel, tenant_id, publisher.channel_id)
                if info is None or not info.enabled or info.stream_key != publisher.key:
                    publisher.cut("stream key rotated or channel disabled")
                elif publisher.feed is not None:
                    publishing.append((info, publisher.feed))
        for channel_id, runner in list(self.runners.items()):
            if runner.spec.tenant_id != tenant_id:
                continue
            info = await asyncio.to_thread(access.channel, tenant_id, channel_id)
            if info is None or not info.enabled or info != self._infos.get(channel_id):
                await runner.stop()
                if self.runners.get(channel_id) is runner:
                    del self.runners[channel_id]
                    self._infos.pop(channel_id, None)
        for info, feed in publishing:  # a still-valid publisher feeds the new runner
            if not feed.closed:
                self.push_connected(info, feed)
        pushed = await asyncio.to_thread(access.push_channels, SourceKind.push_srt, tenant_id)
        await self.srt.sync(self._srt_endpoints(pushed), tenant_id)
        always_on = await asyncio.to_thread(
            access.tenant_channels, ChannelMode.always_on, tenant_id
        )
        archived = await asyncio.to_thread(access.archived_channels, tenant_id)
        self.start_gradually(always_on + archived)

    async def _reaper(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.sessions.expire_idle()
            for channel_id, runner in self.runners.items():
                runner.set_hls_sessions(self.sessions.hls_sessions_of(channel_id))
            await self._enforce_rights(time.time())

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
                    session.channel_id,
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
        switch = session.extra.pop("to_slate", None)
        if callable(switch) and not session.ended:
            clip = await self.slates.clip(SlateKind.blackout)
            if clip and not session.ended:
                switch(clip, exc.code)
                return
        self.sessions.end(session, exc.code)

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

    def _end_trials(self) -> list[int]:
        with self._db.transaction() as session:
            return end_trials(session, datetime.now(UTC))

    async def _record_usage(self) -> None:
        samples = self.meter.sample()
        if not samples:
            return
        try:
            await asyncio.to_thread(self._write_usage, samples)
        except Exception:  # noqa: BLE001 - the database may be away; viewers keep watching
            log.exception("usage sample of %d tenants not recorded", len(samples))

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
    from palinsesto.playback.lines import shared_line_directory

    lines = shared_line_directory(ctx.services, ctx.db, ctx.events, ctx.line_throttle)
    engine = LiveEngine(ctx.settings, ctx.db, ctx.events, lines, sockets=sockets)
    ctx.services["live"] = engine
    ctx.services["sessions"] = engine
    ctx.services["vod_library"] = engine.vod_library  # the admin API probes VOD files
    ctx.services["archive"] = engine.archive  # the player API's has_archive
    return engine
