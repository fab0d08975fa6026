"""The archive on disk: one folder per channel under ``<archive root>/<tenant>/<channel>/``,
written by one :class:`ArchiveWriter` per recording channel, read by timeshift plays,
pruned by age (the channel's ``archive_days``) and by the tenant's quota.

The writer is one more consumer of the channel's keyframe-aligned TS chunks (the same
bytes the TS fan-out and HLS use: no second upstream connection, no re-encode). It buffers
a keyframe interval in RAM and hands it to its own task, which writes it with one call in
a worker thread, so the event loop never waits on the disk. If the disk falls behind by
more than ``max_backlog`` bytes, intervals are dropped (a gap in the index), never
buffered without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from palinsesto.node.archive.index import (
    ArchiveFile,
    Piece,
    covers,
    end_line,
    keyframe_line,
    locate,
    parse_index,
    spans,
)
from palinsesto.node.mpegts import TsChunk

log = logging.getLogger(__name__)

ChannelKey = tuple[int, int]  # (tenant id, channel id)
# No output for this long (a stalled source, a failover) closes the file: the index shows
# a gap instead of a file that seems to span the silence.
SILENCE_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class _Batch:
    name: str
    data: bytes
    index: str
    keyframes: tuple[tuple[float, int], ...]
    end: float
    closing: bool


class ArchiveStore:
    """Every channel archive of this node; the index of each is kept in memory."""

    def __init__(
        self, root: Path, quota_bytes: int, *, wall: Callable[[], float] = time.time
    ) -> None:
        self.root = root
        self.quota_bytes = quota_bytes
        self._wall = wall
        self._lock = threading.Lock()
        self._files: dict[ChannelKey, list[ArchiveFile]] = {}
        self._open: set[tuple[ChannelKey, str]] = set()
        self.pruned_files = 0
        # Called with a tenant id when one of its channels' archive goes from empty to
        # holding something or back (the player API advertises catch-up only then).
        self.on_change: Callable[[int], None] | None = None

    def folder(self, key: ChannelKey) -> Path:
        return self.root / str(key[0]) / str(key[1])

    # ---- the index ----

    def _load(self, key: ChannelKey) -> list[ArchiveFile]:
        """The channel's files, read from disk the first time (a restart rebuilds here)."""
        with self._lock:
            found = self._files.get(key)
            if found is not None:
                return found
        files: list[ArchiveFile] = []
        folder = self.folder(key)
        if folder.is_dir():
            for idx in sorted(folder.glob("*.idx")):
                if not idx.stem.isdigit() or not idx.with_suffix(".ts").exists():
                    continue
                parsed = parse_index(idx.stem, idx.read_text("ascii", "replace"))
                if parsed is not None:
                    files.append(parsed)
        with self._lock:
            return self._files.setdefault(key, files)

    def forget(self, key: ChannelKey) -> None:
        """Drop the in-memory index of a channel; the next lookup reads its folder."""
        with self._lock:
            self._files.pop(key, None)

    def files(self, key: ChannelKey) -> list[ArchiveFile]:
        files = self._load(key)
        with self._lock:
            return list(files)

    def spans(self, key: ChannelKey) -> list[tuple[float, float]]:
        """Recorded stretches (start, end), unix seconds, oldest first."""
        return spans(self.files(key))

    def recorded_any(self, key: ChannelKey) -> bool:
        return bool(self._load(key))

    def _changed(self, key: ChannelKey) -> None:
        if self.on_change is not None:
            self.on_change(key[0])

    def holds(self, key: ChannelKey, start: float, end: float) -> bool:
        """Whether the archive really holds all of [start, end] (no gap inside)."""
        return covers(self.spans(key), start, end)

    def locate(self, key: ChannelKey, start: float, end: float) -> list[Piece]:
        return locate(self.files(key), start, end)

    def path(self, key: ChannelKey, name: str) -> Path:
        return self.folder(key) / f"{name}.ts"

    def status(self, key: ChannelKey) -> dict[str, object]:
        """What the admin API shows: oldest/newest recorded time, disk used, gaps."""
        files = self.files(key)
        stretches = spans(files)
        used = 0
        for f in files:
            with contextlib.suppress(OSError):
                used += self.path(key, f.name).stat().st_size
        return {
            "recording": any(k == key for k, _ in self._open),
            "oldest": stretches[0][0] if stretches else None,
            "newest": stretches[-1][1] if stretches else None,
            "bytes": used,
            "files": len(files),
            "gaps": max(0, len(stretches) - 1),
            "spans": [[round(s, 3), round(e, 3)] for s, e in stretches[-20:]],
        }

    def recorded(self, key: ChannelKey, batch: _Batch) -> None:
        """A batch reached the disk: the index shows it from now on."""
        files = self._load(key)
        with self._lock:
            entry = next((f for f in reversed(files) if f.name == batch.name), None)
            first = not files
            if entry is None:
                entry = ArchiveFile(batch.name)
                files.append(entry)
            entry.keyframes.extend(batch.keyframes)
            entry.end = max(entry.end, batch.end)
            if batch.closing:
                self._open.discard((key, batch.name))
            else:
                self._open.add((key, batch.name))
        if first:
            self._changed(key)

    # ---- pruning ----

    def prune(self, days: dict[ChannelKey, int], now: float | None = None) -> int:
        """Delete what is older than each channel's window, then the oldest files of each
        tenant over the quota. Channels missing from ``days`` keep nothing. Files being
        written are kept. Returns the number of files deleted. Blocking: run in a thread."""
        now = self._wall() if now is None else now
        by_tenant: dict[int, list[tuple[float, ChannelKey, ArchiveFile, int]]] = {}
        deleted = 0
        for key in self._on_disk():
            keep_after = now - days.get(key, 0) * 86400
            for f in self.files(key):
                if (key, f.name) in self._open:
                    continue
                if f.end < keep_after:
                    deleted += self._delete(key, f)
                    continue
                size = 0
                with contextlib.suppress(OSError):
                    size = self.path(key, f.name).stat().st_size
                by_tenant.setdefault(key[0], []).append((f.start, key, f, size))
        if self.quota_bytes > 0:
            for entries in by_tenant.values():
                total = sum(e[3] for e in entries)
                for _start, key, f, size in sorted(entries, key=lambda e: e[0]):
                    if total <= self.quota_bytes:
                        break
                    deleted += self._delete(key, f)
                    total -= size
        self.pruned_files += deleted
        return deleted

    def channels_of(self, tenant_id: int) -> list[int]:
        """Ids of the tenant's channels with a folder or an index here (recorded or not)."""
        return [channel for tenant, channel in self._on_disk() if tenant == tenant_id]

    def _on_disk(self) -> list[ChannelKey]:
        keys: set[ChannelKey] = set()
        with self._lock:
            keys.update(self._files)
        if self.root.is_dir():
            for tenant in self.root.iterdir():
                if tenant.is_dir() and tenant.name.isdigit():
                    for channel in tenant.iterdir():
                        if channel.is_dir() and channel.name.isdigit():
                            keys.add((int(tenant.name), int(channel.name)))
        return sorted(keys)

    def _delete(self, key: ChannelKey, f: ArchiveFile) -> int:
        files = self._load(key)
        with self._lock:
            if f in files:
                files.remove(f)
            emptied = not files
        if emptied:
            self._changed(key)
        for suffix in (".ts", ".idx"):
            with contextlib.suppress(FileNotFoundError):
                (self.folder(key) / f"{f.name}{suffix}").unlink()
        return 1

    # ---- writing ----

    def writer(self, tenant_id: int, channel_id: int) -> ArchiveWriter:
        key = (tenant_id, channel_id)
        self._load(key)  # the index of what is already recorded, before adding to it
        return ArchiveWriter(self, key, wall=self._wall)

    def write_batch(self, key: ChannelKey, batch: _Batch) -> None:
        """Append a batch to its file and its index (blocking; the writer's thread)."""
        folder = self.folder(key)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{batch.name}.ts", "ab") as out:
            out.write(batch.data)
        with open(folder / f"{batch.name}.idx", "a", encoding="ascii") as out:
            out.write(batch.index)


