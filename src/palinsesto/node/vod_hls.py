"""A movie as HLS without re-encoding, sans I/O: its keyframe index, its segments, its
playlist and the ffmpeg command that cuts one segment.

The index is read from ffmpeg's ``framecrc`` output of the video stream copied (one line
per packet, no decoding: ``stream, dts, pts, duration, size, crc`` and ``F=0x0`` on
packets that are not keyframes), in the file's own timeline (the input's start time
subtracted, as ``-ss`` counts). Segments start at keyframes, ~6 s or more; segment N is
cut with ``-ss START -c copy`` and two ``noise`` bitstream filters that drop, by
timestamp, what belongs to the neighbours: a video packet belongs to the segment its
presentation time falls in; an audio packet to the segment its end falls in. ffmpeg's
own cuts are not exact enough for this (a seek may land on an earlier keyframe and keep
its packets; ``-t`` cuts by decode time): with the filters the segments partition the
file's packets exactly, and ``-output_ts_offset`` puts them back on the movie's
timeline, so the decoded PTS of segment N start where N-1 ended.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

# What an MPEG-TS segment can carry by stream copy, and what HLS players decode.
TS_VIDEO = frozenset({"h264", "hevc", "mpeg2video"})
TS_AUDIO = frozenset({"aac", "mp3", "ac3", "eac3", "mp2"})
TARGET_SECONDS = 6.0
# A last segment shorter than this joins the one before it.
MIN_LAST_SECONDS = 1.0
# Every segment's timestamps are shifted by this much, so that none is negative (B-frames
# decode before time 0): without it ffmpeg would shift the first segment alone.
TS_BASE_SECONDS = 10.0
# Rounding slack when a packet's time is compared with a cut (well under any frame).
EPSILON = 0.0005
INDEX_VERSION = 1


class NotHlsPlayable(ValueError):
    """The file cannot be sent as HLS by stream copy (no video, or a codec MPEG-TS
    cannot carry); the reason is fit to show."""


class IndexUnreadable(ValueError):
    """ffmpeg's packet list had no video keyframe or no time base."""


@dataclass(frozen=True, slots=True)
class KeyframeIndex:
    keyframes: tuple[float, ...]  # presentation times (s) of the video's keyframes
    end: float  # where the video ends (s): the last packet's time plus its duration

    def as_dict(self) -> dict[str, Any]:
        return {"version": INDEX_VERSION, "keyframes": list(self.keyframes), "end": self.end}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyframeIndex:
        if data.get("version") != INDEX_VERSION:
            raise IndexUnreadable("an index of another version")
        return cls(tuple(float(k) for k in data["keyframes"]), float(data["end"]))


@dataclass(frozen=True, slots=True)
class Segment:
    seq: int
    start: float  # seconds on the file's timeline
    end: float
    last: bool

    @property
    def duration(self) -> float:
        return self.end - self.start


class FramecrcReader:
    """ffmpeg ``-f framecrc`` output of one video stream, fed a line at a time (a long
    film lists hundreds of thousands of packets: only keyframes are kept)."""

    def __init__(self) -> None:
        self._num = self._den = 0
        self._keys: list[float] = []
        self._end = 0

    def feed(self, raw: str) -> None:
        line = raw.strip()
        if line.startswith("#tb 0:"):
            n, _, d = line[6:].strip().partition("/")
            self._num, self._den = int(n), int(d)
            return
        if not line or line.startswith("#") or not self._den:
            return
        fields = [f.strip() for f in line.split(",")]
        if len(fields) < 6 or fields[0] != "0":
            return
        pts, duration = int(fields[2]), int(fields[3])
        self._end = max(self._end, pts + duration)
        if not any(f.startswith("F=") for f in fields[6:]):  # no flags: a keyframe
            self._keys.append(pts * self._num / self._den)

    def index(self) -> KeyframeIndex:
        if not self._den or not self._keys:
            raise IndexUnreadable("the video has no keyframe")
        return KeyframeIndex(tuple(sorted(set(self._keys))), self._end * self._num / self._den)


