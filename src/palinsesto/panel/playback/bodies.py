"""Response bytes for the viewer surfaces: ETag / If-None-Match and gzip when asked.

A :class:`Body` is immutable bytes with their entity tag, computed once; its gzip form is
made once, on first request, and kept beside it. Surfaces cache ``Body`` objects, so a
popular catalogue costs one serialisation, one hash and one compression per change.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import zlib
from array import array
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping

from starlette.concurrency import iterate_in_threadpool
from starlette.responses import Response, StreamingResponse
from starlette.types import Send

from palinsesto.panel.playback.raw_http import send_bytes

GZIP_MIN_BYTES = 512  # below this, compression costs more than it saves
GZIP_LEVEL = 5


def entity_tag(*parts: bytes) -> str:
    digest = hashlib.blake2b(digest_size=12)
    for part in parts:
        digest.update(part)
    return f'"{digest.hexdigest()}"'


class Body:
    """Bytes ready to send, with their ETag and a lazily made gzip copy."""

    __slots__ = ("content", "etag", "_gzipped", "_lock")

    def __init__(self, content: bytes, etag: str | None = None) -> None:
        self.content = content
        self.etag = etag or entity_tag(content)
        self._gzipped: bytes | None = None
        self._lock = threading.Lock()

    def gzipped(self) -> bytes:
        if self._gzipped is None:
            with self._lock:
                if self._gzipped is None:
                    self._gzipped = gzip.compress(self.content, GZIP_LEVEL, mtime=0)
        return self._gzipped

    @property
    def nbytes(self) -> int:
        """What a cache should count for this body: the content and room for its gzip
        copy, made later on demand (JSON and playlists compress to well under a quarter)."""
        return len(self.content) * 5 // 4


EMPTY_ARRAY = Body(b"[]")


class JsonArray:
    """A JSON array serialised once, with where each element starts, so that any page of
    it (``offset``, ``limit``) is cut from the same bytes instead of being built and
    cached on its own."""

    __slots__ = ("body", "_starts")

    def __init__(self, elements: Iterable[bytes]) -> None:
        starts = array("Q")
        parts = [b"["]
        position = 1
        for element in elements:
            if len(starts):
                parts.append(b",")
                position += 1
            starts.append(position)
            parts.append(element)
            position += len(element)
        parts.append(b"]")
        # Where an element after the last would start: one past the closing "]".
        starts.append(position + 1)
        self.body = Body(b"".join(parts))
        self._starts = starts

    def __len__(self) -> int:
        return len(self._starts) - 1

    @property
    def nbytes(self) -> int:
        return self.body.nbytes + self._starts.itemsize * len(self._starts)

    def page(self, offset: int, limit: int | None) -> Body:
        """Elements ``offset`` to ``offset + limit`` (all the rest when ``limit`` is None)
        as a JSON array: the same bytes the whole list would hold for them."""
        count = len(self)
        first = min(max(offset, 0), count)
        last = count if limit is None else min(first + max(limit, 0), count)
        if first == 0 and last == count:
            return self.body
        if first >= last:
            return EMPTY_ARRAY
        # Element i spans starts[i] up to the comma (or "]") one byte before starts[i + 1].
        content = self.body.content
        return Body(b"[" + content[self._starts[first] : self._starts[last] - 1] + b"]")


def accepts_gzip(headers: Mapping[str, str]) -> bool:
    return "gzip" in headers.get("accept-encoding", "")


def not_modified(headers: Mapping[str, str], etag: str) -> bool:
    """RFC 9110 §13.1.2: If-None-Match with a weak comparison (or ``*``)."""
    wanted = headers.get("if-none-match")
    if not wanted:
        return False
    if wanted.strip() == "*":
        return True
    tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    return etag in tags


def send(
    request_headers: Mapping[str, str],
    body: Body,
    media_type: str,
    *,
    status_code: int = 200,
    extra_headers: Mapping[str, str] | None = None,
) -> Response:
    """The response for ``body``: 304 when the client has it, gzip when it asks."""
    headers = {"ETag": body.etag, "Vary": "Accept-Encoding"}
    if extra_headers:
        headers.update(extra_headers)
    if status_code == 200 and not_modified(request_headers, body.etag):
        return Response(status_code=304, headers=headers)
    content = body.content
    if len(content) >= GZIP_MIN_BYTES and accepts_gzip(request_headers):
        content = body.gzipped()
        headers["Content-Encoding"] = "gzip"
    return Response(content, status_code=status_code, media_type=media_type, headers=headers)


async def respond(
    send_fn: Send, request_headers: Mapping[str, str], body: Body, media_type: str
) -> None:
    """What :func:`send` answers with status 200, written straight to ASGI ``send_fn``
    (no Starlette ``Response``): for the account call's hot path."""
    tag = body.etag.encode("latin-1")
    if not_modified(request_headers, body.etag):
        await send_bytes(send_fn, 304, [(b"etag", tag), (b"vary", b"Accept-Encoding")], b"")
        return
    content = body.content
    headers = [(b"content-type", media_type.encode("latin-1"))]
    if len(content) >= GZIP_MIN_BYTES and accepts_gzip(request_headers):
        content = body.gzipped()
        headers.append((b"content-encoding", b"gzip"))
    headers += [
        (b"content-length", str(len(content)).encode("latin-1")),
        (b"etag", tag),
        (b"vary", b"Accept-Encoding"),
    ]
    await send_bytes(send_fn, 200, headers, content)


def gzip_stream(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Compress a chunk stream on the fly (one gzip member)."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    for chunk in chunks:
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()


async def _iterate_in_thread(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    # Each next() in a worker thread: for generators that touch the database or compress.
    async for chunk in iterate_in_threadpool(chunks):
        yield chunk


async def _iterate_inline(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    # Cheap generators (cached chunks with credentials spliced in) need no thread hop.
    for chunk in chunks:
        yield chunk


def stream(
    request_headers: Mapping[str, str],
    chunks: Iterator[bytes],
    media_type: str,
    *,
    etag: str | None = None,
    extra_headers: Mapping[str, str] | None = None,
    compress: bool = True,
    in_thread: bool = True,
) -> Response:
    """A streamed response: the body is never held whole in memory for this request."""
    headers: dict[str, str] = {"Vary": "Accept-Encoding"}
    if etag:
        headers["ETag"] = etag
        if not_modified(request_headers, etag):
            return Response(status_code=304, headers=headers)
    if extra_headers:
        headers.update(extra_headers)
    if compress and accepts_gzip(request_headers):
        chunks = gzip_stream(chunks)
        headers["Content-Encoding"] = "gzip"
    body = _iterate_in_thread(chunks) if in_thread else _iterate_inline(chunks)
    return StreamingResponse(body, media_type=media_type, headers=headers)
