"""Library scan: N small video files (default 2,000) scanned into movies, then re-scanned.

The tree is one short ffmpeg clip (MP4, H.264/AAC) copied under N release-style names in
folders of 100, each copy made distinct (a ``free`` atom of its own length, its own mtime),
so every file is a real file ffmpeg must open. Measured in the same run:

- baseline 1: ``os.walk`` + ``stat`` of the tree (the floor of any re-scan);
- baseline 2: raw ``ffmpeg -i`` of the first ``--raw`` files, one at a time and with as
  many at once as the scan uses (the floor of any first scan: one process per file);
- Palinsesto: the first scan (walk, probe, parse names, write movies and file rows in
  SQLite), a re-scan with nothing changed, and a re-scan after touching 1 % of the files
  (only those re-probed).

    /work/main/.venv/bin/python bench/library_scan.py [--files 2000] [--raw 100] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from palinsesto.accounts.models import Tenant
from palinsesto.catalog.models import LibraryKind, MediaLibrary, Movie
from palinsesto.cluster.events import ChangeEvents
from palinsesto.config import Settings
from palinsesto.db import Database, upgrade
from palinsesto.node.supervisor import Supervisor
from palinsesto.node.vod_library import VodLibrary
from palinsesto.panel.admin.library_scan import LibraryRef, LibraryScans, ScanProgress
from palinsesto.panel.playback.posters import PosterLinks


def make_clip(ffmpeg: str, path: Path) -> None:
    subprocess.run(
        [ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "1",
         "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "32k",
         "-movflags", "+faststart", str(path)],
        check=True, timeout=120,
    )  # fmt: skip


def make_tree(clip: Path, folder: Path, count: int) -> None:
    data = clip.read_bytes()
    base = 1_700_000_000
    for i in range(count):
        target = folder / f"Batch {i // 100:03d}" / f"Film.Number.{i:05d}.{1950 + i % 70}.720p.mp4"
        target.parent.mkdir(parents=True, exist_ok=True)
        pad = i % 4096
        # A top-level 'free' atom: demuxers skip it, and it gives each copy its own size.
        target.write_bytes(data + struct.pack(">I4s", 8 + pad, b"free") + bytes(pad))
        os.utime(target, (base + i, base + i))


def walk_stat(folder: Path) -> int:
    count = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            os.stat(os.path.join(root, name))
            count += 1
    return count


def raw_probe(ffmpeg: str, files: list[Path], parallel: int) -> float:
    def one(path: Path) -> None:
        subprocess.run(
            [ffmpeg, "-hide_banner", "-nostdin", "-i", f"file:{path}"],
            capture_output=True, timeout=60,
        )  # fmt: skip

    start = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, files))
    return time.perf_counter() - start


async def scan(scans: LibraryScans, ref: LibraryRef) -> tuple[float, ScanProgress]:
    start = time.perf_counter()
    progress = scans.start(ref)
    await scans.wait_idle()
    return time.perf_counter() - start, progress


async def palinsesto_scans(
    db: Database, media_root: Path, ref: LibraryRef, folder: Path, workers: int, ffmpeg: str
) -> list[tuple[str, float, ScanProgress]]:
    vod = VodLibrary(media_root, Supervisor(), lambda: ffmpeg, 20.0)
    posters = PosterLinks("bench-secret", lambda: "http://127.0.0.1:8000", media_root)
    scans = LibraryScans(db, ChangeEvents(), vod, posters, workers)
    runs = [("first scan", *await scan(scans, ref))]
    runs.append(("re-scan, nothing changed", *await scan(scans, ref)))
    touched = sorted(folder.rglob("*.mp4"))[::100]
    for path in touched:
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    runs.append((f"re-scan, {len(touched)} touched", *await scan(scans, ref)))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--raw", type=int, default=100, help="files for the raw ffmpeg baseline")
    parser.add_argument("--workers", type=int, default=Settings().library_probe_workers)
    args = parser.parse_args()
    ffmpeg = Settings().resolve_ffmpeg()
    with tempfile.TemporaryDirectory(prefix="library-bench-") as tmp_name:
        tmp = Path(tmp_name)
        media_root = tmp / "media"
        folder = media_root / "1" / "films"
        clip = tmp / "clip.mp4"
        make_clip(ffmpeg, clip)
        t0 = time.perf_counter()
        make_tree(clip, folder, args.files)
        made = time.perf_counter() - t0
        size = clip.stat().st_size // 1024
        print(f"tree: {args.files} files of ~{size} KiB in {made:.1f} s; {args.workers} workers")

        t0 = time.perf_counter()
        walked = walk_stat(folder)
        walk_s = time.perf_counter() - t0
        sample = sorted(folder.rglob("*.mp4"))[: args.raw]
        raw_one = raw_probe(ffmpeg, sample, 1)
        raw_par = raw_probe(ffmpeg, sample, args.workers)

        url = f"sqlite:///{tmp / 'bench.db'}"
        upgrade(url)
        db = Database(url)
        with db.transaction() as session:
            tenant = Tenant(name="Bench", slug="bench")
            session.add(tenant)
            session.flush()
            library = MediaLibrary(
                tenant_id=tenant.id, name="Films", path="films", kind=LibraryKind.movie,
                scan_summary={},
            )  # fmt: skip
            session.add(library)
            session.flush()
            ref = LibraryRef(library.id, tenant.id, "films", LibraryKind.movie)
        assert ref.tenant_id == 1, "the tree was made for tenant 1"
        runs = asyncio.run(palinsesto_scans(db, media_root, ref, folder, args.workers, ffmpeg))
        with db.session() as session:
            movies = session.query(Movie).count()
        db.dispose()

    rows = [
        ("baseline: os.walk + stat", walked, walk_s),
        (f"baseline: ffmpeg -i, 1 at a time ({len(sample)} files)", len(sample), raw_one),
        (
            f"baseline: ffmpeg -i, {args.workers} at once ({len(sample)} files)",
            len(sample),
            raw_par,
        ),
    ]
    for name, seconds, progress in runs:
        rows.append(
            (f"Palinsesto {name} (probed {progress.files_probed})", progress.files_seen, seconds)
        )
    print(f"{'run':62} {'files':>6} {'seconds':>8} {'files/s':>9}")
    for name, count, seconds in rows:
        print(f"{name:62} {count:6d} {seconds:8.2f} {count / seconds:9.0f}")
    failed = sum(p.files_failed for _, _, p in runs)
    print(f"movies made: {movies}; files ffmpeg could not read: {failed}")
    if movies != args.files or failed:
        sys.exit("the scan did not make one movie per file")


if __name__ == "__main__":
    main()
