"""A sans-I/O reader of M3U / M3U Plus playlists: text lines in, entries and errors out.

An entry is an ``#EXTINF`` line, any directives after it (``#EXTGRP``, ``#EXTVLCOPT``,
``#KODIPROP``) and the URL line that closes it (reference §6.2-6.3 for the shape XC emits,
§6.4 for the attributes other tools add). Anything malformed becomes a :class:`M3UError`
carrying its 1-based line number, and reading goes on with the next entry, so that one bad
entry never costs the rest of the playlist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# Schemes a channel source can have (the live engine reads these; see SourceKind).
ALLOWED_SCHEMES = frozenset({"http", "https", "udp", "rtmp", "rtmps", "rtsp", "srt"})
_ATTRIBUTE_KEY = re.compile(r"[A-Za-z0-9_:.-]+")
_DURATION = re.compile(r"-?\d+(\.\d+)?")


@dataclass(frozen=True)
class M3UEntry:
    """One playlist item, with the attributes of reference §6.4 picked out."""

    line_number: int  # of the #EXTINF line
    url_line_number: int
    name: str
    url: str
    duration: float
    attributes: dict[str, str] = field(default_factory=dict)
    groups: tuple[str, ...] = ()
    # Kodi's "URL|user-agent=X&referer=Y" request headers (reference §6.4, last row).
    http_headers: dict[str, str] = field(default_factory=dict)
    vlc_options: dict[str, str] = field(default_factory=dict)

    @property
    def tvg_id(self) -> str:
        return self.attributes.get("tvg-id", "")

    @property
    def tvg_name(self) -> str:
        return self.attributes.get("tvg-name", "")

    @property
    def tvg_logo(self) -> str:
        return self.attributes.get("tvg-logo", "")

    @property
    def group_title(self) -> str:
        """The first group; Kodi reads ';'-separated lists (reference §6.4)."""
        return self.groups[0] if self.groups else ""

    @property
    def tvg_chno_text(self) -> str:
        return self.attributes.get("tvg-chno", "").strip()

    @property
    def tvg_chno(self) -> int | None:
        return _whole_number(self.tvg_chno_text)

    @property
    def catchup(self) -> str:
        return self.attributes.get("catchup", "")

    @property
    def catchup_source(self) -> str:
        return self.attributes.get("catchup-source", "")

    @property
    def catchup_days_text(self) -> tuple[str, str]:
        """``(attribute, value)`` of the first archive-depth attribute given, or
        ``("", "")``; tvg-rec and SIPTV's timeshift mean the same as catchup-days (§6.4)."""
        for key in ("catchup-days", "tvg-rec", "timeshift"):
            raw = self.attributes.get(key, "").strip()
            if raw:
                return key, raw
        return "", ""

    @property
    def catchup_days(self) -> int | None:
        return _whole_number(self.catchup_days_text[1])


def _whole_number(text: str) -> int | None:
    """ASCII digits only: ``str.isdigit`` also accepts "²" or Arabic-Indic digits, which
    ``int`` then refuses or reads as a number nobody typed."""
    if text and len(text) <= 18 and text.isascii() and text.isdigit():
        return int(text)
    return None


@dataclass(frozen=True)
class M3UError:
    line_number: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line_number}: {self.message}"


@dataclass
class M3UPlaylist:
    entries: list[M3UEntry] = field(default_factory=list)
    errors: list[M3UError] = field(default_factory=list)
    has_header: bool = False
    # Playlist-wide attributes of the #EXTM3U line: x-tvg-url, url-tvg, tvg-shift...
    header_attributes: dict[str, str] = field(default_factory=dict)


class MalformedAttributes(ValueError):
    """An attribute list could not be read (an unterminated quote, a stray character)."""


def parse_attributes(text: str) -> tuple[dict[str, str], str]:
    """Read ``key="value" key2=value2 ...`` up to the first comma outside quotes.

    Returns the attributes and what follows that comma (the title), or ``""`` when there
    is no comma. Values may be double-quoted, single-quoted or bare.
    """
    attributes: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
            continue
        if char == ",":
            return attributes, text[i + 1 :]
        match = _ATTRIBUTE_KEY.match(text, i)
        if match is None:
            raise MalformedAttributes(f"unexpected {char!r} at column {i + 1} of the attributes")
        key = match.group().lower()
        i = match.end()
        if i >= n or text[i] != "=":
            # A bare word (some writers put flags there); keep it as an empty attribute.
            attributes[key] = ""
            continue
        i += 1
        if i < n and text[i] in "\"'":
            quote = text[i]
            end = text.find(quote, i + 1)
            if end < 0:
                raise MalformedAttributes(f"unterminated quote in the value of {key}")
            attributes[key] = text[i + 1 : end]
            i = end + 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] != ",":
                i += 1
            attributes[key] = text[start:i]
    return attributes, ""


@dataclass
class _Pending:
    line_number: int
    duration: float
    attributes: dict[str, str]
    title: str
    extgrp: str = ""
    vlc_options: dict[str, str] = field(default_factory=dict)
    broken: bool = False  # the #EXTINF was reported; its URL line is skipped quietly


def _read_extinf(number: int, body: str) -> _Pending | M3UError:
    """``body`` is what follows '#EXTINF:': a duration, attributes, a comma and the title."""
    stripped = body.lstrip()
    match = _DURATION.match(stripped)
    if match is None:
        token = stripped.split(maxsplit=1)[0].split(",", 1)[0] if stripped else ""
        return M3UError(number, f"bad duration {token!r} in #EXTINF (expected e.g. -1)")
    rest = stripped[match.end() :]
    if rest and not (rest[0].isspace() or rest[0] == ","):
        token = (match.group() + rest).split(maxsplit=1)[0].split(",", 1)[0]
        return M3UError(number, f"bad duration {token!r} in #EXTINF (expected e.g. -1)")
    try:
        attributes, title = parse_attributes(rest)
    except MalformedAttributes as exc:
        return M3UError(number, f"malformed #EXTINF: {exc}")
    return _Pending(number, float(match.group()), attributes, title.strip())


