"""A node's channels: runners, ingest, recordings and the data plane's listeners.

:class:`ChannelHost` is what every node is, whoever admits its viewers: it builds a
runner per channel from a :class:`~palinsesto.protocol.channels.ChannelInfo`, starts
always-on channels a few at a time, takes publishers (RTMP, SRT) by stream key and serves
the data plane's connections with the :class:`~palinsesto.node.dataplane.Handler` its
owner gives it. It never reads the database: the all-in-one server's local node
(panel/local_node) and a remote node (``palinsesto node``) each say where channel facts
come from by implementing :meth:`channel_for_key` and the ``started``/``stopping`` hooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from palinsesto.config import Settings
from palinsesto.listeners import NodeSockets, address_of, bind_node
from palinsesto.node import dataplane
from palinsesto.node.archive import ArchiveStore
from palinsesto.node.channel import ChannelRunner, ChannelSpec, Failure, PushFeed, RunnerTuning
from palinsesto.node.ffmpeg import Source, SourceError, profile_for
from palinsesto.node.ingest.srt import SrtEndpoint, SrtIngest
from palinsesto.node.slate import Slates
from palinsesto.node.snapshot import ChannelSnapshots
from palinsesto.node.source_policy import SourcePolicy, SourceRefused
from palinsesto.node.supervisor import Supervisor
from palinsesto.outbound.policy import REFUSED
from palinsesto.outbound.pull_proxy import PullProxy
from palinsesto.protocol.channels import ChannelInfo
from palinsesto.protocol.sources import SourceKind
from palinsesto.protocol.watermark import MarkParams

log = logging.getLogger(__name__)

OUTBOUND_HINT = "PALINSESTO_OUTBOUND_ALLOW_NETWORKS where this runs lets a private range through"


class ChannelHost:
    #: Answers the data plane's requests; set by the owner before :meth:`start`.
    delivery: dataplane.Handler

    def __init__(
        self,
        settings: Settings,
        tuning: RunnerTuning | None = None,
        sockets: NodeSockets | None = None,
    ) -> None:
        """``sockets``: listeners bound beforehand (``palinsesto serve`` binds them before
        touching the database); without them :meth:`start` binds its own."""
        self.settings = settings
        self._sockets = sockets
        self.policy = SourcePolicy.from_settings(settings)
        self.pull_proxy = PullProxy(self.policy.outbound)
        self.tuning = tuning or RunnerTuning(idle_stop=float(settings.live_idle_stop_seconds))
        self.supervisor = Supervisor()
        self.archive = ArchiveStore(
            settings.effective_archive_root, settings.archive_quota_mb * 1024 * 1024
        )
        self.runners: dict[int, ChannelRunner] = {}
        self._infos: dict[int, ChannelInfo] = {}
        self.port = 0
        self.rtmp_port = 0
        self._server: asyncio.Server | None = None
        self._rtmp: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ffmpeg = ""
        self.srt = SrtIngest(self)
        self.slates = Slates(self.supervisor, "")
        self.snapshots = ChannelSnapshots(self.supervisor)
        self._start_gate = asyncio.Semaphore(max(1, settings.live_max_concurrent_starts))
        self._queued_starts: set[int] = set()

    @property
    def ffmpeg(self) -> str:
        return self._ffmpeg

    # ---- what the owner says ----

    async def channel_for_key(self, stream_key: str) -> ChannelInfo | None:
        """The channel a publisher's stream key opens, or None (a wrong key)."""
        raise NotImplementedError

    async def started(self) -> None:
        """Called once the listeners serve: start what must run (always-on channels)."""

    async def stopping(self) -> None:
        """Called after the runners stopped, before ffmpeg children are reaped."""

    # ---- lifecycle ----

    async def start(self) -> None:
        from palinsesto.node.ingest.rtmp import RtmpIngest

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
        await self.started()
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
        await self.stopping()
        await self.supervisor.stop_all()
        await self.pull_proxy.stop()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def spawn(self, coro: Any) -> None:
        """Run ``coro`` as one of the host's tasks (cancelled by :meth:`stop`)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- channels ----

    def srt_endpoint(self, info: ChannelInfo, source: Source) -> SrtEndpoint:
        """Port and passphrase of a push_srt source (see node/ingest/srt.py)."""
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

    def srt_endpoints(self, infos: list[ChannelInfo]) -> list[tuple[ChannelInfo, SrtEndpoint]]:
        """The SRT listeners that ``infos`` (channels with a push_srt source) need."""
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
            mark=MarkParams(self.settings.watermark_slot_seconds, self.settings.watermark_strength)
            if info.watermark
            else None,
        )
        return spec, problems

    def runner(self, info: ChannelInfo) -> ChannelRunner:
        """The runner of ``info``'s channel, created if needed; started by the caller.

        A channel whose facts changed gets a new runner (the old one stops)."""
        runner = self.runners.get(info.id)
        if runner is not None and self._infos.get(info.id) == info:
            return runner
        if runner is not None:
            self.spawn(runner.stop())
        spec, problems = self.spec_for(info)
        runner = ChannelRunner(spec, self.supervisor, self._ffmpeg, self.tuning)
        if info.archive_days > 0:
            runner.archive = self.archive.writer(info.tenant_id, info.id)
        for problem in problems:
            runner.failures.append(Failure(time.time(), -1, problem))
            # Its viewers read only STREAM_OFFLINE: the node's log says why, and what to set.
            hint = f" ({OUTBOUND_HINT})" if REFUSED in problem else ""
            log.warning("channel %s: %s%s", info.id, problem, hint)
        self.runners[info.id] = runner
        self._infos[info.id] = info
        return runner

    def info_of(self, channel_id: int) -> ChannelInfo | None:
        """The facts the channel's current runner was built from."""
        return self._infos.get(channel_id)

    async def drop_runner(self, channel_id: int) -> None:
        """Stop the channel's runner and forget it (its channel changed or went away)."""
        runner = self.runners.get(channel_id)
        if runner is None:
            return
        await runner.stop()
        if self.runners.get(channel_id) is runner:
            del self.runners[channel_id]
            self._infos.pop(channel_id, None)

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
            self.spawn(self._gated_start(info))

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
        self.snapshots.forget(channel_id)
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
        info = await self.channel_for_key(stream_key)
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

    def publishers_of(self, tenant_id: int) -> list[Any]:
        """The RTMP publishers streaming now to channels of ``tenant_id``."""
        if self._rtmp is None:
            return []
        return list(self._rtmp.publishers_of(tenant_id))
