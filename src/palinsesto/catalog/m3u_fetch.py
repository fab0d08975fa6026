"""Get a playlist's text from a file or an http(s) URL, with a size limit and clear errors.

URLs are fetched under the outbound policy (outbound/policy.py): a playlist URL, or any
redirect it answers with, that points at a non-public address is refused unless the
platform admin allowed that range. Paths are for the operator's command line only.
"""

from __future__ import annotations

from pathlib import Path

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
