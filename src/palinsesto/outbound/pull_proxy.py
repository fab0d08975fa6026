"""The forward proxy every HTTP(S) connection of a channel's ffmpeg goes through.

ffmpeg follows an HLS playlist to segment and variant URLs, and redirects, on its own;
checking only the channel's URL would let a playlist send it anywhere. Given
``-http_proxy`` (media/ffmpeg.py), ffmpeg asks this proxy for every plain-HTTP request
(absolute-form ``GET http://host/path``) and tunnels every HTTPS one (``CONNECT host:443``).
Each target is resolved once, checked against the outbound policy, and connected to at the
checked address; a refused target gets ``403`` and no connection is made, so ffmpeg learns
nothing about it either.

One request per connection: the upstream is asked with ``Connection: close`` and the client
is closed after the answer, so a second request on the same connection can never reach the
first request's host unchecked. Listens on loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlsplit

from palinsesto.outbound.policy import REFUSED, OutboundPolicy, OutboundRefused

log = logging.getLogger(__name__)

MAX_HEAD = 32 * 1024
PIECE = 64 * 1024
# Hop-by-hop headers (RFC 9110 §7.6.1) are the proxy's to set, not the client's or origin's.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "proxy-authenticate",
        "te",
        "trailer",
        "upgrade",
    }
)


class _Reject(Exception):
    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def split_head(head: bytes) -> tuple[str, list[tuple[str, str]]]:
    """The first line and the header fields of an HTTP message head (sans-I/O)."""
    lines = head.decode("latin-1").split("\r\n")
    fields = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep and name and name == name.strip():
            fields.append((name, value.strip()))
    return lines[0], fields


def join_head(first: str, fields: list[tuple[str, str]]) -> bytes:
    text = first + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields) + "\r\n"
    return text.encode("latin-1")


def without_hop_headers(fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in fields if k.lower() not in HOP_BY_HOP]


def connect_target(target: str) -> tuple[str, int]:
    """Host and port of a ``CONNECT`` target (``host:port`` or ``[v6]:port``)."""
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise _Reject("400 Bad Request", "CONNECT needs host:port")
    return host.strip("[]"), int(port)


class PullProxy:
    """Start it on the engine's loop; hand :attr:`url` to ffmpeg as ``-http_proxy``."""

    def __init__(self, policy: OutboundPolicy, *, timeout: float = 10.0) -> None:
        self.policy = policy
        self.timeout = timeout
        self.refused = 0  # connections refused by policy, for tests and the logs
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        if self._server is None:
            return ""
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)
        self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.timeout)
            first, fields = split_head(head)
            method, _, rest = first.partition(" ")
            target = rest.rpartition(" ")[0]
            if method == "CONNECT":
                host, port = connect_target(target)
                up_reader, upstream = await self._open(host, port)
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
                await self._tunnel(reader, writer, up_reader, upstream)
            elif method in ("GET", "HEAD"):
                up_reader, upstream = await self._forward(method, target, fields)
                await self._relay_answer(up_reader, writer)
            else:
                raise _Reject("405 Method Not Allowed", "only GET, HEAD and CONNECT")
        except _Reject as reject:
            body = reject.reason.encode()
            first = f"HTTP/1.1 {reject.status}"
            fields = [("Content-Length", str(len(body))), ("Connection", "close")]
            with contextlib.suppress(ConnectionError):
                writer.write(join_head(first, fields) + body)
                await writer.drain()
        except (
            TimeoutError,
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ):
            pass
        finally:
            self._writers.discard(writer)
            for w in (writer, upstream):
                if w is not None:
                    w.close()

    async def _open(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to a checked address of ``host``; :class:`_Reject` otherwise."""
        loop = asyncio.get_running_loop()
        try:
            addresses = await loop.run_in_executor(None, self.policy.addresses, host, port)
        except OutboundRefused:
            self.refused += 1
            log.info("outbound: refused a pull connection to %s:%d", host, port)
            raise _Reject("403 Forbidden", REFUSED) from None
        for address in addresses:
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(str(address), port), self.timeout
                )
            except (OSError, TimeoutError):
                continue
        raise _Reject("502 Bad Gateway", "cannot connect to the source")

    async def _forward(
        self, method: str, target: str, fields: list[tuple[str, str]]
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            parts = urlsplit(target)
            port = parts.port or 80
        except ValueError:
            raise _Reject("400 Bad Request", "not a valid URL") from None
        if parts.scheme != "http" or not parts.hostname:
            raise _Reject("400 Bad Request", "a proxy request needs an absolute http:// URL")
        reader, upstream = await self._open(parts.hostname, port)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        sent = [*without_hop_headers(fields), ("Connection", "close")]
        upstream.write(join_head(f"{method} {path} HTTP/1.1", sent))
        await upstream.drain()
        return reader, upstream

    async def _relay_answer(
        self, up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        head = await asyncio.wait_for(up_reader.readuntil(b"\r\n\r\n"), self.timeout)
        first, fields = split_head(head)
        writer.write(join_head(first, [*without_hop_headers(fields), ("Connection", "close")]))
        await _copy(up_reader, writer)

    async def _tunnel(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        upstream: asyncio.StreamWriter,
    ) -> None:
        ups = asyncio.ensure_future(_copy(reader, upstream))
        downs = asyncio.ensure_future(_copy(up_reader, writer))
        try:
            await asyncio.wait({ups, downs}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ups.cancel()
            downs.cancel()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(PIECE):
            writer.write(data)
            await writer.drain()
