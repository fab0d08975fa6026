"""Continuous MPEG-TS fan-out: one ring of shared chunks, many viewers, no viewer waits.

Every viewer is written the *same* immutable ``bytes`` objects the chunker produced (the
kernel copies them; Python does not). A new viewer starts at the latest keyframe, with
PAT/PMT first, so its picture appears at once (streaming-notes §7). A viewer whose socket
buffer passes ``max_backlog`` stops receiving, is resumed at a later keyframe once it has
drained, and is dropped if it stays behind for ``max_lag`` seconds (streaming-notes §8).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from palinsesto.node.mpegts import TsChunk
from palinsesto.node.sei_tag import tag_keyframe


class Sink(Protocol):
    """Where a viewer's bytes go: an asyncio transport in production, anything in tests."""

    def write(self, data: bytes) -> None: ...

    def buffered(self) -> int: ...

    def close(self) -> None: ...


class TsViewer:
    """One viewer's position and counters; the fan-out writes, the server reads counters."""

    __slots__ = ("sink", "bytes_sent", "lagging_since", "skipped_chunks", "closed", "mark", "tag")

    def __init__(self, sink: Sink, mark: int | None = None, tag: bytes | None = None) -> None:
        self.sink = sink
        # The watermark code of this viewer's session (node/outputs/marked_ts.py), if any.
        self.mark = mark
        # An SEI NAL put in every keyframe this viewer gets (node/sei_tag.py), if any.
        self.tag = tag
        self.bytes_sent = 0
        self.lagging_since: float | None = None
        self.skipped_chunks = 0
        self.closed = False

    def send(self, data: bytes) -> None:
        self.sink.write(data)
        self.bytes_sent += len(data)

    def send_keyframe(self, data: bytes) -> None:
        """``data`` starts a keyframe: it carries this viewer's tag, if it has one."""
        self.send(data if self.tag is None else tag_keyframe(data, self.tag))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.sink.close()


class TsRing:
    """The recent chunks of a channel, bounded in bytes, always keeping the last keyframe."""

    def __init__(self, max_bytes: int = 8 << 20) -> None:
        self.max_bytes = max_bytes
        self._chunks: deque[TsChunk] = deque()
        self._size = 0
        self._keyframes = 0
        self.psi = b""

    @property
    def size(self) -> int:
        return self._size

    def __len__(self) -> int:
        return len(self._chunks)

    def append(self, chunk: TsChunk) -> None:
        self._chunks.append(chunk)
        self._size += len(chunk.data)
        self._keyframes += chunk.keyframe
        while self._size > self.max_bytes and len(self._chunks) > 1:
            # Never drop the latest keyframe: a joining viewer needs it.
            if self._chunks[0].keyframe and self._keyframes == 1:
                break
            old = self._chunks.popleft()
            self._size -= len(old.data)
            self._keyframes -= old.keyframe

    def clear(self) -> None:
        self._chunks.clear()
        self._size = 0
        self._keyframes = 0

    def join_point(self) -> list[bytes]:
        """What a new viewer gets first: PAT/PMT, then every chunk since the latest keyframe."""
        for i in range(len(self._chunks) - 1, -1, -1):
            chunk = self._chunks[i]
            if chunk.keyframe:
                head = [] if chunk.starts_with_psi or not self.psi else [self.psi]
                return head + [c.data for c in list(self._chunks)[i:]]
        return []

    @property
    def has_keyframe(self) -> bool:
        return self._keyframes > 0


class TsFanout:
    """Writes each new chunk to every viewer, skipping or dropping the ones that lag."""

    def __init__(
        self,
        ring: TsRing | None = None,
        *,
        max_backlog: int = 4 << 20,
        max_lag: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ring = ring or TsRing()
        self.max_backlog = max_backlog
        self.max_lag = max_lag
        self._clock = clock
        self.viewers: set[TsViewer] = set()
        self.dropped = 0
        self.skipped = 0
        self.waiting: set[TsViewer] = set()  # joined before the first keyframe
        self._drop_later: list[TsViewer] = []

    def add(self, viewer: TsViewer) -> None:
        """Start a viewer at the latest keyframe (or at the next one if none is buffered)."""
        self.viewers.add(viewer)
        start = self.ring.join_point()
        if start:
            viewer.send_keyframe(b"".join(start))
        else:
            self.waiting.add(viewer)

    def remove(self, viewer: TsViewer) -> None:
        self.viewers.discard(viewer)
        self.waiting.discard(viewer)

    def publish(self, chunk: TsChunk, psi: bytes = b"") -> None:
        """Append to the ring and hand the chunk to every viewer that can take it."""
        if psi:
            self.ring.psi = psi
        self.ring.append(chunk)
        data = chunk.data
        now = self._clock()
        resume = chunk.data if chunk.starts_with_psi else self.ring.psi + chunk.data
        for viewer in self.viewers:
            if viewer in self.waiting:
                if chunk.keyframe:
                    self.waiting.discard(viewer)
                    viewer.send_keyframe(resume)
                continue
            if viewer.lagging_since is None:
                if viewer.sink.buffered() <= self.max_backlog:
                    if chunk.keyframe and viewer.tag is not None:
                        viewer.send_keyframe(data)
                    else:
                        viewer.send(data)
                    continue
                viewer.lagging_since = now
            # Behind: resume only at a keyframe once drained; give up after max_lag.
            if chunk.keyframe and viewer.sink.buffered() <= self.max_backlog // 2:
                viewer.lagging_since = None
                viewer.send_keyframe(resume)
                continue
            viewer.skipped_chunks += 1
            self.skipped += 1
            if now - viewer.lagging_since > self.max_lag:
                self.dropped += 1
                self._drop_later.append(viewer)
        if self._drop_later:
            for viewer in self._drop_later:
                self.remove(viewer)
                viewer.close()
            self._drop_later.clear()

    def close_all(self) -> None:
        for viewer in list(self.viewers):
            self.remove(viewer)
            viewer.close()
