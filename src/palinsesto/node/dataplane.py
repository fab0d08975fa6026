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
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import cast
from urllib.parse import unquote_plus

log = logging.getLogger(__name__)

MAX_HEAD = 8192  # one request line and its headers
# What a client may send ahead of its answers. Players do not pipeline (each waits for its
# playlist or segment), so these only stop floods: past either, the connection is cut.
MAX_PENDING_INPUT = 64 * 1024
MAX_PIPELINE = 16
# The largest response a connection keeps rendered for the same reply again (a playlist,
# not a segment: what is kept lives as long as the connection).
KEEP_RENDERED = 16 * 1024
RECEIVE_BUFFER = MAX_PENDING_INPUT  # the kernel's, per socket (Linux doubles it)
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
    415: "Unsupported Media Type",
    416: "Range Not Satisfiable",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
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


Outcome = Reply | Written | Awaitable[Reply | Written | None] | None
Handler = Callable[[HttpRequest, "Connection"], Outcome]


class Connection(asyncio.Protocol):
    """One client socket. Also the TS viewer's sink (write / buffered / close).

    This runs on the event loop shared with the panel and the player API, so what one client
    can make it do per event is bounded: input waiting for an answer is held up to
    :data:`MAX_PENDING_INPUT` bytes and :data:`MAX_PIPELINE` requests (a client past either
    is cut at once, without answers); requests are found by scanning only new bytes, and each
    is sliced out once; answers stop while the client does not read them (the transport's
    write buffer is over its high-water mark), and reading stops with them.
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._input = bytearray()
        self._start = 0  # where the next unanswered request begins in _input
        self._scan_from = 0  # bytes before this were already searched for a head's end
        self._heads: deque[int] = deque()  # where each complete, unanswered head ends
        self._busy = False  # an awaited handler is working on a request
        self._write_paused = False
        self._reading_paused = False
        self._streaming = False
        self._done = False  # closing or cut: answer nothing more
        # A player reloads its playlist with the same bytes on the same connection, and the
        # handler may answer with the same (immutable) Reply until the playlist changes:
        # the last head's parse and the last reply's rendering are kept for the next one.
        self._last_data = b""
        self._last_request: HttpRequest | None = None
        self._rendered_reply: Reply | None = None
        self._rendered = b""
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
        if self._streaming or self._done:
            return  # a TS viewer sends nothing we need
        buffer = self._input
        if not (self._heads or self._busy or self._write_paused) and self._start == len(buffer):
            # Nothing pending and one whole head in this read (a player waits for each
            # answer): answered straight from ``data``, the same bytes as last time unparsed.
            if data == self._last_data and self._last_request is not None:
                self._answer(self._last_request)
                return
            end = data.find(b"\r\n\r\n")
            if end == len(data) - 4 and end <= MAX_HEAD:
                try:
                    request = parse_head(data[:end], self.ip)
                except BadRequest as exc:
                    self._finish(Reply(400, f"{exc}\n".encode()), keep_alive=False)
                    return
                self._last_data, self._last_request = data, request
                self._answer(request)
                return
        if self._start and not self._heads:
            # Everything before _start is answered: drop it (CPython moves the start of a
            # bytearray instead of copying when its head is deleted).
            del buffer[: self._start]
            self._scan_from -= self._start
            self._start = 0
        buffer += data
        if len(buffer) - self._start > MAX_PENDING_INPUT:
            self._cut("more input ahead of its answers than allowed")
            return
        begin = self._heads[-1] + 4 if self._heads else self._start  # of the next head
        # Only the new bytes (and the 3 before them, where a split CRLFCRLF may begin).
        search = max(self._scan_from - 3, begin)
        while (end := buffer.find(b"\r\n\r\n", search)) >= 0:
            if end - begin > MAX_HEAD:
                break
            if len(self._heads) + self._busy >= MAX_PIPELINE:
                # Stop at the first head past the limit: a flood costs MAX_PIPELINE finds.
                self._cut("too many pipelined requests")
                return
            self._heads.append(end)
            begin = search = end + 4
        self._scan_from = len(buffer)
        if (end >= 0 and end - begin > MAX_HEAD) or (end < 0 and len(buffer) - begin > MAX_HEAD):
            self._heads.clear()
            self._start = len(buffer)
            self._finish(Reply(431, b"request head too large\n"), keep_alive=False)
            return
        self._process()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._done = True
        self._input = bytearray()
        self._heads.clear()
        if self.on_lost is not None:
            callback, self.on_lost = self.on_lost, None
            callback()
        hooks, self.on_closed = self.on_closed, []
        for hook in hooks:
            hook()

    def pause_writing(self) -> None:
        # The client is not reading its answers: stop answering and reading until it does
        # (a streaming TS viewer is watched through buffered() instead).
        self._write_paused = True
        if not self._streaming:
            self._pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._streaming or self._done:
            return
        self._resume_reading()
        # Not from inside the transport's write callback: on the next loop turn.
        asyncio.get_running_loop().call_soon(self._process)

    # ---- the Sink interface used by the TS fan-out ----

    def write(self, data: bytes) -> None:
        if not self._done and self.transport is not None:
            self.transport.write(data)

    def buffered(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport is not None else 0

    def close(self) -> None:
        self._done = True
        if self.transport is not None and not self.closed:
            self.transport.close()

    def start_stream(self, content_type: str) -> None:
        """Send a close-delimited response head; the body follows through :meth:`write`."""
        self._streaming = True
        self._input = bytearray()
        self._heads.clear()
        self._resume_reading()  # a viewer's socket must be read to notice it closing
        head = (
            "HTTP/1.1 200 OK\r\n"
            f"Content-Type: {content_type}\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
        )
        self.write(head.encode("latin-1"))

    # ---- request processing ----

    def _process(self) -> None:
        # At most MAX_PIPELINE turns: data_received never lets more heads queue up.
        while self._heads and not (
            self._busy or self._write_paused or self._streaming or self._done
        ):
            end = self._heads.popleft()
            head = bytes(self._input[self._start : end])
            self._start = end + 4
            try:
                request = parse_head(head, self.ip)
            except BadRequest as exc:
                self._finish(Reply(400, f"{exc}\n".encode()), keep_alive=False)
                return
            if not self._answer(request):
                return

    def _answer(self, request: HttpRequest) -> bool:
        """Hand ``request`` to the handler; True if it was answered at once (the next
        request may follow), False if the handler took over or its answer is awaited."""
        try:
            outcome = self._handler(request, self)
        except Exception:
            log.exception("delivery handler failed")
            outcome = Reply(500, b"internal error\n")
        if outcome is None:
            return False  # the handler took over the connection (streaming)
        if isinstance(outcome, Reply):
            self._finish(outcome, request.keep_alive, request.method == "HEAD")
            return not self._done
        if isinstance(outcome, Written):  # sent already, without a task
            if not (outcome.keep_alive and request.keep_alive):
                self.close()
                return False
            return True
        self._busy = True
        task: asyncio.Future[Reply | Written | None] = asyncio.ensure_future(outcome)
        task.add_done_callback(functools.partial(self._resumed, request=request))
        return False

    def _resumed(self, task: asyncio.Future[Reply | Written | None], request: HttpRequest) -> None:
        self._busy = False
        if self._done:
            return  # the client left or was cut meanwhile
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
        if reply is self._rendered_reply and keep_alive and not head_only:
            self.write(self._rendered)
            return
        rendered = render(reply, keep_alive, head_only)
        if keep_alive and not head_only and len(rendered) <= KEEP_RENDERED:
            # Not a segment: a player's playlist survives the segments fetched in between.
            self._rendered_reply, self._rendered = reply, rendered
        self.write(rendered)
        if not keep_alive:
            self.close()

    def _cut(self, why: str) -> None:
        """Drop an abusive client at once: no answer, nothing kept, nothing left to flush."""
        log.debug("data plane: cut %s: %s", self.ip, why)
        self._done = True
        self._input = bytearray()
        self._heads.clear()
        if self.transport is not None and not self.closed:
            self.transport.abort()

    def _pause_reading(self) -> None:
        if not self._reading_paused and self.transport is not None and not self._done:
            self._reading_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._reading_paused and self.transport is not None and not self._done:
            self._reading_paused = False
            self.transport.resume_reading()


async def serve(
    handler: Handler, host: str = "", port: int = 0, *, sock: socket.socket | None = None
) -> asyncio.Server:
    """Serve with a :class:`Connection` per client, on the listening ``sock`` if given, else
    on ``host:port`` (0 = any free port)."""
    loop = asyncio.get_running_loop()
    if sock is not None:
        _limit_receive_buffer(sock)
        return await loop.create_server(lambda: Connection(handler), sock=sock, backlog=4096)
    server = await loop.create_server(
        lambda: Connection(handler), host, port, reuse_address=True, backlog=4096
    )
    for listening in server.sockets:
        _limit_receive_buffer(listening)
    return server


def _limit_receive_buffer(sock: socket.socket) -> None:
    # Clients only ever send request heads here, so a small kernel receive buffer (accepted
    # sockets inherit it) costs players nothing and stops a flooder from parking megabytes
    # in the kernel for us before we can read and cut it. Video goes the other way.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
