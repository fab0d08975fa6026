"""The profile registry the API and the engine share, and the HLS window across a stop."""

from __future__ import annotations

import pytest

from palinsesto.node.ffmpeg import SourceError, profile_for
from palinsesto.node.mpegts import TsChunk
from palinsesto.node.outputs.hls import HlsSegmenter
from palinsesto.protocol.profiles import (
    LEGACY_NAMES,
    PROFILES,
    TranscodeProfileName,
    profile_labels,
    profile_name,
)


def test_every_name_has_a_rung_a_label_and_an_engine_profile() -> None:
    assert set(PROFILES) == set(TranscodeProfileName) == set(map(profile_name, profile_labels()))
    for name, ladder in PROFILES.items():
        engine = profile_for(name.value)
        assert engine.height == ladder.height
        assert engine.transcodes is (name is not TranscodeProfileName.copy)
    for old, new in LEGACY_NAMES.items():
        assert profile_for(old) == profile_for(new.value)
    with pytest.raises(SourceError):
        profile_for("h265_8k")


def _chunk(seq: int, pts: float, keyframe: bool = True) -> TsChunk:
    return TsChunk(seq, b"\x47" + bytes(187), keyframe, pts, True)


def test_a_reset_window_lists_only_new_segments_with_rising_sequence_numbers() -> None:
    now = [0.0]
    hls = HlsSegmenter(target=2.0, clock=lambda: now[0])
    for i in range(8):
        now[0] = i * 1.0
        hls.push(_chunk(i, i * 1.0), b"")
    before = hls.playlist(str)
    assert hls.ready and "#EXT-X-MEDIA-SEQUENCE:0" in before
    last = int(before.strip().splitlines()[-1])
    hls.reset()
    assert not hls.ready and hls.get(last) is None
    for i in range(100, 106):
        now[0] = i * 1.0
        hls.push(_chunk(i, i * 1.0), b"")
    after = hls.playlist(str)
    listed = [int(line) for line in after.splitlines() if not line.startswith("#")]
    assert listed and min(listed) > last
    assert after.index("#EXT-X-DISCONTINUITY\n") < after.index(f"\n{listed[0]}\n")


def test_a_token_playlist_is_the_rendered_window_with_the_token_in_each_url() -> None:
    now = [0.0]
    hls = HlsSegmenter(target=2.0, clock=lambda: now[0])

    def push(i: int) -> None:
        now[0] = i * 1.0
        hls.push(_chunk(i, i * 1.0), b"")

    def expected(token: str) -> bytes:
        return hls.playlist(lambda seq: f"/play/{token}/{seq}.ts").encode()

    for i in range(6):
        push(i)
    assert hls.token_playlist("/play/", "tok-A") == expected("tok-A")
    assert hls.token_playlist("/play/", "tok_B") == expected("tok_B")
    # A new segment, then a reset: the kept rendering follows the window.
    for i in range(6, 10):
        push(i)
    assert hls.token_playlist("/play/", "tok-A") == expected("tok-A")
    hls.reset()
    for i in range(100, 104):
        push(i)
    assert b"#EXT-X-DISCONTINUITY\n" in hls.token_playlist("/play/", "t")
    assert hls.token_playlist("/play/", "t") == expected("t")
