"""The channel runner with real ffmpeg: test pattern, file, HLS and HTTP-TS pulls, failover."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from pathlib import Path

from palinsesto.node.channel import ChannelRunner, ChannelSpec, ChannelState, RunnerTuning
from palinsesto.node.ffmpeg import Source, profile_for
from palinsesto.node.outputs.ts import TsViewer
from palinsesto.node.supervisor import Supervisor
from palinsesto.protocol.sources import SourceKind
from support.media import (
    FFMPEG,
    CollectingSink,
    PacedTsServer,
    decode_bytes,
    make_sample_ts,
    static_http,
)

PATTERN = Source(SourceKind.test_pattern, "testsrc://320x180@25")
FAST = RunnerTuning(stall_timeout=1.5, idle_stop=1.0, probe_interval=1.0)


async def _until(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def _spec(*sources: Source, on_demand: bool = False) -> ChannelSpec:
    return ChannelSpec(1, 7, "Test", tuple(sources), profile_for("copy"), on_demand)


async def test_test_pattern_goes_live_and_a_viewer_decodes_100_frames(tmp_path: Path) -> None:
    sup = Supervisor()
    runner = ChannelRunner(_spec(PATTERN), sup, FFMPEG, FAST)
    try:
        runner.start()
        assert await runner.wait_ready(10)
        assert runner.state is ChannelState.live
        sink = CollectingSink()
        runner.add_viewer(TsViewer(sink))
        await asyncio.sleep(4.5)
        assert decode_bytes(bytes(sink.data), tmp_path / "v.ts") >= 100
        status = runner.status()
        assert status["status"] == "running" and status["viewers"] == 1
        assert runner.hls.ready
        assert "#EXTINF:" in runner.hls.playlist(lambda seq: f"/seg/{seq}.ts")
    finally:
        await runner.stop()
        await sup.stop_all()
    assert sink.closed and runner.state is ChannelState.idle and sup.running == 0


async def test_failover_to_backup_and_back_to_the_primary(tmp_path: Path) -> None:
    sample = make_sample_ts(tmp_path / "s.ts", 4.0)
    upstream = PacedTsServer(sample.read_bytes(), 4.0)
    await upstream.start()
    port = upstream.port
    backup = Source(SourceKind.file, str(make_sample_ts(tmp_path / "b.ts", 4.0)))
    primary = Source(SourceKind.http_ts, upstream.url)
    sup = Supervisor()
    runner = ChannelRunner(_spec(primary, backup), sup, FFMPEG, FAST)
    try:
        runner.start()
        assert await runner.wait_ready(10)
        assert runner.active_index == 0
        sink = CollectingSink()
        viewer = TsViewer(sink)
        runner.add_viewer(viewer)
        await asyncio.sleep(1.0)
        await upstream.stop()
        killed_at = asyncio.get_running_loop().time()
        size_at_kill = len(sink.data)
        while runner.active_index != 1 or runner.state is not ChannelState.live:
            await asyncio.sleep(0.05)
            assert asyncio.get_running_loop().time() - killed_at < 3.0, runner.status()
        # The viewer's stream carries on from the backup: bytes keep coming after the switch.
        await asyncio.sleep(1.0)
        assert not sink.closed and len(sink.data) > size_at_kill
        assert runner.failures and runner.failures[-1].source_index == 0
        # The primary comes back on the same port: the runner returns to it, every time
        # (and leaves it again when it fails: how fast is the 3 s check above; here the
        # margin is for a loaded machine).
        for cycle in range(2):
            if cycle:
                await upstream.stop()
                assert await _until(lambda: runner.active_index == 1, 10.0), runner.status()
            await upstream.start(port)
            assert await _until(
                lambda: runner.active_index == 0 and runner.state is ChannelState.live, 10.0
            ), runner.status()
        await asyncio.sleep(1.0)
        assert decode_bytes(bytes(sink.data), tmp_path / "all.ts") >= 75
    finally:
        await runner.stop()
        await sup.stop_all()
        await upstream.stop()


async def test_hls_pull_from_a_local_origin(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    origin.mkdir()
    writer = subprocess.Popen(
        [
            FFMPEG, "-hide_banner", "-loglevel", "error", "-re",
            "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-f", "hls",
            "-hls_time", "1", "-hls_list_size", "5", "-hls_flags", "delete_segments",
            str(origin / "index.m3u8"),
        ],
        start_new_session=True,
    )  # fmt: skip
    sup = Supervisor()
    try:
        for _ in range(100):
            if (origin / "index.m3u8").exists():
                break
            await asyncio.sleep(0.1)
        with static_http(origin) as base:
            source = Source(SourceKind.hls, f"{base}/index.m3u8")
            runner = ChannelRunner(_spec(source), sup, FFMPEG, FAST)
            runner.start()
            try:
                assert await runner.wait_ready(15), runner.status()
                sink = CollectingSink()
                runner.add_viewer(TsViewer(sink))
                await asyncio.sleep(2.5)
                assert decode_bytes(bytes(sink.data), tmp_path / "h.ts") >= 40
            finally:
                await runner.stop()
    finally:
        writer.kill()
        writer.wait()
        await sup.stop_all()


async def test_on_demand_channel_stops_after_the_idle_delay() -> None:
    sup = Supervisor()
    runner = ChannelRunner(_spec(PATTERN, on_demand=True), sup, FFMPEG, FAST)
    try:
        runner.start()
        assert await runner.wait_ready(10)
        viewer = TsViewer(CollectingSink())
        runner.add_viewer(viewer)
        await asyncio.sleep(1.5)
        assert runner.running  # a viewer keeps it up past the idle delay
        runner.remove_viewer(viewer)
        for _ in range(40):
            if not runner.running:
                break
            await asyncio.sleep(0.1)
        assert not runner.running and runner.state is ChannelState.idle
        assert sup.running == 0
    finally:
        await runner.stop()
        await sup.stop_all()


async def test_a_broken_source_is_reported_with_ffmpegs_message() -> None:
    sup = Supervisor()
    bad = Source(SourceKind.http_ts, "http://127.0.0.1:9/nothing.ts")
    runner = ChannelRunner(_spec(bad), sup, FFMPEG, FAST)
    try:
        runner.start()
        for _ in range(50):
            if runner.failures:
                break
            await asyncio.sleep(0.1)
        status = runner.status()
        assert status["status"] == "failing" and status["restarts"] >= 1
        message = status["failures"][0]["message"]
        assert "ffmpeg exited" in message and "refused" in message.lower()
    finally:
        await runner.stop()
        await sup.stop_all()


async def test_a_push_source_without_its_publisher_waits_without_restarting() -> None:
    sup = Supervisor()
    push = Source(SourceKind.push_rtmp, "")
    alone = ChannelRunner(_spec(push), sup, FFMPEG, FAST)
    backed = ChannelRunner(_spec(push, PATTERN), sup, FFMPEG, FAST)
    try:
        alone.start()
        backed.start()
        assert await backed.wait_ready(10)
        await asyncio.sleep(FAST.stall_timeout + 0.5)
        # Alone: waiting for its publisher, no ffmpeg, no failure, no restart loop.
        assert alone.running and alone.state is ChannelState.waiting
        assert alone.restarts == 0 and not alone.failures
        assert alone.status()["status"] == "waiting"
        # With a backup: the backup plays meanwhile, and that is not a failure either.
        assert backed.active_index == 1 and backed.state is ChannelState.live
        assert backed.restarts == 0 and not backed.failures
        assert sup.running == 1
    finally:
        await alone.stop()
        await backed.stop()
        await sup.stop_all()
