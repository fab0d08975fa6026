"""ffmpeg's description of an input file, read sans I/O.

The node ships ffmpeg (imageio-ffmpeg), not ffprobe, so a VOD file is probed with
``ffmpeg -i FILE`` and no output: ffmpeg prints the input's format, duration, overall
bitrate and one line per stream to stderr, then stops. :func:`parse_input_report` turns
those lines into :class:`MediaInfo`, whose streams take the field names of ffprobe's JSON
(``codec_name``, ``width``, ``sample_rate``...), the names XC's ``get_vod_info`` sends
(reference §4.5). A file ffmpeg cannot open yields :class:`ProbeFailed` carrying ffmpeg's
own reason ("Invalid data found when processing input").
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

_INPUT = re.compile(r"^Input #0, ([^ ]+), from ")
_DURATION = re.compile(r"^Duration: (?:(\d+):(\d\d):(\d\d(?:\.\d+)?)|N/A)")
_OVERALL_BITRATE = re.compile(r"bitrate: (\d+) kb/s")
_STREAM = re.compile(
    r"^Stream #0:(\d+)(?:\[0x[0-9a-fA-F]+\])?(?:\(([A-Za-z]{2,3})\))?: "
    r"(Video|Audio|Subtitle): (.*)$"
)
_ANY_STREAM = re.compile(r"^Stream #0:\d+")
_TITLE = re.compile(r"^title\s*: (.*)$")
_CODEC = re.compile(r"^([A-Za-z0-9_]+)(?: \(([^)]*)\))?")
_SIZE = re.compile(r"(?:^|[ ,])(\d{2,5})x(\d{2,5})(?:[ ,]|$)")
_FPS = re.compile(r"([\d.]+) fps")
_KBPS = re.compile(r"(\d+) kb/s")
_HZ = re.compile(r"(\d+) Hz, ([^,]+)")
_PIX_FMT = re.compile(r"^[a-z0-9_]+(?:\([^)]*\))?$")
_ERROR_LINE = re.compile(r"^Error opening input files?: (.+)$")
CHANNELS = {"mono": 1, "stereo": 2, "2.1": 3, "3.0": 3, "quad": 4, "4.0": 4, "5.0": 5}
CHANNELS.update({"5.1": 6, "5.1(side)": 6, "6.1": 7, "7.1": 8})


class ProbeFailed(Exception):
    """ffmpeg could not read the file; ``reason`` is its own message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class MediaInfo:
    container: str  # ffmpeg's demuxer names, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    duration_secs: int
    bitrate_kbps: int
    video: dict[str, Any] | None
    audio: list[dict[str, Any]] = field(default_factory=list)
    # ffprobe's fields: index, codec_name, codec_type "subtitle", tags (language, title).
    subtitles: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MediaInfo:
        return cls(
            str(data.get("container", "")),
            int(data.get("duration_secs", 0)),
            int(data.get("bitrate_kbps", 0)),
            data.get("video"),
            list(data.get("audio") or []),
            list(data.get("subtitles") or []),
        )


def duration_text(secs: int) -> str:
    """``HH:MM:SS`` as ``get_vod_info`` sends ``duration`` (§4.5)."""
    return f"{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"


def _codec(details: str) -> tuple[str, str]:
    match = _CODEC.match(details)
    if not match:
        return "", ""
    return match[1], (match[2] or "")


def _fields(details: str) -> list[str]:
    """The comma-separated parts of a stream line, commas inside parentheses kept
    (``yuv420p(tv, progressive)`` is one part)."""
    parts, depth, current = [], 0, ""
    for char in details:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return parts


def _video(index: int, details: str) -> dict[str, Any]:
    codec, profile = _codec(details)
    stream: dict[str, Any] = {"index": index, "codec_name": codec, "codec_type": "video"}
    if profile and "/" not in profile:
        stream["profile"] = profile
    parts = _fields(details)
    if len(parts) > 1 and _PIX_FMT.match(parts[1]):
        stream["pix_fmt"] = parts[1].split("(")[0]
    if size := _SIZE.search(details):
        stream["width"], stream["height"] = int(size[1]), int(size[2])
    if fps := _FPS.search(details):
        stream["avg_frame_rate"] = fps[1]
    if kbps := _KBPS.search(details):
        stream["bit_rate"] = str(int(kbps[1]) * 1000)
    return stream


def _audio(index: int, language: str, details: str) -> dict[str, Any]:
    codec, profile = _codec(details)
    stream: dict[str, Any] = {"index": index, "codec_name": codec, "codec_type": "audio"}
    if profile and "/" not in profile:
        stream["profile"] = profile
    if hz := _HZ.search(details):
        layout = hz[2].strip()
        stream["sample_rate"] = hz[1]  # ffprobe sends it as a string
        stream["channel_layout"] = layout
        channels = CHANNELS.get(layout)
        if channels is None and (count := re.match(r"(\d+) channels", layout)):
            channels = int(count[1])
        if channels is not None:
            stream["channels"] = channels
    if kbps := _KBPS.search(details):
        stream["bit_rate"] = str(int(kbps[1]) * 1000)
    if language and language != "und":
        stream["tags"] = {"language": language}
    return stream


def _subtitle(index: int, language: str, details: str) -> dict[str, Any]:
    codec, _profile = _codec(details)
    stream: dict[str, Any] = {"index": index, "codec_name": codec, "codec_type": "subtitle"}
    if language and language != "und":
        stream["tags"] = {"language": language}
    return stream


def parse_input_report(lines: list[str]) -> MediaInfo:
    """``ffmpeg -i FILE`` stderr lines to :class:`MediaInfo`, or :class:`ProbeFailed`."""
    container = ""
    duration = 0.0
    bitrate = 0
    video: dict[str, Any] | None = None
    audio: list[dict[str, Any]] = []
    subtitles: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None  # the stream whose metadata lines follow
    seen_input = False
    for raw in lines:
        line = raw.strip()
        if match := _INPUT.match(line):
            seen_input, container = True, match[1]
            continue
        if not seen_input:
            continue
        if match := _DURATION.match(line):
            if match[1] is not None:
                duration = int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3])
            if rate := _OVERALL_BITRATE.search(line):
                bitrate = int(rate[1])
        elif match := _STREAM.match(line):
            index, language, kind, details = int(match[1]), match[2] or "", match[3], match[4]
            current = None
            if kind == "Video" and video is None and "attached pic" not in details:
                video = _video(index, details)
            elif kind == "Audio":
                current = _audio(index, language, details)
                audio.append(current)
            elif kind == "Subtitle":
                current = _subtitle(index, language, details)
                subtitles.append(current)
        elif _ANY_STREAM.match(line):
            current = None  # a data or attachment stream: its metadata is not ours
        elif current is not None and (title := _TITLE.match(line)):
            # A track's own name ("English SDH", "Director's commentary").
            current.setdefault("tags", {})["title"] = title[1].strip()[:200]
    if not seen_input:
        raise ProbeFailed(failure_reason(lines))
    if video is None and not audio:
        raise ProbeFailed("no audio or video stream")
    return MediaInfo(container, int(duration), bitrate, video, audio, subtitles)


def failure_reason(lines: list[str]) -> str:
    """ffmpeg's reason for not opening an input (its last "Error opening input" line)."""
    for raw in reversed(lines):
        if match := _ERROR_LINE.match(raw.strip()):
            return match[1].strip()
    for raw in reversed(lines):
        if raw.strip():
            return raw.strip()[:300]
    return "ffmpeg could not read the file"
