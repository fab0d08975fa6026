"""Plain, gzip or xz bytes in, document bytes out, whatever the compression (sans-I/O).

The compression is read from the magic bytes, not from a file name or a Content-Type that
providers get wrong. Output comes in bounded pieces and is counted, so that a small
compressed bomb cannot fill memory: past ``max_bytes`` the document is refused.
"""

from __future__ import annotations

import lzma
import zlib
from collections.abc import Iterator

GZIP_MAGIC = b"\x1f\x8b"
XZ_MAGIC = b"\xfd7zXZ\x00"
PIECE = 1 << 18


class DecompressError(ValueError):
    """The compressed stream is damaged or truncated."""


class TooLarge(ValueError):
    """The document is larger than the configured limit."""


class Decompressor:
    """Feed raw bytes, get document bytes; :meth:`close` checks the stream was complete."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.kind = ""
        self.raw_bytes = 0
        self.output_bytes = 0
        self._head = b""
        self._zlib: zlib._Decompress | None = None
        self._xz: lzma.LZMADecompressor | None = None

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Document bytes decoded from ``data`` (and whatever earlier input was held)."""
        self.raw_bytes += len(data)
        if not self.kind:
            self._head += data
            if len(self._head) < len(XZ_MAGIC):
                return
            data, self._head = self._head, b""
            self._start(data)
        yield from self._decode(data)

    def close(self) -> Iterator[bytes]:
        """The rest of the document; raises :class:`DecompressError` if it was cut short."""
        if not self.kind:
            data, self._head = self._head, b""
            self._start(data)
            yield from self._decode(data)
        if self._zlib is not None and not self._zlib.eof:
            raise DecompressError("the gzip stream is truncated (it ends before its trailer)")
        if self._xz is not None and not self._xz.eof:
            raise DecompressError("the xz stream is truncated (it ends before its footer)")

    def _start(self, head: bytes) -> None:
        if head.startswith(GZIP_MAGIC):
            self.kind = "gzip"
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif head.startswith(XZ_MAGIC):
            self.kind = "xz"
            self._xz = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        else:
            self.kind = "plain"

    def _count(self, piece: bytes) -> bytes:
        self.output_bytes += len(piece)
        if self.output_bytes > self.max_bytes:
            raise TooLarge(f"the document is larger than the limit of {self.max_bytes:,} bytes")
        return piece

    def _decode(self, data: bytes) -> Iterator[bytes]:
        if self.kind == "plain":
            if data:
                yield self._count(data)
        elif self._zlib is not None:
            yield from self._gunzip(data)
        elif self._xz is not None:
            yield from self._unxz(data)

    def _gunzip(self, data: bytes) -> Iterator[bytes]:
        assert self._zlib is not None
        try:
            more = bool(data)
            while more:
                if self._zlib.eof:
                    # Concatenated gzip members are one document (gzip(1) reads them so);
                    # anything else after the last member is ignored, as gzip(1) does.
                    if not data.startswith(GZIP_MAGIC[:1]):
                        return
                    self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
                piece = self._zlib.decompress(data, PIECE)
                data = self._zlib.unused_data if self._zlib.eof else self._zlib.unconsumed_tail
                # A full piece may leave output inside zlib even when all input is used.
                more = bool(data) or len(piece) == PIECE
                if piece:
                    yield self._count(piece)
        except zlib.error as exc:
            raise DecompressError(f"the gzip stream is damaged: {exc}") from exc

    def _unxz(self, data: bytes) -> Iterator[bytes]:
        assert self._xz is not None
        try:
            while not self._xz.eof:
                piece = self._xz.decompress(data, PIECE)
                data = b""
                if piece:
                    yield self._count(piece)
                if self._xz.needs_input:
                    return
        except lzma.LZMAError as exc:
            raise DecompressError(f"the xz stream is damaged: {exc}") from exc
