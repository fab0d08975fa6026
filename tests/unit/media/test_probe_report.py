"""ffmpeg's input report to MediaInfo; the inputs are real ffmpeg 9 output."""

from __future__ import annotations

from pathlib import Path

import pytest

from palinsesto.node.probe_report import (
    MediaInfo,
    ProbeFailed,
    duration_text,
    parse_input_report,
)

# stderr of `ffmpeg -hide_banner -nostdin -i file:NAME` (ffmpeg 9, imageio-ffmpeg)
CAPTURED = Path(__file__).parent / "captured"
MP4 = (CAPTURED / "ffmpeg9_mp4_h264_aac.txt").read_text()

MKV = (CAPTURED / "ffmpeg9_mkv_two_audio.txt").read_text()

BROKEN = (CAPTURED / "ffmpeg9_broken.txt").read_text()


def test_an_mp4_with_h264_and_aac() -> None:
    info = parse_input_report(MP4.splitlines())
    assert info.container == "mov,mp4,m4a,3gp,3g2,mj2"
    assert (info.duration_secs, info.bitrate_kbps) == (90, 374)
    assert info.video == {
        "index": 0,
        "codec_name": "h264",
        "codec_type": "video",
        "profile": "Constrained Baseline",
        "pix_fmt": "yuv420p",
        "width": 320,
        "height": 180,
        "avg_frame_rate": "25",
        "bit_rate": "304000",
    }
    assert info.audio == [
        {
            "index": 1,
            "codec_name": "aac",
            "codec_type": "audio",
            "profile": "LC",
            "sample_rate": "44100",
            "channel_layout": "mono",
            "channels": 1,
            "bit_rate": "64000",
        }
    ]


def test_an_mkv_with_two_tagged_audio_tracks() -> None:
    info = parse_input_report(MKV.splitlines())
    assert info.container == "matroska,webm" and info.duration_secs == 8
    assert info.video is not None and info.video["pix_fmt"] == "yuv420p"
    assert [(a["index"], a["tags"]["language"], a["channels"]) for a in info.audio] == [
        (1, "eng", 2),
        (2, "ita", 2),
    ]
    assert MediaInfo.from_dict(info.as_dict()) == info


def test_a_broken_file_gives_ffmpegs_reason() -> None:
    with pytest.raises(ProbeFailed) as caught:
        parse_input_report(BROKEN.splitlines())
    assert caught.value.reason == "Invalid data found when processing input"


def test_surround_layouts_count_their_channels() -> None:
    # Constructed in ffmpeg's stream-line format (the samples above are mono and stereo).
    lines = [
        "Input #0, matroska,webm, from 'file:x.mkv':",
        "  Duration: 00:00:01.00, start: 0.000000, bitrate: 10 kb/s",
        "  Stream #0:0(fre): Audio: ac3, 48000 Hz, 5.1(side), fltp, 384 kb/s",
        "  Stream #0:1: Audio: pcm_s16le, 48000 Hz, 12 channels, s16, 9216 kb/s",
    ]
    info = parse_input_report(lines)
    assert info.video is None
    assert [a.get("channels") for a in info.audio] == [6, 12]
    assert info.audio[0]["tags"] == {"language": "fre"}


def test_an_input_without_audio_or_video_is_a_failure() -> None:
    lines = ["Input #0, srt, from 'file:x.srt':", "  Duration: N/A, bitrate: N/A"]
    with pytest.raises(ProbeFailed, match="no audio or video"):
        parse_input_report(lines)


def test_nothing_at_all() -> None:
    with pytest.raises(ProbeFailed):
        parse_input_report([])


def test_duration_text() -> None:
    assert duration_text(0) == "00:00:00"
    assert duration_text(90) == "00:01:30"
    assert duration_text(3 * 3600 + 61) == "03:01:01"


def test_subtitle_tracks_with_their_codec_language_and_title() -> None:
    # An MKV with an SRT track (eng, titled) and an ASS track (ita), made by ffmpeg 9.
    report = (CAPTURED / "ffmpeg9_mkv_two_subtitles.txt").read_text()
    info = parse_input_report(report.splitlines())
    assert info.subtitles == [
        {
            "index": 1,
            "codec_name": "subrip",
            "codec_type": "subtitle",
            "tags": {"language": "eng", "title": "English SDH"},
        },
        {"index": 2, "codec_name": "ass", "codec_type": "subtitle", "tags": {"language": "ita"}},
    ]
    assert MediaInfo.from_dict(info.as_dict()) == info
    # A file without subtitles, and a probe stored before subtitles were recorded.
    assert parse_input_report(MKV.splitlines()).subtitles == []
    stored = parse_input_report(MKV.splitlines()).as_dict()
    del stored["subtitles"]
    assert MediaInfo.from_dict(stored).subtitles == []
