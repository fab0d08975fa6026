"""Stream delivery URLs, parsed sans I/O (reference §2 routing notes, §8.1, §8.4).

Accepted live forms: ``/live/U/P/ID.ext``, ``/live/U/P/ID`` (XUI, TS), ``/U/P/ID`` (short
form, TS), ``/U/P/ID.ts`` / ``/U/P/ID.m3u8`` (XUI) and ``/U/P/ID.ch`` (XC, TS). HLS second
hop: ``/hls/TOKEN/SEQ.ts``; a movie's or episode's as HLS: ``/vodhls/TOKEN/SEQ.ts``.
VOD: ``/movie/U/P/ID.ext`` and ``/series/U/P/EPISODE_ID.ext`` (§8.1; the extension is
optional and, as in XC, does not choose the file; ``.m3u8`` asks for it as HLS). The short form
is a three-segment catch-all with a numeric last segment, so it is tried last. Anything
with traversal, encoded separators, control characters or a non-numeric id is refused
before any lookup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote

LIVE_EXTENSIONS = {"ts": "ts", "m3u8": "m3u8", "ch": "ts", "": "ts"}
_ID = re.compile(r"^(\d{1,10})(?:\.([a-z0-9]{1,5}))?$")
_VOD_ID = re.compile(r"^(\d{1,10})(?:\.([A-Za-z0-9]{1,8}))?$")
_SEGMENT = re.compile(r"^(\d{1,12})\.ts$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,200}$")
# The live forms as players send them: no escapes, no control characters (those go the
# long way, :func:`parse_delivery_path`); "." and ".." segments are checked after.
_PLAIN = r"([^/%\\\x00-\x1f\x7f]+)"
# First segments of three-part paths that are segment URLs, not the short live form.
SEGMENT_PREFIXES = ("hls", "vodhls")
_FAST_LIVE = re.compile(rf"^/(?:live/)?{_PLAIN}/{_PLAIN}/([0-9]{{1,10}})(?:\.(ts|m3u8|ch))?\Z")


class BadPath(ValueError):
    """The path is malformed or hostile (400)."""


class UnknownPath(LookupError):
    """Not a delivery path at all (404)."""


class UnsupportedExtension(ValueError):
    """A live path with an output the server does not offer (reference §8.2: 405/404)."""


@dataclass(frozen=True, slots=True)
class LivePath:
    username: str
    password: str
    stream_id: int
    output: str  # "ts" or "m3u8"


class VodKind(StrEnum):
    """The VOD URL families (§8.1): a movie, or a series episode by its stream id."""

    movie = "movie"
    series = "series"


@dataclass(frozen=True, slots=True)
class VodPath:
    username: str
    password: str
    kind: VodKind
    item_id: int  # a movie id, or an episode id for ``series``
    extension: str  # as asked ("" when none); the file's own decides the type


@dataclass(frozen=True, slots=True)
class SegmentPath:
    token: str
    seq: int


@dataclass(frozen=True, slots=True)
class VodSegmentPath:
    """A segment of a movie or episode played as HLS (the playlist's token names which)."""

    token: str
    seq: int


def _segments(raw_path: str) -> list[str]:
    if len(raw_path) > 1024 or not raw_path.startswith("/"):
        raise BadPath("bad path")
    lowered = raw_path.lower()
    if "%2f" in lowered or "%5c" in lowered or "%00" in lowered or "\\" in raw_path:
        raise BadPath("encoded separators are not allowed")
    parts = [unquote(p) for p in raw_path[1:].split("/")]
    for part in parts:
        if part in ("", ".", "..") or any(ord(c) < 0x20 or c == "\x7f" for c in part):
            raise BadPath("empty, dot or control segments are not allowed")
    return parts


def _live(username: str, password: str, last: str) -> LivePath:
    match = _ID.match(last)
    if not match:
        raise UnknownPath("stream id must be numeric")
    ext = match[2] or ""
    if ext not in LIVE_EXTENSIONS:
        raise UnsupportedExtension(ext)
    return LivePath(username, password, int(match[1]), LIVE_EXTENSIONS[ext])


def _vod(kind: str, username: str, password: str, last: str) -> VodPath:
    match = _VOD_ID.match(last)
    if not match:
        raise UnknownPath("VOD id must be numeric")
    return VodPath(username, password, VodKind(kind), int(match[1]), (match[2] or "").lower())


def fast_live_path(raw_path: str) -> LivePath | None:
    """What :func:`parse_delivery_path` answers for a plain live path (the common case,
    by a regular expression), or None: ask it. Never answers for what it would refuse."""
    match = _FAST_LIVE.match(raw_path)
    if match is None or len(raw_path) > 1024:
        return None
    username, password, stream_id, ext = match.groups()
    if username in (".", "..", *SEGMENT_PREFIXES) or password in (".", ".."):
        return None
    return LivePath(username, password, int(stream_id), LIVE_EXTENSIONS[ext or ""])


def parse_delivery_path(raw_path: str) -> LivePath | SegmentPath | VodSegmentPath | VodPath:
    """Turn a request path into what it asks for; raises BadPath / UnknownPath."""
    parts = _segments(raw_path)
    if len(parts) == 4 and parts[0] == "live":
        return _live(parts[1], parts[2], parts[3])
    if len(parts) == 4 and parts[0] in ("movie", "series"):
        return _vod(parts[0], parts[1], parts[2], parts[3])
    if len(parts) == 3 and parts[0] in SEGMENT_PREFIXES:
        seg = _SEGMENT.match(parts[2])
        if not _TOKEN.match(parts[1]) or not seg:
            raise BadPath("malformed segment URL")
        if parts[0] == "vodhls":
            return VodSegmentPath(parts[1], int(seg[1]))
        return SegmentPath(parts[1], int(seg[1]))
    if len(parts) == 3:  # the short form, matched last (reference §2)
        return _live(parts[0], parts[1], parts[2])
    raise UnknownPath("not a stream URL")
