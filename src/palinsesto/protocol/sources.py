"""A channel's source as a typed value, and what can be checked about it without I/O.

The admin API checks each source with :meth:`SourceSpec.checked` before it is stored, and
the live engine reads stored ones with :meth:`SourceSpec.from_json`: one parser for both,
so a source the API accepted is one the engine can build a command line for (a bad test
pattern such as ``testsrc://99999x1@500`` used to be stored and fail only at play time).
Whether an address may be pulled is the node's policy (node/source_policy.py).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit


class SourceKind(enum.StrEnum):
    """Where a channel's feed comes from (the live engine picks the reader by kind)."""

    hls = "hls"
    http_ts = "http_ts"
    rtsp = "rtsp"
    rtmp = "rtmp"
    udp = "udp"
    srt = "srt"
    file = "file"
    test_pattern = "test_pattern"
    push_rtmp = "push_rtmp"
    push_srt = "push_srt"


PUSH_KINDS = frozenset({SourceKind.push_rtmp, SourceKind.push_srt})

# The URL schemes each pulled source kind accepts.
SOURCE_SCHEMES: dict[SourceKind, frozenset[str]] = {
    SourceKind.hls: frozenset({"http", "https"}),
    SourceKind.http_ts: frozenset({"http", "https"}),
    SourceKind.rtsp: frozenset({"rtsp", "rtsps"}),
    SourceKind.rtmp: frozenset({"rtmp", "rtmps"}),
    SourceKind.udp: frozenset({"udp", "rtp"}),
    SourceKind.srt: frozenset({"srt"}),
}


class InvalidSource(ValueError):
    """A source description that cannot be played, with the reason."""


@dataclass(frozen=True, slots=True)
class TestPattern:
    # Small and cheap unless the URL asks for more: a demo catalogue may run many of them.
    width: int = 320
    height: int = 180
    rate: int = 25


_PATTERN = re.compile(r"^testsrc://(\d{2,4})x(\d{2,4})(?:@(\d{1,3}))?$")


def parse_test_pattern(url: str) -> TestPattern:
    """``testsrc://WxH@FPS`` (the form the demo channel uses); empty means the default."""
    if url in ("", "testsrc://"):
        return TestPattern()
    match = _PATTERN.match(url)
    if not match:
        raise InvalidSource(
            f"A test pattern URL looks like testsrc://1280x720@25, not {url[:100]!r}."
        )
    width, height, rate = int(match[1]), int(match[2]), int(match[3] or 25)
    if not (16 <= width <= 3840 and 16 <= height <= 2160 and 1 <= rate <= 60):
        raise InvalidSource(
            "A test pattern is 16x16 to 3840x2160 at 1 to 60 frames a second; "
            f"{url[:100]!r} is not."
        )
    return TestPattern(width, height, rate)


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """One entry of a channel's ordered source list (stored as ``{"kind", "url", ...}``)."""

    kind: SourceKind
    url: str
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> SourceSpec:
        """From a stored ``Channel.sources`` item; options are the keys besides kind and url."""
        try:
            kind = SourceKind(str(data.get("kind", "")))
        except ValueError:
            raise InvalidSource(f"unknown source kind {data.get('kind')!r}") from None
        url = str(data.get("url", ""))
        options = {k: str(v) for k, v in data.items() if k not in {"kind", "url"}}
        return cls(kind, url, options)

    @classmethod
    def checked(cls, kind: SourceKind, url: str) -> SourceSpec:
        """The source, if it is well formed for its kind; else :class:`InvalidSource`."""
        spec = cls(kind, url)
        spec.check()
        return spec

    def check(self) -> None:
        kind, url = self.kind, self.url
        if kind in PUSH_KINDS:
            if url:
                raise InvalidSource("Push sources take no URL: the feed is pushed to a node.")
            return
        if kind is SourceKind.test_pattern:
            parse_test_pattern(url)
            return
        if kind is SourceKind.file:
            if not url.startswith("/") or "\x00" in url:
                raise InvalidSource("A file source needs an absolute path.")
            return
        schemes = SOURCE_SCHEMES[kind]
        try:
            parts = urlsplit(url)
            scheme, host = parts.scheme.lower(), parts.hostname
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            scheme, host = "", None
        if not host or scheme not in schemes:
            wanted = " or ".join(f"{s}://" for s in sorted(schemes))
            raise InvalidSource(f"A {kind.value} source needs a {wanted} URL with a host.")

    def to_json(self) -> dict[str, str]:
        return {**self.options, "url": self.url, "kind": self.kind.value}

    @property
    def is_push(self) -> bool:
        return self.kind in PUSH_KINDS
