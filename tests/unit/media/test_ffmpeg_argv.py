"""The argv builder: profiles and sources in, ffmpeg command lines out."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from palinsesto.catalog import demo_rows
from palinsesto.node.ffmpeg import (
    Source,
    SourceError,
    channel_argv,
    parse_progress_line,
    parse_test_pattern,
    probe_argv,
    profile_for,
    srt_ingest_argv,
    srt_listener_url,
)
from palinsesto.protocol.sources import SourceKind


def _after(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_copy_profile_remuxes_an_hls_pull_to_ts_on_stdout() -> None:
    argv = channel_argv("ff", Source(SourceKind.hls, "http://up/x.m3u8"), profile_for("copy"))
    assert argv[0] == "ff"
    assert _after(argv, "-i") == "http://up/x.m3u8"
    assert _after(argv, "-c:v") == "copy" and _after(argv, "-c:a") == "copy"
    assert argv[-3:] == ["-flush_packets", "1", "pipe:1"]
    assert _after(argv, "-f") != "lavfi" and "mpegts" in argv
    assert _after(argv, "-progress") == "pipe:2"
    assert "-re" not in argv  # live pulls are paced by the upstream


def test_test_pattern_is_always_encoded_and_maps_two_inputs() -> None:
    argv = channel_argv(
        "ff", Source(SourceKind.test_pattern, "testsrc://320x180@25"), profile_for("copy")
    )
    assert "testsrc2=size=320x180:rate=25" in argv
    assert _after(argv, "-c:v") == "libx264"
    assert argv.count("-map") == 2 and "1:a:0" in argv
    assert "expr:gte(t,n_forced*2)" in argv


def test_transcode_profile_and_gpu_substitution() -> None:
    source = Source(SourceKind.http_ts, "http://up/x.ts")
    argv = channel_argv("ff", source, profile_for("h264_720p"), ts_offset=12.5)
    assert _after(argv, "-c:v") == "libx264" and _after(argv, "-b:v") == "2500k"
    assert _after(argv, "-vf") == "scale=-2:720"
    assert _after(argv, "-output_ts_offset") == "12.500"
    gpu = channel_argv("ff", source, profile_for("h264_720p", gpu="nvenc"))
    assert _after(gpu, "-c:v") == "h264_nvenc" and "-tune" not in gpu
    with pytest.raises(SourceError):
        profile_for("h264_9000p")
    with pytest.raises(SourceError):
        profile_for("h264_720p", gpu="voodoo")


@pytest.mark.parametrize(
    ("kind", "url", "expected"),
    [
        (SourceKind.file, "/media/loop.ts", ["-re", "-stream_loop", "-1"]),
        (SourceKind.rtsp, "rtsp://cam/1", ["-rtsp_transport", "tcp"]),
        (SourceKind.push_rtmp, "", ["-f", "flv", "-i", "pipe:0"]),
        (SourceKind.udp, "udp://239.0.0.1:1234", ["-timeout", "3000000"]),
    ],
)
def test_each_source_kind_has_its_input_options(
    kind: SourceKind, url: str, expected: list[str]
) -> None:
    argv = channel_argv("ff", Source(kind, url), profile_for("copy"))
    joined = " ".join(argv)
    assert " ".join(expected) in joined


def test_srt_caller_and_listener_urls() -> None:
    argv = channel_argv("ff", Source(SourceKind.srt, "srt://up:9000?latency=200"), profile_for(""))
    assert _after(argv, "-i") == "srt://up:9000?latency=200&mode=caller"
    url = srt_listener_url(9001, "secret-pass-123")
    assert url.startswith("srt://0.0.0.0:9001?mode=listener&passphrase=secret-pass-123")


def test_source_from_json_and_bad_input() -> None:
    s = Source.from_json({"kind": "hls", "url": "http://a/b.m3u8", "label": "main"})
    assert s.kind is SourceKind.hls and s.options == {"label": "main"}
    with pytest.raises(SourceError):
        Source.from_json({"kind": "carrier-pigeon", "url": "x"})
    with pytest.raises(SourceError):
        parse_test_pattern("testsrc://huge")
    assert parse_test_pattern("testsrc://1280x720@25").rate == 25


def test_probe_is_short_and_unpaced() -> None:
    argv = probe_argv("ff", Source(SourceKind.file, "/a.ts"), 0.5)
    assert "-re" not in argv and _after(argv, "-t") == "0.5" and argv[-1] == "-"


def test_progress_lines_are_told_apart_from_log_lines() -> None:
    assert parse_progress_line("bitrate= 812.3kbits/s") == ("bitrate", "812.3kbits/s")
    assert parse_progress_line("fps=25.00") == ("fps", "25.00")
    assert parse_progress_line("[in#0 @ 0x1] Error opening input: x=1") is None
    assert parse_progress_line("unknown_key=3") is None


def test_test_patterns_are_small_unless_asked_and_demo_channels_are_on_demand() -> None:
    assert parse_test_pattern("") == parse_test_pattern("testsrc://")
    default = parse_test_pattern("")
    assert (default.width, default.height) == (320, 180)
    assert parse_test_pattern("testsrc://1280x720@30").width == 1280
    rng = random.Random(7)
    now = datetime.now(UTC)
    rows = [
        demo_rows.channel(
            rng, channel_id=i, tenant_id=1, number=i, name=f"C{i}", logo_name="c",
            epg_channel_id="c", now=now,
        )
        for i in range(1, 400)
    ]  # fmt: skip
    assert {row["mode"] for row in rows} == {"on_demand"}
    patterns = [s["url"] for row in rows for s in row["sources"] if s["kind"] == "test_pattern"]
    assert patterns and all(parse_test_pattern(url).height <= 360 for url in patterns)


def test_srt_ingest_relays_the_callers_ts_unchanged() -> None:
    argv = srt_ingest_argv("ff", srt_listener_url(9002, "passphrase-0123"))
    assert _after(argv, "-i").startswith("srt://0.0.0.0:9002?mode=listener")
    assert _after(argv, "-c") == "copy" and argv[-1] == "pipe:1"
    pushed = channel_argv("ff", Source(SourceKind.push_srt, ""), profile_for(""))
    assert _after(pushed, "-i") == "pipe:0"
