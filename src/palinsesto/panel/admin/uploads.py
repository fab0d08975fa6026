"""Resumable uploads of large files into a tenant's media folder, kept on disk.

An upload is two files in ``<media root>/<tenant id>/.uploads/``: ``<id>.json`` (who,
what name, how large, when it started) and ``<id>.part`` (the bytes so far). The part
file's length *is* the resume point: a chunk is written at that offset and nothing else
is trusted, so a PUT cut off half way leaves exactly the bytes that arrived, and a panel
restart loses nothing. A finished upload is hard-linked to ``<tenant>/uploads/<name>``
(atomic, never over an existing file) and its two working files removed. Uploads nobody
touched for ``expiry_seconds`` are deleted by :meth:`UploadStore.expire`.

One process writes one upload at a time (a per-upload lock); the disk state is what
several panel processes share, so a second process refuses a chunk that starts anywhere
but the current end.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from palinsesto.node.vod_files import EXTENSION

WORK_FOLDER = ".uploads"
DONE_FOLDER = "uploads"
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_NAME_BYTES = 200
WRITE_BATCH = 1024 * 1024  # bytes gathered before each disk write


class UploadRefused(Exception):
    """The request cannot be honoured; the message says why in a sentence."""


class UploadConflict(UploadRefused):
    """The chunk does not start where the upload stands, or another chunk is arriving."""


class RangeRefused(UploadRefused):
    """The chunk's range lies outside the file (answered 416)."""


@dataclass(frozen=True, slots=True)
class Upload:
    id: str
    tenant_id: int
    name: str
    total: int
    created_at: float
    received: int

    @property
    def complete(self) -> bool:
        return self.received == self.total

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "tenant_id": self.tenant_id,
            "name": self.name,
            "total_bytes": self.total,
            "received_bytes": self.received,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class ChunkRange:
    """``Content-Range: bytes first-last/total``."""

    first: int
    last: int
    total: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1


_CONTENT_RANGE = re.compile(r"^bytes (\d{1,15})-(\d{1,15})/(\d{1,15})$")


def parse_content_range(header: str) -> ChunkRange:
    match = _CONTENT_RANGE.match(header.strip())
    if match is None:
        raise UploadRefused("Send each chunk with 'Content-Range: bytes FIRST-LAST/TOTAL'.")
    first, last, total = (int(g) for g in match.groups())
    if last < first:
        raise RangeRefused("The chunk's last byte comes before its first.")
    return ChunkRange(first, last, total)


def check_name(name: str) -> str:
    """A plain file name with a video extension; never a path."""
    if not name or name != name.strip() or name in (".", ".."):
        raise UploadRefused("The file name must not be empty or start/end with spaces.")
    if "/" in name or "\\" in name or "\x00" in name or name.startswith("."):
        raise UploadRefused("The file name must be a plain name, without folders.")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise UploadRefused(f"The file name is longer than {MAX_NAME_BYTES} bytes.")
    if not EXTENSION.match(Path(name).suffix[1:].lower()):
        raise UploadRefused("The file name needs a short extension such as .mp4 or .mkv.")
    return name


def folder_bytes(folder: Path) -> int:
    """Bytes the files under ``folder`` hold, unfinished uploads aside."""
    total = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d != WORK_FOLDER]  # unfinished uploads: counted whole
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue  # gone while walking
    return total


