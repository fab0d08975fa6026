"""A movie as HLS: the cost of its keyframe index and of cutting its segments on the fly.

Makes a film with ffmpeg (640x360 H.264 with B-frames, a keyframe every 2 s, AAC), then,
measuring the CPU time (user + system) of the ffmpeg children:

* the keyframe index (node/vod_hls.py ``index_argv``: the video's packets listed, not
  decoded), built once per file;
* every segment of the playlist cut as a player asks for it (``segment_argv``: ``-ss`` and
  stream copy to MPEG-TS, one ffmpeg per segment);
* the baseline in the same run: one ffmpeg remuxing the whole file to MPEG-TS by stream
  copy, the least any server can spend to send this film as MPEG-TS.

Figures are seconds of film per CPU second (higher is cheaper).

    /work/main/.venv/bin/python bench/vod_hls.py [--seconds 300]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import imageio_ffmpeg  # noqa: E402

from palinsesto.node.vod_hls import (  # noqa: E402
    index_argv,
    parse_framecrc,
    plan_segments,
    segment_argv,
)

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(argv: list[str]) -> bytes:
    return subprocess.run(argv, capture_output=True, check=True, timeout=600).stdout


def make_film(path: Path, seconds: int) -> None:
    run([
        FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-g", "50",
        "-b:v", "1500k", "-c:a", "aac", "-b:a", "128k", str(path),
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        film = Path(folder) / "film.mp4"
        make_film(film, args.seconds)
        size_mib = film.stat().st_size / 2**20

        cpu, wall = children_cpu(), time.perf_counter()
        out = run([FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(film),
                   "-map", "0", "-c", "copy", "-f", "mpegts", "pipe:1"])  # fmt: skip
        remux_cpu, remux_wall = children_cpu() - cpu, time.perf_counter() - wall
        remux_bytes = len(out)

        cpu, wall = children_cpu(), time.perf_counter()
        listing = run(index_argv(FFMPEG, str(film), 0)).decode()
        index = parse_framecrc(listing.splitlines())
        index_cpu, index_wall = children_cpu() - cpu, time.perf_counter() - wall

        segments = plan_segments(index)
        cpu, wall = children_cpu(), time.perf_counter()
        sent = sum(len(run(segment_argv(FFMPEG, str(film), s, [0, 1]))) for s in segments)
        cut_cpu, cut_wall = children_cpu() - cpu, time.perf_counter() - wall

    film_s = index.end
    print(f"film: {film_s:.1f} s, {size_mib:.1f} MiB, {len(index.keyframes)} keyframes, "
          f"{len(segments)} segments")  # fmt: skip
    print(f"{'what':<38} {'CPU s':>7} {'wall s':>7} {'film s / CPU s':>15}")
    rows = [
        ("baseline: whole-file remux to TS", remux_cpu, remux_wall),
        ("keyframe index (once per file)", index_cpu, index_wall),
        ("all segments cut on demand", cut_cpu, cut_wall),
    ]
    for name, used, took in rows:
        print(f"{name:<38} {used:>7.2f} {took:>7.2f} {film_s / max(used, 1e-6):>15.0f}")
    print(f"per segment: {cut_cpu / len(segments) * 1000:.0f} ms CPU, "
          f"{cut_wall / len(segments) * 1000:.0f} ms wall; "
          f"segments {sent / 2**20:.1f} MiB vs remux {remux_bytes / 2**20:.1f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
