"""The one place that builds ffmpeg command lines.

A channel's ffmpeg reads one source and writes one continuous MPEG-TS to stdout; the engine
packages that single stream into the TS ring and the HLS segments (mux once, copy many).
Everything here is pure: a profile and a source in, ``list[str]`` out, so tests assert on it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from palinsesto.protocol.profiles import PROFILES as PROFILE_LADDERS
from palinsesto.protocol.profiles import ProfileLadder, TranscodeProfileName, profile_name
from palinsesto.protocol.sources import InvalidSource, SourceKind, SourceSpec, parse_test_pattern
from palinsesto.protocol.watermark import MarkParams

# Keys ffmpeg writes with ``-progress``; anything else on stderr is a log line.
PROGRESS_KEYS = frozenset(
    {
        "frame",
        "fps",
        "bitrate",
        "total_size",
        "out_time_us",
        "out_time_ms",
        "out_time",
        "dup_frames",
        "drop_frames",
        "speed",
        "progress",
    }
)
GPU_ENCODERS = {"nvenc": "h264_nvenc", "vaapi": "h264_vaapi", "qsv": "h264_qsv"}


# A source description that cannot be turned into ffmpeg input arguments.
SourceError = InvalidSource
# A channel's source: the typed spec the admin API checked before storing it.
Source = SourceSpec


@dataclass(frozen=True, slots=True)
class TranscodeProfile:
    """How a channel's video and audio are (re)encoded; ``copy`` remuxes only."""

    name: str = "copy"
    video_codec: str = "copy"  # "copy", "libx264" or a GPU encoder such as "h264_nvenc"
    audio_codec: str = "copy"  # "copy" or "aac"
    preset: str = "veryfast"
    video_bitrate_kbps: int = 0  # 0 = encoder default (CRF)
    audio_bitrate_kbps: int = 128
    height: int = 0  # 0 = keep the source size
    gop_seconds: float = 2.0  # keyframe interval: matches the 2 s HLS target

    @property
    def transcodes(self) -> bool:
        return self.video_codec != "copy"


def _from_ladder(name: TranscodeProfileName, ladder: ProfileLadder) -> TranscodeProfile:
    if name is TranscodeProfileName.copy:
        return TranscodeProfile()
    return TranscodeProfile(
        name.value, "libx264", "aac", "veryfast", ladder.video_kbps, ladder.audio_kbps,
        ladder.height,
    )  # fmt: skip


# Built from the one registry the admin API and the panel read (catalog/profiles.py).
PROFILES: dict[TranscodeProfileName, TranscodeProfile] = {
    name: _from_ladder(name, ladder) for name, ladder in PROFILE_LADDERS.items()
}


def profile_for(name: str, gpu: str = "") -> TranscodeProfile:
    """The named profile (current or legacy spelling); with ``gpu`` ("nvenc", "vaapi",
    "qsv") libx264 becomes that encoder."""
    try:
        profile = PROFILES[profile_name(name)]
    except ValueError:
        raise SourceError(f"unknown transcode profile {name!r}") from None
    if gpu and profile.video_codec == "libx264":
        if gpu not in GPU_ENCODERS:
            raise SourceError(f"unknown GPU encoder family {gpu!r}")
        profile = replace(profile, video_codec=GPU_ENCODERS[gpu])
    return profile


