"""A movie or an episode as HLS: ``/movie/U/P/ID.m3u8`` (and ``/series/...``) answers a
VOD playlist; ``/vodhls/TOKEN/SEQ.ts`` answers one segment, cut from the file on the fly
by ffmpeg without re-encoding (node/vod_hls.py).

The playlist request is authorized as any VOD play (VodDelivery did that) and admitted as
one connection: a session of output ``movie-hls``/``series-hls``, held by its requests as
live HLS sessions are (playback/admission.py), ended ``hls_session_timeout_seconds`` after
the last. Segment URLs carry a signed token (playback/hls_tokens.py, its own key) bound to
line, item and session. A VOD playlist is fetched once and played for as long as the film
lasts, so the token lives the film's length twice over plus the usual TTL, not the TTL
alone; and a player that paused past the idle timeout is let back in on its next segment
by authorizing and admitting its line again (a kicked or ended play stays refused).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from palinsesto.node.dataplane import HttpRequest, Reply
from palinsesto.node.supervisor import Supervisor
from palinsesto.node.vod_hls import NotHlsPlayable, playlist
from palinsesto.node.vod_hls_cut import SegmentFailed, cut_segment
from palinsesto.node.vod_hls_index import HlsIndexes
from palinsesto.panel.local_node.delivery import CORS, NO_CACHE, PLAYLIST_TYPE, error, refusal
from palinsesto.panel.playback.access import NotCached
from palinsesto.panel.playback.admission import (
    SessionKicked,
    SessionRegistry,
    TooManyConnections,
    ViewingSession,
)
from palinsesto.panel.playback.hls_tokens import SegmentTokens, TokenRefused
from palinsesto.panel.playback.stream_paths import VodSegmentPath
from palinsesto.panel.playback.vod_access import VodAccess, VodGrant, VodRequest

log = logging.getLogger(__name__)


@dataclass(eq=False)
class HlsPlay:
    """One viewer's HLS play of an item, under the session id its token names."""

    request: VodRequest  # authorized again when the play comes back from a long pause
    path: Path
    session: ViewingSession
    expires: float


def output_of(grant: VodGrant) -> str:
    return f"{grant.item.kind.value}-hls"


class VodHlsDelivery:
    def __init__(
        self,
        access: VodAccess,
        sessions: SessionRegistry,
        tokens: SegmentTokens,
        indexes: HlsIndexes,
        supervisor: Supervisor,
        ffmpeg: Callable[[], str],
    ) -> None:
        self.access = access
        self.sessions = sessions
        self.tokens = tokens
        self.indexes = indexes
        self._supervisor = supervisor
        self._ffmpeg = ffmpeg
        self._plays: dict[int, HlsPlay] = {}

    async def playlist(self, grant: VodGrant, play: VodRequest, path: Path) -> Reply:
        try:
            found = await self.indexes.get(path)
        except NotHlsPlayable as exc:
            return error(415, f"NOT_PLAYABLE_AS_HLS: {exc}\n".encode())
        except OSError as exc:
            log.warning("%s %d: file cannot be read: %s", grant.item.kind, grant.item.id, exc)
            return error(404, b"STREAM_NOT_FOUND\n")
        try:
            session = self.sessions.admit(
                grant.line,
                grant.item.id,
                play.ip,
                play.user_agent,
                output_of(grant),
                grant.policy,
                grant.max_viewers,
            )
        except (TooManyConnections, SessionKicked) as exc:
            return refusal(exc)
        now = time.time()
        self._forget_expired(now)
        lifetime = self.tokens.ttl + 2 * math.ceil(found.duration)
        held = self._plays.get(session.id)
        if held is None:
            held = self._plays[session.id] = HlsPlay(play, path, session, now + lifetime)
        held.expires = now + lifetime
        token = self.tokens.issue(grant.line.id, grant.item.id, session.id, now, lifetime)
        body = playlist(list(found.segments), lambda s: f"/vodhls/{token}/{s.seq}.ts")
        return Reply(200, body.encode(), PLAYLIST_TYPE, NO_CACHE)

    async def segment(self, target: VodSegmentPath, request: HttpRequest) -> Reply:
        now = time.time()
        try:
            grant = self.tokens.verify(target.token, now)
        except TokenRefused as exc:
            return refusal(exc)
        held = self._plays.get(grant.session_id)
        if held is None or held.request.item_id != grant.channel_id:
            return error(403, b"SESSION_ENDED\n")
        if held.session.ended:
            back = await self._resume(held, now)
            if back is not None:
                return back
        session = held.session
        self.sessions.touch(session)
        try:
            found = await self.indexes.get(held.path)
        except (NotHlsPlayable, OSError):
            return error(404, b"STREAM_NOT_FOUND\n")
        if target.seq >= len(found.segments):
            return error(404, b"no such segment\n")
        try:
            data = await cut_segment(self._supervisor, self._ffmpeg(), found, target.seq)
        except SegmentFailed as exc:
            item = f"{held.request.kind.value} {held.request.item_id}"
            log.warning("segment %d of %s failed: %s", target.seq, item, exc)
            return error(502, b"segment failed\n")
        self.sessions.touch(session)
        session.bytes_sent += len(data)
        return Reply(200, data, "video/mp2t", CORS)

    async def _resume(self, held: HlsPlay, now: float) -> Reply | None:
        """A play whose session went idle (a long pause) comes back as a new session, if
        its line may still play the item; None when it may go on, else the refusal."""
        if not held.session.end_reason.startswith("idle"):
            return error(403, b"SESSION_ENDED\n")
        again = replace(held.request, now=now)
        try:
            try:
                grant = self.access.authorize(again, cached_only=True)
            except NotCached:
                grant = await asyncio.to_thread(self.access.authorize, again)
            held.session = self.sessions.admit(
                grant.line,
                grant.item.id,
                again.ip,
                again.user_agent,
                output_of(grant),
                grant.policy,
                grant.max_viewers,
            )
        except Exception as exc:  # noqa: BLE001 - mapped by the refusal table
            return refusal(exc)
        return None

    def _forget_expired(self, now: float) -> None:
        for key in [k for k, p in self._plays.items() if p.expires < now]:
            del self._plays[key]

    def __len__(self) -> int:
        return len(self._plays)
