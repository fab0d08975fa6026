"""Get a playlist's text from a file or an http(s) URL, with a size limit and clear errors."""

from __future__ import annotations

from pathlib import Path

import httpx

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
    location: str, *, timeout: float = DEFAULT_TIMEOUT, max_bytes: int = DEFAULT_MAX_BYTES
) -> str:
    """The text of the playlist at ``location`` (a path or an http/https URL)."""
    if is_url(location):
        return _fetch_url(location, timeout, max_bytes)
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


def _fetch_url(url: str, timeout: float, max_bytes: int) -> str:
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=True) as client,
            client.stream("GET", url, headers={"Accept": "*/*"}) as response,
        ):
            if response.status_code >= 400:
                raise PlaylistUnavailable(
                    f"{url}: HTTP {response.status_code} {response.reason_phrase}".rstrip()
                )
            chunks: list[bytes] = []
            received = 0
            for chunk in response.iter_bytes():
                received += len(chunk)
                if received > max_bytes:
                    raise PlaylistUnavailable(f"{url}: larger than the {max_bytes} byte limit")
                chunks.append(chunk)
    except httpx.TimeoutException as exc:
        raise PlaylistUnavailable(f"{url}: no answer within {timeout:g} s") from exc
    except httpx.HTTPError as exc:
        raise PlaylistUnavailable(f"{url}: {exc}") from exc
    return decode_playlist(b"".join(chunks), url)
