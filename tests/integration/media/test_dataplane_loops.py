"""The data plane on both event loops: `serve` runs uvloop, tests mostly the stdlib loop."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from palinsesto.node.dataplane import Connection, HttpRequest, Reply, serve


async def _get_twice(port: int) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = []
    for _ in range(2):  # keep-alive: two requests on one connection
        writer.write(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        lines.append(await asyncio.wait_for(reader.readline(), 5))
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(5)
    writer.close()
    return lines


async def _round_trip() -> list[bytes]:
    def handler(request: HttpRequest, conn: Connection) -> Reply:
        return Reply(200, b"pong\n")

    server = await serve(handler, "127.0.0.1", 0)
    try:
        return await _get_twice(server.sockets[0].getsockname()[1])
    finally:
        server.close()


@pytest.mark.parametrize("loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop])
def test_requests_are_answered_on_stdlib_asyncio_and_uvloop(loop_factory: object) -> None:
    loop = loop_factory()  # type: ignore[operator]
    try:
        lines = loop.run_until_complete(_round_trip())
    finally:
        loop.close()
    assert lines == [b"HTTP/1.1 200 OK\r\n"] * 2
