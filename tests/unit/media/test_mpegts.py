"""TS parsing and keyframe chunking, on real ffmpeg output."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest

from palinsesto.node.mpegts import PACKET_SIZE, TsChunker, parse_packet, parse_pat, parse_pmt

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


@pytest.fixture(scope="module")
def sample_ts(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """3 s of 320x180 H.264 + AAC with a keyframe every second."""
    out = tmp_path_factory.mktemp("ts") / "sample.ts"
    subprocess.run(
        [
            FFMPEG, "-hide_banner", "-loglevel", "error",
            "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440",
            "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
            "-sc_threshold", "0", "-c:a", "aac", "-f", "mpegts", str(out),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return out.read_bytes()


def _decode_frames(data: bytes, tmp: Path) -> tuple[int, str]:
    path = tmp / "part.ts"
    path.write_bytes(data)
    result = subprocess.run(
        [FFMPEG, "-hide_banner", "-v", "error", "-i", str(path), "-map", "0:v", "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    probe = subprocess.run(
        [FFMPEG, "-hide_banner", "-i", str(path), "-map", "0:v", "-c", "copy", "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    frames = [ln for ln in probe.stderr.splitlines() if "frame=" in ln]
    count = int(frames[-1].split("frame=")[1].split()[0]) if frames else 0
    return count, result.stderr


def test_tables_are_found_in_real_output(sample_ts: bytes) -> None:
    packets = [parse_packet(sample_ts[i : i + PACKET_SIZE]) for i in range(0, 20 * 188, 188)]
    assert packets[0].pid == 0x11  # ffmpeg writes its SDT first
    pat = next(p for p in packets if p.pid == 0)
    pmt_pids = parse_pat(pat.payload)
    assert pmt_pids == [0x1000]
    pmt = next(
        parse_packet(sample_ts[i : i + PACKET_SIZE])
        for i in range(0, len(sample_ts), PACKET_SIZE)
        if parse_packet(sample_ts[i : i + PACKET_SIZE]).pid == 0x1000
    )
    streams = parse_pmt(pmt.payload)
    assert (0x1B, 0x100) in streams and any(t == 0x0F for t, _ in streams)


def test_chunks_start_at_every_keyframe_and_lose_no_byte(sample_ts: bytes) -> None:
    chunker = TsChunker(max_bytes=16 * 1024)
    chunks = []
    # Odd read sizes, as a pipe delivers them.
    for i in range(0, len(sample_ts), 1000):
        chunks += chunker.feed(sample_ts[i : i + 1000])
    last = chunker.flush()
    chunks += [last] if last else []
    assert b"".join(c.data for c in chunks) == sample_ts
    keyframes = [c for c in chunks if c.keyframe]
    assert len(keyframes) == 3
    assert all(c.starts_with_psi for c in keyframes)
    assert [round(c.pts - keyframes[0].pts, 2) for c in keyframes] == [0.0, 1.0, 2.0]
    assert all(len(c.data) % PACKET_SIZE == 0 and len(c.data) <= 16 * 1024 for c in chunks)
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert chunker.video_pid == 0x100 and chunker.psi[:1] == b"\x47"


def test_decoding_from_a_later_keyframe_chunk_works_at_once(
    sample_ts: bytes, tmp_path: Path
) -> None:
    chunker = TsChunker()
    chunks = chunker.feed(sample_ts) + [chunker.flush()]
    second = next(i for i, c in enumerate(chunks) if c and c.keyframe and i > 0)
    tail = b"".join(c.data for c in chunks[second:] if c)
    frames, errors = _decode_frames(tail, tmp_path)
    assert frames >= 45
    assert "non-existing PPS" not in errors and "no frame" not in errors


def test_garbage_before_and_between_packets_is_skipped(sample_ts: bytes) -> None:
    chunker = TsChunker()
    noisy = b"\x00garbage" + sample_ts[: PACKET_SIZE * 50] + b"junk" + sample_ts[PACKET_SIZE * 50 :]
    chunks = chunker.feed(noisy) + [chunker.flush()]
    assert chunker.resyncs >= 2
    total = sum(len(c.data) for c in chunks if c)
    assert total == len(sample_ts)
    with pytest.raises(ValueError):
        parse_packet(b"\x00" * PACKET_SIZE)
