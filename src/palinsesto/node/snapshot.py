"""A running channel's probe and thumbnail, taken from its own output (no second upstream).

Both feed ffmpeg the channel's latest keyframe-aligned run of TS chunks (the ring's join
point, what a new viewer gets first) on stdin, through the one supervisor: the input
report gives codecs, size, frame rate and audio tracks; a one-frame MJPEG encode gives the
thumbnail. Each is kept ``max_age`` seconds so a page refreshing every few seconds (or
many admins at once) costs at most one ffmpeg run per channel per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from palinsesto.node.channel import ChannelRunner
from palinsesto.node.ffmpeg import stream_info_argv, thumbnail_argv
from palinsesto.node.probe_report import ProbeFailed, parse_input_report
from palinsesto.node.supervisor import Child, Supervisor

THUMBNAIL_WIDTH = 320
REPORT_LINES = 200


class SnapshotUnavailable(Exception):
    """The channel has no picture to show yet (not live, or ffmpeg could not read it)."""


@dataclass(slots=True)
class _Kept:
    at: float
    value: Any


async def _feed(child: Child, data: bytes) -> None:
    stdin = child.stdin
    if stdin is None:
        return
    # ffmpeg may stop reading once it has what it needs: a closed pipe is not an error.
    with contextlib.suppress(ConnectionError, BrokenPipeError):
        stdin.write(data)
        await stdin.drain()
        stdin.close()


class ChannelSnapshots:
    def __init__(
        self,
        supervisor: Supervisor,
        max_age: float = 10.0,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._supervisor = supervisor
        self.max_age = max_age
        self._timeout = timeout
        self._clock = clock
        self._kept: dict[tuple[str, int], _Kept] = {}
        self._locks: dict[tuple[str, int], asyncio.Lock] = {}

    def forget(self, channel_id: int) -> None:
        for kind in ("probe", "thumbnail"):
            self._kept.pop((kind, channel_id), None)
            self._locks.pop((kind, channel_id), None)

    async def probe(self, ffmpeg: str, runner: ChannelRunner) -> dict[str, Any]:
        """Codecs, size, frame rate, audio tracks (ffmpeg's report) and the bitrate."""
        return await self._cached("probe", ffmpeg, runner, self._probe)

    async def thumbnail(self, ffmpeg: str, runner: ChannelRunner) -> bytes:
        """A JPEG of the latest keyframe, ``THUMBNAIL_WIDTH`` pixels wide."""
        return await self._cached("thumbnail", ffmpeg, runner, self._thumbnail)

    async def _cached(
        self,
        kind: str,
        ffmpeg: str,
        runner: ChannelRunner,
        make: Callable[[str, ChannelRunner, bytes], Any],
    ) -> Any:
        key = (kind, runner.spec.channel_id)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # concurrent askers share one ffmpeg run
            kept = self._kept.get(key)
            if kept is not None and self._clock() - kept.at < self.max_age:
                return kept.value
            data = b"".join(runner.fanout.ring.join_point())
            if not data:
                raise SnapshotUnavailable("The channel has not sent a keyframe yet.")
            value = await make(ffmpeg, runner, data)
            self._kept[key] = _Kept(self._clock(), value)
            return value

    async def _probe(self, ffmpeg: str, runner: ChannelRunner, data: bytes) -> dict[str, Any]:
        child = await self._supervisor.spawn(
            stream_info_argv(ffmpeg), stdin=True, log_lines=REPORT_LINES
        )
        feeding = asyncio.create_task(_feed(child, data))
        try:
            await asyncio.wait_for(child.wait(), self._timeout)
        except TimeoutError:
            await child.stop(grace=0.5)
            raise SnapshotUnavailable("ffmpeg did not describe the channel in time.") from None
        finally:
            feeding.cancel()
        try:
            info = parse_input_report(list(child.log_tail))
        except ProbeFailed as exc:
            raise SnapshotUnavailable(f"ffmpeg could not read the channel: {exc.reason}") from None
        video = info.video or {}
        return {
            "container": info.container,
            "video": None
            if not video
            else {
                "codec": video.get("codec_name", ""),
                "profile": video.get("profile", ""),
                "width": video.get("width"),
                "height": video.get("height"),
                "frame_rate": float(video["avg_frame_rate"])
                if video.get("avg_frame_rate")
                else None,
                "pix_fmt": video.get("pix_fmt", ""),
            },
            "audio": [
                {
                    "codec": a.get("codec_name", ""),
                    "language": (a.get("tags") or {}).get("language", ""),
                    "channels": a.get("channels"),
                    "channel_layout": a.get("channel_layout", ""),
                    "sample_rate": int(a["sample_rate"]) if a.get("sample_rate") else None,
                }
                for a in info.audio
            ],
            # The TS carries no bitrate of its own: the channel's ffmpeg measures its output.
            "bitrate_kbps": runner.status()["bitrate_kbps"],
            "taken_at": time.time(),
        }

    async def _thumbnail(self, ffmpeg: str, runner: ChannelRunner, data: bytes) -> bytes:
        child = await self._supervisor.spawn(
            thumbnail_argv(ffmpeg, THUMBNAIL_WIDTH), stdin=True, stdout_limit=1 << 22
        )
        feeding = asyncio.create_task(_feed(child, data))
        try:
            jpeg = await asyncio.wait_for(child.stdout.read(), self._timeout)
            rc = await asyncio.wait_for(child.wait(), self._timeout)
        except TimeoutError:
            await child.stop(grace=0.5)
            raise SnapshotUnavailable("ffmpeg did not make a thumbnail in time.") from None
        finally:
            feeding.cancel()
        if rc != 0 or not jpeg.startswith(b"\xff\xd8"):
            detail = child.last_message() or f"exit {rc}"
            raise SnapshotUnavailable(f"ffmpeg could not make a thumbnail: {detail}")
        return jpeg
