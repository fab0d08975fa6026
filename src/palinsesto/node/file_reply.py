"""A file as an HTTP response on the data plane: ``HEAD``, one ``Range`` at a time (206,
seeking anywhere in files of any size), 416 past the end, keep-alive between requests, and
the body sent by the kernel (node/file_sender.py).

Shared by the all-in-one's ``/movie`` and ``/series`` (panel/local_node/vod_delivery.py)
and by a node's token-opened VOD plays (node/vod_delivery.py): each decides who may play,
this sends the bytes. Nothing in a refusal names a path on the node's disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

from palinsesto.node.dataplane import REASONS, Connection, HttpRequest, Reply, Written
from palinsesto.node.file_sender import SendAborted, Shrunk, send_file
from palinsesto.node.http_range import ByteSpan, RangeNotSatisfiable, plan_range

log = logging.getLogger(__name__)

CORS = (("Access-Control-Allow-Origin", "*"),)
NOT_FOUND = Reply(404, b"STREAM_NOT_FOUND\n", headers=CORS)


def file_validators(st: os.stat_result) -> tuple[str, str]:
    """(ETag, Last-Modified) of a file, for ``If-Range`` (RFC 9110 §8.8)."""
    return f'"{st.st_size:x}-{st.st_mtime_ns:x}"', formatdate(st.st_mtime, usegmt=True)


def response_head(
    span: ByteSpan,
    content_type: str,
    validators: tuple[str, str],
    keep_alive: bool,
) -> bytes:
    """Status line and headers of a file response (200 or 206)."""
    status = 206 if span.partial else 200
    lines = [
        f"HTTP/1.1 {status} {REASONS[status]}",
        f"Content-Type: {content_type}",
        f"Content-Length: {span.length}",
        "Accept-Ranges: bytes",
        f"ETag: {validators[0]}",
        f"Last-Modified: {validators[1]}",
        "Access-Control-Allow-Origin: *",
        "Connection: keep-alive" if keep_alive else "Connection: close",
    ]
    if span.partial:
        lines.append(f"Content-Range: {span.content_range()}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass(frozen=True, slots=True)
class FileSpan:
    """An open file and what of it to send; :func:`open_span`'s caller closes ``fd``."""

    fd: int
    span: ByteSpan
    head: bytes


def open_span(path: Path, content_type: str, request: HttpRequest, label: str) -> FileSpan | Reply:
    """Open ``path`` and plan the response to ``request``: the span, or 404 / 416."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as exc:
        log.warning("%s: file cannot be opened: %s", label, exc)
        return NOT_FOUND
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            return NOT_FOUND
        validators = file_validators(st)
        headers = request.headers
        span = plan_range(
            headers.get("range"),
            st.st_size,
            if_range=headers.get("if-range"),
            etag=validators[0],
            last_modified=validators[1],
        )
    except RangeNotSatisfiable:
        os.close(fd)
        return Reply(416, b"", headers=(("Content-Range", f"bytes */{st.st_size}"), *CORS))
    except BaseException:
        os.close(fd)
        raise
    return FileSpan(fd, span, response_head(span, content_type, validators, request.keep_alive))


def close_span(found: FileSpan) -> None:
    with contextlib.suppress(OSError):
        os.close(found.fd)


async def send_span(
    found: FileSpan,
    request: HttpRequest,
    conn: Connection,
    counted: Callable[[int], None],
    label: str,
) -> Written | None:
    """Send the head and the span on ``conn`` (``counted`` hears of every burst); the peer
    leaving stops the send at once."""
    task = asyncio.current_task()

    def lost() -> None:  # the peer left: stop sending at once
        if task is not None:
            task.cancel()

    conn.on_lost = lost
    try:
        if conn.closed or conn.transport is None:
            return None
        for _ in range(1000):  # an earlier reply still queued (rare): after it
            if not conn.buffered():
                break
            await asyncio.sleep(0.002)
        else:
            return Written(keep_alive=False)  # the peer reads nothing: give up
        sock = conn.transport.get_extra_info("socket")
        span = found.span
        await send_file(sock.fileno(), found.fd, span.start, span.length, counted, found.head)
    except (SendAborted, Shrunk) as exc:
        log.info("%s: send ended early: %s", label, exc)
        conn.close()
        return Written(keep_alive=False)
    finally:
        conn.on_lost = None
    return Written(request.keep_alive)
