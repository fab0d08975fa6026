"""``/movie/U/P/ID.ext`` and ``/series/U/P/ID.ext`` on the data plane (reference §8.1–8.2).

A play is authorized as a live one is (line, bouquet, connection limit), then the file
goes out with ``sendfile(2)`` (media/file_sender.py): ``HEAD``, single ``Range`` requests
(206, seeking anywhere in files of any size), 416 for ranges past the end, keep-alive
between requests. A movie whose source is an http(s) URL is answered with a 302 to it
(§8.2 "direct source"), or, when the item says ``delivery = proxy``, streamed through
this server under its outbound policy (node/vod_proxy.py), held as a file play is.
Asked with ``.m3u8``, a local file is played as HLS instead (vod_hls_delivery.py).
Nothing in a refusal names a path on the node's disk.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import time
from email.utils import formatdate
from pathlib import Path

from palinsesto.catalog.models import RemoteDelivery
from palinsesto.node.dataplane import REASONS, Connection, HttpRequest, Reply, Written
from palinsesto.node.file_sender import SendAborted, Shrunk, send_file
from palinsesto.node.http_range import ByteSpan, RangeNotSatisfiable, plan_range
from palinsesto.node.vod_files import LocalFile, RemoteUrl, VodSourceRefused, classify_source
from palinsesto.node.vod_proxy import RemoteProxy
from palinsesto.panel.local_node.delivery import CORS, refusal
from palinsesto.panel.local_node.vod_hls_delivery import VodHlsDelivery
from palinsesto.panel.playback.access import NotCached
from palinsesto.panel.playback.admission import SessionKicked, TooManyConnections
from palinsesto.panel.playback.stream_paths import VodPath
from palinsesto.panel.playback.vod_access import VodAccess, VodGrant, VodRequest
from palinsesto.panel.playback.vod_plays import VodPlays, VodTicket

log = logging.getLogger(__name__)

NOT_FOUND = Reply(404, b"STREAM_NOT_FOUND\n", headers=CORS)


def file_validators(st: os.stat_result) -> tuple[str, str]:
    """(ETag, Last-Modified) of a file, for ``If-Range`` (RFC 9110 §8.8)."""
    return f'"{st.st_size:x}-{st.st_mtime_ns:x}"', formatdate(st.st_mtime, usegmt=True)


def response_head(
    span: ByteSpan,
    content_type: str,
    validators: tuple[str, str],
    keep_alive: bool,
) -> bytes:
    """Status line and headers of a file response (200 or 206)."""
    status = 206 if span.partial else 200
    lines = [
        f"HTTP/1.1 {status} {REASONS[status]}",
        f"Content-Type: {content_type}",
        f"Content-Length: {span.length}",
        "Accept-Ranges: bytes",
        f"ETag: {validators[0]}",
        f"Last-Modified: {validators[1]}",
        "Access-Control-Allow-Origin: *",
        "Connection: keep-alive" if keep_alive else "Connection: close",
    ]
    if span.partial:
        lines.append(f"Content-Range: {span.content_range()}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


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
        try:
            fd = os.open(source.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError as exc:
            log.warning("%s %d: file cannot be opened: %s", grant.item.kind, grant.item.id, exc)
            return NOT_FOUND
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return NOT_FOUND
            validators = file_validators(st)
            headers = request.headers
            try:
                span = plan_range(
                    headers.get("range"),
                    st.st_size,
                    if_range=headers.get("if-range"),
                    etag=validators[0],
                    last_modified=validators[1],
                )
            except RangeNotSatisfiable:
                return Reply(416, b"", headers=(("Content-Range", f"bytes */{st.st_size}"), *CORS))
            head = response_head(span, source.content_type, validators, request.keep_alive)
            if request.method == "HEAD":
                conn.write(head)
                return Written(request.keep_alive)
            return await self._play(grant, request, conn, head, fd, span)
        finally:
            os.close(fd)

    async def _play(
        self,
        grant: VodGrant,
        request: HttpRequest,
        conn: Connection,
        head: bytes,
        fd: int,
        span: ByteSpan,
    ) -> Reply | Written | None:
        try:
            ticket = self._hold(grant, request, conn)
        except (TooManyConnections, SessionKicked) as exc:
            return refusal(exc)
        session = ticket.session
        task = asyncio.current_task()

        def lost() -> None:  # the peer left: stop sending at once
            if task is not None:
                task.cancel()

        conn.on_lost = lost
        try:
            if conn.closed or conn.transport is None:
                return None
            for _ in range(1000):  # an earlier reply still queued (rare): after it
                if not conn.buffered():
                    break
                await asyncio.sleep(0.002)
            else:
                return Written(keep_alive=False)  # the peer reads nothing: give up
            sock = conn.transport.get_extra_info("socket")

            def counted(n: int) -> None:
                session.bytes_sent += n

            await send_file(sock.fileno(), fd, span.start, span.length, counted, head)
        except (SendAborted, Shrunk) as exc:
            log.info("%s %d: send ended early: %s", grant.item.kind, grant.item.id, exc)
            conn.close()
            return Written(keep_alive=False)
        finally:
            conn.on_lost = None
        return Written(request.keep_alive)

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
