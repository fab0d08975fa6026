"""A watermarked channel's TS, on real ffmpeg output: the two renditions split from the
combined encode, the per-viewer A/B switching at keyframes, and the SEI tag."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest

from palinsesto.node.ffmpeg import (
    MARKED_AUDIO,
    MARKED_VIDEO_A,
    MARKED_VIDEO_B,
    channel_argv,
    profile_for,
)
from palinsesto.node.mpegts import PACKET_SIZE, TsChunk, TsChunker
from palinsesto.node.outputs.marked_ts import MarkedFanout
from palinsesto.node.outputs.ts import TsFanout, TsViewer
from palinsesto.node.renditions import RenditionSplitter, crc32_mpeg2
from palinsesto.node.sei_tag import read_tags, sei_nal, tag_keyframe
from palinsesto.protocol.sources import SourceKind, SourceSpec
from palinsesto.protocol.watermark import MarkParams, wants_b

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
MARK = MarkParams(slot_seconds=0.5, strength=3)


@pytest.fixture(scope="module")
def combined() -> bytes:
    """4 s of a watermarked test pattern, as the channel's ffmpeg writes it."""
    argv = channel_argv(
        FFMPEG,
        SourceSpec(SourceKind.test_pattern, "testsrc://320x180@25"),
        profile_for("copy"),
        mark=MARK,
    )
    argv = [a for a in argv if a != "-re"]
    argv.insert(argv.index("pipe:1"), "-t")
    argv.insert(argv.index("pipe:1"), "4")
    return subprocess.run(argv, capture_output=True, check=True, timeout=60).stdout


def _split(data: bytes) -> tuple[bytes, bytes]:
    splitter = RenditionSplitter(MARKED_VIDEO_A, MARKED_VIDEO_B, MARKED_AUDIO)
    parts = [splitter.feed(data[i : i + 10_000]) for i in range(0, len(data), 10_000)]
    return b"".join(a for a, _ in parts), b"".join(b for _, b in parts)


