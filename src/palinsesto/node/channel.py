"""One owner task per running channel: its ffmpeg, its source failover, its outputs.

Only the owner task touches the child process and the chunker; other code calls the
runner's methods (start, stop, touch, attach_push...) and reads :meth:`status`. States
form :class:`ChannelState`. Sources are tried in order; while a backup plays, the primary
is probed and the runner returns to it once it answers (or once its publisher is back).

A push source (RTMP or SRT) with no publisher connected is not a failure: the runner plays
the next source meanwhile, or, when the push is all it has, waits (state ``waiting``)
without spawning anything until a publisher arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from palinsesto.node.archive.store import ArchiveWriter
from palinsesto.node.ffmpeg import (
    MARKED_AUDIO,
    MARKED_VIDEO_A,
    MARKED_VIDEO_B,
    Source,
    SourceError,
    TranscodeProfile,
    channel_argv,
    probe_argv,
)
from palinsesto.node.mpegts import TsChunk, TsChunker
from palinsesto.node.outputs.hls import HlsSegmenter, Segment
from palinsesto.node.outputs.marked_ts import MarkedFanout
from palinsesto.node.outputs.ts import TsFanout, TsViewer
from palinsesto.node.renditions import RenditionSplitter
from palinsesto.node.source_policy import SHOWN_PATH
from palinsesto.node.supervisor import Backoff, Child, Supervisor
from palinsesto.protocol.watermark import MarkParams, wants_b
from palinsesto.redaction import redact_urls_in

log = logging.getLogger(__name__)


class ChannelState(enum.StrEnum):
    idle = "idle"
    starting = "starting"
    waiting = "waiting"  # a push source with no publisher yet, and nothing else to play
    live = "live"
    failing = "failing"
    stopping = "stopping"


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """What to run, as loaded from the catalog (sources already checked by policy)."""

    tenant_id: int
    channel_id: int
    name: str
    sources: tuple[Source, ...]
    profile: TranscodeProfile
    on_demand: bool = True
    # The pull proxy HTTP sources go through (outbound/pull_proxy.py); empty = direct.
    http_proxy: str = ""
    # Forensic watermark (protocol/watermark.py): two marked renditions, one per slot
    # per viewer; None = one plain encode (or copy).
    mark: MarkParams | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    at: float  # unix time
    source_index: int
    message: str


@dataclass(frozen=True, slots=True)
class RunnerTuning:
    stall_timeout: float = 3.0  # no output for this long = the source failed
    idle_stop: float = 10.0  # on-demand: stop this long after the last viewer left
    probe_interval: float = 3.0  # while on a backup: how often to try the primary
    batch_age: float = 0.15  # a pending chunk is written out after this long
    chunk_bytes: int = 64 * 1024
    ring_bytes: int = 8 << 20
    max_backlog: int = 4 << 20
    # After every source failed: wait retry_initial, doubling up to retry_max, before the
    # next round (reset once a source plays). Failover between sources is immediate.
    retry_initial: float = 1.0
    retry_max: float = 60.0
    # The back-off starts over only after a source played this long: one that plays a
    # few seconds and dies again (flapping) keeps backing off.
    stable_after: float = 30.0


class PushFeed:
    """Bytes a publisher pushes (FLV for RTMP, TS for SRT), handed to whichever ffmpeg
    currently reads them.

    ``header`` (FLV header, metadata and codec configuration; empty for TS) is replayed to
    every new ffmpeg, so a restart or a return from a backup can decode without a new
    publish.
    """

    def __init__(self, max_queue: int = 2048) -> None:
        self.header = b""
        self._max = max_queue
        self._queue: asyncio.Queue[bytes | None] | None = None
        self.closed = False

    def reader(self) -> asyncio.Queue[bytes | None]:
        self._queue = asyncio.Queue(self._max)
        if self.closed:
            self._queue.put_nowait(None)
        return self._queue

    def write(self, data: bytes) -> None:
        queue = self._queue
        if queue is not None and not queue.full():
            queue.put_nowait(data)

    def close(self) -> None:
        self.closed = True
        if self._queue is not None:
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(None)


class _SourceEnded(Exception):
    def __init__(self, message: str, *, failure: bool = True, skip: bool = False) -> None:
        super().__init__(message)
        self.failure = failure
        self.skip = skip  # not a failure, but play the next source (a push with no publisher)


class ChannelRunner:
    """Runs one channel on this node; see the module docstring."""

    def __init__(
        self,
        spec: ChannelSpec,
        supervisor: Supervisor,
        ffmpeg: str,
        tuning: RunnerTuning | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.spec = spec
        self.tuning = tuning or RunnerTuning()
        self._supervisor = supervisor
        self._ffmpeg = ffmpeg
        self._clock, self._wall = clock, wall
        self.fanout = TsFanout(max_backlog=self.tuning.max_backlog, clock=clock)
        self.fanout.ring.max_bytes = self.tuning.ring_bytes
        mark = spec.mark
        target = mark.slot_seconds if mark is not None else 2.0  # one segment = one slot
        self.hls = HlsSegmenter(target, clock=clock)
        # A watermarked channel's rendition B (A is ``fanout`` and ``hls``).
        self.marked: MarkedFanout | None = None
        self.hls_b: HlsSegmenter | None = None
        if mark is not None:
            fanout_b = TsFanout(max_backlog=self.tuning.max_backlog, clock=clock)
            fanout_b.ring.max_bytes = self.tuning.ring_bytes
            self.marked = MarkedFanout(self.fanout, fanout_b, mark.slot_seconds)
            self.hls_b = HlsSegmenter(target, clock=clock)
        self.state = ChannelState.idle
        self.failures: deque[Failure] = deque(maxlen=10)
        self.restarts = 0
        self.active_index: int | None = None
        self.live_since: float | None = None
        # Back-off outlives the owner task: an on-demand restart by the next viewer waits
        # for the pending retry instead of hammering a dead source.
        self._backoff = Backoff(self.tuning.retry_initial, self.tuning.retry_max)
        self.retry_at: float | None = None  # clock time of the next attempt, while backing off
        self.failed_rounds = 0  # rounds in a row in which every source failed
        self._round_failed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._child: Child | None = None
        self._t0 = clock()
        self._last_demand = clock()
        self._want_primary = asyncio.Event()
        self._stop_requested = False
        self._keyframe_seen = asyncio.Event()
        self._push: PushFeed | None = None
        self._push_changed = asyncio.Event()
        self._hls_sessions = 0
        self.on_stopped: Callable[[ChannelRunner], None] | None = None
        self.archive: ArchiveWriter | None = None  # set by the engine when it records

    # ---- control (called by the engine, the ingest and the delivery servers) ----

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, *, retry_now: bool = False) -> None:
        """Start the owner task if it is not running. A pending back-off is kept unless
        ``retry_now`` (an operator's explicit start)."""
        if retry_now:
            self._backoff.reset()
            self.retry_at = None
        if self.running:
            return
        self.state = ChannelState.starting
        self._stop_requested = False
        self._last_demand = self._clock()
        self._keyframe_seen.clear()
        self._task = asyncio.create_task(self._own(), name=f"channel-{self.spec.channel_id}")

    async def stop(self) -> None:
        """Stop the channel: its ffmpeg, and every TS viewer."""
        task = self._task
        if task is not None and not task.done():
            self.state = ChannelState.stopping
            self._stop_requested = True
            # Python 3.11's asyncio.wait_for returns the inner result when it completes
            # at the moment of cancellation, swallowing the CancelledError (gh-86296). The
            # owner reads its pipe with wait_for many times a second, so cancel until the
            # task is really done; the flag also ends its loops.
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=0.5)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()
        self._finish()

    @property
    def ready(self) -> bool:
        """Live with a keyframe buffered: a new viewer can start at once."""
        return self.state is ChannelState.live and self.fanout.ring.has_keyframe

    async def wait_ready(self, timeout: float) -> bool:
        """Wait until a keyframe is buffered (a viewer can start at once)."""
        if self.ready:
            return True
        if self._backing_off_beyond(timeout):
            return False
        # Also stop waiting when the owner task ends (no usable source, stopped) or every
        # source failed once: the viewer gets its "offline" answer at once instead of
        # after the whole timeout.
        keyframe = asyncio.ensure_future(self._keyframe_seen.wait())
        failed = asyncio.ensure_future(self._round_failed.wait())
        waits: set[asyncio.Future[Any]] = {keyframe, failed}
        if self._task is not None and not self._task.done():
            waits.add(self._task)
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            keyframe.cancel()
            failed.cancel()
        return self._keyframe_seen.is_set()

    async def wait_hls(self, timeout: float) -> bool:
        """Wait until the HLS window has a segment; False as soon as the channel failed."""
        deadline = self._clock() + timeout
        failed = self._round_failed
        while not self.hls.ready:
            if (
                failed.is_set()
                or not self.running
                or self._clock() > deadline
                or self._backing_off_beyond(deadline - self._clock())
            ):
                return False
            await asyncio.sleep(0.05)
        return True

    def _backing_off_beyond(self, seconds: float) -> bool:
        return self.retry_at is not None and self.retry_at - self._clock() > seconds

    def touch(self) -> None:
        """A viewer asked for something: keeps an on-demand channel running."""
        self._last_demand = self._clock()

    def set_hls_sessions(self, count: int) -> None:
        self._hls_sessions = count

    def add_viewer(self, viewer: TsViewer) -> None:
        self.touch()
        if self.marked is not None:
            self.marked.add(viewer)
        else:
            self.fanout.add(viewer)

    def remove_viewer(self, viewer: TsViewer) -> None:
        if self.marked is not None:
            self.marked.remove(viewer)
        else:
            self.fanout.remove(viewer)
        self.touch()

    @property
    def ts_viewers(self) -> int:
        return self.marked.viewer_count if self.marked is not None else len(self.fanout.viewers)

    @property
    def viewers(self) -> int:
        return self.ts_viewers + self._hls_sessions

    def segment(self, seq: int, mark: int | None) -> Segment | None:
        """HLS segment ``seq`` as a session with watermark code ``mark`` gets it: from
        rendition B when its sequence says so for that slot, else A."""
        segment = self.hls.get(seq)
        if segment is None or mark is None or self.marked is None or self.hls_b is None:
            return segment
        slot = self.marked.slot(segment.pts)
        if slot is None or segment.pts is None or not wants_b(mark, slot):
            return segment
        return self.hls_b.at_pts(segment.pts) or segment

    def attach_push(self, feed: PushFeed) -> None:
        """A publisher connected: it becomes the feed of this channel's push source."""
        if self._push is feed:
            return
        if self._push is not None:
            self._push.close()
        self._push = feed
        self._push_changed.set()
        index = self._push_index()
        if index is not None and self.active_index not in (None, index):
            self._want_primary.set()
        self.start()

    def detach_push(self, feed: PushFeed) -> None:
        if self._push is feed:
            feed.close()
            self._push = None
            self._push_changed.set()

    @property
    def has_publisher(self) -> bool:
        return self._push is not None and not self._push.closed

    def status(self) -> dict[str, object]:
        """What the admin API shows for this channel."""
        child = self._child
        progress = child.progress if child is not None else None
        index = self.active_index
        source = self.spec.sources[index] if index is not None else None
        running = self.state in (ChannelState.live, ChannelState.starting)
        # Every source refused (by policy, or unusable) is failing too, though nothing runs.
        if self.state is ChannelState.failing or (not self.spec.sources and self.failures):
            summary = "failing"
        elif self.state is ChannelState.waiting:
            summary = "waiting"  # for its publisher
        else:
            summary = "running" if running else "stopped"
        return {
            "state": self.state.value,
            "status": summary,
            "publisher_connected": self.has_publisher,
            "active_source": None
            if source is None
            else {
                "index": index,
                "kind": source.kind.value,
                # A file source runs from its real path; its owner sees the path they gave.
                "url": source.options.get(SHOWN_PATH, source.url),
            },
            "bitrate_kbps": progress.bitrate_kbps if progress else 0.0,
            "fps": progress.fps if progress else 0.0,
            "speed": progress.speed if progress else 0.0,
            "uptime_seconds": round(self._clock() - self.live_since, 1)
            if self.live_since is not None
            else 0.0,
            "restarts": self.restarts,
            "failed_rounds": self.failed_rounds,
            # While backing off: when the next attempt is due (unix time) and the delay.
            "retry_at": None
            if self.retry_at is None
            else round(self._wall() + self.retry_at - self._clock(), 3),
            "retry_in_seconds": None
            if self.retry_at is None
            else round(max(0.0, self.retry_at - self._clock()), 1),
            "viewers": self.viewers,
            "dropped_viewers": self.fanout.dropped,
            "failures": [
                {"at": f.at, "source_index": f.source_index, "message": f.message}
                for f in self.failures
            ],
        }

    # ---- the owner task ----

    def _push_index(self) -> int | None:
        for i, source in enumerate(self.spec.sources):
            if source.is_push:
                return i
        return None

    def _idle(self) -> bool:
        """Time to end the owner task: stop() was called, or nobody wants the channel."""
        return self._stop_requested or (
            self.spec.on_demand
            and not self.ts_viewers
            and self._hls_sessions == 0
            and self._clock() - self._last_demand > self.tuning.idle_stop
        )

    async def _own(self) -> None:
        index = 0
        prober: asyncio.Task[None] | None = None
        try:
            if self.retry_at is not None:  # restarted while backing off: keep the wait
                self.state = ChannelState.failing
                await self._sleep_until_retry()
            while not self._idle():
                if not self.spec.sources:
                    raise _SourceEnded("the channel has no usable source")
                self._want_primary.clear()
                # One prober while a backup plays; none on the primary. A prober that
                # found the primary back has finished: the next backup period needs a new one.
                if prober is not None and (index == 0 or prober.done()):
                    prober.cancel()
                    prober = None
                if index != 0 and prober is None:
                    prober = asyncio.create_task(self._probe_primary())
                try:
                    await self._play(index)
                except (SourceError, OSError) as exc:
                    # A source the engine cannot even start (a stored URL from before the
                    # API checked them, a missing binary): a failure like any other.
                    index = await self._failed(index, str(exc))
                    continue
                except _SourceEnded as ended:
                    if ended.skip:
                        index = (index + 1) % len(self.spec.sources)
                        if index == 0:  # every source is a push without its publisher
                            await self._wait_for_publisher()
                        continue
                    if not ended.failure:
                        if self._want_primary.is_set():
                            index = 0
                        continue
                    # ffmpeg names the source URL: its credentials stay out of logs and API.
                    index = await self._failed(index, redact_urls_in(self._shown(index, ended)))
        except _SourceEnded as ended:
            self.failures.append(Failure(self._wall(), -1, str(ended)))
            self._signal_round_failed()
        except Exception as exc:
            # Nothing may escape the owner task unseen ("Task exception was never
            # retrieved"): the reason goes to the channel's failures, the trace to the log.
            log.exception("channel %s: owner task failed", self.spec.channel_id)
            self.failures.append(Failure(self._wall(), -1, f"internal error: {exc!r}"))
            self._signal_round_failed()
        finally:
            if prober is not None:
                prober.cancel()
            self._finish()

    async def _failed(self, index: int, message: str) -> int:
        """Record a failed attempt of source ``index``; the index to try next.

        Failover to the next source is immediate; once every source failed in a row, the
        next round waits an exponentially growing delay (the status shows when). One log
        line per attempt.
        """
        self.failures.append(Failure(self._wall(), index, message))
        self.restarts += 1
        self._forget_backoff_if_stable()
        self.state = ChannelState.failing
        self.live_since = None
        following = (index + 1) % len(self.spec.sources)
        if following != 0:
            log.warning(
                "channel %s source %d failed: %s; trying source %d",
                self.spec.channel_id, index, message, following,
            )  # fmt: skip
            return following
        delay = self._backoff.next_delay()
        self.failed_rounds += 1
        self.retry_at = self._clock() + delay
        log.warning(
            "channel %s source %d failed: %s; every source failed %d time(s) in a row, "
            "retrying in %.0f s",
            self.spec.channel_id, index, message, self.failed_rounds, delay,
        )  # fmt: skip
        self._signal_round_failed()
        await self._sleep_until_retry()
        return following

    def _forget_backoff_if_stable(self) -> None:
        if self.live_since is not None and (
            self._clock() - self.live_since >= self.tuning.stable_after
        ):
            self._backoff.reset()
            self.failed_rounds = 0

    def _signal_round_failed(self) -> None:
        """Waiting viewers get their "offline" answer now, not after their whole timeout;
        later waiters wait for the next round."""
        self._round_failed.set()
        self._round_failed = asyncio.Event()

    def _shown(self, index: int, ended: _SourceEnded) -> str:
        """The failure as the channel's owner sees it: ffmpeg names a file source by its real
        path, the owner knows it by the path they gave (where the server keeps it is not
        theirs to learn)."""
        source = self.spec.sources[index]
        given = source.options.get(SHOWN_PATH)
        return str(ended).replace(source.url, given) if given else str(ended)

    async def _wait_for_publisher(self) -> None:
        """Nothing to play until a publisher connects: wait, spawning nothing, counting no
        restarts, until one does or (on demand) nobody wants the channel any more."""
        self.state = ChannelState.waiting
        self.active_index = None
        self.live_since = None
        while not self.has_publisher and not self._idle():
            self._push_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._push_changed.wait(), 0.5)

    async def _sleep_until_retry(self) -> None:
        """Wait for ``retry_at``, unless demand ends or an operator asks to retry now."""
        while self.retry_at is not None and self._clock() < self.retry_at and not self._idle():
            await asyncio.sleep(min(0.1, self.retry_at - self._clock()))
        if self.retry_at is not None and self._clock() >= self.retry_at:
            self.retry_at = None

    def _finish(self) -> None:
        self._forget_backoff_if_stable()
        self.state = ChannelState.idle
        self.active_index = None
        self.live_since = None
        self._child = None
        if self.marked is not None:
            self.marked.close_all()
            self.marked.reset()
            for fanout in self.marked.fanouts:
                fanout.ring.clear()
        else:
            self.fanout.close_all()
            self.fanout.ring.clear()
        # A restart starts a fresh HLS window: segments from before the stop would be
        # served as live footage as old as the idle gap.
        self.hls.reset()
        if self.hls_b is not None:
            self.hls_b.reset()
        if self.archive is not None:
            self.archive.close()  # a gap until the channel runs again
        self._keyframe_seen.clear()
        if self.on_stopped is not None:
            self.on_stopped(self)

    async def _probe_primary(self) -> None:
        primary = self.spec.sources[0]
        while True:
            await asyncio.sleep(self.tuning.probe_interval)
            if primary.is_push:
                back = self.has_publisher
            else:
                try:
                    argv = probe_argv(self._ffmpeg, primary, http_proxy=self.spec.http_proxy)
                except SourceError:
                    return  # cannot come back (its failure is already recorded)
                rc, _ = await self._supervisor.run(argv, timeout=self.tuning.probe_interval + 3)
                back = rc == 0
            if back:
                self._want_primary.set()
                return

    async def _play(self, index: int) -> None:
        source = self.spec.sources[index]
        push = source.is_push
        if push and not self.has_publisher:
            if len(self.spec.sources) == 1:
                await self._wait_for_publisher()
                if not self.has_publisher:
                    raise _SourceEnded("idle", failure=False)
            else:
                raise _SourceEnded("no publisher connected", failure=False, skip=True)
        offset = self._clock() - self._t0 + 1.0
        argv = channel_argv(
            self._ffmpeg,
            source,
            self.spec.profile,
            ts_offset=offset,
            http_proxy=self.spec.http_proxy,
            mark=self.spec.mark,
        )
        self.active_index = index
        if self.state is not ChannelState.live:
            self.state = ChannelState.starting
        self.hls.mark_discontinuity()
        if self.marked is not None and self.hls_b is not None:
            self.marked.reset()  # a new encode counts its slots afresh
            self.hls_b.mark_discontinuity()
        child = await self._supervisor.spawn(argv, stdin=push)
        self._child = child
        pump = asyncio.create_task(self._pump(child)) if push else None
        chunker = TsChunker(self.tuning.chunk_bytes)
        try:
            await self._read(child, chunker, index)
        except _SourceEnded as ended:
            if push and ended.failure and not self.has_publisher:
                raise _SourceEnded("publisher disconnected") from None
            raise
        finally:
            if pump is not None:
                pump.cancel()
            await child.stop(grace=1.0)

    async def _pump(self, child: Child) -> None:
        feed, stdin = self._push, child.stdin
        if feed is None or stdin is None:
            return
        queue = feed.reader()
        try:
            stdin.write(feed.header)
            while (data := await queue.get()) is not None:
                stdin.write(data)
                await stdin.drain()
        except (ConnectionError, BrokenPipeError):
            return
        with contextlib.suppress(ConnectionError, BrokenPipeError):
            stdin.close()

    async def _read(self, child: Child, chunker: TsChunker, index: int) -> None:
        tick = 0.25
        silent = 0.0
        last_emit = self._clock()
        marked = self.marked is not None
        splitter = RenditionSplitter(MARKED_VIDEO_A, MARKED_VIDEO_B, MARKED_AUDIO)
        chunker_b = TsChunker(self.tuning.chunk_bytes)
        while True:
            if self._want_primary.is_set() and index != 0:
                raise _SourceEnded("returning to the primary source", failure=False)
            if self._idle():
                raise _SourceEnded("idle", failure=False)
            try:
                data = await asyncio.wait_for(child.stdout.read(256 * 1024), tick)
            except TimeoutError:
                silent += tick
                if silent >= self.tuning.stall_timeout:
                    detail = child.last_message()
                    raise _SourceEnded(
                        f"stalled: no output for {silent:.1f} s"
                        + (f" ({detail})" if detail else "")
                    ) from None
                last_emit = self._flush_aged(chunker, last_emit)
                continue
            if not data:
                rc = await child.wait()
                raise _SourceEnded(
                    f"ffmpeg exited ({rc}): {child.last_message() or 'end of input'}"
                )
            silent = 0.0
            if marked:
                data, data_b = splitter.feed(data)
                for chunk in chunker_b.feed(data_b):
                    self._publish_b(chunk, chunker_b.psi)
                if chunker_b.pending_bytes:  # B follows A's batching, so neither lags
                    self._publish_b(chunker_b.flush(), chunker_b.psi)
            for chunk in chunker.feed(data):
                self._publish(chunk, chunker.psi)
                last_emit = self._clock()
            last_emit = self._flush_aged(chunker, last_emit)

    def _flush_aged(self, chunker: TsChunker, last_emit: float) -> float:
        """Write out a pending chunk older than ``batch_age``; the new last-emit time."""
        if chunker.pending_bytes and self._clock() - last_emit >= self.tuning.batch_age:
            self._publish(chunker.flush(), chunker.psi)
            return self._clock()
        return last_emit

    def _publish(self, chunk: TsChunk | None, psi: bytes) -> None:
        if chunk is None:
            return
        if chunk.keyframe and self.state is not ChannelState.live:
            self.state = ChannelState.live
            self.live_since = self._clock()
            self.retry_at = None
        if self.marked is not None:
            self.marked.publish(0, chunk, psi)
        else:
            self.fanout.publish(chunk, psi)
        self.hls.push(chunk, psi)
        if self.archive is not None:
            self.archive.push(chunk, psi)
        if chunk.keyframe:
            self._keyframe_seen.set()

    def _publish_b(self, chunk: TsChunk | None, psi: bytes) -> None:
        if chunk is None or self.marked is None or self.hls_b is None:
            return
        self.marked.publish(1, chunk, psi)
        self.hls_b.push(chunk, psi)


__all__ = [
    "ChannelRunner",
    "ChannelSpec",
    "ChannelState",
    "Failure",
    "PushFeed",
    "RunnerTuning",
]
