"""TS viewers of a watermarked channel: each follows its own A/B sequence.

The channel has two fan-outs, one per rendition (node/renditions.py makes the two streams
look alike to a player). A marked viewer is in one of them; at each keyframe, slot ``k``
of the stream, it moves to the rendition its code wants for ``k``
(:func:`palinsesto.protocol.watermark.wants_b`). The two renditions' chunks arrive
interleaved, so the other rendition's keyframe ``k`` may be out already (the viewer joins
its ring at that keyframe) or not yet (the viewer waits for it, receiving nothing meanwhile:
both renditions' keyframes come from one encode, a few milliseconds apart).
"""

from __future__ import annotations

from palinsesto.node.mpegts import TsChunk
from palinsesto.node.outputs.ts import TsFanout, TsViewer
from palinsesto.protocol.watermark import slot_of, wants_b


class MarkedFanout:
    def __init__(self, a: TsFanout, b: TsFanout, slot_seconds: float) -> None:
        self.fanouts = (a, b)
        self.slot_seconds = slot_seconds
        self.origin: float | None = None  # PTS of the first keyframe of this encode
        self.key_slot: list[int | None] = [None, None]  # latest keyframe's slot, per rendition
        self._on: dict[TsViewer, int] = {}  # viewer → the rendition it is in (or waits for)
        self._waiting: dict[TsViewer, int] = {}  # viewer → the slot it waits for
        self.switches = 0

    def reset(self) -> None:
        """A new encode (restart, failover): its timestamps start a new slot count."""
        self.origin = None
        self.key_slot = [None, None]

    def slot(self, pts: float | None) -> int | None:
        if pts is None or self.origin is None:
            return None
        return slot_of(pts, self.origin, self.slot_seconds)

    @property
    def viewer_count(self) -> int:
        a, b = self.fanouts
        return len(a.viewers) + len(b.viewers) + len(self._waiting)

    def add(self, viewer: TsViewer) -> None:
        """Start a viewer in the rendition its code wants for the latest keyframe."""
        if viewer.mark is None:
            self.fanouts[0].add(viewer)
            return
        latest = self.key_slot[0]
        rendition = int(latest is not None and wants_b(viewer.mark, latest))
        self._on[viewer] = rendition
        self.fanouts[rendition].add(viewer)

    def remove(self, viewer: TsViewer) -> None:
        self._on.pop(viewer, None)
        self._waiting.pop(viewer, None)
        for fanout in self.fanouts:
            fanout.remove(viewer)

    def close_all(self) -> None:
        waiting = list(self._waiting)
        self._on.clear()
        self._waiting.clear()
        for fanout in self.fanouts:
            fanout.close_all()
        for viewer in waiting:
            viewer.close()

    def publish(self, rendition: int, chunk: TsChunk, psi: bytes) -> None:
        fanout = self.fanouts[rendition]
        if not chunk.keyframe or chunk.pts is None:
            fanout.publish(chunk, psi)
            return
        if self.origin is None:
            self.origin = chunk.pts
        k = slot_of(chunk.pts, self.origin, self.slot_seconds)
        self.key_slot[rendition] = k
        other = 1 - rendition
        for viewer, current in list(self._on.items()):
            if current != rendition or viewer in self._waiting or viewer.mark is None:
                continue
            if int(wants_b(viewer.mark, k)) == rendition:
                continue
            # Leaves this rendition before its keyframe k; joins the other's keyframe k.
            fanout.remove(viewer)
            self._on[viewer] = other
            self.switches += 1
            if self.key_slot[other] == k:
                self.fanouts[other].add(viewer)
            else:
                self._waiting[viewer] = k
        fanout.publish(chunk, psi)
        for viewer, wanted in list(self._waiting.items()):
            if self._on.get(viewer) == rendition and k >= wanted:
                del self._waiting[viewer]
                fanout.add(viewer)  # starts at the keyframe just published
