"""A movie's or episode's file on a node: ``/vod/<token>/<path>``, opened by a play token
of kind ``vod`` that the panel signed over ``<path>`` (the file inside the tenant's media
folder, ``<media_root>/<tenant id>/``). The node checks the token and nothing else: no
database, no call to the panel; the path is resolved inside the tenant's folder as the
admin API and the all-in-one resolve it (node/vod_files.py), so a token cannot open
anything outside it.

A play is one session (the slot the panel reserved), shared by the player's range
requests on any number of connections: alive while a response is being sent or a request
came within ``hls_session_timeout_seconds``, as an HLS play is. The session's token opens
the file again after it expired while the session lives (a paused player seeking on).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import unquote

from palinsesto.node.dataplane import Connection, HttpRequest, Reply, Written
from palinsesto.node.file_reply import NOT_FOUND, FileSpan, close_span, open_span, send_span
from palinsesto.node.sessions import NodeSession
from palinsesto.node.vod_files import VodSourceRefused, tenant_file
from palinsesto.protocol.play_tokens import PlayKind

if TYPE_CHECKING:
    from palinsesto.node.token_delivery import TokenDelivery

log = logging.getLogger(__name__)


def session_cut(session: NodeSession, conns: set[Connection]) -> None:
    """Make ``session.cut`` close every connection that sends for it now."""

    def cut() -> None:
        for conn in list(conns):
            conn.close()

    session.cut = cut


class FilePlays:
    def __init__(self, delivery: TokenDelivery) -> None:
        self.delivery = delivery
        self.node = delivery.node
        self._sending: dict[int, set[Connection]] = {}  # session id -> its connections

    async def play(
        self, token: str, raw_path: str, request: HttpRequest, conn: Connection
    ) -> Reply | Written | None:
        relative = unquote(raw_path)
        checked = self.delivery.check(token, request, PlayKind.vod, relative.encode())
        if isinstance(checked, Reply):
            return checked
        grant, session = checked
        node = self.node
        if session is None and not node.accepting:
            return Reply(503, f"{node.refusal}\n".encode())
        try:
            local = tenant_file(node.settings.effective_media_root, grant.tenant_id, relative)
        except VodSourceRefused:
            return NOT_FOUND
        label = f"vod {grant.channel_id}"
        found = open_span(local.path, local.content_type, request, label)
        if isinstance(found, Reply):
            return found
        try:
            if request.method == "HEAD":
                conn.write(found.head)
                return Written(request.keep_alive)
            if session is None:
                session = node.sessions.open(
                    grant.session_id, grant.tenant_id, grant.line_id, grant.channel_id,
                    PlayKind.vod, grant.expires,
                )  # fmt: skip
            return await self._send(session, found, request, conn, label)
        finally:
            close_span(found)

    async def _send(
        self,
        session: NodeSession,
        found: FileSpan,
        request: HttpRequest,
        conn: Connection,
        label: str,
    ) -> Written | None:
        sessions = self.node.sessions
        conns = self._sending.setdefault(session.id, set())
        conns.add(conn)
        session_cut(session, conns)
        session.sending += 1
        sessions.touch(session)

        def counted(n: int) -> None:
            session.bytes_sent += n

        try:
            return await send_span(found, request, conn, counted, label)
        finally:
            session.sending -= 1
            sessions.touch(session)
            conns.discard(conn)
            if not conns:
                self._sending.pop(session.id, None)
