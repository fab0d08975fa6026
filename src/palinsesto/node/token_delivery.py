"""A node's data plane: plays opened by the panel's signed play tokens.

``/play/<token>.ts`` (kind ts) is one continuous MPEG-TS response from the channel's
fan-out; the session lives while the connection does, and a second connection with the
same token replaces the first. ``/play/<token>.m3u8`` (kind hls) is the channel's live
playlist whose segments are ``/play/<token>/<seq>.ts``; reloads and segments are checked by
the token alone, and an expired token still opens them while its session is alive here
(the panel admitted it; the session ends ``hls_session_timeout_seconds`` after its last
request). ``/relay/<token>.ts`` (kind relay) is an edge node pulling the channel: not a
viewer, no session. ``/vod/<token>/<path>`` (kind vod) is a movie's or episode's file
(node/file_plays.py), ``/vodhls/<token>/<path>.m3u8`` (kind vod_hls) the same file as
VOD HLS (node/vod_hls_plays.py), ``/vodproxy/<token>/<tag>/<kind>.<ext>`` (kind vod_proxy) a
relayed remote movie (node/vod_proxy_plays.py), and
``/archive/<token>/<start>/<minutes>.ts|m3u8`` (kind archive) a past window of a channel
recorded here (node/archive_plays.py). ``/healthz`` says the process serves.

Playlist reloads are the most frequent request a node answers (every viewer, every few
seconds): once a play's token has been checked in full, its path keeps what the check
covered (:class:`KeptReload`) and its next reloads only confirm that none of it changed.

Outcomes: 403 and the reason for a token that is malformed, tampered, signed with an
unknown key, expired, for another address or for another kind of play; 404 for a channel
that is not carried here (after asking the panel once); 503 while the node takes no new
plays (draining, token revoked, not registered) or when the channel cannot start; a
draining node still serves relays (its edges carry the new viewers).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from palinsesto.node.archive_plays import ArchivePlays
from palinsesto.node.dataplane import Connection, HttpRequest, Outcome, Reply, Written
from palinsesto.node.file_plays import FilePlays
from palinsesto.node.outputs.ts import TsViewer
from palinsesto.node.sei_tag import sei_nal
from palinsesto.node.sessions import NodeSession
from palinsesto.node.vod_hls_plays import VodHlsPlays
from palinsesto.node.vod_proxy_plays import ProxyPlays
from palinsesto.protocol.messages import Assignment
from palinsesto.protocol.play_tokens import PlayGrant, PlayKind, TokenRefused
from palinsesto.protocol.watermark import code_for
from palinsesto.proxies import TrustedProxies

if TYPE_CHECKING:
    from palinsesto.node.channel import ChannelRunner
    from palinsesto.node.remote import RemoteNode

log = logging.getLogger(__name__)

_TOKEN = r"([A-Za-z0-9_-]{1,200})"
PLAY_TS = re.compile(rf"^/play/{_TOKEN}\.ts$")
PLAY_HLS = re.compile(rf"^/play/{_TOKEN}\.m3u8$")
SEGMENT = re.compile(rf"^/play/{_TOKEN}/(\d{{1,12}})\.ts$")
RELAY = re.compile(rf"^/relay/{_TOKEN}\.ts$")
VOD = re.compile(rf"^/vod/{_TOKEN}/(.{{1,1000}})$")
VOD_PROXY = re.compile(
    rf"^/vodproxy/{_TOKEN}/([0-9a-f]{{12}})/(movie|series)(?:\.[a-z0-9]{{1,8}})?$"
)
VOD_HLS = re.compile(rf"^/vodhls/{_TOKEN}/(.{{1,1000}})\.m3u8$")
VOD_HLS_SEGMENT = re.compile(rf"^/vodhls/{_TOKEN}/(.{{1,1000}})/(\d{{1,6}})\.ts$")
ARCHIVE = re.compile(rf"^/archive/{_TOKEN}/(\d{{1,12}})/(\d{{1,6}})\.(ts|m3u8)$")

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
TS_TYPE = "video/mp2t"
# Players run on other origins (the panel's page); the URLs carry their own tokens and no
# cookies, so any origin may read them, error replies included (else a browser hides why).
CORS = (("Access-Control-Allow-Origin", "*"),)
NO_CACHE = (("Cache-Control", "no-cache"), *CORS)
OFFLINE = "STREAM_OFFLINE"


# HLS plays whose reloads are answered from what was checked at their last one (about
# 1.5 KB each with the playlist): at most this many; those of ended sessions are dropped
# whenever the kept ones reach twice the alive ones (and at least RELOADS_SWEPT_FROM).
RELOADS_KEPT = 50_000
RELOADS_SWEPT_FROM = 1024


def error(status: int, reason: str) -> Reply:
    return Reply(status, f"{reason}\n".encode(), headers=CORS)


@dataclass(slots=True)
class KeptReload:
    """A playlist path whose token was verified for ``ip`` against the key ring of
    ``keys``, for ``session``, playing ``runner`` as ``assignment`` says: while all of that
    holds, the next reload is ``reply`` (rendered at the window's ``version``)."""

    ip: str
    keys: int
    session: NodeSession
    assignment: Assignment
    runner: ChannelRunner
    version: int
    reply: Reply


class TokenDelivery:
    """Callable handler for :class:`palinsesto.node.dataplane.Connection`."""

    def __init__(self, node: RemoteNode, cold_start_timeout: float = 12.0) -> None:
        self.node = node
        self.cold_start_timeout = cold_start_timeout
        self.proxies = TrustedProxies.parse(node.settings.trusted_proxies)
        self._reloads: dict[str, KeptReload] = {}
        self._sweep_at = RELOADS_SWEPT_FROM
        self.files = FilePlays(self)
        self.archive = ArchivePlays(self)
        self.vod_hls = VodHlsPlays(self)
        self.proxied = ProxyPlays(self)

    def __call__(self, request: HttpRequest, conn: Connection) -> Outcome:
        if request.method not in ("GET", "HEAD"):
            return error(405, "method not allowed")
        path = request.path
        try:
            kept = self._reloads.get(path)
            if kept is not None and (reloaded := self._kept_reload(path, kept, request)):
                return reloaded
            if path == "/healthz":
                return self.health()
            if found := SEGMENT.match(path):
                return self.segment(found[1], int(found[2]), request)
            if found := PLAY_TS.match(path):
                return self._guarded(self.play_ts(found[1], request, conn))
            if found := PLAY_HLS.match(path):
                reloaded = self.reload(found[1], request)
                if reloaded is not None:
                    return reloaded
                return self._guarded(self.playlist(found[1], request))
            if found := RELAY.match(path):
                return self._guarded(self.relay(found[1], request, conn))
            if found := VOD.match(path):
                return self._guarded(self.files.play(found[1], found[2], request, conn))
            if found := VOD_PROXY.match(path):
                return self._guarded(self.proxied.play(found[1], found[2], found[3], request, conn))
            if found := VOD_HLS_SEGMENT.match(path):
                seq = int(found[3])
                return self._guarded(self.vod_hls.segment(found[1], found[2], seq, request))
            if found := VOD_HLS.match(path):
                return self._guarded(self.vod_hls.playlist(found[1], found[2], request))
            if found := ARCHIVE.match(path):
                window = (int(found[2]), int(found[3]), found[4])
                return self._guarded(self.archive.play(found[1], window, request, conn))
        except Exception:
            log.exception("delivery of %s failed", path.split("/", 2)[1])
            return error(500, "internal error")
        return error(404, "not found")

    async def _guarded(self, outcome: Awaitable[Reply | Written | None]) -> Reply | Written | None:
        try:
            return await outcome
        except Exception:
            log.exception("delivery failed")
            return error(500, "internal error")

    @property
    def reloads_kept(self) -> int:
        """How many plays' reloads are kept (:class:`KeptReload`)."""
        return len(self._reloads)

    def health(self) -> Reply:
        node = self.node
        body = {
            "status": "ok",
            "node_id": node.node_id,
            "taking_plays": node.accepting,
            "state": "revoked" if node.revoked else node.state.value,
        }
        return Reply(200, json.dumps(body).encode(), "application/json", NO_CACHE)

    # ---- the token ----

    def check(
        self, token: str, request: HttpRequest, kind: PlayKind, subject: bytes = b""
    ) -> tuple[PlayGrant, NodeSession | None] | Reply:
        """The grant and its alive session, or the refusal. ``subject``: what the token
        must be bound to (a VOD file's path, a catch-up window)."""
        sessions = self.node.sessions
        now = time.time()
        ip = self.proxies.client_address(request.ip, request.headers.get("x-forwarded-for"))
        try:
            grant = self.node.tokens.verify(token, now, ip, allow_expired=True, subject=subject)
        except TokenRefused as exc:
            return error(403, str(exc))
        if grant.kind is not kind:
            return error(403, f"the token opens a {grant.kind.name} play, not this one")
        if sessions.refused(grant.session_id):
            return error(403, "session ended")
        session = sessions.get(grant.session_id)
        if session is not None and (
            session.channel_id != grant.channel_id
            or session.line_id != grant.line_id
            or session.kind is not kind
        ):
            return error(403, "session belongs to another play")
        if grant.expires < now and session is None:
            return error(403, "expired")
        return grant, session

    async def _assignment(self, grant: PlayGrant) -> Assignment | Reply:
        found = await self.node.assignment_for_play(grant.channel_id)
        if found is None or found.channel.tenant_id != grant.tenant_id:
            return error(404, f"channel {grant.channel_id} is not carried by this node")
        if not found.channel.enabled:
            return error(404, f"channel {grant.channel_id} is disabled")
        return found

    # ---- TS ----

    async def play_ts(self, token: str, request: HttpRequest, conn: Connection) -> Reply | None:
        checked = self.check(token, request, PlayKind.ts)
        if isinstance(checked, Reply):
            return checked
        grant, session = checked
        node = self.node
        if session is None and not node.accepting:
            return error(503, node.refusal)
        assignment = await self._assignment(grant)
        if isinstance(assignment, Reply):
            return assignment
        if request.method == "HEAD":
            return Reply(200, b"", TS_TYPE, NO_CACHE)
        if session is None and not node.accepting:  # it changed while the panel was asked
            return error(503, node.refusal)
        if session is None:
            session = node.sessions.open(
                grant.session_id, grant.tenant_id, grant.line_id, grant.channel_id,
                PlayKind.ts, grant.expires,
            )  # fmt: skip
        runner = node.runner_of(assignment)
        runner.start()
        self._hold(session, conn)
        if not runner.ready and not await runner.wait_ready(self.cold_start_timeout):
            if session.cut == conn.close:  # not replaced meanwhile: this play never began
                session.cut = None  # the answer below still goes out on this socket
                conn.on_lost = None
                node.sessions.end(session, "channel did not start")
            return error(503, OFFLINE)
        if session.ended or conn.closed or session.cut != conn.close:
            return None
        self._attach(session, runner, conn)
        return None

    def _hold(self, session: NodeSession, conn: Connection) -> None:
        """``conn`` becomes the session's connection; a previous one is closed (the same
        token connecting again replaces it, the session goes on)."""
        previous = session.cut
        if session.bytes_fn is not None:
            session.bytes_sent += session.bytes_fn()
            session.bytes_fn = None
        session.cut = conn.close
        sessions = self.node.sessions

        def lost() -> None:
            if session.cut == conn.close:
                sessions.end(session, "viewer left")

        conn.on_lost = lost
        if previous is not None:
            previous()

    def _attach(self, session: NodeSession, runner: ChannelRunner, conn: Connection) -> None:
        sessions = self.node.sessions
        conn.start_stream(TS_TYPE)
        viewer = TsViewer(conn)
        if runner.marked is not None:  # its A/B sequence and SEI tag (panel recorded it)
            viewer.mark, viewer.tag = code_for(session.id), sei_nal(session.id)
        session.bytes_fn = lambda: viewer.bytes_sent

        def lost() -> None:
            runner.remove_viewer(viewer)
            if session.cut == conn.close:
                session.bytes_sent += viewer.bytes_sent
                session.bytes_fn = None
                sessions.end(session, "viewer left")

        conn.on_lost = lost

        def to_slate(clip: bytes) -> None:
            # The panel ended this play with a slate: the player gets it after the last
            # live packet, then the end of the stream.
            runner.remove_viewer(viewer)
            session.to_slate = None
            if session.cut == conn.close and not conn.closed:
                conn.on_lost = None
                conn.write(clip)
            sessions.end(session, "ended by the panel")

        session.to_slate = to_slate
        runner.add_viewer(viewer)

    # ---- HLS ----

    def reload(self, token: str, request: HttpRequest) -> Reply | None:
        """The common case answered at once, with no task: a reload by a session alive
        here, of a channel running with segments. None: :meth:`playlist` decides (a first
        request, a cold or changed channel, one the panel must be asked about)."""
        checked = self.check(token, request, PlayKind.hls)
        if isinstance(checked, Reply):
            return checked
        grant, session = checked
        node = self.node
        assignment = node.assignment(grant.channel_id)
        if session is None or assignment is None:
            return None
        channel = assignment.channel
        if channel.tenant_id != grant.tenant_id or not channel.enabled:
            return None
        runner = node.runner_of(assignment)
        if not runner.running or not runner.hls.ready:
            return None
        node.sessions.touch(session)
        runner.touch()
        return self._keep_reload(request, session, assignment, runner, token)

    def _keep_reload(
        self,
        request: HttpRequest,
        session: NodeSession,
        assignment: Assignment,
        runner: ChannelRunner,
        token: str,
    ) -> Reply:
        """The playlist for ``token``, kept for its next reloads (:meth:`_kept_reload`)."""
        hls = runner.hls
        reply = Reply(200, hls.token_playlist("/play/", token), PLAYLIST_TYPE, NO_CACHE)
        reloads = self._reloads
        if len(reloads) >= self._sweep_at:
            alive = {path: kept for path, kept in reloads.items() if not kept.session.ended}
            self._reloads = reloads = alive if len(alive) <= RELOADS_KEPT // 2 else {}
            self._sweep_at = max(RELOADS_SWEPT_FROM, 2 * len(reloads))
        ip = self.proxies.client_address(request.ip, request.headers.get("x-forwarded-for"))
        reloads[request.path] = KeptReload(
            ip, self.node.tokens.generation, session, assignment, runner, hls.version, reply
        )
        return reply

    def _kept_reload(self, path: str, kept: KeptReload, request: HttpRequest) -> Reply | None:
        """The reload of a play checked before, if nothing it was checked against changed
        (then a reload costs a few lookups, not a token check); None: check it again.

        The token itself cannot have changed (it is the path); what can is the session
        (ended by its timeout, the panel, or the channel leaving: refused tokens end theirs),
        the key ring, the client's address, the channel's assignment and its runner. An
        expired token plays on while its session lives, as :meth:`_check` allows."""
        node = self.node
        session, runner = kept.session, kept.runner
        channel_id = session.channel_id
        assignment = node.assignment(channel_id)
        if assignment is not kept.assignment:
            if assignment is None or assignment != kept.assignment:  # else an equal copy
                del self._reloads[path]
                return None
            kept.assignment = assignment
        forwarded = request.headers.get("x-forwarded-for")  # mostly none: no call then
        ip = request.ip if forwarded is None else self.proxies.client_address(request.ip, forwarded)
        if (
            session.ended
            or kept.keys != node.tokens.generation
            or node.runners.get(channel_id) is not runner
            or not runner.running
            or ip != kept.ip
        ):
            del self._reloads[path]
            return None
        node.sessions.touch(session)
        runner.touch()
        hls = runner.hls
        if hls.version != kept.version:
            if not hls.ready:
                del self._reloads[path]
                return None
            token = path[len("/play/") : -len(".m3u8")]
            kept.reply = Reply(200, hls.token_playlist("/play/", token), PLAYLIST_TYPE, NO_CACHE)
            kept.version = hls.version
        return kept.reply

    async def playlist(self, token: str, request: HttpRequest) -> Reply:
        checked = self.check(token, request, PlayKind.hls)
        if isinstance(checked, Reply):
            return checked
        grant, session = checked
        node = self.node
        if session is None and not node.accepting:
            return error(503, node.refusal)
        assignment = await self._assignment(grant)
        if isinstance(assignment, Reply):
            return assignment
        if session is None:
            if not node.accepting:
                return error(503, node.refusal)
            session = node.sessions.open(
                grant.session_id, grant.tenant_id, grant.line_id, grant.channel_id,
                PlayKind.hls, grant.expires,
            )  # fmt: skip
        node.sessions.touch(session)
        runner = node.runner_of(assignment)
        runner.start()
        runner.touch()
        if not await runner.wait_hls(self.cold_start_timeout):
            if session.bytes_sent == 0:  # a session that never played is not a viewer
                node.sessions.end(session, "idle: the channel did not start")
            return error(503, OFFLINE)
        if session.ended or not runner.running:  # it changed while the channel started
            body = runner.hls.token_playlist("/play/", token)
            return Reply(200, body, PLAYLIST_TYPE, NO_CACHE)
        return self._keep_reload(request, session, assignment, runner, token)

    def segment(self, token: str, seq: int, request: HttpRequest) -> Reply:
        checked = self.check(token, request, PlayKind.hls)
        if isinstance(checked, Reply):
            return checked
        grant, session = checked
        if session is None:
            return error(403, "session ended")
        node = self.node
        node.sessions.touch(session)
        runner = node.running(grant.channel_id)
        found = runner.segment(seq, code_for(session.id)) if runner is not None else None
        if runner is None or found is None:
            return error(404, "no such segment")
        runner.touch()
        session.bytes_sent += len(found.data)
        return Reply(200, found.data, TS_TYPE, CORS)

    # ---- relay: an edge node pulling a channel ----

    async def relay(self, token: str, request: HttpRequest, conn: Connection) -> Reply | None:
        node = self.node
        try:
            grant = node.tokens.verify(token, time.time())
        except TokenRefused as exc:
            return error(403, str(exc))
        if grant.kind is not PlayKind.relay:
            return error(403, "not a relay token")
        if not node.relaying:
            return error(503, node.refusal)
        assignment = await self._assignment(grant)
        if isinstance(assignment, Reply):
            return assignment
        if request.method == "HEAD":
            return Reply(200, b"", TS_TYPE, NO_CACHE)
        runner = node.runner_of(assignment)
        runner.start()
        if not runner.ready and not await runner.wait_ready(self.cold_start_timeout):
            return error(503, OFFLINE)
        if conn.closed:
            return None
        conn.start_stream(TS_TYPE)
        viewer = TsViewer(conn)

        def lost() -> None:
            runner.remove_viewer(viewer)
            node.relay_ended(viewer)

        conn.on_lost = lost
        node.relay_started(viewer)
        runner.add_viewer(viewer)
        log.info("edge %s relays channel %d", conn.ip, grant.channel_id)
        return None
