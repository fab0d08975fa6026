"""The delivery surface: a request path to a play, with the HTTP outcomes of §8.2 / §9.

``/live/U/P/ID.ts`` (and the short and extension-less forms) becomes a continuous TS
response fed by the channel's fan-out; ``.m3u8`` becomes a per-session playlist whose
segment URLs carry a signed token; ``/hls/TOKEN/SEQ.ts`` is served from RAM.
Authorization answers from memory on the loop when every lookup is cached, and moves to a
worker thread otherwise. When the tenant asks for them, expired / banned / disabled /
offline TS plays get a placeholder clip instead of the bare status (§8.2, §13.22).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from palinsesto.node.archive.paths import TIMESHIFT_PREFIXES
from palinsesto.node.dataplane import Connection, HttpRequest, Outcome, Reply, Written
from palinsesto.node.outputs.ts import TsViewer
from palinsesto.node.sei_tag import sei_nal
from palinsesto.node.slate import SlateKind
from palinsesto.panel.local_node.timeshift import TimeshiftDelivery
from palinsesto.panel.playback.access import (
    Grant,
    NotCached,
    OwnerUnavailable,
    PlaybackRequest,
)
from palinsesto.panel.playback.admission import SessionKicked, TooManyConnections
from palinsesto.panel.playback.hls_tokens import TokenRefused
from palinsesto.panel.playback.lines import (
    LineInactive,
    LoginThrottled,
)
from palinsesto.panel.playback.refusals import VIEWER_REFUSALS, refusal_status
from palinsesto.panel.playback.rights_gate import ContentRefused
from palinsesto.panel.playback.stream_paths import (
    BadPath,
    LivePath,
    SegmentPath,
    UnknownPath,
    UnsupportedExtension,
    VodPath,
    VodSegmentPath,
    parse_delivery_path,
)
from palinsesto.proxies import TrustedProxies
from palinsesto.trust.rights import Refusal

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from palinsesto.node.channel import ChannelRunner
    from palinsesto.panel.local_node.engine import LiveEngine
    from palinsesto.panel.playback.admission import ViewingSession

# Reference §8.2 (XC 2.x column) and §9 (refuse mode answers 429).
# Beyond a line's refusals: an HLS session that was ended, a segment token that is not good.
REFUSAL_STATUS: list[tuple[type[Exception], int]] = [
    (SessionKicked, 403),
    (TokenRefused, 403),
    *VIEWER_REFUSALS,
]
SLATE_FOR_STATUS = {
    "Expired": SlateKind.expired,
    "Banned": SlateKind.banned,
    "Disabled": SlateKind.disabled,
}
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
# Browsers play from the panel's page (another origin: the data plane has its own port).
# The URLs carry their own tokens and no cookies, so any origin may read them. Error
# replies carry it too: without it the browser hides the status and the reason (the
# panel's preview said only "status 0").
CORS = (("Access-Control-Allow-Origin", "*"),)
NO_CACHE = (("Cache-Control", "no-cache"), *CORS)
# A viewer is told only that the channel is down; why is in the channel's failures.
OFFLINE_BODY = b"STREAM_OFFLINE\n"
# A partner's play of a channel whose owner runs it on its own streaming nodes: not served
# by this engine (that would be a second ingest). Sent to the owner's nodes when the app
# gave the engine the panel's node admission (``engine.admit_elsewhere``), else refused.
SYNDICATED_ON_NODES = b"SYNDICATED_ON_NODES\n"
BLACKOUT = Refusal.blackout


def error(status: int, body: bytes) -> Reply:
    """A plain-text error reply a browser on another origin can read."""
    return Reply(status, body, headers=CORS)


def refusal(exc: Exception) -> Reply:
    status = refusal_status(exc, REFUSAL_STATUS)
    if status is None:
        raise exc
    reply = error(status, f"{getattr(exc, 'code', 'REFUSED')}\n".encode())
    if isinstance(exc, LoginThrottled):
        retry = (("Retry-After", str(exc.retry_after)),)
        reply = Reply(reply.status, reply.body, headers=(*reply.headers, *retry))
    return reply


class Delivery:
    """Callable handler for :class:`palinsesto.node.dataplane.Connection`."""

    def __init__(self, engine: LiveEngine, cold_start_timeout: float = 12.0) -> None:
        self.engine = engine
        self.cold_start_timeout = cold_start_timeout
        self.proxies = TrustedProxies.parse(engine.settings.trusted_proxies)
        self.timeshift = TimeshiftDelivery(
            engine, engine.archive, ZoneInfo(engine.settings.timezone), refusal,
            lambda r: self.proxies.client_address(r.ip, r.headers.get("x-forwarded-for")),
        )  # fmt: skip

    def __call__(self, request: HttpRequest, conn: Connection) -> Outcome:
        if request.method not in ("GET", "HEAD"):
            return error(405, b"method not allowed\n")
        if request.path.startswith(TIMESHIFT_PREFIXES):  # the catch-up archive (§8.5)
            played = self.timeshift(request, conn)
            return played if isinstance(played, Reply) else self._guarded(played)
        try:
            target = parse_delivery_path(request.path)
        except BadPath as exc:
            return error(400, f"{exc}\n".encode())
        except UnknownPath:
            return error(404, b"not found\n")
        except UnsupportedExtension:
            return error(405, b"USER_DISALLOW_EXT\n")
        outcome: Outcome
        try:
            if isinstance(target, SegmentPath):
                return self.segment(target)
            if isinstance(target, VodPath):
                outcome = self.engine.vod(target, request, conn)
            elif isinstance(target, VodSegmentPath):
                return self._guarded(self.engine.vod.hls.segment(target, request))
            else:
                outcome = self.live(target, request, conn)
        except Exception:
            log.exception("delivery of %s failed", request.path.split("/", 2)[1])
            return error(500, b"internal error\n")
        if outcome is None or isinstance(outcome, Reply | Written):
            return outcome
        return self._guarded(outcome)

    async def _guarded(self, outcome: Awaitable[Reply | Written | None]) -> Reply | Written | None:
        try:
            return await outcome
        except Exception:
            log.exception("delivery failed")
            return error(500, b"internal error\n")

    # ---- HLS second hop: token check and a segment from RAM, no database ----

    def segment(self, target: SegmentPath) -> Reply:
        engine = self.engine
        try:
            grant = engine.tokens.verify(target.token, time.time())
        except TokenRefused as exc:
            return refusal(exc)
        session = engine.sessions.get(grant.session_id)
        if (
            session is None
            or session.output != "hls"
            or session.line_id != grant.line_id
            or session.channel_id != grant.channel_id
        ):
            return error(403, b"SESSION_ENDED\n")
        engine.sessions.touch(session)
        runner = engine.running(grant.channel_id)
        mark = session.extra.get("mark")
        segment = (
            runner.segment(target.seq, mark if isinstance(mark, int) else None)
            if runner is not None
            else None
        )
        if segment is None:
            return error(404, b"no such segment\n")
        runner.touch()  # type: ignore[union-attr]
        session.bytes_sent += len(segment.data)
        return Reply(200, segment.data, "video/mp2t", CORS)

    # ---- /live/U/P/ID.ext and the short forms ----

    def live(self, target: LivePath, request: HttpRequest, conn: Connection) -> Outcome:
        play = PlaybackRequest(
            target.username,
            target.password,
            target.stream_id,
            target.output,
            # Line locks and the sign-in throttle key on the client, not on a proxy.
            self.proxies.client_address(request.ip, request.headers.get("x-forwarded-for")),
            request.user_agent,
            time.time(),
            request.headers.get("host", ""),
        )
        try:
            grant = self.engine.access.authorize(play, cached_only=True)
        except NotCached:
            return self._authorize_then_play(play, conn)
        except Exception as exc:  # noqa: BLE001 - mapped by the refusal table
            return self._refuse(exc, play)
        return self._admitted(grant, play, conn)

    async def _authorize_then_play(
        self, play: PlaybackRequest, conn: Connection
    ) -> Reply | Written | None:
        try:
            grant = await asyncio.to_thread(self.engine.access.authorize, play)
        except Exception as exc:  # noqa: BLE001 - mapped by the refusal table
            refused = self._refuse(exc, play)
            return refused if isinstance(refused, Reply) else await refused
        outcome = self._admitted(grant, play, conn)
        if outcome is None or isinstance(outcome, Reply | Written):
            return outcome
        return await outcome

    def _admitted(self, grant: Grant, play: PlaybackRequest, conn: Connection) -> Outcome:
        if grant.syndicated is not None:
            # Another panel's channel runs where its owner runs it: never a second ingest
            # here when the owner's streaming nodes carry it.
            owner = grant.syndicated.owner_tenant_id
            elsewhere = self.engine.served_elsewhere_cached(owner)
            if elsewhere is None:
                return self._owner_checked_then_admit(grant, play, conn)
            if elsewhere:
                return self._sent_elsewhere(grant, play)
        return self._admit(grant, play, conn)

    async def _sent_elsewhere(self, grant: Grant, play: PlaybackRequest) -> Reply:
        """The owner's nodes serve it: a 302 there through the panel's node admission
        (the offer's cap, the partner's line and plan), as on the panel's port."""
        admit = self.engine.admit_elsewhere
        if admit is None:
            return error(503, SYNDICATED_ON_NODES)
        status, body, location = await admit(grant, play)
        if status != 302:
            return error(status, body)
        return Reply(302, b"", headers=(("Location", location), ("Cache-Control", "no-store"),
                                        *CORS))  # fmt: skip

    async def _owner_checked_then_admit(
        self, grant: Grant, play: PlaybackRequest, conn: Connection
    ) -> Reply | Written | None:
        assert grant.syndicated is not None
        owner = grant.syndicated.owner_tenant_id
        if await asyncio.to_thread(self.engine.served_elsewhere, owner):
            return await self._sent_elsewhere(grant, play)
        outcome = self._admit(grant, play, conn)
        if outcome is None or isinstance(outcome, Reply | Written):
            return outcome
        return await outcome

    def _admit(self, grant: Grant, play: PlaybackRequest, conn: Connection) -> Outcome:
        output = "hls" if play.output == "m3u8" else "ts"
        try:
            session = self.engine.sessions.admit(
                grant.line,
                grant.channel.id,
                play.ip,
                play.user_agent,
                output,
                grant.policy,
                grant.max_viewers,
                entry_id=play.stream_id,
                syndication=(
                    (grant.syndicated.syndication_id, grant.syndicated.max_viewers)
                    if grant.syndicated is not None
                    else None
                ),
                offer=grant.syndicated.total_cap() if grant.syndicated is not None else None,
            )
        except (TooManyConnections, SessionKicked) as exc:
            return refusal(exc)
        runner = self.engine.runner(grant.channel)
        runner.start()
        if grant.channel.watermark and "mark" not in session.extra:
            return self._marked(grant, session, runner, conn)
        return self._deliver(grant, session, runner, conn)

    async def _marked(
        self, grant: Grant, session: ViewingSession, runner: ChannelRunner, conn: Connection
    ) -> Reply | Written | None:
        """A watermarked channel: the session's code is recorded (session → line) before
        it gets its first byte."""
        session.extra["mark"] = None  # a reload meanwhile does not record a second play
        try:
            session.extra["mark"] = await asyncio.to_thread(self.engine.record_mark, session)
        except Exception:
            self.engine.sessions.end(session, "watermark not recorded")
            raise
        outcome = self._deliver(grant, session, runner, conn)
        if outcome is None or isinstance(outcome, Reply | Written):
            return outcome
        return await outcome

    def _deliver(
        self, grant: Grant, session: ViewingSession, runner: ChannelRunner, conn: Connection
    ) -> Outcome:
        output = session.output
        if output == "hls":
            return self._playlist(grant, session, runner)
        # Until streaming starts, a kick must still close this socket.
        session.cut = conn.close
        conn.on_lost = lambda: self.engine.sessions.end(session, "viewer left")
        if runner.ready:
            self._attach(session, runner, conn)  # warm channel: no task, no wait
            return None
        return self._stream(grant, session, runner, conn)

    async def _playlist(
        self, grant: Grant, session: ViewingSession, runner: ChannelRunner
    ) -> Reply:
        runner.touch()
        if not await runner.wait_hls(self.cold_start_timeout):
            # A session that never played is not a viewer. Ended as idle, not kicked: the
            # player may ask again at once (admission refuses a kicked HLS key a while).
            self.engine.sessions.end(session, "idle: the channel did not start")
            return error(503, OFFLINE_BODY)
        listed = self._listed_segments(grant, session.id)
        body = runner.hls.playlist(lambda seq: f"/hls/{listed(seq)}/{seq}.ts")
        return Reply(200, body.encode(), PLAYLIST_TYPE, NO_CACHE)

    def _listed_segments(self, grant: Grant, session_id: int) -> Callable[[int], str]:
        """The token for each listed segment, fixed the first time it is listed.

        RFC 8216 §6.2.1: a reload must not change the URI of a segment already in the
        playlist (hls.js stops with "media sequence mismatch" when it does). Each segment
        keeps the token it was first listed with (a token lives hls_token_ttl_seconds, far
        longer than a segment stays listed); new ones get a fresh token every ttl/2.
        """
        tokens = self.engine.tokens
        session = self.engine.sessions.get(session_id)
        state: dict[str, Any] = session.extra if session is not None else {}
        now = time.time()
        current = state.get("hls_token")
        if current is None or now - current[1] > tokens.ttl / 2:
            token = tokens.issue(grant.line.id, grant.channel.id, session_id, now)
            current = state["hls_token"] = (token, now)
        by_seq: dict[int, str] = state.setdefault("hls_listed", {})
        shown: list[int] = []

        def token_for(seq: int) -> str:
            shown.append(seq)
            if len(shown) == 1:  # first of this playlist: forget segments no longer listed
                for old in [k for k in by_seq if k < seq]:
                    del by_seq[old]
            return by_seq.setdefault(seq, current[0])

        return token_for

    async def _stream(
        self, grant: Grant, session: ViewingSession, runner: ChannelRunner, conn: Connection
    ) -> Reply | None:
        sessions = self.engine.sessions
        if not await runner.wait_ready(self.cold_start_timeout):
            session.cut = None  # the answer below still goes out on this socket
            sessions.end(session, "channel did not start")
            offline = error(503, OFFLINE_BODY)
            return await self._slate_or(offline, grant.line.tenant_id, SlateKind.offline)
        if session.ended or conn.closed:
            return None
        self._attach(session, runner, conn)
        return None

    # ---- placeholder clips (§8.2, §13.22) ----

    def _refuse(self, exc: Exception, play: PlaybackRequest) -> Reply | Awaitable[Reply]:
        reply = refusal(exc)
        if play.output == "ts" and isinstance(exc, ContentRefused) and exc.reason is BLACKOUT:
            return self._blackout_slate(reply)
        if play.output == "ts" and isinstance(exc, OwnerUnavailable):
            return self._slate_or(reply, exc.tenant_id, SlateKind.offline)
        if play.output == "ts" and isinstance(exc, LineInactive):
            kind = SLATE_FOR_STATUS.get(exc.status)
            if not exc.line.tenant_active and exc.status == "Disabled":
                kind = SlateKind.suspended  # the line is fine; its panel is suspended
            if kind is not None:
                return self._slate_or(reply, exc.line.tenant_id, kind)
        return reply

    async def _blackout_slate(self, reply: Reply) -> Reply:
        """A TS player refused by a blackout sees its clip (the reason code travels in a
        header); without a clip, the bare 451. Missing rights and territory stay a 451."""
        clip = await self.engine.slates.clip(SlateKind.blackout)
        if not clip:
            return reply
        reason = reply.body.decode().strip()
        return Reply(200, clip, "video/mp2t", (*NO_CACHE, ("X-Refusal-Reason", reason)))

    async def _slate_or(self, reply: Reply, tenant_id: int, kind: SlateKind) -> Reply:
        """The tenant's placeholder clip of ``kind`` if it wants them, else ``reply``."""
        access = self.engine.access
        try:
            settings = access.tenant(tenant_id, cached_only=True)
        except NotCached:
            settings = await asyncio.to_thread(access.tenant, tenant_id)
        if not settings.slates:
            return reply
        clip = await self.engine.slates.clip(kind)
        return Reply(200, clip, "video/mp2t", NO_CACHE) if clip else reply

    def _attach(self, session: ViewingSession, runner: ChannelRunner, conn: Connection) -> None:
        sessions = self.engine.sessions
        conn.start_stream("video/mp2t")
        mark = session.extra.get("mark")
        viewer = TsViewer(conn)
        if isinstance(mark, int):
            viewer.mark, viewer.tag = mark, sei_nal(session.id)
        session.bytes_fn = lambda: viewer.bytes_sent

        def lost() -> None:
            runner.remove_viewer(viewer)
            sessions.end(session, "viewer left")

        conn.on_lost = lost

        def to_slate(clip: bytes, reason: str) -> None:
            # Rights, a blackout or the end of a syndication ended this play mid-stream:
            # the player gets the slate after the last live packet, then the end of the
            # stream.
            runner.remove_viewer(viewer)
            conn.on_lost = None
            conn.write(clip)
            sessions.end(session, reason)

        session.extra["to_slate"] = to_slate
        runner.add_viewer(viewer)
