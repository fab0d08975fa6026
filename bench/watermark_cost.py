"""Cost of the forensic watermark: CPU per channel of the A/B encode against one encode of
the same channel (the baseline), measured in the same run, plus the node's Python work of
splitting the combined TS into its two renditions, and how visible the mark is (PSNR of
rendition A's picture against the unmarked source).

Both encodes read the same test pattern as fast as they can (no -re) for --seconds of
media; figures are CPU seconds per second of media (1.0 = one core for one channel), so
the shared machine's load changes wall time but not these.

    .venv/bin/python bench/watermark_cost.py [--size 1280x720] [--seconds 20]
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import time

import imageio_ffmpeg

from palinsesto.node.ffmpeg import (
    MARKED_AUDIO,
    MARKED_VIDEO_A,
    MARKED_VIDEO_B,
    channel_argv,
    mark_filter,
    profile_for,
)
from palinsesto.node.mpegts import TsChunker
from palinsesto.node.renditions import RenditionSplitter
from palinsesto.node.sei_tag import sei_nal, tag_keyframe
from palinsesto.protocol.sources import SourceKind, SourceSpec
from palinsesto.protocol.watermark import MarkParams

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def _without_realtime(argv: list[str], seconds: float) -> list[str]:
    """The channel's own command, reading as fast as possible for ``seconds`` of media."""
    argv = [a for a in argv if a != "-re"]
    out = argv.index("pipe:1")
    return [*argv[:out], "-t", f"{seconds:g}", *argv[out:]]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def encode(argv: list[str]) -> tuple[float, bytes]:
    """(CPU seconds of the child, its stdout)."""
    before = _children_cpu()
    done = subprocess.run(argv, capture_output=True, check=True)
    return _children_cpu() - before, done.stdout


def split_cost(data: bytes) -> float:
    """CPU seconds the node spends splitting and chunking the combined output."""
    splitter = RenditionSplitter(MARKED_VIDEO_A, MARKED_VIDEO_B, MARKED_AUDIO)
    chunk_a, chunk_b = TsChunker(), TsChunker()
    started = time.process_time()
    for i in range(0, len(data), 256 * 1024):
        a, b = splitter.feed(data[i : i + 256 * 1024])
        chunk_a.feed(a)
        chunk_b.feed(b)
    return time.process_time() - started


def chunk_cost(data: bytes) -> float:
    """The same for an unmarked channel: chunking its one stream."""
    chunker = TsChunker()
    started = time.process_time()
    for i in range(0, len(data), 256 * 1024):
        chunker.feed(data[i : i + 256 * 1024])
    return time.process_time() - started


def tag_cost(data: bytes) -> tuple[float, float]:
    """(µs to SEI-tag one keyframe chunk for one viewer, µs to copy that chunk once: the
    baseline, an untagged viewer gets the shared chunk with no copy at all)."""
    chunker = TsChunker()
    keyframes = [c.data for c in chunker.feed(data) if c.keyframe]
    nal = sei_nal(123456)
    rounds = 200
    started = time.perf_counter()
    for _ in range(rounds):
        for chunk in keyframes:
            tag_keyframe(chunk, nal)
    tagged = (time.perf_counter() - started) / (rounds * len(keyframes)) * 1e6
    started = time.perf_counter()
    for _ in range(rounds):
        for chunk in keyframes:
            bytearray(chunk)
    plain = (time.perf_counter() - started) / (rounds * len(keyframes)) * 1e6
    return tagged, plain


def mark_psnr(size: str, mark: MarkParams, seconds: float) -> str:
    """PSNR of rendition A's picture (before encoding) against the unmarked source."""
    source = f"testsrc2=size={size}:rate=25"
    graph = mark_filter(mark) + ";[wmb]nullsink;[1:v]format=yuv420p[ref];[wma][ref]psnr"
    done = subprocess.run(
        [FFMPEG, "-hide_banner", "-f", "lavfi", "-i", source, "-f", "lavfi", "-i", source,
         "-filter_complex", graph, "-t", f"{min(seconds, 5):g}", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = re.search(r"PSNR y:([\d.]+)", done.stderr)
    return found.group(1) if found else "?"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--profile", default="h264_720p")
    args = parser.parse_args()
    source = SourceSpec(SourceKind.test_pattern, f"testsrc://{args.size}@25")
    profile = profile_for(args.profile)
    mark = MarkParams()
    plain = _without_realtime(channel_argv(FFMPEG, source, profile), args.seconds)
    marked = _without_realtime(channel_argv(FFMPEG, source, profile, mark=mark), args.seconds)
    base_cpu, base_out = encode(plain)
    mark_cpu, mark_out = encode(marked)
    base_py, mark_py = chunk_cost(base_out), split_cost(mark_out)
    per = args.seconds
    print(f"channel: test pattern {args.size}@25, profile {args.profile}, {per:g} s of media")
    print(f"baseline (one encode):  ffmpeg {base_cpu / per:.3f} CPU-s/s, node chunking "
          f"{base_py / per:.4f} CPU-s/s, {len(base_out) * 8 / per / 1000:.0f} kbit/s")  # fmt: skip
    print(f"watermarked (A and B):  ffmpeg {mark_cpu / per:.3f} CPU-s/s, node split+chunking "
          f"{mark_py / per:.4f} CPU-s/s, {len(mark_out) * 8 / per / 1000:.0f} kbit/s")  # fmt: skip
    total_base, total_mark = base_cpu + base_py, mark_cpu + mark_py
    print(f"cost of the watermark:  x{total_mark / total_base:.2f} CPU per channel "
          f"(+{(total_mark - total_base) / per:.3f} CPU-s per second of media)")  # fmt: skip
    tagged, plain = tag_cost(base_out)
    print(f"SEI tag per TS viewer:  {tagged:.1f} µs per keyframe chunk (baseline: one copy "
          f"of the chunk, {plain:.1f} µs)")  # fmt: skip
    psnr = mark_psnr(args.size, mark, per)
    print(f"mark visibility:        PSNR of A vs the unmarked source {psnr} dB "
          f"(strength ±{mark.strength}, {mark.grid}x{mark.grid} blocks)")  # fmt: skip


if __name__ == "__main__":
    main()
