"""Get a playlist's text from a file or an http(s) URL, with a size limit and clear errors.

URLs are fetched under the outbound policy (outbound/policy.py): a playlist URL, or any
redirect it answers with, that points at a non-public address is refused unless the
platform admin allowed that range. Paths are for the operator's command line only.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

from palinsesto.catalog.m3u_reader import iter_playlist_lines
from palinsesto.outbound import FetchFailed, OutboundPolicy, open_url

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_TIMEOUT = 30.0


class PlaylistUnavailable(Exception):
    """The playlist could not be read: missing file, HTTP error, too large, not text."""


def is_url(location: str) -> bool:
    return location.lower().startswith(("http://", "https://"))


def decode_playlist(data: bytes, origin: str) -> str:
    """UTF-8 (with or without BOM), else Latin-1, which old set-top-box exports use."""
    if b"\x00" in data[:4096]:
        raise PlaylistUnavailable(f"{origin}: binary data, not a text playlist")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def playlist_lines(
    location: str,
    policy: OutboundPolicy,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Iterator[str]:
    """The lines of the playlist at ``location``, for reading as the import goes.

    A file is read twice and never held: once to pick its encoding (UTF-8, else Latin-1;
    an incremental decoder sees every byte without keeping any), then line by line. A URL's
    body is held once (at most ``max_bytes``). Errors are raised before the first line.
    """
    if is_url(location):
        return iter_playlist_lines(_fetch_url(location, policy, timeout, max_bytes))
    path = _checked_file(location, max_bytes)
    encoding = _file_encoding(path, location)
    return _file_lines(path, encoding)


def _checked_file(location: str, max_bytes: int) -> Path:
    path = Path(location)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise PlaylistUnavailable(f"{location}: not a file")
        if size > max_bytes:
            raise PlaylistUnavailable(f"{location}: {size} bytes, over the {max_bytes} limit")
        with path.open("rb") as file:
            head = file.read(4096)
    except FileNotFoundError as exc:
        raise PlaylistUnavailable(f"{location}: no such file") from exc
    except OSError as exc:
        raise PlaylistUnavailable(f"{location}: cannot read: {exc.strerror or exc}") from exc
    if b"\x00" in head:
        raise PlaylistUnavailable(f"{location}: binary data, not a text playlist")
    return path


def _file_encoding(path: Path, location: str) -> str:
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        with path.open("rb") as file:
            while chunk := file.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "latin-1"
    except OSError as exc:
        raise PlaylistUnavailable(f"{location}: cannot read: {exc.strerror or exc}") from exc
    return "utf-8-sig"


def _file_lines(path: Path, encoding: str) -> Iterator[str]:
    # newline="": a line ends at "\n", "\r\n" or a lone "\r" (old Mac exports), as in
    # iter_playlist_lines, so line numbers in error reports are the same either way.
    with path.open(encoding=encoding, newline="") as file:
        for line in file:
            yield line.rstrip("\r\n")


def fetch_playlist(
    location: str,
    policy: OutboundPolicy,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> str:
    """The text of the playlist at ``location`` (a path or an http/https URL)."""
    if is_url(location):
        return _fetch_url(location, policy, timeout, max_bytes)
    path = Path(location)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise PlaylistUnavailable(f"{location}: not a file")
        if size > max_bytes:
            raise PlaylistUnavailable(f"{location}: {size} bytes, over the {max_bytes} limit")
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise PlaylistUnavailable(f"{location}: no such file") from exc
    except OSError as exc:
        raise PlaylistUnavailable(f"{location}: cannot read: {exc.strerror or exc}") from exc
    return decode_playlist(data, location)


def _fetch_url(url: str, policy: OutboundPolicy, timeout: float, max_bytes: int) -> str:
    try:
        with open_url(
            url, policy, timeout=timeout, max_bytes=max_bytes, headers=[("Accept", "*/*")]
        ) as response:
            if response.status >= 400:
                status = f"HTTP {response.status} {response.reason}".rstrip()
                raise PlaylistUnavailable(f"{url}: {status}")
            data = b"".join(response.iter_bytes())
    except FetchFailed as exc:
        raise PlaylistUnavailable(f"{url}: {exc}") from None
    return decode_playlist(data, url)
