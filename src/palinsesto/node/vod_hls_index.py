"""A VOD file's HLS facts, built once and kept on disk: what ffmpeg's probe says of it and
its keyframe index (node/vod_hls.py).

Building reads the whole file (ffmpeg lists its video packets without decoding them), so
it happens once per file version: the result is written to ``<cache>/<sha256 of the
path>.json`` with the file's size and mtime, and a changed file is indexed again. Two
plays asking at once share one build. Files are identified by their resolved path
(node/vod_files.py already confined it to a tenant's folder).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from palinsesto.node.probe import probe_file
from palinsesto.node.probe_report import ProbeFailed
from palinsesto.node.supervisor import Supervisor
from palinsesto.node.vod_hls import (
    FramecrcReader,
    IndexUnreadable,
    KeyframeIndex,
    NotHlsPlayable,
    Segment,
    index_argv,
    plan_segments,
    ts_streams,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HlsFile:
    """What a segment request needs of a file: its streams to copy and its segments."""

    path: Path
    size: int
    mtime_ns: int
    streams: tuple[int, ...]
    index: KeyframeIndex
    segments: tuple[Segment, ...]

    @property
    def duration(self) -> float:
        return self.index.end


def _stamp(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


class HlsIndexes:
    def __init__(
        self,
        cache_dir: Path,
        supervisor: Supervisor,
        ffmpeg: Callable[[], str],
        timeout: float = 600.0,
    ) -> None:
        self.cache_dir = cache_dir
        self._supervisor = supervisor
        self._ffmpeg = ffmpeg
        self._timeout = timeout
        self._memory: dict[Path, HlsFile] = {}
        self._building: dict[Path, asyncio.Future[HlsFile]] = {}
        self.builds = 0  # how many times ffmpeg indexed a file (the cache's effect)

    def cache_file(self, path: Path) -> Path:
        return self.cache_dir / f"{hashlib.sha256(str(path).encode()).hexdigest()}.json"

    async def get(self, path: Path) -> HlsFile:
        """The file's HLS facts; NotHlsPlayable (with a reason fit to show) when it cannot
        be played as HLS, OSError when it cannot be read."""
        size, mtime = await asyncio.to_thread(_stamp, path)
        known = self._memory.get(path)
        if known is not None and (known.size, known.mtime_ns) == (size, mtime):
            return known
        pending = self._building.get(path)
        if pending is None:
            pending = asyncio.ensure_future(self._load_or_build(path, size, mtime))
            self._building[path] = pending
            pending.add_done_callback(lambda _f: self._building.pop(path, None))
        found = await asyncio.shield(pending)
        self._memory[path] = found
        return found

    async def _load_or_build(self, path: Path, size: int, mtime: int) -> HlsFile:
        cached = await asyncio.to_thread(self._read_cache, path, size, mtime)
        if cached is not None:
            return cached
        built = await self._build(path, size, mtime)
        await asyncio.to_thread(self._write_cache, built)
        return built

    async def _build(self, path: Path, size: int, mtime: int) -> HlsFile:
        ffmpeg = self._ffmpeg()
        try:
            info = (await probe_file(self._supervisor, ffmpeg, path)).as_dict()
        except ProbeFailed as exc:
            raise NotHlsPlayable(exc.reason) from None
        streams = ts_streams(info)
        self.builds += 1
        child = await self._supervisor.spawn(index_argv(ffmpeg, str(path), streams[0]))
        reader = FramecrcReader()
        try:
            async with asyncio.timeout(self._timeout):
                async for raw in child.stdout:
                    reader.feed(raw.decode("ascii", "replace"))
                rc = await child.wait()
        except TimeoutError:
            raise NotHlsPlayable("indexing the file's keyframes took too long") from None
        finally:
            if child.returncode is None:
                await child.stop(grace=0.5)
        if rc != 0:
            reason = child.last_message().replace(str(path), path.name)
            raise NotHlsPlayable(f"ffmpeg could not list the video: {reason}")
        try:
            index = reader.index()
        except IndexUnreadable as exc:
            raise NotHlsPlayable(str(exc)) from None
        return HlsFile(path, size, mtime, tuple(streams), index, tuple(plan_segments(index)))

    def _read_cache(self, path: Path, size: int, mtime: int) -> HlsFile | None:
        try:
            data = json.loads(self.cache_file(path).read_text())
            if (data["path"], data["size"], data["mtime_ns"]) != (str(path), size, mtime):
                return None
            index = KeyframeIndex.from_dict(data["index"])
            streams = tuple(int(s) for s in data["streams"])
        except (OSError, ValueError, KeyError, TypeError, IndexUnreadable):
            return None
        return HlsFile(path, size, mtime, streams, index, tuple(plan_segments(index)))

    def _write_cache(self, found: HlsFile) -> None:
        data = {
            "path": str(found.path),
            "size": found.size,
            "mtime_ns": found.mtime_ns,
            "streams": list(found.streams),
            "index": found.index.as_dict(),
        }
        target = self.cache_file(found.path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(data))
            os.replace(temporary, target)
        except OSError as exc:  # a read-only disk costs a rebuild next time, not the play
            log.warning("the HLS index of a file could not be saved: %s", exc)
            with contextlib.suppress(OSError):
                temporary.unlink()
