"""The upload store on a real folder: names, ranges, appending, overflow, finish, expiry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from palinsesto.panel.admin.uploads import (
    ChunkRange,
    RangeRefused,
    UploadConflict,
    UploadRefused,
    UploadStore,
    check_name,
    parse_content_range,
)


async def _pieces(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def test_names_and_ranges_are_checked() -> None:
    assert check_name("Film 2019.mkv") == "Film 2019.mkv"
    for bad in ("", "a/b.mp4", "..", "c:\\x.mp4", ".x.mp4", "x", "x.toolongext", "a\x00.mp4"):
        with pytest.raises(UploadRefused):
            check_name(bad)
    assert parse_content_range("bytes 0-9/10") == ChunkRange(0, 9, 10)
    with pytest.raises(RangeRefused):
        parse_content_range("bytes 9-0/10")
    for bad in ("", "bytes 0-9", "bytes */10", "items 0-9/10", "bytes -1-9/10"):
        with pytest.raises(UploadRefused):
            parse_content_range(bad)


def test_chunks_append_a_longer_body_is_cut_and_the_file_lands_once(tmp_path: Path) -> None:
    store = UploadStore(tmp_path, expiry_seconds=60)
    upload = store.create(7, "clip.mp4", 10, storage_limit=None)
    upload = asyncio.run(store.write_chunk(upload, ChunkRange(0, 3, 10), _pieces(b"01", b"23")))
    assert upload.received == 4
    # A body longer than its range: only the range is written, and the chunk refused.
    with pytest.raises(UploadRefused):
        asyncio.run(store.write_chunk(upload, ChunkRange(4, 5, 10), _pieces(b"45", b"XX")))
    upload = store.find(upload.id)
    assert upload is not None and upload.received == 6
    with pytest.raises(UploadConflict):
        asyncio.run(store.write_chunk(upload, ChunkRange(8, 9, 10), _pieces(b"89")))
    upload = asyncio.run(store.write_chunk(upload, ChunkRange(6, 9, 10), _pieces(b"6789")))
    assert upload.complete
    target = store.finish(upload)
    assert target == tmp_path / "7" / "uploads" / "clip.mp4"
    assert target.read_bytes() == b"0123456789"
    assert store.find(upload.id) is None and store.list(7) == []
    with pytest.raises(UploadConflict):
        store.create(7, "clip.mp4", 10, storage_limit=None)


def test_storage_limits_count_files_and_unfinished_uploads(tmp_path: Path) -> None:
    store = UploadStore(tmp_path, expiry_seconds=60)
    (tmp_path / "3").mkdir()
    (tmp_path / "3" / "old.mp4").write_bytes(b"x" * 400)
    store.create(3, "a.mp4", 500, storage_limit=1000)
    with pytest.raises(UploadConflict, match="has 100 left"):
        store.create(3, "b.mp4", 101, storage_limit=1000)
    store.create(3, "b.mp4", 100, storage_limit=1000)


def test_untouched_uploads_expire(tmp_path: Path) -> None:
    store = UploadStore(tmp_path, expiry_seconds=60)
    old = store.create(1, "old.mp4", 10, storage_limit=None)
    assert store.expire(now=time.time() + 30) == 0
    assert store.expire(now=time.time() + 61) == 1
    assert store.find(old.id) is None
    assert list((tmp_path / "1" / ".uploads").iterdir()) == []