def _split_url(raw: str) -> tuple[str, dict[str, str]]:
    """Separate Kodi's '|header=value&...' suffix from the URL."""
    url, sep, suffix = raw.partition("|")
    headers: dict[str, str] = {}
    if sep:
        for part in suffix.split("&"):
            key, eq, value = part.partition("=")
            if eq and key.strip():
                headers[key.strip().lower()] = value.strip()
    return url.strip(), headers


def _check_url(url: str) -> str | None:
    """Why ``url`` cannot be a source, or None when it can."""
    if ":" not in url:
        return f"not a URL: {url[:80]!r}"
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"malformed URL {url[:80]!r}: {exc}"
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        allowed = ", ".join(sorted(ALLOWED_SCHEMES))
        return f"unsupported URL scheme {parts.scheme!r} (allowed: {allowed})"
    if not parts.netloc:
        return f"URL without a host: {url[:80]!r}"
    return None


def playlist_lines(text: str) -> list[str]:
    """Split on CRLF, CR or LF only, so line numbers match what an editor shows
    (``str.splitlines`` also breaks on U+2028 and other characters titles may hold)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def iter_playlist_lines(text: str) -> Iterator[str]:
    """The lines of :func:`playlist_lines`, one at a time: a 50 MB playlist is not copied
    into a list of a million strings before reading starts."""
    start, size = 0, len(text)
    while start <= size:
        end = text.find("\n", start)
        if end < 0:
            end = size
        piece = text[start:end]
        if end < size and piece.endswith("\r"):  # CRLF
            piece = piece[:-1]
        start = end + 1
        if "\r" in piece:  # old Mac line ends inside
            yield from piece.split("\r")
        else:
            yield piece


def read_m3u(lines: Iterable[str]) -> M3UPlaylist:
    """Read a whole playlist from its text lines (line endings may be left on)."""
    reader = M3UReader()
    playlist = M3UPlaylist()
    for item in reader.read(lines):
        if isinstance(item, M3UError):
            playlist.errors.append(item)
        else:
            playlist.entries.append(item)
    playlist.has_header = reader.has_header
    playlist.header_attributes = reader.header_attributes
    return playlist


class M3UReader:
    """Reads a playlist entry by entry: :meth:`read` yields each :class:`M3UEntry` or
    :class:`M3UError` as soon as its lines are read, so memory does not grow with the
    playlist; the header is known once the first line has been read."""

    def __init__(self) -> None:
        self.has_header = False
        # Playlist-wide attributes of the #EXTM3U line: x-tvg-url, url-tvg, tvg-shift...
        self.header_attributes: dict[str, str] = {}

    def read(self, lines: Iterable[str]) -> Iterator[M3UEntry | M3UError]:
        pending: _Pending | None = None
        seen_content = False
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if number == 1:
                line = line.lstrip("\ufeff")
            if not line:
                continue
            if not seen_content:
                seen_content = True
                if line.upper().startswith("#EXTM3U"):
                    self.has_header = True
                    try:
                        self.header_attributes, _ = parse_attributes(line[7:])
                    except MalformedAttributes as exc:
                        yield M3UError(number, f"malformed #EXTM3U: {exc}")
                    continue
            upper = line.upper()
            if upper.startswith("#EXTINF:"):
                if pending is not None and not pending.broken:
                    yield M3UError(pending.line_number, "#EXTINF without a URL")
                parsed = _read_extinf(number, line[8:])
                if isinstance(parsed, M3UError):
                    yield parsed
                    # The URL that follows belongs to the broken entry: swallow it quietly.
                    pending = _Pending(number, 0.0, {}, "", broken=True)
                else:
                    pending = parsed
                continue
            if line.startswith("#"):
                if pending is not None:
                    if upper.startswith("#EXTGRP:"):
                        pending.extgrp = line[8:].strip()
                    elif upper.startswith("#EXTVLCOPT:"):
                        key, _, value = line[11:].partition("=")
                        pending.vlc_options[key.strip().lower()] = value.strip()
                continue  # other directives and comments are ignored
            if pending is None:
                problem = _check_url(_split_url(line)[0])
                if problem is None:
                    yield M3UError(number, "URL without #EXTINF")
                else:
                    yield M3UError(number, f"{problem} (and no #EXTINF before it)")
                continue
            entry_pending, pending = pending, None
            if entry_pending.broken:
                continue
            yield _entry(entry_pending, number, line)
        if pending is not None and not pending.broken:
            yield M3UError(pending.line_number, "#EXTINF without a URL")


def _entry(pending: _Pending, number: int, line: str) -> M3UEntry | M3UError:
    """The entry an #EXTINF and its URL line make, or why they make none."""
    url, headers = _split_url(line)
    problem = _check_url(url)
    if problem is not None:
        return M3UError(number, problem)
    name = pending.title or pending.attributes.get("tvg-name", "").strip()
    if not name:
        return M3UError(pending.line_number, "#EXTINF without a name (nothing after ',')")
    group_text = pending.attributes.get("group-title", "") or pending.extgrp
    groups = tuple(part.strip() for part in group_text.split(";") if part.strip())
    return M3UEntry(
        line_number=pending.line_number,
        url_line_number=number,
        name=name,
        url=url,
        duration=pending.duration,
        attributes=pending.attributes,
        groups=groups,
        http_headers=headers,
        vlc_options=pending.vlc_options,
    )
