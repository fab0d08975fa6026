"""A movie's or episode's file as VOD HLS on a node: ``/vodhls/<token>/<path>.m3u8`` is
the playlist and ``/vodhls/<token>/<path>/<seq>.ts`` its segments, opened by a play token
of kind ``vod_hls`` that the panel signed over ``<path>`` (the file inside the tenant's
media folder, as for ``/vod/``: node/file_plays.py).

The playlist and the segments are the all-in-one's (node/vod_hls.py): cut at keyframes
from an index the node builds once per file version and keeps in its data folder
(node/vod_hls_index.py), each segment by ``-ss`` and stream copy (node/vod_hls_cut.py).
No database, no call to the panel: the token names the file, the node's own copy of the
tenant's media folder has it.

A play is one session (the slot the panel reserved), kept alive by its requests as a
live HLS play is; while it lives the token opens the segments after its expiry. A player
paused for longer than ``hls_session_timeout_seconds`` has ended its play and must ask
the panel's URL again (the all-in-one re-admits the line itself; a node cannot).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from palinsesto.node.dataplane import HttpRequest, Reply
from palinsesto.node.file_reply import NOT_FOUND
from palinsesto.node.sessions import NodeSession
from palinsesto.node.vod_files import LocalFile, VodSourceRefused, tenant_file
from palinsesto.node.vod_hls import NotHlsPlayable, playlist
from palinsesto.node.vod_hls_cut import SegmentFailed, cut_segment
from palinsesto.node.vod_hls_index import HlsFile
from palinsesto.protocol.play_tokens import PlayGrant, PlayKind

if TYPE_CHECKING:
    from palinsesto.node.token_delivery import TokenDelivery

log = logging.getLogger(__name__)

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
CORS = (("Access-Control-Allow-Origin", "*"),)
NO_CACHE = (("Cache-Control", "no-cache"), *CORS)


def _error(status: int, reason: str) -> Reply:
    return Reply(status, f"{reason}\n".encode(), headers=CORS)


class VodHlsPlays:
    def __init__(self, delivery: TokenDelivery) -> None:
        self.delivery = delivery
        self.node = delivery.node

    async def playlist(self, token: str, raw_path: str, request: HttpRequest) -> Reply:
        opened = await self._open(token, raw_path, request)
        if isinstance(opened, Reply):
            return opened
        _, _, found, relative = opened
        prefix = f"/vodhls/{token}/{quote(relative, safe='/')}"
        body = playlist(list(found.segments), lambda s: f"{prefix}/{s.seq}.ts")
        return Reply(200, body.encode(), PLAYLIST_TYPE, NO_CACHE)

    async def segment(self, token: str, raw_path: str, seq: int, request: HttpRequest) -> Reply:
        opened = await self._open(token, raw_path, request)
        if isinstance(opened, Reply):
            return opened
        grant, session, found, _ = opened
        if seq >= len(found.segments):
            return _error(404, "no such segment")
        sessions = self.node.sessions
        session.sending += 1  # a slow cut is not an idle play
        try:
            data = await cut_segment(self.node.supervisor, self.node.ffmpeg, found, seq)
        except SegmentFailed as exc:
            log.warning("segment %d of vod %d failed: %s", seq, grant.channel_id, exc)
            return _error(502, "segment failed")
        finally:
            session.sending -= 1
            sessions.touch(session)
        session.bytes_sent += len(data)
        return Reply(200, data, "video/mp2t", CORS)

    async def _open(
        self, token: str, raw_path: str, request: HttpRequest
    ) -> tuple[PlayGrant, NodeSession, HlsFile, str] | Reply:
        """The token checked over the file's path, the file's HLS facts and the play's
        session (opened by its first request), or the refusal."""
        relative = unquote(raw_path)
        checked = self.delivery.check(token, request, PlayKind.vod_hls, relative.encode())
        if isinstance(checked, Reply):
            return checked
        grant, session = checked
        node = self.node
        if session is None and not node.accepting:
            return _error(503, node.refusal)
        try:
            local: LocalFile = tenant_file(
                node.settings.effective_media_root, grant.tenant_id, relative
            )
        except VodSourceRefused:
            return NOT_FOUND
        try:
            found = await node.vod_hls_indexes.get(local.path)
        except NotHlsPlayable as exc:
            return _error(415, f"NOT_PLAYABLE_AS_HLS: {exc}")
        except OSError as exc:
            log.warning("vod %d: file cannot be read: %s", grant.channel_id, exc.strerror)
            return NOT_FOUND
        if session is None:
            if not node.accepting:  # it changed while the file was indexed
                return _error(503, node.refusal)
            session = node.sessions.open(
                grant.session_id, grant.tenant_id, grant.line_id, grant.channel_id,
                PlayKind.vod_hls, grant.expires,
            )  # fmt: skip
        node.sessions.touch(session)
        return grant, session, found, relative
