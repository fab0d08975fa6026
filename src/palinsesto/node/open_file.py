"""A VOD file held open across one connection's range requests.

A player (or a benchmark's reader) asks one keep-alive connection for range after range
of the same file. Resolving its path (``realpath`` walks every component), opening it,
reading its validators and formatting the date cost more CPU than the ``sendfile`` of a
2 MiB range; so a connection opens a file once, and each later request only checks with
one ``stat(2)`` that the path still names that very file (same device, inode, size and
modification time). A file replaced, truncated or moved away is opened again from the
start (and its path resolved again by the caller).
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from email.utils import formatdate

from palinsesto.node.dataplane import REASONS
from palinsesto.node.http_range import ByteSpan

Identity = tuple[int, int, int, int]


def _identity(st: os.stat_result) -> Identity:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def file_validators(st: os.stat_result) -> tuple[str, str]:
    """(ETag, Last-Modified) of a file, for ``If-Range`` (RFC 9110 §8.8)."""
    return f'"{st.st_size:x}-{st.st_mtime_ns:x}"', formatdate(st.st_mtime, usegmt=True)


@dataclass(slots=True, eq=False)
class OpenFile:
    """An open regular file, what it was opened for (``key``) and its response headers."""

    key: object
    path: str
    fd: int
    identity: Identity
    validators: tuple[str, str]
    headers: str  # the header lines that do not depend on the range, CRLF-terminated

    @property
    def size(self) -> int:
        return self.identity[2]

    def current(self) -> bool:
        """Whether the path still names this file, unchanged."""
        try:
            return _identity(os.stat(self.path)) == self.identity
        except OSError:
            return False

    def response_head(self, span: ByteSpan, keep_alive: bool) -> bytes:
        """Status line and headers of a 200 or 206 response for ``span`` of this file."""
        status = 206 if span.partial else 200
        ranged = f"Content-Range: {span.content_range()}\r\n" if span.partial else ""
        return (
            f"HTTP/1.1 {status} {REASONS[status]}\r\n{self.headers}"
            f"Content-Length: {span.length}\r\n{ranged}"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
        ).encode("latin-1")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def open_file(key: object, path: str, content_type: str) -> OpenFile | None:
    """``path`` opened for reading (symlinks refused at the last component), or None when
    it cannot be opened or is not a regular file. Raises nothing for a missing file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        return None
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        return None
    validators = file_validators(st)
    headers = (
        f"Content-Type: {content_type}\r\n"
        "Accept-Ranges: bytes\r\n"
        f"ETag: {validators[0]}\r\n"
        f"Last-Modified: {validators[1]}\r\n"
        "Access-Control-Allow-Origin: *\r\n"
    )
    return OpenFile(key, path, fd, _identity(st), validators, headers)
