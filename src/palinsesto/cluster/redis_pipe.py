"""One lean Redis connection for admission's hot call: ``EVALSHA`` over a bare asyncio
protocol.

redis-py costs the calling process 85–130 µs of CPU per call here (its pool, retry and
timeout machinery, command packing and reply parsing in Python), several times a round trip
itself: a ``PING`` written to a bare asyncio protocol costs 11–13 µs. A session-slot
reservation batch is one call per event-loop turn of admissions, so that overhead was the
largest single part of an admission. This connection does only what that call needs:
connect (``AUTH``, ``SELECT``), send ``EVALSHA`` (``SCRIPT LOAD`` and once more on
``NOSCRIPT``), read replies in order, time out.

Errors, as :class:`~palinsesto.cluster.redis_client.RedisCalls` maps them: Redis out of
reach, a timeout, or a reply saying it cannot serve (``LOADING``, ``READONLY``, ``BUSY``,
``MASTERDOWN``) raise ``unavailable``; nothing is retried (a script whose reply was lost
may have run). A timeout or a lost connection fails every call in flight and closes the
connection (a later reply could not be matched to its call); the next call reconnects.
Only ``redis://`` and ``rediss://`` URLs with a host are handled (:func:`endpoint`):
others (a Unix socket, options in the query) keep redis-py.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from palinsesto.config import mask_url_password

_CANNOT_SERVE = (b"LOADING", b"READONLY", b"BUSY", b"MASTERDOWN")
INCOMPLETE = object()  # the buffer does not hold a whole reply yet


class RedisReplyError(RuntimeError):
    """Redis answered a call with an error (a script's bug: not an outage)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    username: str | None
    password: str | None
    db: int
    tls: bool


def endpoint(url: str) -> Endpoint | None:
    """Where ``url`` points, or None when this module does not handle its form."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname or parts.query:
        return None
    path = parts.path.strip("/")
    if path and not path.isdigit():
        return None
    try:
        port = parts.port or 6379
    except ValueError:
        return None
    return Endpoint(
        parts.hostname,
        port,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password is not None else None,
        int(path or 0),
        parts.scheme == "rediss",
    )


def encode(args: Sequence[str | bytes]) -> bytes:
    """A command in RESP: an array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else arg.encode()
        out.append(b"$%d\r\n" % len(data))
        out.append(data)
        out.append(b"\r\n")
    return b"".join(out)


def parse(buffer: bytes | bytearray, start: int) -> tuple[Any, int]:
    """One reply from ``buffer[start:]`` and where the next starts, or ``(INCOMPLETE,
    start)``. An error reply is returned as a :class:`RedisReplyError` (not raised)."""
    end = buffer.find(b"\r\n", start)
    if end < 0:
        return INCOMPLETE, start
    kind, line = buffer[start : start + 1], bytes(buffer[start + 1 : end])
    after = end + 2
    if kind == b"+":
        return line, after
    if kind == b"-":
        return RedisReplyError(line.decode(errors="replace")), after
    if kind == b":":
        return int(line), after
    if kind == b"$":
        size = int(line)
        if size < 0:
            return None, after
        if len(buffer) < after + size + 2:
            return INCOMPLETE, start
        return bytes(buffer[after : after + size]), after + size + 2
    if kind == b"*":
        count = int(line)
        if count < 0:
            return None, after
        items = []
        for _ in range(count):
            item, after = parse(buffer, after)
            if item is INCOMPLETE:
                return INCOMPLETE, start
            items.append(item)
        return items, after
    raise ValueError(f"not a RESP reply: {bytes(buffer[start : start + 20])!r}")


class _Connection(asyncio.Protocol):
    """Replies matched to calls in the order the calls were written."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.buffer = bytearray()
        self.lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        start = 0
        try:
            while start < len(buffer) and self.waiting:
                reply, start = parse(buffer, start)
                if reply is INCOMPLETE:
                    break
                future = self.waiting.popleft()
                if not future.done():  # else its caller gave up (cancelled)
                    future.set_result(reply)
        except ValueError as exc:  # a stream we cannot follow: give up on this connection
            self.fail(ConnectionError(str(exc)))
            return
        del buffer[:start]

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(exc or ConnectionError("connection closed by Redis"))

    def fail(self, exc: Exception) -> None:
        if self.lost is None:
            self.lost = exc
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(self.lost)
        if self.transport is not None:
            self.transport.close()


class RedisPipe:
    """One connection, calls pipelined on it; see the module doc."""

    def __init__(
        self,
        where: Endpoint,
        what: str,
        url: str,
        unavailable: Callable[[str], Exception],
        *,
        timeout: float = 1.0,
    ) -> None:
        self._endpoint = where
        self._where = f"{what} (Redis at {mask_url_password(url)})"
        self._unavailable = unavailable
        self._timeout = timeout
        self._conn: _Connection | None = None
        self._connecting: asyncio.Lock | None = None
        self._shas: dict[str, str] = {}

    @classmethod
    def for_url(
        cls, url: str, what: str, unavailable: Callable[[str], Exception], *, timeout: float = 1.0
    ) -> RedisPipe | None:
        """A pipe to ``url``, or None when :func:`endpoint` does not handle its form."""
        where = endpoint(url)
        return None if where is None else cls(where, what, url, unavailable, timeout=timeout)

    async def evalsha(self, script: str, args: Sequence[str | bytes]) -> Any:
        """Run ``script`` (no keys) with ``args``: by its SHA1, loaded first if Redis does
        not know it (a restart, a ``SCRIPT FLUSH``)."""
        sha = self._shas.get(script)
        if sha is None:
            sha = self._shas[script] = hashlib.sha1(script.encode()).hexdigest()
        reply = await self.call(("EVALSHA", sha, "0", *args), raise_errors=False)
        if isinstance(reply, RedisReplyError) and str(reply).startswith("NOSCRIPT"):
            await self.call(("SCRIPT", "LOAD", script))
            reply = await self.call(("EVALSHA", sha, "0", *args), raise_errors=False)
        if isinstance(reply, RedisReplyError):
            self._raise(reply)
        return reply

    async def call(self, args: Sequence[str | bytes], *, raise_errors: bool = True) -> Any:
        """One command's reply; raises ``unavailable`` as the module doc says."""
        conn = self._conn
        if conn is None or conn.lost is not None:
            conn = await self._connect()
        reply = await self._send(conn, encode(args))
        if raise_errors and isinstance(reply, RedisReplyError):
            self._raise(reply)
        return reply

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.fail(ConnectionError("closed"))

    # ---- plumbing ----

    def _raise(self, error: RedisReplyError) -> None:
        if str(error).encode().startswith(_CANNOT_SERVE):
            raise self._unavailable(f"{self._where} cannot serve: {error}")
        raise error

    async def _send(self, conn: _Connection, command: bytes) -> Any:
        if conn.lost is not None or conn.transport is None:
            raise self._unavailable(f"{self._where} unreachable: {conn.lost}")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        conn.waiting.append(future)
        conn.transport.write(command)
        timer = loop.call_later(self._timeout, self._timed_out, conn, future)
        try:
            return await future
        except (OSError, ConnectionError, TimeoutError) as exc:
            raise self._unavailable(f"{self._where} unreachable: {exc}") from exc
        finally:
            timer.cancel()

    def _timed_out(self, conn: _Connection, future: asyncio.Future[Any]) -> None:
        if not future.done():
            conn.fail(TimeoutError(f"no reply within {self._timeout} s"))
            if self._conn is conn:
                self._conn = None

    async def _connect(self) -> _Connection:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            conn = self._conn
            if conn is not None and conn.lost is None:
                return conn  # another caller connected meanwhile
            where = self._endpoint
            try:
                async with asyncio.timeout(self._timeout):
                    _, conn = await asyncio.get_running_loop().create_connection(
                        _Connection,
                        where.host,
                        where.port,
                        ssl=ssl.create_default_context() if where.tls else None,
                    )
            except (OSError, TimeoutError) as exc:
                raise self._unavailable(f"{self._where} unreachable: {exc}") from exc
            setup: list[tuple[str, ...]] = []
            if where.password is not None:
                auth = ("AUTH", where.username) if where.username else ("AUTH",)
                setup.append((*auth, where.password))
            if where.db:
                setup.append(("SELECT", str(where.db)))
            for command in setup:
                reply = await self._send(conn, encode(command))
                if isinstance(reply, RedisReplyError):
                    conn.fail(ConnectionError(str(reply)))
                    raise self._unavailable(f"{self._where} refused {command[0]}: {reply}")
            self._conn = conn
            return conn
