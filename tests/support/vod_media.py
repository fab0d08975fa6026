"""VOD sample files made by real ffmpeg: a ~90 s MP4 (H.264/AAC), an MKV with two audio
tracks, and a file no demuxer can read."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from support.media import FFMPEG
from support.media_cache import cached


def _ffmpeg(*args: str) -> None:
    """Run ffmpeg writing its last argument (the output file), once per test run."""
    *head, output = args

    def make(target: Path) -> None:
        argv = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *head, str(target)]
        subprocess.run(argv, check=True, timeout=300)

    cached(Path(output), " ".join(head), make)


def make_mp4(path: Path, seconds: int = 90) -> Path:
    """320x180 H.264 (a keyframe every second) + AAC, moov atom first."""
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
        "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
        "-b:v", "300k", "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", str(path),
    )  # fmt: skip
    return path


def make_two_audio_mkv(path: Path, seconds: int = 8) -> Path:
    """H.264 with two AAC tracks tagged eng and ita."""
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440", "-f", "lavfi", "-i", "sine=frequency=880",
        "-t", str(seconds), "-map", "0", "-map", "1", "-map", "2",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac", "-ac", "2",
        "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=ita", str(path),
    )  # fmt: skip
    return path


def make_broken(path: Path) -> Path:
    """Bytes no demuxer recognises, named like a movie."""
    path.write_bytes(bytes((i * 37 + 11) % 251 for i in range(64_000)))
    return path


@dataclass(frozen=True)
class VodSamples:
    mp4: Path
    mkv: Path
    broken: Path

    def install(self, folder: Path) -> None:
        """Hard-link (or copy) the samples into a tenant's media folder."""
        folder.mkdir(parents=True, exist_ok=True)
        for source in (self.mp4, self.mkv, self.broken):
            target = folder / source.name
            try:
                os.link(source, target)
            except OSError:
                target.write_bytes(source.read_bytes())


def make_samples(folder: Path) -> VodSamples:
    folder.mkdir(parents=True, exist_ok=True)
    return VodSamples(
        make_mp4(folder / "feature.mp4"),
        make_two_audio_mkv(folder / "dual.mkv"),
        make_broken(folder / "broken.mp4"),
    )
