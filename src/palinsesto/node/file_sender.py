"""Send part of a file to a data-plane socket with ``sendfile(2)``: the kernel copies the
bytes from the page cache to the socket, and Python only counts them.

``loop.sendfile`` would do this on the standard event loop, but uvloop (what ``serve``
runs) has none, and the data plane must behave the same on both. So the sender works on
its own duplicate of the socket's descriptor: the transport's buffer is empty when the
body starts (the response head went out through it), ``os.sendfile`` writes from the
file, and between bursts the sender waits for the socket to be writable through
``loop.add_writer`` on the duplicate (uvloop refuses readers/writers on a descriptor its
transport owns; the duplicate is a different descriptor for the same socket). The
duplicate keeps the socket open, so it is closed as soon as the send ends or the
connection is lost, never later.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
from collections.abc import Callable

# Bytes one os.sendfile call may take on; the kernel sends what fits in the socket buffer.
CALL_BYTES = 8 << 20
# After this many bytes in a row the sender yields to the event loop, so one fast
# reader on loopback cannot starve every other connection.
BURST_BYTES = 4 << 20


class SendAborted(Exception):
    """The peer went away (reset, broken pipe) before the range was sent."""


class Shrunk(Exception):
    """The file ended before the range did (it was truncated while being served)."""


class _Writable:
    """Wakes the sender when its descriptor can take more bytes.

    The writer stays registered for the whole send (registering per wait cost a poll
    handle and two epoll_ctl calls each time the socket filled). Readiness is
    level-triggered on both loops, so no wake-up is lost between a full socket and the
    wait; while the socket stays writable the callback only re-sets the event.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        self._loop, self._fd = loop, fd
        self._ready = asyncio.Event()
        loop.add_writer(fd, self._ready.set)

    async def wait(self) -> None:
        self._ready.clear()
        await self._ready.wait()

    def close(self) -> None:
        self._loop.remove_writer(self._fd)


async def _write_all(writable: _Writable, fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            await writable.wait()
        except OSError as exc:
            raise SendAborted(str(exc)) from None


def _sendfile(out: int, file_fd: int, offset: int, count: int) -> int:
    """One ``sendfile(2)`` call: bytes sent, -1 when the socket is full."""
    try:
        return os.sendfile(out, file_fd, offset, min(count, CALL_BYTES))
    except BlockingIOError:
        return -1
    except OSError as exc:
        if exc.errno in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.EBADF):
            raise SendAborted(str(exc)) from None
        raise


def send_now(
    sock: socket.socket, head: bytes, file_fd: int, offset: int, count: int
) -> tuple[int, int]:
    """Send what the socket takes right now, without waiting: ``head`` then up to
    ``count`` bytes of ``file_fd`` from ``offset``. Returns (head bytes, file bytes) sent;
    the caller finishes a short send with :func:`send_file`.

    Most range requests end here: one ``send`` and one ``sendfile`` call, no task, no
    poll registration. ``MSG_MORE`` holds the head until the file's first bytes join it
    in one segment (what nginx's ``tcp_nopush`` does with ``TCP_CORK``); the last
    ``sendfile`` segment pushes it all. ``sock`` is a non-blocking socket on its own
    descriptor (the transport must have nothing queued).
    """
    try:
        sent_head = sock.send(head, socket.MSG_MORE) if head else 0
    except BlockingIOError:
        return 0, 0
    except OSError as exc:
        raise SendAborted(str(exc)) from None
    if sent_head < len(head) or count == 0:
        return sent_head, 0
    n = _sendfile(sock.fileno(), file_fd, offset, count)
    if n == 0:
        raise Shrunk(f"file ended after 0 of {count} bytes")
    return sent_head, max(n, 0)


async def send_file(
    socket_fd: int,
    file_fd: int,
    offset: int,
    count: int,
    on_sent: Callable[[int], None] | None = None,
    head: bytes = b"",
) -> int:
    """Send ``head``, then ``count`` bytes of ``file_fd`` from ``offset``, to the
    non-blocking socket ``socket_fd`` (whose transport must have nothing queued); returns
    the file bytes sent. ``on_sent`` hears of every burst, so a viewer's byte count is
    right even when the send is cut short.

    The head is written here rather than through the transport: uvloop queues a
    transport's writes until the end of the loop iteration, so the body would have to
    wait for it.

    Raises :class:`SendAborted` when the peer resets the connection, :class:`Shrunk` when
    the file is shorter than the range; cancelling the task stops it at once.
    """
    out = os.dup(socket_fd)
    writable = _Writable(asyncio.get_running_loop(), out)
    sent = burst = 0
    try:
        if head:
            await _write_all(writable, out, head)
        while sent < count:
            n = _sendfile(out, file_fd, offset + sent, count - sent)
            if n == 0:
                raise Shrunk(f"file ended after {sent} of {count} bytes")
            if n > 0:
                sent += n
                burst += n
                if on_sent is not None:
                    on_sent(n)
            if n < 0:
                burst = 0
                await writable.wait()
            elif burst >= BURST_BYTES:
                burst = 0
                await asyncio.sleep(0)  # let the other connections have the loop
        return sent
    finally:
        writable.close()
        with contextlib.suppress(OSError):
            os.close(out)