class UploadStore:
    def __init__(self, media_root: Path, expiry_seconds: int) -> None:
        self.media_root = media_root
        self.expiry_seconds = expiry_seconds
        self._busy: set[str] = set()

    def _work(self, tenant_id: int) -> Path:
        return self.media_root / str(int(tenant_id)) / WORK_FOLDER

    def destination(self, tenant_id: int, name: str) -> Path:
        return self.media_root / str(int(tenant_id)) / DONE_FOLDER / name

    def pending_bytes(self, tenant_id: int) -> int:
        """Bytes this tenant's unfinished uploads will hold once complete."""
        return sum(upload.total for upload in self.list(tenant_id))

    def create(self, tenant_id: int, name: str, total: int, storage_limit: int | None) -> Upload:
        check_name(name)
        if self.destination(tenant_id, name).exists():
            raise UploadConflict(f"A file named {name!r} was uploaded already.")
        if storage_limit is not None:
            used = folder_bytes(self.media_root / str(int(tenant_id)))
            used += self.pending_bytes(tenant_id)
            if used + total > storage_limit:
                raise UploadConflict(
                    f"This upload needs {total:,} bytes but the plan's storage has "
                    f"{max(0, storage_limit - used):,} left."
                )
        work = self._work(tenant_id)
        work.mkdir(parents=True, exist_ok=True)
        upload_id = secrets.token_hex(16)
        (work / f"{upload_id}.part").touch(exist_ok=False)
        meta = {"tenant_id": tenant_id, "name": name, "total": total, "created_at": time.time()}
        _write_json(work / f"{upload_id}.json", meta)
        found = self.find(upload_id)
        assert found is not None
        return found

    def find(self, upload_id: str) -> Upload | None:
        if not UPLOAD_ID.match(upload_id):
            return None
        for meta_path in self.media_root.glob(f"*/{WORK_FOLDER}/{upload_id}.json"):
            return _read(meta_path)
        return None

    def tenants(self) -> list[int]:
        """Tenants with a working folder (unfinished uploads, perhaps none left)."""
        found = (p.parent.name for p in self.media_root.glob(f"*/{WORK_FOLDER}"))
        return sorted(int(name) for name in found if name.isdigit())

    def list(self, tenant_id: int) -> list[Upload]:
        found = (_read(p) for p in sorted(self._work(tenant_id).glob("*.json")))
        return [u for u in found if u is not None]

    def _part(self, upload: Upload) -> Path:
        return self._work(upload.tenant_id) / f"{upload.id}.part"

    async def write_chunk(
        self, upload: Upload, chunk: ChunkRange, body: AsyncIterator[bytes]
    ) -> Upload:
        """Append ``body`` (the bytes of ``chunk``) at the upload's end.

        Bytes are written as they arrive; if the body stops early, what arrived stays
        and is the new resume point. A body longer than its range is cut at the range's
        end and refused (the bytes past it are never written).
        """
        if chunk.total != upload.total:
            raise RangeRefused(f"This upload is {upload.total:,} bytes, not {chunk.total:,}.")
        if chunk.last >= upload.total:
            raise RangeRefused(
                f"The chunk ends at byte {chunk.last:,}, past the file's last byte "
                f"{upload.total - 1:,}."
            )
        if upload.id in self._busy:
            raise UploadConflict("Another chunk of this upload is being received; wait for it.")
        self._busy.add(upload.id)
        try:
            part = self._part(upload)
            received = part.stat().st_size
            if chunk.first != received:
                raise UploadConflict(
                    f"This upload holds {received:,} bytes; send the chunk that starts "
                    f"at byte {received:,}."
                )
            overflow = await _append(part, chunk.length, body)
            if overflow:
                raise UploadRefused(
                    "The body is longer than its Content-Range; the rest was dropped."
                )
        finally:
            self._busy.discard(upload.id)
        now = time.time()
        os.utime(self._work(upload.tenant_id) / f"{upload.id}.json", (now, now))
        found = self.find(upload.id)
        if found is None:
            raise UploadRefused("This upload expired while the chunk arrived.")
        return found

    def finish(self, upload: Upload) -> Path:
        """Move the complete file to ``uploads/<name>`` without replacing anything."""
        target = self.destination(upload.tenant_id, upload.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(self._part(upload), target)
        except FileExistsError:
            raise UploadConflict(f"A file named {upload.name!r} was uploaded already.") from None
        self.discard(upload)
        return target

    def discard(self, upload: Upload) -> None:
        work = self._work(upload.tenant_id)
        for suffix in (".json", ".part"):
            (work / f"{upload.id}{suffix}").unlink(missing_ok=True)

    def expire(self, now: float | None = None) -> int:
        """Delete uploads untouched (no chunk, no start) for ``expiry_seconds``."""
        cutoff = (time.time() if now is None else now) - self.expiry_seconds
        removed = 0
        for meta_path in self.media_root.glob(f"*/{WORK_FOLDER}/*.json"):
            upload = _read(meta_path)
            try:
                idle = meta_path.stat().st_mtime < cutoff
            except OSError:
                continue
            if upload is not None and idle and upload.id not in self._busy:
                self.discard(upload)
                removed += 1
        return removed


def _write_json(path: Path, data: dict[str, object]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)


def _read(meta_path: Path) -> Upload | None:
    try:
        meta = json.loads(meta_path.read_text())
        received = meta_path.with_suffix(".part").stat().st_size
        return Upload(
            id=meta_path.stem,
            tenant_id=int(meta["tenant_id"]),
            name=str(meta["name"]),
            total=int(meta["total"]),
            created_at=float(meta["created_at"]),
            received=received,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # half-written or removed meanwhile


async def _append(part: Path, length: int, body: AsyncIterator[bytes]) -> bool:
    """Write up to ``length`` bytes of ``body`` at the end of ``part``; True if it held more."""
    fd = os.open(part, os.O_WRONLY | os.O_APPEND)
    pending: list[bytes] = []
    pending_size = 0
    left = length
    overflow = False

    async def flush() -> None:
        nonlocal pending, pending_size
        if pending:
            data = b"".join(pending)
            pending, pending_size = [], 0
            await asyncio.to_thread(_write_all, fd, data)

    try:
        async for piece in body:
            if len(piece) > left:
                overflow = True
                piece = piece[:left]
            pending.append(piece)
            pending_size += len(piece)
            left -= len(piece)
            if pending_size >= WRITE_BATCH:
                await flush()
            if overflow:
                break
    finally:
        # Whatever arrived is kept, also when the client went away mid-chunk.
        await asyncio.shield(flush())
        os.close(fd)
    return overflow


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
