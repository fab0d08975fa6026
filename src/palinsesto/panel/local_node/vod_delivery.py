"""``/movie/U/P/ID.ext`` and ``/series/U/P/ID.ext`` on the data plane (reference §8.1–8.2).

A play is authorized as a live one is (line, bouquet, connection limit), then the file
goes out with ``sendfile(2)`` (node/file_sender.py): ``HEAD``, single ``Range`` requests
(206, seeking anywhere in files of any size), 416 for ranges past the end, keep-alive
between requests. A movie whose source is an http(s) URL is answered with a 302 to it
(§8.2 "direct source"), or, when the item says ``delivery = proxy``, streamed through
this server under its outbound policy (node/vod_proxy.py), held as a file play is.
Asked with ``.m3u8``, a local file is played as HLS instead (vod_hls_delivery.py).
Nothing in a refusal names a path on the node's disk.

The common request is answered without a task: authorization from memory, the file kept
open by the connection (node/open_file.py), the head and the range's first bytes sent
by one ``send`` and one ``sendfile`` call. Only what the socket cannot take at once goes
on in a task that waits for it to drain (bench/vod_range.py measures the difference).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from palinsesto.catalog.models import RemoteDelivery
from palinsesto.node.dataplane import Connection, HttpRequest, Reply, Written
from palinsesto.node.file_reply import FileSpan, send_span
from palinsesto.node.file_sender import SendAborted, Shrunk, send_now
from palinsesto.node.http_range import ByteSpan, RangeNotSatisfiable, plan_range
from palinsesto.node.open_file import OpenFile, open_file
from palinsesto.node.vod_files import RemoteUrl, VodSourceRefused, classify_source
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
Outcome = Reply | Written | None


@dataclass(slots=True, eq=False)
class _Held:
    """What a connection keeps between its requests: its share of the play, the file
    it reads and a descriptor of its socket of its own (closed with the connection)."""

    ticket: VodTicket | None = None
    file: OpenFile | None = None
    sock: socket.socket | None = None

    def close_file(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


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
        self._held: dict[Connection, _Held] = {}

    def __call__(
        self, target: VodPath, request: HttpRequest, conn: Connection
    ) -> Outcome | Coroutine[Any, Any, Outcome]:
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
            grant = self.access.authorize(play, cached_only=True)
        except NotCached:
            return self._authorize_then_serve(play, target, request, conn)
        except Exception as exc:  # noqa: BLE001 - mapped by the refusal table
            return refusal(exc)
        return self._serve(grant, play, target, request, conn)

    async def _authorize_then_serve(
        self, play: VodRequest, target: VodPath, request: HttpRequest, conn: Connection
    ) -> Outcome:
        try:
            grant = await asyncio.to_thread(self.access.authorize, play)
        except Exception as exc:  # noqa: BLE001 - mapped by the refusal table
            return refusal(exc)
        outcome = self._serve(grant, play, target, request, conn)
        if outcome is None or isinstance(outcome, Reply | Written):
            return outcome
        return await outcome

    def _serve(
        self,
        grant: VodGrant,
        play: VodRequest,
        target: VodPath,
        request: HttpRequest,
        conn: Connection,
    ) -> Outcome | Coroutine[Any, Any, Outcome]:
        if conn.closed:
            return None
        if target.extension == "m3u8":
            return self._playlist(grant, play, request, conn)
        held = self._held_by(conn)
        opened = held.file
        key = (grant.line.tenant_id, grant.item.source_url)
        if opened is None or opened.key != key or not opened.current():
            held.close_file()
            try:
                source = classify_source(self.media_root, key[0], key[1])
            except VodSourceRefused:
                return NOT_FOUND
            if isinstance(source, RemoteUrl):
                return self._remote(grant, request, conn, source)
            opened = open_file(key, str(source.path), source.content_type)
            if opened is None:
                log.warning("%s %d: file cannot be opened", grant.item.kind, grant.item.id)
                return NOT_FOUND
            held.file = opened
        headers = request.headers
        try:
            span = plan_range(
                headers.get("range"),
                opened.size,
                if_range=headers.get("if-range"),
                etag=opened.validators[0],
                last_modified=opened.validators[1],
            )
        except RangeNotSatisfiable:
            return Reply(416, b"", headers=(("Content-Range", f"bytes */{opened.size}"), *CORS))
        head = opened.response_head(span, request.keep_alive)
        if request.method == "HEAD":
            conn.write(head)
            return Written(request.keep_alive)
        try:
            ticket = self._hold(grant, request, conn, held)
        except (TooManyConnections, SessionKicked) as exc:
            return refusal(exc)
        if conn.buffered() or conn.transport is None:
            return self._send_later(grant, request, conn, head, opened, span, ticket)
        sock = held.sock
        if sock is None:
            sock = held.sock = _own_socket(conn)
        try:
            sent_head, sent = send_now(sock, head, opened.fd, span.start, span.length)
        except (SendAborted, Shrunk) as exc:
            return self._ended_early(grant, conn, exc)
        ticket.session.bytes_sent += sent
        if sent == span.length and sent_head == len(head):
            return Written(request.keep_alive)
        rest = ByteSpan(span.start + sent, span.end, span.size, span.partial)
        return self._send_later(grant, request, conn, head[sent_head:], opened, rest, ticket)

    async def _playlist(
        self, grant: VodGrant, play: VodRequest, request: HttpRequest, conn: Connection
    ) -> Outcome:
        """``.m3u8``: a local file as VOD HLS; a remote source as its delivery says."""
        try:
            source = classify_source(self.media_root, grant.line.tenant_id, grant.item.source_url)
        except VodSourceRefused:
            return NOT_FOUND
        if isinstance(source, RemoteUrl):
            remote = self._remote(grant, request, conn, source)
            return remote if isinstance(remote, Reply) else await remote
        return await self.hls.playlist(grant, play, source.path)

    def _remote(
        self, grant: VodGrant, request: HttpRequest, conn: Connection, source: RemoteUrl
    ) -> Reply | Coroutine[Any, Any, Outcome]:
        if grant.item.delivery is RemoteDelivery.proxy:
            return self._proxied(grant, request, conn, source)
        return self._redirect(grant, request, conn, source)

    async def _proxied(
        self, grant: VodGrant, request: HttpRequest, conn: Connection, source: RemoteUrl
    ) -> Outcome:
        if conn.closed:  # gone before this task ran: its close hooks have run already
            return None
        try:
            ticket = self._hold(grant, request, conn, self._held_by(conn))
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

    @staticmethod
    def _ended_early(grant: VodGrant, conn: Connection, exc: Exception) -> Written:
        log.info("%s %d: send ended early: %s", grant.item.kind, grant.item.id, exc)
        conn.close()
        return Written(keep_alive=False)

    async def _send_later(
        self,
        grant: VodGrant,
        request: HttpRequest,
        conn: Connection,
        head: bytes,
        opened: OpenFile,
        span: ByteSpan,
        ticket: VodTicket,
    ) -> Outcome:
        """The rest of a response the socket could not take at once, as it drains
        (node/file_reply.py sends it, as a node's ``/vod/`` does)."""
        session = ticket.session

        def counted(n: int) -> None:
            session.bytes_sent += n

        label = f"{grant.item.kind} {grant.item.id}"
        return await send_span(FileSpan(opened.fd, span, head), request, conn, counted, label)

    def _held_by(self, conn: Connection) -> _Held:
        held = self._held.get(conn)
        if held is None:
            held = self._held[conn] = _Held()
            conn.on_closed.append(lambda: self._release(conn))
        return held

    def _hold(
        self, grant: VodGrant, request: HttpRequest, conn: Connection, held: _Held
    ) -> VodTicket:
        """This connection's share of the play, admitted on its first request for the
        item and held until the connection closes (§8.6: a connection row lives as long
        as the socket), so a player that pauses between range requests keeps its slot;
        asking for another item on the same connection moves it to that play."""
        ticket = held.ticket
        if ticket is not None:
            if (
                ticket.play.key == self.plays.key_of(grant, request.ip, request.user_agent)
                and not ticket.session.ended
            ):
                return ticket
            held.ticket = None
            self.plays.close(ticket)
        held.ticket = self.plays.open(grant, request.ip, request.user_agent, conn.close)
        return held.ticket

    def _release(self, conn: Connection) -> None:
        held = self._held.pop(conn, None)
        if held is None:
            return
        held.close_file()
        if held.sock is not None:
            held.sock.close()
        if held.ticket is not None:
            self.plays.close(held.ticket)


def _own_socket(conn: Connection) -> socket.socket:
    """A socket object on a duplicate of the connection's descriptor: ``send`` with
    ``MSG_MORE`` needs one, and the transport's own must not be wrapped (closing the
    wrapper would close it). The duplicate shares the non-blocking file description."""
    assert conn.transport is not None
    fd = conn.transport.get_extra_info("socket").fileno()
    sock = socket.socket(fileno=os.dup(fd))
    with contextlib.suppress(OSError):
        sock.setblocking(False)
    return sock
