"""A past window of a channel's archive as a response: one MPEG-TS body made of the
archive's pieces, or an HLS VOD playlist with one segment per piece. Shared by the
all-in-one's timeshift (panel/local_node/timeshift.py) and a node's token-opened catch-up
(node/archive_plays.py); each decides who may play, this reads the disk.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

from palinsesto.node.archive.index import Piece
from palinsesto.node.archive.store import ArchiveStore, ChannelKey
from palinsesto.node.dataplane import Connection

READ_BYTES = 1 << 20
HIGH_WATER = 4 << 20  # stop reading the disk while the socket holds this much


def piece_durations(
    store: ArchiveStore, key: ChannelKey, pieces: list[Piece], end: float
) -> list[float]:
    """Each piece's playing time in seconds (for ``#EXTINF``)."""
    files = {f.name: f for f in store.files(key)}
    durations = []
    for p in pieces:
        f = files.get(p.name)
        walls = [w for w, o in f.keyframes if p.first <= o] if f is not None else []
        stop = next((w for w, o in f.keyframes if o >= p.last), f.end) if f else 0.0
        if p.last == -1 and f is not None:
            stop = min(f.end, end)
        durations.append(max(0.1, stop - walls[0]) if walls else 1.0)
    return durations


def vod_playlist(durations: list[float], segment_url: Callable[[int], str]) -> bytes:
    """An HLS VOD playlist: segment ``i`` at ``segment_url(i)``."""
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{max(math.ceil(d) for d in durations)}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]
    for i, duration in enumerate(durations):
        lines += [f"#EXTINF:{duration:.3f},", segment_url(i)]
    lines.append("#EXT-X-ENDLIST")
    return ("\n".join(lines) + "\n").encode()


async def send_pieces(
    store: ArchiveStore,
    key: ChannelKey,
    pieces: list[Piece],
    conn: Connection,
    counted: Callable[[int], None],
    stopped: Callable[[], bool],
) -> None:
    """Write the pieces' bytes to ``conn`` (already streaming), reading the disk in a
    worker thread and only while the socket drains; a pruned file is a gap. Returns when
    done, when ``conn`` closes or when ``stopped()`` (the session ended)."""
    for piece in pieces:
        path = store.path(key, piece.name)
        try:
            handle = await asyncio.to_thread(open, path, "rb")
        except OSError:
            continue  # pruned meanwhile: a gap
        try:
            handle.seek(piece.first)
            left = -1 if piece.last == -1 else piece.last - piece.first
            while left != 0:
                while conn.buffered() > HIGH_WATER and not conn.closed:
                    await asyncio.sleep(0.02)
                if conn.closed or stopped():
                    return
                size = READ_BYTES if left < 0 else min(READ_BYTES, left)
                data = await asyncio.to_thread(handle.read, size)
                if not data:
                    break
                conn.write(data)
                counted(len(data))
                if left > 0:
                    left -= len(data)
        finally:
            handle.close()