class ArchiveWriter:
    """Records one channel: fed by its runner (:meth:`push` per chunk, :meth:`close` when
    the runner stops), one file per wall-clock minute, each starting at a keyframe."""

    def __init__(
        self,
        store: ArchiveStore,
        key: ChannelKey,
        *,
        wall: Callable[[], float] = time.time,
        rotate_seconds: int = 60,
        max_backlog: int = 64 << 20,
    ) -> None:
        self.store, self.key = store, key
        self._wall = wall
        self.rotate_seconds = rotate_seconds
        self.max_backlog = max_backlog
        self._name: str | None = None  # the open file
        self._period = -1  # the rotation period of the open file
        self._written = 0  # bytes of the open file, including queued batches
        self._parts: list[bytes] = []
        self._pending_keyframes: list[tuple[float, int]] = []
        self._last_data = 0.0  # wall clock of the last chunk written
        self._queue: asyncio.Queue[_Batch | None] = asyncio.Queue()
        self._backlog = 0
        self._task: asyncio.Task[None] | None = None
        self.bytes_written = 0
        self.dropped_bytes = 0

    def push(self, chunk: TsChunk, psi: bytes) -> None:
        """One chunk of the channel's output (called by the runner's owner task)."""
        now = self._wall()
        if self._name is not None and now - self._last_data > SILENCE_SECONDS:
            self._flush(self._last_data, closing=True)
        if chunk.keyframe:
            period = int(now // self.rotate_seconds)
            if self._name is not None and period != self._period:
                self._flush(now, closing=True)
            elif self._parts:
                self._flush(now, closing=False)
            if self._name is None:
                self._name, self._period, self._written = str(round(now * 1000)), period, 0
            offset = self._written + sum(len(p) for p in self._parts)
            self._pending_keyframes.append((now, offset))
            if not chunk.starts_with_psi and psi:
                self._parts.append(psi)  # every indexed point starts with PAT/PMT
        elif self._name is None:
            return  # a file starts at a keyframe
        self._parts.append(chunk.data)
        self._last_data = now

    def close(self) -> None:
        """The channel stopped (or failed over to nothing): close the file; a gap follows."""
        if self._name is not None:
            self._flush(self._last_data, closing=True)

    async def aclose(self) -> None:
        """Close and wait until everything queued is on disk."""
        self.close()
        task = self._task
        if task is not None and not task.done():
            self._queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _flush(self, now: float, *, closing: bool) -> None:
        name = self._name
        if name is None:
            return
        data = b"".join(self._parts)
        index = "".join(keyframe_line(w, o) for w, o in self._pending_keyframes)
        size = self._written + len(data)
        if closing:
            index += end_line(now, size)
        batch = _Batch(name, data, index, tuple(self._pending_keyframes), now, closing)
        self._parts, self._pending_keyframes = [], []
        if closing:
            self._name = None
        if self._backlog + len(data) > self.max_backlog:
            # The disk cannot keep up: drop this interval (a gap), keep the file valid by
            # starting a new one at the next keyframe.
            self.dropped_bytes += len(data)
            self._name = None
            return
        self._written = size
        self._backlog += len(data)
        self._queue.put_nowait(batch)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._drain(), name=f"archive-{self.key[1]}"
            )

    async def _drain(self) -> None:
        while True:
            batch = await self._queue.get()
            if batch is None:
                return
            try:
                await asyncio.to_thread(self.store.write_batch, self.key, batch)
            except OSError as exc:
                log.error("archive of channel %s: cannot write: %s", self.key[1], exc)
            else:
                self.bytes_written += len(batch.data)
                self.store.recorded(self.key, batch)
            finally:
                self._backlog -= len(batch.data)
