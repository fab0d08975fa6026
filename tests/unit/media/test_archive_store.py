"""The archive's index, URL parsing, writer and pruning, on real files in a temp folder."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from palinsesto.node.archive.index import Piece, locate, parse_index
from palinsesto.node.archive.paths import BadTimeshift, parse_start, parse_timeshift
from palinsesto.node.archive.store import ArchiveStore
from palinsesto.node.mpegts import TsChunk

UTC = ZoneInfo("UTC")
T0 = 1_800_000_000.0  # a minute boundary (divisible by 60)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _chunk(seq: int, keyframe: bool, size: int = 188 * 10) -> TsChunk:
    return TsChunk(seq, b"\x47" + bytes([seq % 256]) * (size - 1), keyframe, None, keyframe)


async def _record(store: ArchiveStore, clock: Clock, seconds: int, key=(1, 5)) -> None:
    """A keyframe every 2 s and three chunks between, for ``seconds`` of wall clock."""
    writer = store.writer(*key)
    for i in range(seconds * 2):
        clock.now += 0.5
        writer.push(_chunk(i, i % 4 == 0), b"")
    await writer.aclose()


def test_index_survives_a_torn_last_line_and_locates_keyframes() -> None:
    ms = int(T0 * 1000)
    text = f"K {ms} 0\nK {ms + 2000} 5000\nK {ms + 4000}"  # the server died mid-line
    parsed = parse_index(str(int(T0 * 1000)), text)
    assert parsed is not None and parsed.keyframes == [(T0, 0), (T0 + 2, 5000)]
    # Starts at the keyframe at or before the requested time, ends at the one after.
    assert locate([parsed], T0 + 1.5, T0 + 1.9) == [Piece(parsed.name, 0, 5000)]
    # No close mark: the file is known up to its last keyframe, then read to its end.
    assert locate([parsed], T0 + 1.9, T0 + 2.5) == [Piece(parsed.name, 0, -1)]
    assert locate([parsed], T0 + 2.5, T0 + 3) == []
    assert locate([parsed], T0 + 10, T0 + 20) == []
    assert parse_index("1", "garbage\n") is None


def test_start_spellings_and_bad_requests() -> None:
    for raw in ("2027-01-15:08-00", "2027-01-15:08-00-00", "2027-01-15_08-00",
                "2027-01-15:08:00:00", "2027-01-15 08:00:00", "20270115-08"):  # fmt: skip
        assert parse_start(raw, UTC) == parse_start("2027-01-15:08-00", UTC), raw
    rome = parse_start("2027-01-15:09-00", ZoneInfo("Europe/Rome"))
    assert rome == parse_start("2027-01-15:08-00", UTC)  # the panel's zone, §8.5
    got = parse_timeshift("/timeshifts/u/p/30/42/2027-01-15:08-00.m3u8", {}, UTC)
    assert (got.stream_id, got.duration, got.output) == (42, 1800, "m3u8")
    query = {"username": "u", "password": "p", "stream": "42", "start": "2027-01-15:08-00",
             "duration": "5"}  # fmt: skip
    assert parse_timeshift("/streaming/timeshift.php", query, UTC).duration == 300
    bad = [
        "/timeshift/u/p/0/2027-01-15:08-00/42.ts",  # no duration
        "/timeshift/u/p/5/soon/42.ts",
        "/timeshift/u/p/5/2027-13-45:08-00/42.ts",  # no such day
        "/timeshift/u/p/5/2027-01-15:08-00/42.mp4",
        "/timeshift/u/%2e%2e/5/2027-01-15:08-00/42.ts",
        "/timeshift/u/p/5/42.ts",
    ]
    for path in bad:
        with pytest.raises(BadTimeshift):
            parse_timeshift(path, {}, UTC)
    with pytest.raises(BadTimeshift):
        parse_timeshift("/streaming/timeshift.php", {"username": "u"}, UTC)


async def test_writer_files_per_minute_rebuilt_after_a_restart(tmp_path: Path) -> None:
    clock = Clock(T0 + 30)
    store = ArchiveStore(tmp_path, 0, wall=clock)
    await _record(store, clock, 90)  # 30 s into one minute, then all of the next
    names = sorted(p.name for p in (tmp_path / "1" / "5").iterdir())
    assert len([n for n in names if n.endswith(".ts")]) == 2
    # A fresh store (a restart) reads the same index from the folder.
    again = ArchiveStore(tmp_path, 0, wall=clock)
    assert again.spans((1, 5)) == store.spans((1, 5))
    [(start, end)] = again.spans((1, 5))
    assert start == pytest.approx(T0 + 30.5) and end == pytest.approx(T0 + 120)
    # Every located piece starts at a keyframe chunk.
    for piece in again.locate((1, 5), T0 + 50, T0 + 70):
        data = again.path((1, 5), piece.name).read_bytes()
        assert data[piece.first] == 0x47
    # Down for 20 s: a gap, not a crash; holds() refuses a window across it.
    clock.now += 20
    await _record(again, clock, 10)
    assert len(again.spans((1, 5))) == 2
    assert not again.holds((1, 5), T0 + 110, T0 + 145)
    assert again.holds((1, 5), T0 + 60, T0 + 100)
    # A source silent for 10 s in the middle of a minute: the file closes, a gap shows.
    writer = again.writer(1, 6)
    clock.now = T0 + 600
    for i in range(20):
        clock.now += 10 if i == 10 else 0.5
        writer.push(_chunk(i, i % 4 == 0 or i == 10), b"")
    await writer.aclose()
    [(a, b), (c, _d)] = again.spans((1, 6))
    assert b == pytest.approx(T0 + 605) and c == pytest.approx(T0 + 615)


async def test_pruning_by_age_and_by_tenant_quota(tmp_path: Path) -> None:
    clock = Clock(T0)
    store = ArchiveStore(tmp_path, 0, wall=clock)
    await _record(store, clock, 300, key=(1, 5))  # five minute files
    await _record(store, clock, 120, key=(1, 6))
    await _record(store, clock, 120, key=(2, 7))  # another tenant
    sizes = {p: p.stat().st_size for p in tmp_path.rglob("*.ts")}
    tenant1 = sum(s for p, s in sizes.items() if p.parts[-3] == "1")
    # Quota: tenant 1 drops its oldest files until it fits; tenant 2 is untouched.
    store.quota_bytes = tenant1 - 1
    assert store.prune({(1, 5): 1, (1, 6): 1, (2, 7): 1}) == 1
    assert store.spans((1, 5))[0][0] >= T0 + 60  # the oldest minute of channel 5 went
    assert len(list((tmp_path / "2" / "7").glob("*.ts"))) == 2
    # Age: two days later everything is past its one-day window; a channel no longer
    # archived (missing from the map) keeps nothing.
    store.quota_bytes = 0
    left = len(list(tmp_path.rglob("*.ts")))
    assert store.prune({(1, 5): 1}, now=T0 + 2 * 86400) == left
    assert not list(tmp_path.rglob("*.ts")) and store.spans((1, 5)) == []
    assert os.path.isdir(tmp_path / "1")


def test_a_disk_that_falls_behind_drops_whole_intervals(tmp_path: Path) -> None:
    async def run() -> None:
        clock = Clock(T0)
        store = ArchiveStore(tmp_path, 0, wall=clock)
        writer = store.writer(1, 5)
        writer.max_backlog = 188 * 25  # less than one keyframe interval
        for i in range(40):
            clock.now += 0.5
            writer.push(_chunk(i, i % 4 == 0), b"")
        await writer.aclose()
        assert writer.dropped_bytes > 0

    asyncio.run(run())
