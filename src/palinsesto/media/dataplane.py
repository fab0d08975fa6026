"""A lean HTTP/1.1 server on asyncio ``Protocol`` for the delivery hot path.

Chosen by benchmark (bench/hls.py, bench/ts_fanout.py; README "Benchmarks"): the same
playlist, segment and TS paths served through uvicorn+ASGI cost several times more CPU per
request than a bare Protocol, and TS fan-out needs direct access to each socket's write
buffer size. It speaks only what players send: GET/HEAD, keep-alive, no request bodies.
Parsing is sans-I/O (:func:`parse_head`); the handler decides, the protocol writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import cast
from urllib.parse import unquote_plus

log = logging.getLogger(__name__)

MAX_HEAD = 8192
REASONS = {
    200: "OK",
    206: "Partial Content",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    416: "Range Not Satisfiable",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class BadRequest(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    ip: str
    keep_alive: bool

    @property
    def user_agent(self) -> str:
        return self.headers.get("user-agent", "")


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


def parse_head(head: bytes, ip: str) -> HttpRequest:
    """Request line and headers (without the final blank line) to an :class:`HttpRequest`."""
    try:
        text = head.decode("latin-1")
        request_line, *header_lines = text.split("\r\n")
        method, target, version = request_line.split(" ")
    except ValueError:
        raise BadRequest("malformed request line") from None
    if not version.startswith("HTTP/1.") or not target.startswith("/"):
        raise BadRequest("unsupported request")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest("malformed header")
        headers[name.lower()] = value.strip()
    path, _, raw_query = target.partition("?")
    query: dict[str, str] = {}
    if raw_query:
        for pair in raw_query.split("&"):
            key, _, value = pair.partition("=")
            query[unquote_plus(key)] = unquote_plus(value)
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    return HttpRequest(method, path, query, headers, ip, keep_alive)


def render(reply: Reply, keep_alive: bool, head_only: bool = False) -> bytes:
    """Status line, headers and body of a complete response."""
    lines = [
        f"HTTP/1.1 {reply.status} {REASONS.get(reply.status, 'Status')}",
        f"Content-Type: {reply.content_type}",
        f"Content-Length: {len(reply.body)}",
        "Connection: keep-alive" if keep_alive else "Connection: close",
    ]
    lines += [f"{k}: {v}" for k, v in reply.headers]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + reply.body


@dataclass(frozen=True, slots=True)
class Written:
    """The handler wrote a complete response itself (a file sent by the kernel); the
    connection goes on to the next request unless ``keep_alive`` is False."""

    keep_alive: bool = True


Outcome = Reply | Awaitable[Reply | Written | None] | None
Handler = Callable[[HttpRequest, "Connection"], Outcome]


class Connection(asyncio.Protocol):
    """One client socket. Also the TS viewer's sink (write / buffered / close)."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._buffer = b""
        self._busy = False
        self._streaming = False
        self.transport: asyncio.Transport | None = None
        self.ip = ""
        self.closed = False
        self.on_lost: Callable[[], None] | None = None
        # What the connection holds beyond one response (a VOD play's slot), released
        # when it closes, whatever ``on_lost`` is set to by then.
        self.on_closed: list[Callable[[], None]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: uvloop's TCPTransport (used by `serve`) does not derive
        # from asyncio.Transport, though it has the same methods.
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.ip = peer[0] if peer else ""
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self._streaming:
            return  # a TS viewer sends nothing we need
        self._buffer += data
        if len(self._buffer) > MAX_HEAD and b"\r\n\r\n" not in self._buffer[:MAX_HEAD]:
            self._finish(Reply(431, b"request head too large\n"), keep_alive=False)
            return
        self._process()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.on_lost is not None:
            callback, self.on_lost = self.on_lost, None
            callback()
        hooks, self.on_closed = self.on_closed, []
        for hook in hooks:
            hook()

    # ---- the Sink interface used by the TS fan-out ----

    def write(self, data: bytes) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(data)

    def buffered(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport is not None else 0

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()

    def start_stream(self, content_type: str) -> None:
        """Send a close-delimited response head; the body follows through :meth:`write`."""
        self._streaming = True
        head = (
            "HTTP/1.1 200 OK\r\n"
            f"Content-Type: {content_type}\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
        )
        self.write(head.encode("latin-1"))

    # ---- request processing ----

    def _process(self) -> None:
        while not self._busy and not self._streaming and not self.closed:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
            try:
                request = parse_head(head, self.ip)
            except BadRequest as exc:
                self._finish(Reply(400, f"{exc}\n".encode()), keep_alive=False)
                return
            try:
                outcome = self._handler(request, self)
            except Exception:
                log.exception("delivery handler failed")
                outcome = Reply(500, b"internal error\n")
            if outcome is None:
                return  # the handler took over the connection (streaming)
            if isinstance(outcome, Reply):
                self._finish(outcome, request.keep_alive, request.method == "HEAD")
                continue
            self._busy = True
            task: asyncio.Future[Reply | Written | None] = asyncio.ensure_future(outcome)
            task.add_done_callback(functools.partial(self._resumed, request=request))
            return

    def _resumed(self, task: asyncio.Future[Reply | Written | None], request: HttpRequest) -> None:
        self._busy = False
        if task.cancelled():
            self.close()
            return
        exc = task.exception()
        if exc is not None:
            log.error("delivery handler failed", exc_info=exc)
            reply: Reply | Written | None = Reply(500, b"internal error\n")
        else:
            reply = task.result()
        if reply is None:
            return
        if isinstance(reply, Written):
            if reply.keep_alive and request.keep_alive:
                self._process()
            else:
                self.close()
            return
        self._finish(reply, request.keep_alive, request.method == "HEAD")
        self._process()

    def _finish(self, reply: Reply, keep_alive: bool, head_only: bool = False) -> None:
        self.write(render(reply, keep_alive, head_only))
        if not keep_alive:
            self.close()


async def serve(handler: Handler, host: str, port: int) -> asyncio.Server:
    """Listen on ``host:port`` (0 = any free port) with :class:`Connection` per client."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: Connection(handler), host, port, reuse_address=True, backlog=4096
    )
