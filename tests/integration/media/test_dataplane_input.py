"""What the data plane does with what clients send: split heads, pipelining and its limits,
oversized heads, input piled behind a pending answer, and clients that do not read.

Over real sockets, on the stdlib loop and on uvloop (which `serve` runs).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import uvloop

from palinsesto.node.dataplane import (
    MAX_HEAD,
    MAX_PENDING_INPUT,
    MAX_PIPELINE,
    Connection,
    HttpRequest,
    Outcome,
    Reply,
    serve,
)

BIG = b"x" * (1 << 20)


def _handler(
    release: asyncio.Event, seen: list[Connection]
) -> Callable[[HttpRequest, Connection], Outcome]:
    async def later(path: str) -> Reply:
        await release.wait()
        return Reply(200, path.encode())

    def handle(request: HttpRequest, conn: Connection) -> Outcome:
        seen.append(conn)
        if request.path == "/wait":
            return later(request.path)
        if request.path == "/big":
            return Reply(200, BIG)
        return Reply(200, request.path.encode())

    return handle


@asynccontextmanager
async def _server() -> AsyncIterator[tuple[int, asyncio.Event, list[Connection]]]:
    release = asyncio.Event()
    seen: list[Connection] = []
    server = await serve(_handler(release, seen), "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], release, seen
    finally:
        release.set()
        server.close()


async def _answers(reader: asyncio.StreamReader, count: int) -> list[tuple[int, bytes]]:
    out = []
    for _ in range(count):
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        out.append((int(head.split()[1]), await asyncio.wait_for(reader.readexactly(length), 30)))
    return out


async def _is_cut(reader: asyncio.StreamReader) -> bool:
    """The server dropped the connection without answering anything."""
    try:
        return await asyncio.wait_for(reader.read(1), 10) == b""
    except ConnectionResetError:
        return True


async def _split_heads_and_pipelining() -> None:
    async with _server() as (port, _, _seen):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # One byte per write, the blank line split across writes: still one request.
        for byte in b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n":
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0)
        assert await _answers(reader, 1) == [(200, b"/one")]
        # As many pipelined requests as allowed, in one write: all answered, in order.
        paths = [f"/p{i}" for i in range(MAX_PIPELINE)]
        writer.write(b"".join(f"GET {p} HTTP/1.1\r\n\r\n".encode() for p in paths))
        assert await _answers(reader, MAX_PIPELINE) == [(200, p.encode()) for p in paths]
        writer.close()
        # One more than allowed: cut, nothing answered.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /x HTTP/1.1\r\n\r\n" * (MAX_PIPELINE + 1))
        assert await _is_cut(reader)
        writer.close()


async def _oversized_heads() -> None:
    async with _server() as (port, _, _seen):
        long_header = b"X-Pad: " + b"a" * MAX_HEAD + b"\r\n"
        for request in (
            b"GET / HTTP/1.1\r\n" + long_header + b"\r\n",  # complete, too long
            b"GET / HTTP/1.1\r\n" + long_header,  # not even finished
        ):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            line = await asyncio.wait_for(reader.readline(), 10)
            assert line.startswith(b"HTTP/1.1 431"), line
            writer.close()


async def _input_behind_a_pending_answer() -> None:
    async with _server() as (port, release, _seen):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /wait HTTP/1.1\r\n\r\n")
        # A few requests behind it are fine and answered once it is.
        writer.write(b"GET /after HTTP/1.1\r\n\r\n" * 3)
        await asyncio.sleep(0.1)
        release.set()
        assert await _answers(reader, 4) == [(200, b"/wait")] + [(200, b"/after")] * 3
        writer.close()
        release.clear()
        # Megabytes behind a pending request: cut as soon as the limit is passed.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /wait HTTP/1.1\r\n\r\n" + b"Z" * (MAX_PENDING_INPUT * 16))
        assert await _is_cut(reader)
        writer.close()


async def _client_that_does_not_read() -> None:
    async with _server() as (port, _, seen):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /big HTTP/1.1\r\n\r\n" * MAX_PIPELINE)
        await asyncio.sleep(0.5)
        # The server stopped answering once its write buffer was full: it holds about one
        # answer, not the 16 MiB asked for...
        assert seen and seen[0].buffered() <= 2 * len(BIG), seen[0].buffered()
        answers = await _answers(reader, MAX_PIPELINE)  # ...and goes on when we read
        assert answers == [(200, BIG)] * MAX_PIPELINE
        # The connection is still usable afterwards.
        writer.write(b"GET /again HTTP/1.1\r\n\r\n")
        assert await _answers(reader, 1) == [(200, b"/again")]
        writer.close()


LOOPS = pytest.mark.parametrize("loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop])


def _run(loop_factory: Callable[[], asyncio.AbstractEventLoop], case: Awaitable[None]) -> None:
    loop = loop_factory()
    try:
        loop.run_until_complete(case)
    finally:
        loop.close()


@LOOPS
def test_split_heads_and_pipelining_up_to_the_limit(loop_factory: object) -> None:
    _run(loop_factory, _split_heads_and_pipelining())  # type: ignore[arg-type]


@LOOPS
def test_oversized_heads_get_431(loop_factory: object) -> None:
    _run(loop_factory, _oversized_heads())  # type: ignore[arg-type]


@LOOPS
def test_input_piled_behind_a_pending_answer_is_bounded(loop_factory: object) -> None:
    _run(loop_factory, _input_behind_a_pending_answer())  # type: ignore[arg-type]


@LOOPS
def test_a_client_that_does_not_read_is_paused_not_buffered(loop_factory: object) -> None:
    _run(loop_factory, _client_that_does_not_read())  # type: ignore[arg-type]
