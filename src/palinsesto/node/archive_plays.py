"""A past window of a channel recorded on this node: ``/archive/<token>/<start>/<minutes>.ts``
(one MPEG-TS body) or ``.m3u8`` (an HLS VOD playlist whose segments are the same ``.ts``
URL with ``?piece=N``), opened by a play token of kind ``archive`` that the panel signed
over ``<start>/<minutes>`` (unix seconds, minutes) for one channel. The panel sends a
catch-up play to the node that records the channel (node/archive/ writes what the channel
broadcasts here); the node checks the token and reads its own archive, nothing else.

The whole-window TS play is a session that ends when the window is sent; an HLS play's
session lives while its playlist and pieces are asked for, as a live HLS play's does.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from palinsesto.node.archive.window import piece_durations, send_pieces, vod_playlist
from palinsesto.node.dataplane import Connection, HttpRequest, Reply
from palinsesto.node.file_plays import session_cut
from palinsesto.protocol.play_tokens import PlayKind, window_subject

if TYPE_CHECKING:
    from palinsesto.node.token_delivery import TokenDelivery

CORS = (("Access-Control-Allow-Origin", "*"),)
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


def _error(status: int, body: bytes) -> Reply:
    return Reply(status, body, headers=CORS)


class ArchivePlays:
    def __init__(self, delivery: TokenDelivery) -> None:
        self.delivery = delivery
        self.node = delivery.node

    async def play(
        self,
        token: str,
        window: tuple[int, int, str],
        request: HttpRequest,
        conn: Connection,
    ) -> Reply | None:
        start, minutes, output = window
        checked = self.delivery.check(
            token, request, PlayKind.archive, window_subject(start, minutes)
        )
        if isinstance(checked, Reply):
            return checked
        grant, session = checked
        node = self.node
        if session is None and not node.accepting:
            return _error(503, f"{node.refusal}\n".encode())
        piece = request.query.get("piece")
        if piece is not None and not (piece.isdigit() and len(piece) < 6):
            return _error(400, b"piece must be a number\n")
        key = (grant.tenant_id, grant.channel_id)
        end = min(start + minutes * 60.0, time.time())
        store = node.archive
        pieces = store.locate(key, float(start), end)
        if not pieces:
            return _error(404, b"NO_ARCHIVE: nothing recorded in that window\n")
        if session is None:
            session = node.sessions.open(
                grant.session_id, grant.tenant_id, grant.line_id, grant.channel_id,
                PlayKind.archive, grant.expires,
            )  # fmt: skip
        node.sessions.touch(session)
        if output == "m3u8" and piece is None:
            durations = piece_durations(store, key, pieces, end)
            base = request.path.rsplit(".", 1)[0] + ".ts"
            body = vod_playlist(durations, lambda i: f"{base}?piece={i}")
            return Reply(200, body, PLAYLIST_TYPE, CORS)
        if piece is not None:
            if int(piece) >= len(pieces):
                return _error(404, b"no such piece\n")
            pieces = [pieces[int(piece)]]
        if request.method == "HEAD":
            return Reply(200, b"", "video/mp2t", CORS)
        session_cut(session, {conn})
        session.sending += 1
        conn.start_stream("video/mp2t")

        def counted(n: int) -> None:
            session.bytes_sent += n

        try:
            await send_pieces(store, key, pieces, conn, counted, lambda: session.ended)
        finally:
            session.sending -= 1
            node.sessions.touch(session)
            if piece is None:  # the whole window was the play
                node.sessions.end(session, "archive window sent")
            conn.close()
        return None