def parse_framecrc(lines: Iterable[str]) -> KeyframeIndex:
    """ffmpeg ``-f framecrc`` output of one video stream to its keyframe index."""
    reader = FramecrcReader()
    for line in lines:
        reader.feed(line)
    return reader.index()


def plan_segments(index: KeyframeIndex, target: float = TARGET_SECONDS) -> list[Segment]:
    """Cut points at keyframes, each segment ``target`` seconds or more (a long GOP makes
    a longer one); the first starts at 0 so nothing before the first keyframe is lost."""
    cuts = [0.0]
    for key in index.keyframes:
        if key - cuts[-1] >= target and index.end - key >= MIN_LAST_SECONDS:
            cuts.append(key)
    bounds = [*cuts, index.end]
    last = len(cuts) - 1
    return [Segment(i, bounds[i], bounds[i + 1], i == last) for i in range(len(cuts))]


def playlist(segments: list[Segment], uri: Callable[[Segment], str]) -> str:
    """An RFC 8216 VOD media playlist (``EXT-X-PLAYLIST-TYPE:VOD``, ``EXT-X-ENDLIST``)."""
    target = max(1, math.ceil(max(s.duration for s in segments)))
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    for segment in segments:
        lines += [f"#EXTINF:{segment.duration:.6f},", uri(segment)]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def ts_streams(media_info: dict[str, Any]) -> list[int]:
    """The input stream indices a segment carries (the video, then every audio track TS
    can carry), from the probe's :class:`~palinsesto.node.probe_report.MediaInfo`;
    NotHlsPlayable when the video cannot go into MPEG-TS as it is."""
    video = media_info.get("video")
    if not video:
        raise NotHlsPlayable("the file has no video")
    codec = str(video.get("codec_name", ""))
    if codec not in TS_VIDEO:
        raise NotHlsPlayable(f"{codec or 'this'} video cannot be sent as HLS without re-encoding")
    audio = [
        int(a["index"]) for a in media_info.get("audio") or [] if a.get("codec_name") in TS_AUDIO
    ]
    return [int(video["index"]), *audio]


def _seconds(value: float) -> str:
    return f"{value:.6f}"


def index_argv(ffmpeg: str, path: str, video_index: int) -> list[str]:
    """The video's packets, copied and listed (no decoding): the keyframe index's input."""
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", f"file:{path}",
        "-map", f"0:{video_index}", "-c", "copy", "-f", "framecrc", "-",
    ]  # fmt: skip


def segment_argv(ffmpeg: str, path: str, segment: Segment, streams: list[int]) -> list[str]:
    """ffmpeg writing one segment as MPEG-TS to stdout (see the module's docstring).

    The start is rounded down to the microsecond (a seek past the keyframe would lose
    it); the filters compare times relative to that start, in seconds.
    """
    start = math.floor(segment.start * 1e6) / 1e6 if segment.seq else 0.0
    length = math.floor(segment.end * 1e6) / 1e6 - start
    video_drop, audio_drop = [], []
    if segment.seq:
        video_drop.append(f"lt(pts*tb\\,{-EPSILON})")
        audio_drop.append(f"lte((pts+duration)*tb\\,{EPSILON})")
    if not segment.last:
        video_drop.append(f"gte(pts*tb\\,{_seconds(length - EPSILON)})")
        audio_drop.append(f"gt((pts+duration)*tb\\,{_seconds(length + EPSILON)})")
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error"]
    if segment.seq:
        argv += ["-ss", _seconds(start)]
    argv += ["-i", f"file:{path}"]
    for index in streams:
        argv += ["-map", f"0:{index}"]
    argv += ["-c", "copy", "-dn", "-sn"]
    if not segment.last:
        argv += ["-t", _seconds(length + 2.0)]  # stops reading; the filters cut exactly
    if video_drop:
        argv += ["-bsf:v", "noise=drop=" + "+".join(video_drop)]
        argv += ["-bsf:a", "noise=drop=" + "+".join(audio_drop)]
    argv += ["-output_ts_offset", _seconds(TS_BASE_SECONDS + start), "-f", "mpegts", "pipe:1"]
    return argv
