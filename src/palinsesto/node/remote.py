"""A node on its own machine (``palinsesto node``): a :class:`ChannelHost` fed by its panel.

Everything it knows comes from the panel's replies (node/panel_link.py): the signing keys
that play tokens are checked with, the channels assigned to it and whether it takes new
plays. Between replies it works from memory; it never reads a database.

Assignments: a channel listed is carried here (``always_on``: started now, a few at a
time); one that changed or disappeared loses its runner (a disappeared one also its
viewers). An edge assignment (``origin_url`` set) runs the channel from one ``http_ts``
pull of the origin node's ``/relay/<token>.ts`` instead of from the channel's sources; the
outbound policy lets that pull (and only that address and port) through. A play for a
channel not listed is fetched once from the panel (an on-demand channel placed at the
viewer's admission) and kept while it plays.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import cast
from urllib.parse import urlsplit

from palinsesto.config import Settings
from palinsesto.listeners import NodeSockets
from palinsesto.node.channel import ChannelRunner, ChannelSpec, ChannelState, RunnerTuning
from palinsesto.node.host import ChannelHost
from palinsesto.node.outputs.ts import TsViewer
from palinsesto.node.sessions import NodeSession, NodeSessions
from palinsesto.node.slate import SlateKind
from palinsesto.node.source_policy import DEFAULT_PORTS, SourcePolicy
from palinsesto.node.token_delivery import TokenDelivery
from palinsesto.node.vod_hls_index import HlsIndexes
from palinsesto.outbound.policy import AllowRule, OutboundPolicy
from palinsesto.protocol.channels import ChannelInfo
from palinsesto.protocol.messages import (
    MAX_STRETCHES,
    ArchiveSpans,
    Assignment,
    ChannelLoad,
    Heartbeat,
    NodeState,
    PanelReply,
    SessionEnd,
)
from palinsesto.protocol.play_tokens import PlayKind, PlayTokens, TokenRefused
from palinsesto.protocol.sources import SourceKind

log = logging.getLogger(__name__)

# An edge signs its own relay token (it holds the panel's keys). It is checked when the
# pull connects, so it only has to outlive a restart of the pull: re-signed every
# RELAY_REFRESH_SECONDS and whenever the keys change, valid for RELAY_TOKEN_SECONDS.
RELAY_TOKEN_SECONDS = 3600
RELAY_REFRESH_SECONDS = 900
# How often the disk a channel's archive uses is measured again for the heartbeat.
ARCHIVE_BYTES_SECONDS = 30.0
# A channel the panel said is not for this node is not asked about again for this long.
UNKNOWN_CHANNEL_SECONDS = 10.0
# The panel could not be asked: ask again after this long.
FETCH_FAILED_SECONDS = 2.0

FetchAssignment = Callable[[int], Awaitable[Assignment | None]]


def relay_url(origin_url: str, token: str) -> str:
    """Where an edge pulls a channel from its origin node."""
    return f"{origin_url.rstrip('/')}/relay/{token}.ts"


class RemoteNode(ChannelHost):
    def __init__(
        self,
        settings: Settings,
        sockets: NodeSockets | None = None,
        tuning: RunnerTuning | None = None,
    ) -> None:
        super().__init__(settings, tuning, sockets)
        self.tokens = PlayTokens([])
        self.sessions = NodeSessions()
        self.node_id = 0  # 0 until registered
        self.state = NodeState.online
        self.revoked = False  # the panel refused this node's token
        self.assignments: dict[int, Assignment] = {}
        self._fetched: dict[int, Assignment] = {}  # on-demand plays of unlisted channels
        self._fetching: dict[int, asyncio.Future[Assignment | None]] = {}
        self._not_here: dict[int, float] = {}  # channel id -> monotonic time to ask again
        #: Asks the panel for one channel (set by the panel link).
        self.fetch_assignment: FetchAssignment | None = None
        self.relays: set[TsViewer] = set()  # edges pulling from this node
        self._relay_bytes_done = 0
        self._base_outbound: OutboundPolicy = self.policy.outbound
        self._origins: set[str] = set()  # origin nodes the outbound policy lets through
        self.token_ttl = 60
        self.public_host = ""  # the host of the URL this node registered (panel link)
        self._bytes_measured: dict[tuple[int, int], tuple[float, int]] = {}
        # Movies played as HLS: each file's keyframe index, built once (node/vod_hls_plays.py).
        self.vod_hls_indexes = HlsIndexes(
            settings.data_dir / "vod-hls", self.supervisor, lambda: self.ffmpeg
        )
        self.delivery: TokenDelivery = TokenDelivery(self)

    # ---- what the node may do ----

    @property
    def accepting(self) -> bool:
        """Whether a token that opens a new session is served (else 503)."""
        return self.node_id > 0 and self.state is NodeState.online and not self.revoked

    @property
    def relaying(self) -> bool:
        """Whether an edge's pull is served. A draining node keeps feeding its edges: a
        relay is not a new viewer, and the panel sends the new viewers to those edges (the
        channel stays placed here while they watch)."""
        return self.node_id > 0 and not self.revoked

    @property
    def refusal(self) -> str:
        if self.revoked:
            return "NODE_REVOKED"
        if self.node_id == 0:
            return "NODE_NOT_REGISTERED"
        return "NODE_DRAINING"

    # ---- the panel's instructions ----

    async def apply(self, reply: PanelReply) -> None:
        """Adopt a panel reply: state, keys, sessions to end, assignments."""
        keys_changed = set(self.tokens.key_ids) != {k.key_id for k in reply.keys}
        self.node_id = reply.node_id
        self.state = reply.state
        self.revoked = False
        self.tokens.replace_keys(list(reply.keys))
        self.token_ttl = reply.token_ttl_seconds
        self.sessions.hls_timeout = float(reply.hls_session_timeout_seconds)
        if reply.end_sessions:
            far = int(time.time()) + reply.token_ttl_seconds + 5
            slated = self.sessions.slated_by_panel(reply.end_slated, far)
            if slated:
                self.spawn(self._end_with_slate(slated))
            ended = self.sessions.end_by_panel(
                tuple(i for i in reply.end_sessions if all(s.id != i for s in slated)), far
            )
            if ended:
                log.info("ended %d session(s) as the panel asked", ended)
        await self._assign(reply.assignments)
        if keys_changed:
            self._refresh_relay_tokens()

    async def _end_with_slate(self, sessions: list[NodeSession]) -> None:
        """TS players the panel ended with the "ended" slate: the clip, then the end of
        the stream (without a clip here, the stream just ends)."""
        try:
            clip = await self.slates.clip(SlateKind.ended)
        except Exception:  # noqa: BLE001 - no clip: the sessions still end
            log.exception("the ended slate could not be made")
            clip = b""
        for session in sessions:
            to_slate = session.to_slate
            if clip and to_slate is not None and not session.ended:
                to_slate(clip)
            else:
                self.sessions.end(session, "ended by the panel")
        log.info("ended %d session(s) with a slate as the panel asked", len(sessions))

    async def _assign(self, assignments: tuple[Assignment, ...]) -> None:
        wanted = {a.channel.id: a for a in assignments}
        gone = [cid for cid in self.assignments if cid not in wanted]
        changed = [
            cid
            for cid, a in wanted.items()
            if cid in self.assignments or cid in self._fetched
            if a != self.assignments.get(cid, self._fetched.get(cid))
        ]
        tenants = {a.channel.tenant_id for a in (*self.assignments.values(), *wanted.values())}
        self.assignments = wanted
        for cid in wanted:
            self._fetched.pop(cid, None)
            self._not_here.pop(cid, None)
        await self._allow_origins()
        for cid in gone:
            for session in self.sessions.all():
                if session.channel_id == cid:
                    self.sessions.end(session, "channel no longer on this node")
        await asyncio.gather(*(self.drop_runner(cid) for cid in (*gone, *changed)))
        self._cut_stale_publishers(tenants)
        self.start_gradually(
            [
                self.run_info(a)
                for a in wanted.values()
                if a.channel.enabled and (a.always_on or a.channel.archive_days > 0)
            ]
        )
        pushed = [
            self.run_info(a)
            for a in wanted.values()
            if not a.origin_url and a.channel.enabled
            if any(s.get("kind") == SourceKind.push_srt.value for s in a.channel.sources)
        ]
        await self.srt.sync(self.srt_endpoints(pushed), None)

    def _cut_stale_publishers(self, tenants: set[int]) -> None:
        """A rotated stream key (or a channel gone or disabled) cuts its RTMP publisher."""
        for tenant_id in tenants:
            for publisher in self.publishers_of(tenant_id):
                a = self.assignment(publisher.channel_id)
                if a is None or not a.channel.enabled or a.channel.stream_key != publisher.key:
                    publisher.cut("stream key rotated, or channel disabled or moved")

    async def _allow_origins(self) -> None:
        """Let the pulls of edge channels reach their origin nodes (that address and port
        only): nodes usually talk over private networks the policy refuses by default."""
        rules: list[AllowRule] = []
        origins = {a.origin_url for a in (*self.assignments.values(), *self._fetched.values())} - {
            ""
        }
        loop = asyncio.get_running_loop()
        for origin in sorted(origins):
            try:
                parts = urlsplit(origin)
                host, port = parts.hostname or "", parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
                found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (OSError, ValueError) as exc:
                log.warning("origin node %s cannot be resolved: %s", origin, exc)
                continue
            for address in {str(info[4][0]).split("%")[0] for info in found}:
                rules.append(AllowRule(ipaddress.ip_network(address), port))
        outbound = replace(self._base_outbound, allow=self._base_outbound.allow + tuple(rules))
        self.policy = SourcePolicy(outbound, self.policy.media_root)
        self.pull_proxy.policy = outbound

    # ---- channels ----

    def assignment(self, channel_id: int) -> Assignment | None:
        return self.assignments.get(channel_id) or self._fetched.get(channel_id)

    async def assignment_for_play(self, channel_id: int) -> Assignment | None:
        """The channel's assignment, fetched from the panel (once) if it is not listed."""
        found = self.assignment(channel_id)
        if found is not None:
            return found
        if self._not_here.get(channel_id, 0.0) > time.monotonic():
            return None
        pending = self._fetching.get(channel_id)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(channel_id))
            self._fetching[channel_id] = pending
            pending.add_done_callback(lambda _: self._fetching.pop(channel_id, None))
        return await asyncio.shield(pending)

    async def _fetch(self, channel_id: int) -> Assignment | None:
        fetch = self.fetch_assignment
        if fetch is None:
            return None
        try:
            found = await fetch(channel_id)
        except Exception as exc:  # noqa: BLE001 - the panel is away: the play gets a 404
            log.warning("channel %d could not be fetched from the panel: %s", channel_id, exc)
            self._not_here[channel_id] = time.monotonic() + FETCH_FAILED_SECONDS
            return None
        if found is None or found.channel.id != channel_id:
            self._not_here[channel_id] = time.monotonic() + UNKNOWN_CHANNEL_SECONDS
            return None
        listed = self.assignment(channel_id)
        if listed is not None:  # a reply listed it meanwhile
            return listed
        self._fetched[channel_id] = found
        if found.origin_url:
            await self._allow_origins()
        return found

    def run_info(self, assignment: Assignment) -> ChannelInfo:
        """The channel as this node runs it: an always-on assignment never idles out, and an
        edge pulls its origin (and records nothing: the origin does)."""
        info = assignment.channel
        if assignment.always_on:
            info = replace(info, on_demand=False)
        if assignment.origin_url:
            relay = {"kind": SourceKind.http_ts.value, "url": assignment.origin_url}
            info = replace(info, sources=(relay,), archive_days=0)
        return info

    def spec_for(self, info: ChannelInfo) -> tuple[ChannelSpec, list[str]]:
        assignment = self.assignment(info.id)
        if assignment is None or not assignment.origin_url:
            return super().spec_for(info)
        try:
            token = self.tokens.issue(
                tenant_id=info.tenant_id,
                line_id=0,
                channel_id=info.id,
                session_id=self.node_id,
                kind=PlayKind.relay,
                expires=int(time.time()) + RELAY_TOKEN_SECONDS,
            )
        except TokenRefused:
            spec, problems = super().spec_for(replace(info, sources=()))
            return spec, [*problems, "no signing key yet to pull from the origin node"]
        url = relay_url(assignment.origin_url, token)
        return super().spec_for(replace(info, sources=({"kind": "http_ts", "url": url},)))

    def _refresh_relay_tokens(self) -> None:
        """Edge runners get a freshly signed relay URL for their next (re)connection; a
        pull already connected is not disturbed."""
        for channel_id, runner in self.runners.items():
            info, assignment = self.info_of(channel_id), self.assignment(channel_id)
            if info is None or assignment is None or not assignment.origin_url:
                continue
            runner.spec = replace(runner.spec, sources=self.spec_for(info)[0].sources)

    async def channel_for_key(self, stream_key: str) -> ChannelInfo | None:
        for a in (*self.assignments.values(), *self._fetched.values()):
            c = a.channel
            if c.stream_key and c.stream_key == stream_key and c.enabled and not a.origin_url:
                return self.run_info(a)
        return None

    # ---- lifecycle ----

    async def started(self) -> None:
        self.spawn(self._reaper())
        self.spawn(self._relay_refresher())
        await self._assign(tuple(self.assignments.values()))

    async def stop(self) -> None:
        # Before the runners stop (which would end TS sessions as "viewer left"): the panel
        # learns why its viewers went.
        for session in self.sessions.all():
            self.sessions.end(session, "node stopping")
        await super().stop()

    async def _reaper(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.sessions.expire_idle()
            now = time.monotonic()
            for channel_id, until in list(self._not_here.items()):
                if until < now:
                    del self._not_here[channel_id]
            for channel_id, runner in list(self.runners.items()):
                runner.set_hls_sessions(self.sessions.of_channel(channel_id, PlayKind.hls))
            for channel_id in list(self._fetched):
                # An on-demand channel nobody watches any more is forgotten: the next play
                # fetches its current facts.
                if self.running(channel_id) is None and not self.sessions.of_channel(channel_id):
                    del self._fetched[channel_id]
                    await self.drop_runner(channel_id)

    async def _relay_refresher(self) -> None:
        while True:
            await asyncio.sleep(RELAY_REFRESH_SECONDS)
            self._refresh_relay_tokens()

    # ---- relays (edges pulling from this node) ----

    def relay_started(self, viewer: TsViewer) -> None:
        self.relays.add(viewer)

    def relay_ended(self, viewer: TsViewer) -> None:
        if viewer in self.relays:
            self.relays.discard(viewer)
            self._relay_bytes_done += viewer.bytes_sent

    # ---- what the heartbeat reports ----

    def bytes_sent(self) -> int:
        relays = self._relay_bytes_done + sum(v.bytes_sent for v in self.relays)
        return self.sessions.bytes_sent() + relays

    def channel_loads(self) -> tuple[ChannelLoad, ...]:
        return tuple(
            ChannelLoad(
                channel_id,
                runner.state.value,
                self.sessions.of_channel(channel_id),
                runner.state is ChannelState.live,
            )
            for channel_id, runner in sorted(self.runners.items())
        )

    def heartbeat(
        self, egress_mbps: float, cpu_percent: float, started: list[int], ended: list[SessionEnd]
    ) -> Heartbeat:
        return Heartbeat(
            viewers=len(self.sessions),
            egress_mbps=egress_mbps,
            cpu_percent=cpu_percent,
            channels=self.channel_loads(),
            alive=tuple(s.id for s in self.sessions.all()),
            started=tuple(started),
            ended=tuple(ended),
            archives=self.archive_spans(),
            srt_ingest=self.srt_ingest(),
        )

    def archive_spans(self) -> tuple[ArchiveSpans, ...]:
        """What this node's archive holds of each channel it records (the panel sends a
        catch-up play here only for a time inside these), with the disk it uses."""
        found = []
        for channel_id, assignment in sorted(self.assignments.items()):
            info = assignment.channel
            if info.archive_days <= 0 or assignment.origin_url:
                continue
            key = (info.tenant_id, channel_id)
            stretches = self.archive.spans(key)[-MAX_STRETCHES:]
            found.append(ArchiveSpans(channel_id, tuple(stretches), self._archive_bytes(key)))
        return tuple(found)

    def _archive_bytes(self, key: tuple[int, int]) -> int:
        """The disk a channel's recordings use, measured at most every
        :data:`ARCHIVE_BYTES_SECONDS` once there are any (a stat of each of its files)."""
        now = time.monotonic()
        known = self._bytes_measured.get(key)
        if known is not None and known[1] and now - known[0] < ARCHIVE_BYTES_SECONDS:
            return known[1]
        used = int(cast(int, self.archive.status(key)["bytes"]))
        self._bytes_measured[key] = (now, used)
        return used

    def srt_ingest(self) -> tuple[tuple[int, str], ...]:
        """Where publishers reach this node's SRT listeners: the listener's own address
        when it names one, else the host players reach this node at."""
        found = []
        for channel_id, listener in sorted(self.srt.listeners.items()):
            host = listener.endpoint.host
            if host in ("", "0.0.0.0", "::"):
                host = self.public_host
            if not host:
                continue
            if ":" in host:
                host = f"[{host}]"
            found.append((channel_id, f"srt://{host}:{listener.endpoint.port}"))
        return tuple(found)

    def running_channels(self) -> int:
        return sum(1 for r in self.runners.values() if r.running)

    def runner_of(self, assignment: Assignment) -> ChannelRunner:
        """The runner that plays ``assignment`` (created if needed; started by the caller)."""
        return self.runner(self.run_info(assignment))
