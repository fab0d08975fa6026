"""The archive's index, sans I/O: which wall-clock time lies where on disk.

A channel's archive is a folder of files, one per wall-clock minute (``<start ms>.ts``),
each beside a small text index (``<start ms>.idx``) with one line per keyframe,
``K <wall ms> <byte offset>``, and ``E <wall ms> <size>`` when the file was closed. A file
always starts at a keyframe with the PAT/PMT in front, and every indexed offset is such a
point, so any of them is a valid place to start decoding. The index is rebuilt from these
files on start; a stretch with no file is a gap (the server or the source was down).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

# Two recorded stretches closer than this are one (a keyframe interval, a rotation).
JOIN_SECONDS = 3.0


@dataclass(slots=True)
class ArchiveFile:
    """One recorded file: its keyframes (wall-clock seconds, byte offset) and extent."""

    name: str  # file name without extension: the start in unix milliseconds
    keyframes: list[tuple[float, int]] = field(default_factory=list)
    end: float = 0.0  # wall-clock end (the close mark, or the last keyframe seen)
    size: int = 0  # bytes known to be written (0 = up to the end of the file)

    @property
    def start(self) -> float:
        return self.keyframes[0][0] if self.keyframes else int(self.name) / 1000


def parse_index(name: str, text: str) -> ArchiveFile | None:
    """An :class:`ArchiveFile` from its ``.idx`` text; None if it holds no keyframe.

    A torn last line (the server died mid-write) is ignored, as is anything malformed.
    """
    found = ArchiveFile(name)
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3 or parts[0] not in ("K", "E"):
            continue
        try:
            wall, value = int(parts[1]) / 1000, int(parts[2])
        except ValueError:
            continue
        if parts[0] == "K":
            found.keyframes.append((wall, value))
            found.end = max(found.end, wall)
        else:
            found.end, found.size = max(found.end, wall), value
    return found if found.keyframes else None


def keyframe_line(wall: float, offset: int) -> str:
    return f"K {round(wall * 1000)} {offset}\n"


def end_line(wall: float, size: int) -> str:
    return f"E {round(wall * 1000)} {size}\n"


def spans(files: list[ArchiveFile]) -> list[tuple[float, float]]:
    """The recorded stretches (start, end) of ``files`` sorted by start, gaps between."""
    out: list[tuple[float, float]] = []
    for f in sorted(files, key=lambda f: f.start):
        if out and f.start - out[-1][1] <= JOIN_SECONDS:
            out[-1] = (out[-1][0], max(out[-1][1], f.end))
        else:
            out.append((f.start, f.end))
    return out


def covers(stretches: list[tuple[float, float]], start: float, end: float) -> bool:
    """Whether one recorded stretch holds all of [start, end] (a keyframe's slack allowed)."""
    return any(s - JOIN_SECONDS <= start and end <= e + JOIN_SECONDS for s, e in stretches)


@dataclass(frozen=True, slots=True)
class Piece:
    """Bytes to send: ``name``'s file from ``first`` to ``last`` (exclusive; -1 = its end)."""

    name: str
    first: int
    last: int


def locate(files: list[ArchiveFile], start: float, end: float) -> list[Piece]:
    """The byte ranges that play [start, end): from the last keyframe at or before
    ``start`` (or the first after it, when the recording begins later) to the first
    keyframe at or after ``end``. Empty when nothing recorded overlaps the window."""
    pieces: list[Piece] = []
    for f in sorted(files, key=lambda f: f.start):
        if f.end < start or f.start >= end:
            continue
        walls = [w for w, _ in f.keyframes]
        first = 0
        if walls[0] < start:
            first = f.keyframes[bisect.bisect_right(walls, start) - 1][1]
        after = bisect.bisect_left(walls, end)
        last = f.keyframes[after][1] if after < len(walls) else (f.size or -1)
        if last == -1 or last > first:
            pieces.append(Piece(f.name, first, last))
    return pieces
