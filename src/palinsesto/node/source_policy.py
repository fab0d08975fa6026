"""Which sources a channel may pull from, under the one outbound policy.

A network source's host is resolved and every address checked (outbound/policy.py):
loopback, private, link-local and metadata addresses are refused unless the platform admin
allowed the range. UDP multicast is allowed: it is how hotels and campuses carry TV. HTTP
sources are checked again on every connection ffmpeg makes, through the pull proxy
(outbound/pull_proxy.py). A file source is read only inside its tenant's media folder
(outbound/media_files.py) and runs from its real path.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from palinsesto.config import Settings
from palinsesto.node.ffmpeg import Source
from palinsesto.outbound import OutboundPolicy, OutboundRefused, policy_from_settings
from palinsesto.outbound.media_files import FileRefused, tenant_file
from palinsesto.protocol.sources import SourceKind

NETWORK_SCHEMES = {
    SourceKind.hls: {"http", "https"},
    SourceKind.http_ts: {"http", "https"},
    SourceKind.rtsp: {"rtsp", "rtsps"},
    SourceKind.rtmp: {"rtmp", "rtmps"},
    SourceKind.udp: {"udp", "rtp"},
    SourceKind.srt: {"srt"},
}
SHOWN_PATH = "tenant_path"  # option of an admitted file source: the path its owner gave
DEFAULT_PORTS = {"http": 80, "https": 443, "rtsp": 554, "rtsps": 322, "rtmp": 1935, "rtmps": 443}


class SourceRefused(ValueError):
    """The source may not be pulled; the message says why without probing the target."""


class SourcePolicy:
    """One check for a channel's sources, at start (the engine) or when saved (the API)."""

    def __init__(self, policy: OutboundPolicy, media_root: Path) -> None:
        self.outbound = policy
        self.media_root = media_root

    @classmethod
    def from_settings(cls, settings: Settings) -> SourcePolicy:
        return cls(policy_from_settings(settings), settings.effective_media_root)

    def admit(self, tenant_id: int, source: Source) -> Source:
        """``source`` as it may run (a file source by its real path), or :class:`SourceRefused`."""
        if source.kind is SourceKind.file:
            try:
                real = tenant_file(self.media_root, tenant_id, source.url)
            except FileRefused as exc:
                raise SourceRefused(str(exc)) from None
            # ffmpeg reads the real path; the panel keeps showing the tenant's own path.
            return Source(source.kind, str(real), {**source.options, SHOWN_PATH: source.url})
        schemes = NETWORK_SCHEMES.get(source.kind)
        if schemes is None:
            return source
        try:
            parts = urlsplit(source.url)
            scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
        except ValueError:
            raise SourceRefused("the source URL cannot be read") from None
        if scheme not in schemes:
            raise SourceRefused(f"{source.kind.value} sources need one of {sorted(schemes)}")
        if not host:
            raise SourceRefused("the source URL has no host")
        multicast = source.kind is SourceKind.udp
        try:
            self.outbound.addresses(host, port or DEFAULT_PORTS.get(scheme, 0), multicast=multicast)
        except OutboundRefused as exc:
            raise SourceRefused(str(exc)) from None
        return source