def _srt_url(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(extra)
    return urlunsplit(parts._replace(query=urlencode(query)))


# What an HTTP pull may open: a playlist must not make ffmpeg read file: or other URLs.
HTTP_PULL_PROTOCOLS = "http,https,tls,tcp,crypto,httpproxy"


def pull_guard_args(source: Source, http_proxy: str) -> list[str]:
    """Options that keep a source's reads where the outbound policy allows.

    HTTP pulls may open only HTTP(S) (HLS segments included) and, with ``http_proxy`` (the
    pull proxy, outbound/pull_proxy.py), make every connection through it; file sources
    may open only the file.
    """
    if source.kind in (SourceKind.hls, SourceKind.http_ts):
        proxy = ["-http_proxy", http_proxy] if http_proxy else []
        return ["-protocol_whitelist", HTTP_PULL_PROTOCOLS, *proxy]
    if source.kind is SourceKind.file:
        return ["-protocol_whitelist", "file"]
    return []


def input_args(source: Source, http_proxy: str = "") -> list[str]:
    """ffmpeg input options and ``-i`` for one source (reference: ingest-notes.md)."""
    probe = ["-probesize", "500000", "-analyzeduration", "1000000"]
    guard = pull_guard_args(source, http_proxy)
    kind, url = source.kind, source.url
    # Network reads time out after 3 s so that a dead upstream fails over quickly.
    timeout = ["-rw_timeout", "3000000"]
    if kind is SourceKind.test_pattern:
        p = parse_test_pattern(url)
        return [
            "-re",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={p.width}x{p.height}:rate={p.rate}",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
        ]
    if kind is SourceKind.file:
        return ["-re", "-stream_loop", "-1", *guard, *probe, "-i", url]
    if kind is SourceKind.hls:
        return [*guard, *timeout, *probe, "-live_start_index", "-3", "-i", url]
    if kind is SourceKind.http_ts:
        return [*guard, *timeout, *probe, "-f", "mpegts", "-i", url]
    if kind is SourceKind.rtsp:
        return ["-rtsp_transport", "tcp", "-timeout", "3000000", *probe, "-i", url]
    if kind is SourceKind.rtmp:
        return [*timeout, *probe, "-i", url]
    if kind is SourceKind.udp:
        return ["-timeout", "3000000", *probe, "-i", url]
    if kind is SourceKind.srt:
        return [*probe, "-i", _srt_url(url, {"mode": "caller"})]
    if kind is SourceKind.push_rtmp:
        return [*probe, "-f", "flv", "-i", "pipe:0"]
    if kind is SourceKind.push_srt:
        # The SRT listener (media/ingest/srt.py) relays the caller's TS into a PushFeed.
        return [*probe, "-f", "mpegts", "-i", "pipe:0"]
    raise SourceError(f"unsupported source kind {kind}")


def srt_listener_url(port: int, passphrase: str, host: str = "0.0.0.0") -> str:
    """The listener URL a push_srt channel's ingest waits on (one port per channel).

    It waits for a caller as long as it takes; once one is connected, 3 s without data
    (``timeout``, in microseconds) means the publisher is gone (ingest-notes.md, SRT push).
    """
    query = {"mode": "listener", "passphrase": passphrase, "pbkeylen": "16", "timeout": "3000000"}
    return f"srt://{host}:{port}?{urlencode(query)}"


def srt_ingest_argv(ffmpeg: str, listener_url: str) -> list[str]:
    """An SRT listener that relays the publisher's MPEG-TS to stdout, unchanged.

    A caller with a wrong passphrase is refused by libsrt (``BADSECRET``) and the listener
    keeps waiting; when the publisher leaves, ffmpeg exits and the ingest starts a new one.
    """
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "warning",
        "-probesize",
        "500000",
        "-analyzeduration",
        "1000000",
        "-f",
        "mpegts",
        "-i",
        listener_url,
        "-map",
        "0",
        "-c",
        "copy",
        "-f",
        "mpegts",
        "-flush_packets",
        "1",
        "pipe:1",
    ]


def codec_args(profile: TranscodeProfile, *, must_encode: bool) -> list[str]:
    """Encoder options; ``must_encode`` for raw sources (test pattern) that cannot be copied."""
    if not profile.transcodes and not must_encode:
        return ["-c:v", "copy", "-c:a", "copy"]
    if not profile.transcodes:
        profile = TranscodeProfile("pattern", "libx264", "aac", "ultrafast", 0, 64)
    args = ["-c:v", profile.video_codec]
    if profile.video_codec == "libx264":
        args += ["-preset", profile.preset, "-tune", "zerolatency", "-pix_fmt", "yuv420p"]
    if profile.video_bitrate_kbps:
        kbps = profile.video_bitrate_kbps
        args += ["-b:v", f"{kbps}k", "-maxrate", f"{kbps}k", "-bufsize", f"{2 * kbps}k"]
    if profile.height:
        args += ["-vf", f"scale=-2:{profile.height}"]
    # A keyframe every gop_seconds, whatever the scene: HLS segments and TS joins cut there.
    args += [
        "-force_key_frames",
        f"expr:gte(t,n_forced*{profile.gop_seconds:g})",
        "-sc_threshold",
        "0",
    ]
    args += ["-c:a", profile.audio_codec, "-b:a", f"{profile.audio_bitrate_kbps}k"]
    return args


# The PIDs of a watermarked channel's combined output (node/renditions.py splits it).
MARKED_VIDEO_A, MARKED_VIDEO_B, MARKED_AUDIO = 0x100, 0x101, 0x102


def mark_filter(mark: MarkParams, height: int = 0) -> str:
    """The filter graph of a watermarked channel: one decode, two marked copies.

    The checkerboard is drawn once (``geq`` on the first frame only) at the picture's own
    size; ``blend`` then adds it to every frame (addition with zero chroma leaves colour
    alone), A with the odd blocks raised, B with the even ones (``lutyuv`` inverts it).
    """
    scale = f"scale=-2:{height}," if height else ""
    k, n = mark.strength, mark.grid
    return (
        f"[0:v]{scale}format=yuv420p,split=3[wm0][wm1][wm2];"
        f"[wm2]trim=end_frame=1,geq=lum='{k}*mod(floor(X*{n}/W)+floor(Y*{n}/H),2)'"
        f":cb=0:cr=0,split[wmpa][wmp];[wmp]lutyuv=y='{k}-val'[wmpb];"
        "[wm0][wmpa]blend=all_mode=addition[wma];[wm1][wmpb]blend=all_mode=addition[wmb]"
    )


