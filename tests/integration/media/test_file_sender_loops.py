"""sendfile through the data plane's Connection on both event loops (`serve` runs uvloop,
which has no loop.sendfile): bytes exact, keep-alive after, a reader leaving mid-file
stops the send and leaks no descriptor."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest
import uvloop

from palinsesto.node.dataplane import Connection, HttpRequest, Written, serve
from palinsesto.node.file_sender import SendAborted, send_file

SIZE = 24 * 1024 * 1024 + 12_345


def _handler(path: Path, done: list[int]):  # noqa: ANN202
    def handle(request: HttpRequest, conn: Connection):  # noqa: ANN202
        async def send() -> Written:
            fd = os.open(path, os.O_RDONLY)
            try:
                start = int(request.query.get("start", "0"))
                count = SIZE - start
                head = f"HTTP/1.1 200 OK\r\nContent-Length: {count}\r\n\r\n".encode()
                task = asyncio.current_task()
                conn.on_lost = task.cancel  # type: ignore[union-attr]
                try:
                    sock = conn.transport.get_extra_info("socket")  # type: ignore[union-attr]
                    done.append(await send_file(sock.fileno(), fd, start, count, head=head))
                except SendAborted:  # the reset reached sendfile first
                    done.append(-1)
                    return Written(keep_alive=False)
                except asyncio.CancelledError:  # connection_lost came first
                    done.append(-1)
                    raise
                finally:
                    conn.on_lost = None
                return Written()
            finally:
                os.close(fd)

        return send()

    return handle


async def _read_response(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    return await reader.readexactly(length)


async def _scenario(path: Path) -> tuple[list[str], list[int], int, int]:
    done: list[int] = []
    fds_before = len(os.listdir("/proc/self/fd"))
    server = await serve(_handler(path, done), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    digests = []
    for start in (0, 1_000_001):  # two responses on one keep-alive connection
        writer.write(f"GET /f?start={start} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        digests.append(hashlib.sha256(await _read_response(reader)).hexdigest())
    writer.close()
    # A reader that takes 1 MB and leaves: the send is cancelled, not finished.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /f HTTP/1.1\r\nHost: x\r\n\r\n")
    await reader.readexactly(1_000_000)
    writer.transport.abort()
    for _ in range(200):
        if len(done) == 3:
            break
        await asyncio.sleep(0.02)
    server.close()
    await server.wait_closed()
    await asyncio.sleep(0.1)
    return digests, done, fds_before, len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop])
def test_sendfile_on_stdlib_asyncio_and_uvloop(tmp_path: Path, loop_factory: object) -> None:
    path = tmp_path / "big.bin"
    data = os.urandom(SIZE)
    path.write_bytes(data)
    loop = loop_factory()  # type: ignore[operator]
    try:
        digests, done, fds_before, fds_after = loop.run_until_complete(_scenario(path))
    finally:
        loop.close()
    assert digests == [
        hashlib.sha256(data).hexdigest(),
        hashlib.sha256(data[1_000_001:]).hexdigest(),
    ]
    assert done[:2] == [SIZE, SIZE - 1_000_001]
    assert done[2] == -1  # the third send was cut short by the reader leaving
    assert fds_after <= fds_before + 1  # the loop's own selector at most
