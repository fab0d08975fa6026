"""The data plane on both event loops: `serve` runs uvloop, tests mostly the stdlib loop.

Also what a connection keeps between requests (the last head's parse, the last small
reply's rendering) never answers a request with another's answer."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from palinsesto.node.dataplane import KEEP_RENDERED, Connection, HttpRequest, Reply, serve


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


async def _answer(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
) -> tuple[bytes, bytes]:
    writer.write(head)
    got = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = int(got.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    body = b"" if head.startswith(b"HEAD") else await reader.readexactly(length)
    return got, body


async def _kept_between_requests() -> None:
    calls: list[str] = []
    playlist = Reply(200, b"#EXTM3U v1\n", "application/vnd.apple.mpegurl")
    big = b"G" * (KEEP_RENDERED + 1)

    def handler(request: HttpRequest, conn: Connection) -> Reply:
        calls.append(f"{request.method} {request.path} {request.headers.get('x-n', '')}")
        if request.path == "/list":
            return playlist
        if request.path == "/count":
            return Reply(200, str(len(calls)).encode())
        return Reply(200, big)

    server = await serve(handler, "127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", server.sockets[0].getsockname()[1]
        )
        again = b"GET /count HTTP/1.1\r\nHost: x\r\n\r\n"
        # The same bytes again: the handler decides each time, never a kept answer.
        assert [(await _answer(reader, writer, again))[1] for _ in range(3)] == [b"1", b"2", b"3"]
        heads = [b"GET /list HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n"]
        first = await _answer(reader, writer, heads[0])
        assert first[1] == b"#EXTM3U v1\n"
        assert (await _answer(reader, writer, heads[1]))[1] == big  # a segment between
        assert await _answer(reader, writer, heads[0]) == first
        # A new reply object (the playlist changed) is rendered anew.
        playlist = Reply(200, b"#EXTM3U v2\n", "application/vnd.apple.mpegurl")
        assert (await _answer(reader, writer, heads[0]))[1] == b"#EXTM3U v2\n"
        # HEAD of the kept reply: its head alone; another header: parsed anew.
        head_only, body = await _answer(reader, writer, b"HEAD /list HTTP/1.1\r\nHost: x\r\n\r\n")
        assert body == b"" and b"Content-Length: 11" in head_only
        await _answer(reader, writer, b"GET /list HTTP/1.1\r\nHost: x\r\nX-N: 7\r\n\r\n")
        assert calls[-2:] == ["HEAD /list ", "GET /list 7"]
        # The kept reply asked with Connection: close is answered, then the socket closes.
        closing, _ = await _answer(
            reader, writer, b"GET /list HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert b"Connection: close" in closing
        assert await asyncio.wait_for(reader.read(1), 5) == b""
        writer.close()
    finally:
        server.close()


@pytest.mark.parametrize("loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop])
def test_what_a_connection_keeps_never_answers_for_another_request(loop_factory: object) -> None:
    loop = loop_factory()  # type: ignore[operator]
    try:
        loop.run_until_complete(_kept_between_requests())
    finally:
        loop.close()