def _decode(data: bytes, tmp: Path, *vf: str) -> tuple[int, str]:
    """(frames decoded, ffmpeg's debug log: it names every continuity counter jump; "repeat"
    keeps identical lines, which ffmpeg otherwise folds into "repeated N times"; one decoder
    thread, so that what it logs per frame does not depend on the machine's load)."""
    path = tmp / "in.ts"
    path.write_bytes(data)
    done = subprocess.run(
        [FFMPEG, "-hide_banner", "-v", "repeat+debug", "-threads", "1", "-i", str(path),
         "-map", "0:v", *vf, "-f", "null", "-"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    frames = re.findall(r"(\d+) frames decoded; (\d+) decode errors", done.stderr)
    assert frames, done.stderr[-2000:]
    assert frames[0][1] == "0", done.stderr[-2000:]
    return int(frames[0][0]), done.stderr


def _chunks(data: bytes) -> list[TsChunk]:
    chunker = TsChunker()
    chunks = chunker.feed(data)
    last = chunker.flush()
    return chunks + ([last] if last else [])


def test_the_psi_crc_is_mpeg2s() -> None:
    assert crc32_mpeg2(b"123456789") == 0x0376E6E7  # the CRC-32/MPEG-2 check value


def test_both_renditions_look_alike_decode_and_differ_by_the_mark(
    combined: bytes, tmp_path: Path
) -> None:
    a, b = _split(combined)
    assert len(a) % PACKET_SIZE == 0 and len(b) % PACKET_SIZE == 0
    for rendition in (a, b):
        frames, log = _decode(rendition, tmp_path)
        assert frames >= 95, log[-1500:]
        assert "Continuity check failed" not in log
        assert "0x0101" not in log and "Stream #0:2" not in log  # one video, at A's PID
    # Same keyframes (slot boundaries) in both; different pictures.
    keys_a = [c.pts for c in _chunks(a) if c.keyframe]
    keys_b = [c.pts for c in _chunks(b) if c.keyframe]
    assert keys_a == keys_b and len(keys_a) >= 8
    assert all(
        abs(y - x - MARK.slot_seconds) < 0.05 for x, y in zip(keys_a, keys_a[1:], strict=False)
    )


class _Sink:
    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.data += data

    def buffered(self) -> int:
        return 0

    def close(self) -> None:
        self.closed = True


def test_a_marked_viewer_switches_renditions_at_keyframes_and_still_decodes(
    combined: bytes, tmp_path: Path
) -> None:
    a, b = _split(combined)
    chunks_a, chunks_b = _chunks(a), _chunks(b)
    marked = MarkedFanout(TsFanout(), TsFanout(), MARK.slot_seconds)
    code = 0b1011_0010_0110_1101
    sink, plain_sink = _Sink(), _Sink()
    viewer = TsViewer(sink, code, sei_nal(4242))
    plain = TsViewer(plain_sink)  # no mark: stays on A, no tag
    marked.add(viewer)
    marked.add(plain)
    # B's chunks come out a little after A's: interleave them by position.
    order = sorted(
        [(i / len(chunks_a), 0, c) for i, c in enumerate(chunks_a)]
        + [(i / len(chunks_b) + 0.001, 1, c) for i, c in enumerate(chunks_b)],
        key=lambda t: t[0],
    )
    for _, rendition, chunk in order:
        marked.publish(rendition, chunk, b"")
    assert marked.switches >= 2
    assert bytes(plain_sink.data) == b"".join(c.data for c in chunks_a)  # untouched
    frames, log = _decode(bytes(sink.data), tmp_path, "-vf", "showinfo")
    assert frames >= 90, log[-1500:]
    # Every switch lands on a tagged keyframe, whose discontinuity_indicator allows the jump.
    assert "Continuity check failed" not in log
    assert b"palinsesto-session:4242".hex() in log  # the SEI, read back by ffmpeg
    keyframes = sum(1 for c in chunks_a if c.keyframe)
    assert read_tags(bytes(sink.data)) == [4242] * keyframes
    # Which rendition each slot came from: the viewer got B exactly where its code says.
    # (A keyframe chunk's packets after the first few are its own, untouched by the tag.)
    b_at = {c.pts: c.data[5 * PACKET_SIZE : 8 * PACKET_SIZE] for c in chunks_b if c.keyframe}
    checked = 0
    for chunk in chunks_a:
        if not chunk.keyframe or chunk.pts not in b_at:
            continue
        slot = marked.slot(chunk.pts)
        assert slot is not None
        from_a = chunk.data[5 * PACKET_SIZE : 8 * PACKET_SIZE] in sink.data
        from_b = b_at[chunk.pts] in sink.data
        assert (from_a, from_b) == (not wants_b(code, slot), wants_b(code, slot)), slot
        checked += 1
    assert checked >= 7


def test_a_tag_goes_into_the_keyframe_and_nowhere_else(combined: bytes, tmp_path: Path) -> None:
    a, _ = _split(combined)
    nal = sei_nal(77)
    assert b"\x00\x00\x00" not in nal[4:]  # emulation prevention kept it a single NAL
    tagged = b"".join(tag_keyframe(c.data, nal) if c.keyframe else c.data for c in _chunks(a))
    assert len(tagged) == len(a) + PACKET_SIZE * read_tags(tagged).count(77)
    frames, log = _decode(tagged, tmp_path, "-vf", "showinfo")
    assert frames >= 95 and "Continuity check failed" not in log
    tags = read_tags(tagged).count(77)
    assert tags >= 8 and log.count(b"palinsesto-session:77".hex()) >= tags - 1
    assert tag_keyframe(b"\x47" + b"\x1f\xff\x10" + b"\xff" * 184, nal)[1:3] == b"\x1f\xff"
