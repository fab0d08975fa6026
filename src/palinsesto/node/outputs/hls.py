"""Live HLS from RAM: keyframe-aligned segments of ~2 s, a sliding window, per-session lists.

Segments are cut from the same TS chunks the TS fan-out uses (mux once). A playlist differs
per session, because each segment URL carries that session's signed token (reference §8.4:
XC and XUI both rewrite segment URLs with a token); :meth:`HlsSegmenter.token_playlist`
renders the window once per cut and only splices each viewer's token in.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from palinsesto.node.mpegts import TsChunk


@dataclass(frozen=True, slots=True)
class Segment:
    seq: int
    data: bytes
    duration: float
    discontinuity: bool
    pts: float | None = None  # of its first keyframe (a watermarked channel's slot)


class HlsSegmenter:
    """Collects chunks into segments that start at keyframes, at least ``target`` long."""

    def __init__(
        self,
        target: float = 2.0,
        window: int = 6,
        keep: int = 9,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target, self.window = target, window
        self._clock = clock
        self._segments: deque[Segment] = deque(maxlen=keep)
        self._parts: list[bytes] = []
        self._start_pts: float | None = None
        self._start_clock = 0.0
        self._next_seq = 0
        self._discontinuity = False
        self._discontinuities_dropped = 0
        # The window changes only when a segment is cut or the window is reset; the
        # rendered playlist of token_playlist is kept per (version, URL head).
        self._version = 0
        self._template_of: tuple[int, str] | None = None
        self._template: tuple[bytes, ...] = ()

    def mark_discontinuity(self) -> None:
        """The source changed (failover): the next segment gets ``#EXT-X-DISCONTINUITY``."""
        self._parts, self._start_pts = [], None
        self._discontinuity = True

    def reset(self) -> None:
        """The channel stopped: forget the window, so a restart serves only fresh segments.

        Sequence numbers go on from where they were and the first new segment carries a
        discontinuity, so a player that kept the playlist sees the jump (RFC 8216 §6.2.2).
        """
        self._discontinuities_dropped += sum(1 for s in self._segments if s.discontinuity)
        self._segments.clear()
        self._version += 1
        self.mark_discontinuity()

    def push(self, chunk: TsChunk, psi: bytes) -> Segment | None:
        """Add a chunk; returns the segment it completed, if any."""
        now = self._clock()
        done = None
        if chunk.keyframe:
            if self._parts:
                elapsed = self._elapsed(chunk.pts, now)
                if elapsed >= self.target * 0.9:
                    done = self._close(elapsed)
                    self._parts = []
            if not self._parts:
                self._start_pts, self._start_clock = chunk.pts, now
                if not chunk.starts_with_psi and psi:
                    self._parts.append(psi)
        if self._parts or chunk.keyframe:
            self._parts.append(chunk.data)
        # No keyframe for a long while: cut anyway so the playlist keeps moving.
        if self._parts and self._elapsed(None, now) > self.target * 4:
            done = self._close(self._elapsed(None, now))
            self._parts, self._start_pts = [], None
        return done

    def _elapsed(self, pts: float | None, now: float) -> float:
        if pts is not None and self._start_pts is not None and 0 < pts - self._start_pts < 60:
            return pts - self._start_pts
        return now - self._start_clock

    def _close(self, duration: float) -> Segment:
        segment = Segment(
            self._next_seq, b"".join(self._parts), duration, self._discontinuity, self._start_pts
        )
        if len(self._segments) == self._segments.maxlen and self._segments[0].discontinuity:
            self._discontinuities_dropped += 1
        self._segments.append(segment)
        self._next_seq += 1
        self._discontinuity = False
        self._version += 1
        return segment

    def get(self, seq: int) -> Segment | None:
        if not self._segments:
            return None
        index = seq - self._segments[0].seq
        if 0 <= index < len(self._segments):
            return self._segments[index]
        return None

    def at_pts(self, pts: float) -> Segment | None:
        """The segment starting at ``pts`` (the same moment of a watermarked channel's
        other rendition, whose sequence numbers may differ)."""
        for segment in reversed(self._segments):
            if segment.pts is not None and abs(segment.pts - pts) < 0.01:
                return segment
        return None

    @property
    def ready(self) -> bool:
        return len(self._segments) > 0

    @property
    def version(self) -> int:
        """Changes whenever the playlist does (a segment cut, a reset)."""
        return self._version

    def playlist(self, segment_url: Callable[[int], str]) -> str:
        """The live playlist of the last ``window`` segments with URLs from ``segment_url``."""
        shown = list(self._segments)[-self.window :]
        target = max([math.ceil(s.duration) for s in shown] + [math.ceil(self.target)])
        first = shown[0].seq if shown else 0
        hidden = len(self._segments) - len(shown)
        dropped = self._discontinuities_dropped + sum(
            1 for s in list(self._segments)[:hidden] if s.discontinuity
        )
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{target}",
            f"#EXT-X-MEDIA-SEQUENCE:{first}",
            f"#EXT-X-DISCONTINUITY-SEQUENCE:{dropped}",
        ]
        for s in shown:
            if s.discontinuity:
                lines.append("#EXT-X-DISCONTINUITY")
            lines.append(f"#EXTINF:{s.duration:.3f},")
            lines.append(segment_url(s.seq))
        return "\n".join(lines) + "\n"

    def token_playlist(self, url_head: str, token: str) -> bytes:
        """:meth:`playlist` with segment URLs ``{url_head}{token}/{seq}.ts``, as bytes.

        Every viewer of the channel reloads the same window every few seconds and only
        the token differs: the window is rendered once per cut, split where the token goes,
        and a reload is one ``bytes.join`` (the node's most frequent request)."""
        key = (self._version, url_head)
        if self._template_of != key:
            text = self.playlist(lambda seq: f"{url_head}\0/{seq}.ts")
            self._template = tuple(part.encode() for part in text.split("\0"))
            self._template_of = key
        return token.encode().join(self._template)
