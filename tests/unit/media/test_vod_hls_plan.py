"""A movie as HLS, plain values: the keyframe index read from ffmpeg's framecrc lines,
segments cut at keyframes, the VOD playlist, the segment command, what TS can carry,
the segment URL form, and tokens and sessions kept apart from live HLS."""

from __future__ import annotations

import pytest

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.node.vod_hls import (
    IndexUnreadable,
    KeyframeIndex,
    NotHlsPlayable,
    Segment,
    parse_framecrc,
    plan_segments,
    playlist,
    segment_argv,
    ts_streams,
)
from palinsesto.panel.playback.admission import SessionRegistry
from palinsesto.panel.playback.hls_tokens import SegmentTokens, TokenRefused
from palinsesto.panel.playback.lines import LineView
from palinsesto.panel.playback.stream_paths import VodSegmentPath, parse_delivery_path

# ffmpeg 9's framecrc of an H.264 stream with B-frames (tb 1/12800, 25 fps, GOP of 3).
FRAMECRC = """\
#extradata 0:       45, 0x249b0eb4
#tb 0: 1/12800
#media_type 0: video
#codec_id 0: h264
0,      -1024,          0,      512,     3578, 0xa267760c
0,       -512,       1024,      512,     1228, 0x9a416c47, F=0x0
0,          0,        512,      512,      515, 0x061e0b9a, F=0x0
0,        512,       1536,      512,     3000, 0x061e0b9b
0,       1024,       2048,      512,      401, 0x3bc4ca5f, F=0x0
"""


def test_framecrc_gives_keyframe_times_and_where_the_video_ends() -> None:
    index = parse_framecrc(FRAMECRC.splitlines())
    assert index.keyframes == (0.0, 0.12)
    assert index.end == pytest.approx((2048 + 512) / 12800)


def test_framecrc_without_a_keyframe_is_unreadable() -> None:
    no_keys = [line for line in FRAMECRC.splitlines() if "F=" in line or line.startswith("#")]
    with pytest.raises(IndexUnreadable):
        parse_framecrc(no_keys)
    with pytest.raises(IndexUnreadable):
        parse_framecrc(["0, 0, 0, 512, 10, 0x0"])  # no time base


def test_segments_start_at_keyframes_and_last_at_least_the_target() -> None:
    index = KeyframeIndex((0.08, 2.0, 4.0, 6.5, 8.0, 13.0, 19.5), 20.0)
    segments = plan_segments(index, target=6.0)
    assert [(s.start, s.end) for s in segments] == [(0.0, 6.5), (6.5, 13.0), (13.0, 20.0)]
    assert [s.last for s in segments] == [False, False, True]
    # A keyframe too close to the end makes no tiny last segment.
    assert plan_segments(KeyframeIndex((0.0, 6.0, 11.9), 12.3))[-1].start == 6.0


def test_the_playlist_is_vod_with_an_end_and_a_target_above_every_segment() -> None:
    segments = [Segment(0, 0.0, 6.5, False), Segment(1, 6.5, 13.2, True)]
    text = playlist(segments, lambda s: f"/vodhls/t/{s.seq}.ts")
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U" and lines[-1] == "#EXT-X-ENDLIST"
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in lines and "#EXT-X-TARGETDURATION:7" in lines
    assert lines[-5:-1] == [
        "#EXTINF:6.500000,",
        "/vodhls/t/0.ts",
        "#EXTINF:6.700000,",
        "/vodhls/t/1.ts",
    ]


def test_segment_argv_seeks_copies_and_drops_what_belongs_to_the_neighbours() -> None:
    middle = segment_argv("ff", "/m/a.mp4", Segment(3, 18.12, 24.5, False), [0, 1, 3])
    assert middle[middle.index("-ss") + 1] == "18.120000"
    assert middle[middle.index("-i") + 1] == "file:/m/a.mp4"
    assert ["-map", "0:0", "-map", "0:1", "-map", "0:3", "-c", "copy"] == middle[
        middle.index("-map") : middle.index("copy") + 1
    ]
    video = middle[middle.index("-bsf:v") + 1]
    audio = middle[middle.index("-bsf:a") + 1]
    assert video == "noise=drop=lt(pts*tb\\,-0.0005)+gte(pts*tb\\,6.379500)"
    assert audio == "noise=drop=lte((pts+duration)*tb\\,0.0005)+gt((pts+duration)*tb\\,6.380500)"
    assert middle[middle.index("-output_ts_offset") + 1] == "28.120000"
    assert middle[-3:] == ["-f", "mpegts", "pipe:1"]
    first = segment_argv("ff", "/m/a.mp4", Segment(0, 0.0, 6.0, False), [0])
    assert "-ss" not in first and "lt(pts" not in " ".join(first)
    last = segment_argv("ff", "/m/a.mp4", Segment(4, 24.5, 30.0, True), [0])
    assert "-t" not in last and "gte(pts" not in " ".join(last)


def test_only_what_mpegts_carries_is_played_as_hls() -> None:
    info = {
        "video": {"index": 1, "codec_name": "h264"},
        "audio": [
            {"index": 2, "codec_name": "aac"},
            {"index": 3, "codec_name": "vorbis"},
            {"index": 4, "codec_name": "ac3"},
        ],
    }
    assert ts_streams(info) == [1, 2, 4]
    with pytest.raises(NotHlsPlayable, match="vp9 video"):
        ts_streams({"video": {"index": 0, "codec_name": "vp9"}, "audio": []})
    with pytest.raises(NotHlsPlayable, match="no video"):
        ts_streams({"video": None, "audio": [{"index": 0, "codec_name": "aac"}]})


def test_vod_segment_urls_parse_apart_from_live_ones() -> None:
    token = "A" * 40
    assert parse_delivery_path(f"/vodhls/{token}/12.ts") == VodSegmentPath(token, 12)


def test_a_movie_token_is_refused_as_a_live_token_and_lives_as_long_as_asked() -> None:
    live, vod = SegmentTokens("s", 120), SegmentTokens("s", 120, "vod-hls")
    token = vod.issue(1, 2, 3, now=1000.0, ttl=7200)
    assert vod.verify(token, now=8000.0).session_id == 3
    with pytest.raises(TokenRefused):
        live.verify(token, now=1000.0)
    with pytest.raises(TokenRefused):
        vod.verify(token, now=8201.0)


def _line() -> LineView:
    return LineView(
        id=1, tenant_id=1, username="u", password="p", exp_date=None, created_at=0,
        max_connections=2, is_trial=False, enabled=True, banned=False, tenant_active=True,
        allowed_outputs=("ts", "m3u8"), allowed_ips=frozenset(),
        allowed_user_agents=frozenset(), bouquet_ids=(1,),
    )  # fmt: skip


def test_a_movie_hls_session_is_not_taken_for_a_live_one_of_the_same_id() -> None:
    clock = [0.0]
    sessions = SessionRegistry(hls_timeout=30, clock=lambda: clock[0])
    line = _line()
    live = sessions.admit(line, 5, "ip", "ua", "hls", ConnectionPolicy.refuse)
    movie = sessions.admit(line, 5, "ip", "ua", "movie-hls", ConnectionPolicy.refuse)
    assert movie is not live and sessions.active_count(line.id) == 2
    assert sessions.admit(line, 5, "ip", "ua", "movie-hls", ConnectionPolicy.refuse) is movie
    assert sessions.hls_sessions_of(5) == 1  # the movie does not keep channel 5 running
    clock[0] = 31.0
    assert {s.output for s in sessions.expire_idle()} == {"hls", "movie-hls"}
