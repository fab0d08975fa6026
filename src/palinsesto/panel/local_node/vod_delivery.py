"""``/movie/U/P/ID.ext`` and ``/series/U/P/ID.ext`` on the data plane (reference §8.1–8.2).

A play is authorized as a live one is (line, bouquet, connection limit), then the file
goes out with ``sendfile(2)`` (media/file_sender.py): ``HEAD``, single ``Range`` requests
(206, seeking anywhere in files of any size), 416 for ranges past the end, keep-alive
between requests. A movie whose source is an http(s) URL is answered with a 302 to it
(§8.2 "direct source"), or, when the item says ``delivery = proxy``, streamed through
this server under its outbound policy (node/vod_proxy.py), held as a file play is.
Asked with ``.m3u8``, a local file is played as HLS instead (vod_hls_delivery.py).
The bytes of a local file go out through node/file_reply.py, as on a node. Nothing in a
refusal names a path on the node's disk.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from palinsesto.catalog.models import RemoteDelivery
from palinsesto.node.dataplane import Connection, HttpRequest, Reply, Written
from palinsesto.node.file_reply import NOT_FOUND, FileSpan, close_span, open_span, send_span
from palinsesto.node.vod_files import LocalFile, RemoteUrl, VodSourceRefused, classify_source
from palinsesto.node.vod_proxy import RemoteProxy
from palinsesto.panel.local_node.delivery import CORS, refusal
from palinsesto.panel.local_node.vod_hls_delivery import VodHlsDelivery
from palinsesto.panel.playback.access import NotCached
from palinsesto.panel.playback.admission import SessionKicked, TooManyConnections
from palinsesto.panel.playback.stream_paths import VodPath
from palinsesto.panel.playback.vod_access import VodAccess, VodGrant, VodRequest
from palinsesto.panel.playback.vod_plays import VodPlays, VodTicket


class VodDelivery:
    """Serves VOD paths for :class:`palinsesto.panel.local_node.delivery.Delivery`."""

    def __init__(
        self,
        access: VodAccess,
        plays: VodPlays,
        media_root: Path,
        hls: VodHlsDelivery,
        proxy: RemoteProxy,
    ) -> None:
        self.access = access
        self.plays = plays
        self.media_root = media_root
        self.hls = hls
        self.proxy = proxy
        self._held: dict[Connection, VodTicket] = {}

    async def __call__(
        self, target: VodPath, request: HttpRequest, conn: Connection
    ) -> Reply | Written | None:
        play = VodRequest(
            target.username,
            target.password,
            target.kind,
            target.item_id,
            request.ip,
            request.user_agent,
            time.time(),
            request.headers.get("host", ""),
        )
        try:
            try:
                grant = self.access.authorize(play, cached_only=True)
            except NotCached:
                grant = await asyncio.to_thread(self.access.authorize, play)
        except Exception as exc:  # noqa: BLE001 - mapped by the refusal table
            return refusal(exc)
        try:
            source = classify_source(self.media_root, grant.line.tenant_id, grant.item.source_url)
        except VodSourceRefused:
            return NOT_FOUND
        if isinstance(source, RemoteUrl):
            if grant.item.delivery is RemoteDelivery.proxy:
                return await self._proxied(grant, request, conn, source)
            return self._redirect(grant, request, conn, source)
        if target.extension == "m3u8":
            return await self.hls.playlist(grant, play, source.path)
        return await self._send(grant, request, conn, source)

    def _redirect(
        self, grant: VodGrant, request: HttpRequest, conn: Connection, source: RemoteUrl
    ) -> Reply:
        # Counted at its start (it may kick an older play), not held: its bytes do not
        # pass here, so its end cannot be seen.
        try:
            ticket = self.plays.open(grant, request.ip, request.user_agent, conn.close)
        except (TooManyConnections, SessionKicked) as exc:
            return refusal(exc)
        self.plays.close(ticket, "redirected to the remote source")
        return Reply(302, b"", headers=(("Location", source.url), *CORS))

    async def _proxied(
        self, grant: VodGrant, request: HttpRequest, conn: Connection, source: RemoteUrl
    ) -> Reply | Written | None:
        try:
            ticket = self._hold(grant, request, conn)
        except (TooManyConnections, SessionKicked) as exc:
            return refusal(exc)
        session = ticket.session
        task = asyncio.current_task()

        def lost() -> None:  # the peer left: stop relaying at once
            if task is not None:
                task.cancel()

        def counted(n: int) -> None:
            session.bytes_sent += n

        conn.on_lost = lost
        try:
            label = f"{grant.item.kind.value} {grant.item.id}"
            return await self.proxy.relay(source.url, request, conn, counted, label)
        finally:
            conn.on_lost = None

    async def _send(
        self, grant: VodGrant, request: HttpRequest, conn: Connection, source: LocalFile
    ) -> Reply | Written | None:
        label = f"{grant.item.kind} {grant.item.id}"
        found = open_span(source.path, source.content_type, request, label)
        if isinstance(found, Reply):
            return found
        try:
            if request.method == "HEAD":
                conn.write(found.head)
                return Written(request.keep_alive)
            return await self._play(grant, request, conn, found, label)
        finally:
            close_span(found)

    async def _play(
        self, grant: VodGrant, request: HttpRequest, conn: Connection, found: FileSpan, label: str
    ) -> Reply | Written | None:
        try:
            ticket = self._hold(grant, request, conn)
        except (TooManyConnections, SessionKicked) as exc:
            return refusal(exc)
        session = ticket.session

        def counted(n: int) -> None:
            session.bytes_sent += n

        return await send_span(found, request, conn, counted, label)

    def _hold(self, grant: VodGrant, request: HttpRequest, conn: Connection) -> VodTicket:
        """This connection's share of the play, admitted on its first request for the
        item and held until the connection closes (§8.6: a connection row lives as long
        as the socket), so a player that pauses between range requests keeps its slot;
        asking for another item on the same connection moves it to that play."""
        key = self.plays.key_of(grant, request.ip, request.user_agent)
        held = self._held.get(conn)
        if held is not None:
            if held.play.key == key and not held.session.ended:
                return held
            self._release(conn)
        ticket = self.plays.open(grant, request.ip, request.user_agent, conn.close)
        self._held[conn] = ticket
        conn.on_closed.append(lambda: self._release(conn))
        return ticket

    def _release(self, conn: Connection) -> None:
        ticket = self._held.pop(conn, None)
        if ticket is not None:
            self.plays.close(ticket)