def marked_codec_args(profile: TranscodeProfile, mark: MarkParams) -> list[str]:
    """Encoder options of both renditions: the same encoder, GOP and segment boundaries
    (a keyframe exactly every slot, never one on a scene cut)."""
    if not profile.transcodes:
        profile = TranscodeProfile("marked", "libx264", "aac", "veryfast", 0, 128)
    args = ["-c:v", profile.video_codec]
    if profile.video_codec == "libx264":
        args += ["-preset", profile.preset, "-tune", "zerolatency", "-pix_fmt", "yuv420p"]
    if profile.video_bitrate_kbps:
        kbps = profile.video_bitrate_kbps
        args += ["-b:v", f"{kbps}k", "-maxrate", f"{kbps}k", "-bufsize", f"{2 * kbps}k"]
    args += [
        "-force_key_frames",
        f"expr:gte(t,n_forced*{mark.slot_seconds:g})",
        "-sc_threshold",
        "0",
        "-c:a",
        profile.audio_codec if profile.audio_codec != "copy" else "aac",
        "-b:a",
        f"{profile.audio_bitrate_kbps}k",
        # Fixed PIDs; one program per rendition, so each carries its own PCR.
        "-streamid",
        f"0:{MARKED_VIDEO_A}",
        "-streamid",
        f"1:{MARKED_VIDEO_B}",
        "-streamid",
        f"2:{MARKED_AUDIO}",
        "-program",
        "program_num=1:st=0",
        "-program",
        "program_num=2:st=1",
    ]
    return args


def channel_argv(
    ffmpeg: str,
    source: Source,
    profile: TranscodeProfile,
    *,
    ts_offset: float = 0.0,
    http_proxy: str = "",
    mark: MarkParams | None = None,
) -> list[str]:
    """The whole command of a channel's ffmpeg: one source in, MPEG-TS on stdout.

    ``ts_offset`` shifts output timestamps so that a restart or a failover keeps them
    increasing, and viewers' decoders carry on over the switch. ``http_proxy``: see
    :func:`pull_guard_args`. With ``mark``, the TS carries two marked renditions of the
    video (PIDs :data:`MARKED_VIDEO_A` and :data:`MARKED_VIDEO_B`) and the audio once.
    """
    pattern = source.kind is SourceKind.test_pattern
    audio = "1:a:0" if pattern else "0:a:0?"
    if mark is not None:
        maps = ["-filter_complex", mark_filter(mark, profile.height)]
        maps += ["-map", "[wma]", "-map", "[wmb]", "-map", audio]
        codecs = marked_codec_args(profile, mark)
    else:
        maps = ["-map", "0:v:0" if pattern else "0:v:0?", "-map", audio]
        codecs = codec_args(profile, must_encode=pattern)
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "warning",
        "-nostats",
        "-progress",
        "pipe:2",
        "-stats_period",
        "1",
        "-fflags",
        "+genpts",
        *input_args(source, http_proxy),
        *maps,
        *codecs,
        "-output_ts_offset",
        f"{ts_offset:.3f}",
        "-f",
        "mpegts",
        "-mpegts_flags",
        "+resend_headers",
        "-flush_packets",
        "1",
        "pipe:1",
    ]


def probe_argv(
    ffmpeg: str, source: Source, seconds: float = 0.5, http_proxy: str = ""
) -> list[str]:
    """A short read of ``source`` to learn whether it is back (failover return check)."""
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        *[a for a in input_args(source, http_proxy) if a != "-re"],
        "-t",
        f"{seconds:g}",
        "-f",
        "null",
        "-",
    ]


def parse_progress_line(line: str) -> tuple[str, str] | None:
    """``key=value`` from a ``-progress`` line, or None for an ordinary log line."""
    key, sep, value = line.partition("=")
    if not sep or key not in PROGRESS_KEYS or " " in key:
        return None
    return key, value.strip()


def file_info_argv(ffmpeg: str, path: str) -> list[str]:
    """Describe a VOD file: ffmpeg prints its input report and stops (no output is given).

    ``file:`` keeps a file name from being read as another protocol's URL.
    """
    return [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "info", "-i", f"file:{path}"]


def stream_info_argv(ffmpeg: str) -> list[str]:
    """Describe MPEG-TS read from stdin (a running channel's own recent output): ffmpeg
    prints its input report and stops, as :func:`file_info_argv` does for a file."""
    return [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "info", "-f", "mpegts", "-i", "pipe:0"]


def thumbnail_argv(ffmpeg: str, width: int = 320) -> list[str]:
    """One JPEG, ``width`` pixels wide, of the first picture of MPEG-TS read from stdin
    (a keyframe-aligned run of a channel's output); the JPEG goes to stdout."""
    return [
        ffmpeg,
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        "mpegts",
        "-i",
        "pipe:0",
        "-frames:v",
        "1",
        "-vf",
        f"scale={width}:-2",
        "-f",
        "image2",
        "-c:v",
        "mjpeg",
        "pipe:1",
    ]


def mark_reading_argv(ffmpeg: str, path: str, grid: int, fps: float) -> list[str]:
    """A capture reduced to what the watermark reader needs: ``fps`` frames a second,
    each the ``grid`` × ``grid`` luma block means (area scaling), raw bytes on stdout."""
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-i",
        f"file:{path}",
        "-map",
        "0:v:0",
        "-vf",
        f"fps={fps:g},scale={grid}:{grid}:flags=area,format=gray",
        "-f",
        "rawvideo",
        "pipe:1",
    ]
