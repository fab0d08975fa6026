"""Timeshift plays (reference §8.5): a past window of a channel's archive, as one TS
response or as an HLS VOD playlist of the archive's files.

Authorization and admission are those of a live play (the same ``authorize`` and
``sessions.admit``): a timeshift play holds a connection of the line while it is sent.
The reply starts at the last keyframe at or before the requested time and ends at the
first keyframe at or after start + duration. The HLS form lists one segment per archive
file in the window (each starts at a keyframe, so the segments join without overlap);
each segment URL is the same timeshift URL with ``piece=N`` and is authorized again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from palinsesto.node.archive.index import Piece
from palinsesto.node.archive.paths import BadTimeshift, TimeshiftRequest, parse_timeshift
from palinsesto.node.archive.window import piece_durations, send_pieces, vod_playlist
from palinsesto.node.dataplane import Connection, HttpRequest, Reply
from palinsesto.panel.playback.access import PlaybackRequest

if TYPE_CHECKING:
    from palinsesto.node.archive.store import ArchiveStore
    from palinsesto.panel.local_node.engine import LiveEngine
    from palinsesto.panel.playback.admission import ViewingSession

log = logging.getLogger(__name__)

CORS = (("Access-Control-Allow-Origin", "*"),)


def _error(status: int, body: bytes) -> Reply:
    return Reply(status, body, headers=CORS)


class TimeshiftDelivery:
    """Serves ``/timeshift/...``, ``/timeshifts/...`` and ``/streaming/timeshift.php``."""

    def __init__(
        self,
        engine: LiveEngine,
        store: ArchiveStore,
        zone: ZoneInfo,
        refusal: Callable[[Exception], Reply],
        client_ip: Callable[[HttpRequest], str],
    ) -> None:
        self.engine, self.store, self.zone = engine, store, zone
        self._refusal, self._client_ip = refusal, client_ip

    def __call__(
        self, request: HttpRequest, conn: Connection
    ) -> Reply | Coroutine[Any, Any, Reply | None]:
        try:
            target = parse_timeshift(request.path, request.query, self.zone)
            piece = request.query.get("piece")
            if piece is not None and not (piece.isdigit() and len(piece) < 6):
                raise BadTimeshift("piece must be a number")
        except BadTimeshift as exc:
            return _error(400, f"{exc}\n".encode())
        return self._play(target, None if piece is None else int(piece), request, conn)

    async def _play(
        self, target: TimeshiftRequest, piece: int | None, request: HttpRequest, conn: Connection
    ) -> Reply | None:
        now = time.time()
        play = PlaybackRequest(
            target.username, target.password, target.stream_id, "ts",
            self._client_ip(request), request.user_agent, now, request.headers.get("host", ""),
        )  # fmt: skip
        engine = self.engine
        try:
            grant = await asyncio.to_thread(engine.access.authorize, play)
        except Exception as exc:  # noqa: BLE001 - mapped by the refusal table
            return self._refusal(exc)
        key = (grant.channel.tenant_id, grant.channel.id)
        end = min(target.start + target.duration, now)
        pieces = await asyncio.to_thread(self.store.locate, key, target.start, end)
        if not pieces:
            return _error(404, b"NO_ARCHIVE: nothing recorded in that window\n")
        if target.output == "m3u8" and piece is None:
            return self._playlist(key, pieces, request, target, end)
        if piece is not None:
            if piece >= len(pieces):
                return _error(404, b"no such piece\n")
            pieces = [pieces[piece]]
        try:
            session = engine.sessions.admit(
                grant.line, grant.channel.id, play.ip, play.user_agent, "timeshift", grant.policy
            )
        except Exception as exc:  # noqa: BLE001 - TooManyConnections / SessionKicked
            return self._refusal(exc)
        session.cut = conn.close
        conn.on_lost = lambda: engine.sessions.end(session, "viewer left")
        conn.start_stream("video/mp2t")
        try:
            await self._send(key, pieces, session, conn)
        finally:
            engine.sessions.end(session, "archive window sent")
            conn.close()
        return None

    def _playlist(
        self,
        key: tuple[int, int],
        pieces: list[Piece],
        request: HttpRequest,
        target: TimeshiftRequest,
        end: float,
    ) -> Reply:
        """An HLS VOD playlist: one segment per archive file in the window."""
        durations = piece_durations(self.store, key, pieces, end)
        base = request.path.rsplit(".", 1)[0] + ".ts"
        query = "&".join(f"{quote(k)}={quote(v)}" for k, v in request.query.items())
        sep = "&" if query else ""
        body = vod_playlist(durations, lambda i: f"{base}?{query}{sep}piece={i}")
        return Reply(200, body, "application/vnd.apple.mpegurl", CORS)

    async def _send(
        self,
        key: tuple[int, int],
        pieces: list[Piece],
        session: ViewingSession,
        conn: Connection,
    ) -> None:
        def counted(n: int) -> None:
            session.bytes_sent += n

        await send_pieces(self.store, key, pieces, conn, counted, lambda: session.ended)
