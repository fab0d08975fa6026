"""HTTP byte ranges for file responses, sans I/O (RFC 9110 §14).

:func:`plan_range` turns a request's ``Range`` / ``If-Range`` headers and the file's size
and validators into what to send: the whole file (200), one byte range (206) or nothing
(416). Players ask for one range at a time (a seek is a new ``bytes=N-`` request); a
request for several ranges is answered with the whole file, which §14.2 allows ("a server
MAY ignore the Range header field"), instead of a multipart body no player needs.
"""

from __future__ import annotations

from dataclasses import dataclass


class RangeNotSatisfiable(ValueError):
    """No requested range overlaps the file (416 with ``Content-Range: bytes */size``)."""


@dataclass(frozen=True, slots=True)
class ByteSpan:
    """Bytes ``start`` to ``end`` inclusive of a file of ``size`` bytes."""

    start: int
    end: int
    size: int
    partial: bool  # True: 206 with Content-Range; False: 200, the whole file

    @property
    def length(self) -> int:
        return self.end - self.start + 1 if self.size else 0

    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


def whole(size: int) -> ByteSpan:
    return ByteSpan(0, max(size - 1, 0), size, partial=False)


def _one_spec(spec: str, size: int) -> tuple[int, int] | None:
    """One ``first-last`` / ``first-`` / ``-suffix`` spec; None when it selects nothing.

    Raises ValueError when the spec is malformed (the whole header is then ignored).
    """
    first, sep, last = spec.strip().partition("-")
    if not sep:
        raise ValueError(spec)
    first, last = first.strip(), last.strip()
    if first == "":
        if not last.isdigit():
            raise ValueError(spec)
        suffix = int(last)
        if suffix == 0 or size == 0:
            return None  # §14.1.3: a zero-length suffix is unsatisfiable
        return max(size - suffix, 0), size - 1
    if not first.isdigit() or (last and not last.isdigit()):
        raise ValueError(spec)
    start = int(first)
    if last and int(last) < start:
        raise ValueError(spec)  # §14.1.1: an invalid range-spec; ignore the header
    if start >= size:
        return None
    end = int(last) if last else size - 1
    return start, min(end, size - 1)


def plan_range(
    range_header: str | None,
    size: int,
    *,
    if_range: str | None = None,
    etag: str = "",
    last_modified: str = "",
) -> ByteSpan:
    """What to send for ``Range: range_header`` on a file of ``size`` bytes.

    Raises :class:`RangeNotSatisfiable` when every range lies beyond the end. A header
    that is not ``bytes=...`` or is malformed is ignored (§14.2), as is a range whose
    ``If-Range`` validator no longer matches the file (§13.1.5): the whole file is sent.
    """
    if not range_header:
        return whole(size)
    if if_range is not None and if_range.strip() not in {etag, last_modified} - {""}:
        return whole(size)
    unit, sep, specs = range_header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return whole(size)
    parts = [s for s in specs.split(",") if s.strip()]
    if not parts or len(parts) > 100:
        return whole(size)
    try:
        spans = [_one_spec(p, size) for p in parts]
    except ValueError:
        return whole(size)
    found = [s for s in spans if s is not None]
    if not found:
        raise RangeNotSatisfiable(f"bytes */{size}")
    if len(parts) > 1:
        return whole(size)
    start, end = found[0]
    return ByteSpan(start, end, size, partial=True)
