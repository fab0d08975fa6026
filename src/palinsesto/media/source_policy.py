"""Which upstream addresses a channel may pull from.

By default a node never pulls from loopback, private, link-local or otherwise
non-public addresses (a channel URL must not become a way to read the node's own
services); ``live_allow_private_sources`` lifts that, ``live_denied_hosts`` adds names.
UDP multicast is allowed: it is how hotels and campuses carry TV.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from palinsesto.catalog.models import SourceKind
from palinsesto.media.ffmpeg import Source

Resolver = Callable[[str], list[str]]


class SourceRefused(ValueError):
    """The source's address is not allowed by policy."""


def _resolve(host: str) -> list[str]:
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(host, None)})
    except OSError:
        return []


class SourcePolicy:
    NEEDS_HOST = {
        SourceKind.hls,
        SourceKind.http_ts,
        SourceKind.rtsp,
        SourceKind.rtmp,
        SourceKind.udp,
        SourceKind.srt,
    }
    SCHEMES = {
        SourceKind.hls: {"http", "https"},
        SourceKind.http_ts: {"http", "https"},
        SourceKind.rtsp: {"rtsp", "rtsps"},
        SourceKind.rtmp: {"rtmp", "rtmps"},
        SourceKind.udp: {"udp", "rtp"},
        SourceKind.srt: {"srt"},
    }

    def __init__(
        self, allow_private: bool, denied_hosts: str = "", resolver: Resolver = _resolve
    ) -> None:
        self.allow_private = allow_private
        self.denied = {h.strip().lower() for h in denied_hosts.split(",") if h.strip()}
        self._resolve = resolver

    def check(self, source: Source) -> None:
        """Raise :class:`SourceRefused` unless ``source`` may be pulled."""
        if source.kind not in self.NEEDS_HOST:
            return
        parts = urlsplit(source.url)
        if parts.scheme.lower() not in self.SCHEMES[source.kind]:
            raise SourceRefused(f"{source.kind.value} sources need a {self.SCHEMES[source.kind]}")
        host = (parts.hostname or "").lower()
        if not host:
            raise SourceRefused("the source URL has no host")
        if host in self.denied:
            raise SourceRefused(f"host {host} is denied")
        if self.allow_private:
            return
        try:
            addresses = [host] if ipaddress.ip_address(host) else []
        except ValueError:
            addresses = self._resolve(host)
        if not addresses:
            raise SourceRefused(f"host {host} does not resolve")
        for address in addresses:
            ip = ipaddress.ip_address(address)
            if ip.is_multicast and source.kind is SourceKind.udp:
                continue
            if not ip.is_global:
                raise SourceRefused(f"{host} ({address}) is not a public address")
