"""Where a movie's or episode's ``source_url`` points: a file under the tenant's media
root, a remote http(s) URL, or nothing playable.

Local files live under ``<vod_media_root>/<tenant id>/``; a source is a path relative to
that folder, an absolute path, or a ``file://`` URL, and after following every symlink
it must still lie inside the folder (:func:`tenant_file`, the one check the admin API and
the data plane both use). Refusals name no filesystem path, so neither an operator typing
``../../etc/passwd`` nor a viewer learns anything about the node's disk.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

# What the apps append to the URL (reference §4.4); also the file's extension.
EXTENSION = re.compile(r"^[a-z0-9]{1,8}$")
REMOTE_SCHEMES = ("http", "https")

# One vocabulary for what a VOD file is sent as (by its extension).
CONTENT_TYPES: dict[str, str] = {
    "mp4": "video/mp4",
    "m4v": "video/x-m4v",
    "mov": "video/quicktime",
    "mkv": "video/x-matroska",
    "webm": "video/webm",
    "avi": "video/x-msvideo",
    "ts": "video/mp2t",
    "m2ts": "video/mp2t",
    "mpg": "video/mpeg",
    "mpeg": "video/mpeg",
    "flv": "video/x-flv",
    "wmv": "video/x-ms-wmv",
    "3gp": "video/3gpp",
    "ogv": "video/ogg",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"


class VodSourceRefused(ValueError):
    """The source is not a playable file of this tenant or an http(s) URL."""


@dataclass(frozen=True, slots=True)
class LocalFile:
    path: Path  # resolved: no symlinks, inside the tenant's root

    @property
    def extension(self) -> str:
        return self.path.suffix[1:].lower()

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES.get(self.extension, DEFAULT_CONTENT_TYPE)


@dataclass(frozen=True, slots=True)
class RemoteUrl:
    url: str


def tenant_root(media_root: Path, tenant_id: int) -> Path:
    return media_root / str(tenant_id)


def tenant_file(media_root: Path, tenant_id: int, raw: str) -> LocalFile:
    """The file ``raw`` names, resolved inside the tenant's root, or VodSourceRefused.

    The lead can point this at the per-tenant media roots of media/source_policy.py.
    """
    if "\x00" in raw:
        raise VodSourceRefused("source_url must not contain NUL")
    if raw.startswith("file:"):
        parts = urlsplit(raw)
        if parts.netloc not in ("", "localhost"):
            raise VodSourceRefused("file:// URLs must name a local file")
        raw = unquote(parts.path)
    root = os.path.realpath(tenant_root(media_root, tenant_id))
    candidate = os.path.realpath(os.path.join(root, raw))
    if os.path.commonpath([root, candidate]) != root or candidate == root:
        raise VodSourceRefused("source_url must name a file inside the tenant's media folder")
    local = LocalFile(Path(candidate))
    if not EXTENSION.match(local.extension):
        raise VodSourceRefused("the file needs a short extension such as .mp4 or .mkv")
    return local


def classify_source(media_root: Path, tenant_id: int, source_url: str) -> LocalFile | RemoteUrl:
    """A stored ``source_url`` as something to serve; VodSourceRefused when neither a
    tenant file nor an http(s) URL (an empty source included)."""
    raw = source_url.strip()
    if not raw:
        raise VodSourceRefused("no source")
    scheme = urlsplit(raw).scheme.lower() if "://" in raw else ""
    if scheme in REMOTE_SCHEMES:
        return RemoteUrl(raw)
    if scheme not in ("", "file"):
        raise VodSourceRefused(f"{scheme}:// sources cannot be played as VOD")
    return tenant_file(media_root, tenant_id, raw)
