"""Cost of recording channels for catch-up: CPU (% of one core) and disk write rate.

    .venv/bin/python bench/archive_record.py [--channels 8] [--seconds 10]

Each channel is a real 4 Mbps MPEG-TS (ffmpeg, padded to a constant mux rate), fed at
real time through what a channel runner does with its output: ``TsChunker`` cuts it into
keyframe-aligned chunks, each published to the TS fan-out ring and the HLS segmenter
(``node/channel.py`` ``_publish``). The archive run adds the ``ArchiveWriter`` every
recording channel gets (one file per minute, written a keyframe interval at a time from a
worker thread) on a temporary folder. The ffmpeg that would produce the bytes is left out:
it costs the same with or without the archive.

Baselines in the same run: the same channels, the same bytes, without the archive (so the
difference is what recording adds); and one ffmpeg per channel copying the same TS to a
file at real time (``-re -c copy``: a recorder built on ffmpeg). CPU is this process's
user + system time (all threads; for ffmpeg, its children's) over the window; the disk
rate is the bytes the writers handed to the kernel, and /proc/self/io ``write_bytes``
(what reached the block layer, when the kernel accounts it).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from palinsesto.node.archive.store import ArchiveStore, ArchiveWriter  # noqa: E402
from palinsesto.node.mpegts import TsChunker  # noqa: E402
from palinsesto.node.outputs.hls import HlsSegmenter  # noqa: E402
from palinsesto.node.outputs.ts import TsFanout  # noqa: E402

RATE_BPS = 4_000_000


def make_source(folder: Path, seconds: int = 8) -> Path:
    """``seconds`` of 4 Mbps constant-rate TS (640x360 H.264 + AAC, 1 s GOP)."""
    path = folder / "src.ts"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440", "-t", str(seconds),
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-b:v", "2500k",
            "-c:a", "aac", "-b:a", "128k", "-muxrate", str(RATE_BPS), "-f", "mpegts", str(path),
        ],
        check=True,
        timeout=120,
    )  # fmt: skip
    return path


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def block_writes() -> int:
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


async def feed(sample: bytes, seconds: float, writer: ArchiveWriter | None, offset: float) -> int:
    """One channel's output at real time for ``seconds``; the bytes fed."""
    chunker = TsChunker(64 * 1024)
    fanout, hls = TsFanout(), HlsSegmenter()
    step = RATE_BPS // 8 // 10  # 100 ms of bytes per read, as a pipe read returns them
    loop = asyncio.get_running_loop()
    await asyncio.sleep(offset)  # channels out of phase, as real ones are
    started, sent, pos = loop.time(), 0, 0
    while loop.time() - started < seconds:
        data = sample[pos : pos + step]
        pos = pos + step if pos + step < len(sample) else 0
        for chunk in chunker.feed(data):
            fanout.publish(chunk, chunker.psi)
            hls.push(chunk, chunker.psi)
            if writer is not None:
                writer.push(chunk, chunker.psi)
        sent += len(data)
        ahead = sent * 8 / RATE_BPS - (loop.time() - started)
        if ahead > 0:
            await asyncio.sleep(ahead)
    if writer is not None:
        await writer.aclose()
    return sent


async def run(sample: bytes, channels: int, seconds: float, root: Path | None) -> dict[str, float]:
    store = ArchiveStore(root, 0) if root is not None else None
    writers = [store.writer(1, i) if store else None for i in range(channels)]
    cpu0, io0, t0 = cpu_seconds(), block_writes(), time.monotonic()
    fed = await asyncio.gather(*(feed(sample, seconds, w, i * 0.1) for i, w in enumerate(writers)))
    elapsed = time.monotonic() - t0
    written = sum(w.bytes_written for w in writers if w is not None)
    return {
        "cpu_pct": 100 * (cpu_seconds() - cpu0) / elapsed,
        "in_mbps": sum(fed) * 8 / elapsed / 1e6,
        "written_mb_s": written / elapsed / 1e6,
        "block_mb_s": (block_writes() - io0) / elapsed / 1e6,
        "dropped": sum(w.dropped_bytes for w in writers if w is not None),
        "files": len(list(root.rglob("*.ts"))) if root is not None else 0,
    }


def ffmpeg_copy(source: Path, channels: int, seconds: float, out: Path) -> dict[str, float]:
    """The other baseline: one ffmpeg per channel reading the same TS at real time and
    copying it to a file (``-re -c copy``), what a recorder built on ffmpeg would cost."""
    out.mkdir(parents=True, exist_ok=True)
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    children = [
        subprocess.Popen(
            [
                exe,
                "-hide_banner",
                "-loglevel",
                "error",
                "-nostdin",
                "-re",
                "-stream_loop",
                "-1",
                "-i",
                str(source),
                "-t",
                str(seconds),
                "-map",
                "0",
                "-c",
                "copy",
                "-f",
                "mpegts",
                str(out / f"{i}.ts"),
            ]
        )  # fmt: skip
        for i in range(channels)
    ]
    for child in children:
        child.wait(timeout=seconds + 60)
    elapsed = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    written = sum(p.stat().st_size for p in out.glob("*.ts"))
    return {
        "cpu_pct": 100 * cpu / elapsed,
        "in_mbps": written * 8 / elapsed / 1e6,
        "written_mb_s": written / elapsed / 1e6,
        "block_mb_s": float("nan"),
        "dropped": 0,
        "files": channels,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-archive-"))
    try:
        source = make_source(folder)
        sample = source.read_bytes()
        print(f"{args.channels} channels x 4 Mbps, {args.seconds:.0f} s per run")
        base = asyncio.run(run(sample, args.channels, args.seconds, None))
        rec = asyncio.run(run(sample, args.channels, args.seconds, folder / "archive"))
        copy = ffmpeg_copy(source, args.channels, args.seconds, folder / "ffmpeg")
        rows = (
            ("baseline (no archive)", base),
            ("recording", rec),
            ("ffmpeg -re -c copy", copy),
        )
        for label, r in rows:
            print(
                f"{label:22s} cpu {r['cpu_pct']:5.1f}% of a core   input {r['in_mbps']:5.1f} Mbps"
                f"   archive writes {r['written_mb_s']:5.2f} MB/s"
                f" (block layer {r['block_mb_s']:5.2f} MB/s)"
                f"   files {r['files']:.0f}   dropped {r['dropped']:.0f} B"
            )
        extra = rec["cpu_pct"] - base["cpu_pct"]
        # Per 4 Mbps of what was really recorded (ffmpeg's start-up shortens its window).
        ours = extra / (rec["in_mbps"] / 4)
        theirs = copy["cpu_pct"] / (copy["in_mbps"] / 4)
        print(
            f"archive cost: {extra:+.2f}% of a core for {args.channels} channels = "
            f"{ours:+.3f}% of a core per 4 Mbps channel, "
            f"{rec['written_mb_s'] / args.channels:.2f} MB/s to disk each"
        )
        print(
            f"ffmpeg copying the same stream to disk: {theirs:.3f}% of a core per 4 Mbps "
            f"channel ({copy['written_mb_s'] / args.channels:.2f} MB/s each)"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
