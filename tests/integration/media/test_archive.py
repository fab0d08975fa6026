"""Catch-up archive over real sockets: a test-pattern channel recorded by the running
engine, past windows played back by ffmpeg, the player API's has_archive, the admin
status, and a restart during recording (reference §8.5)."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.catalog.models import Bouquet, BouquetItem, Channel, ChannelMode, ItemType
from palinsesto.node.archive import ArchiveStore
from palinsesto.node.mpegts import TsChunk, TsChunker
from palinsesto.panel.playback.guide import ProgrammeRow
from support.admin_api import make_tenant
from support.media import FFMPEG, play
from support.player_checks import ListGuide
from support.server import make_settings, run_server

from .conftest import LiveWorld, live_world

FFPROBE_ARGS = ["-hide_banner", "-v", "error"]


def _add_archived(live: LiveWorld, name: str) -> int:
    with live.server.ctx.db.transaction() as session:
        channel = Channel(
            tenant_id=live.tenant_id,
            name=name,
            sources=[{"kind": "test_pattern", "url": "testsrc://320x180@25"}],
            mode=ChannelMode.on_demand,  # archiving makes it run anyway
            archive_days=1,
            epg_channel_id="archived.example",
        )
        session.add(channel)
        session.flush()
        bouquet = session.query(Bouquet).filter_by(tenant_id=live.tenant_id).first()
        session.add(
            BouquetItem(bouquet_id=bouquet.id, item_type=ItemType.channel, item_id=channel.id)
        )
        channel_id = channel.id
    live.server.ctx.events.publish(live.tenant_id, "catalog")
    live.server.ctx.events.publish(live.tenant_id, "channels")
    return channel_id


async def _live_clock(url: str, samples: list[tuple[float, float]], stop: asyncio.Event) -> None:
    """Watch the live channel and note (wall clock, PTS) of each keyframe as it arrives:
    an account of the channel's timeline that does not come from the archive."""
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, port = hostport.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET /{path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")
    chunker = TsChunker(16 * 188)
    try:
        while not stop.is_set():
            data = await asyncio.wait_for(reader.read(65536), 10)
            if not data:
                return
            for chunk in chunker.feed(data):
                if chunk.keyframe and chunk.pts is not None:
                    samples.append((time.time(), chunk.pts))
    finally:
        writer.close()


async def _hold(url: str) -> tuple[int, asyncio.StreamWriter]:
    """Open a play and keep it open without reading: (status, the socket). The socket's
    receive buffer is kept small, so that a whole catch-up window cannot fit in loopback's
    buffers and end its play while it is meant to be held."""
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, port = hostport.split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(f"GET /{path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    line = await asyncio.wait_for(reader.readline(), 20)
    return int(line.split()[1]), writer


async def _release(live: LiveWorld, held: list[tuple[int, asyncio.StreamWriter]]) -> None:
    for _, writer in held:
        writer.close()
    deadline = time.monotonic() + 10
    while live.engine.sessions.all():
        assert time.monotonic() < deadline, "sessions did not end"
        await asyncio.sleep(0.1)


def _frames(data: bytes, path: Path) -> list[float]:
    """PTS (seconds) of every decoded video frame of TS ``data``."""
    path.write_bytes(data)
    result = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-copyts", "-i", str(path), "-map", "0:v:0",
         "-vf", "showinfo", "-f", "null", "-"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    found = []
    for line in result.stderr.splitlines():
        if "Parsed_showinfo" in line and " pts_time:" in line:
            found.append(float(line.split(" pts_time:")[1].split()[0]))
    return found


def _wall_of(pts: float, samples: list[tuple[float, float]]) -> float:
    wall, at = min(samples, key=lambda s: abs(s[1] - pts))
    return wall + (pts - at)


def _start(ts: float, seconds: bool) -> str:
    moment = datetime.fromtimestamp(ts, UTC)  # the test server's timezone is UTC
    return moment.strftime("%Y-%m-%d:%H-%M-%S" if seconds else "%Y-%m-%d:%H-%M")


async def test_a_past_window_plays_from_the_requested_time_for_its_duration(
    live: LiveWorld, tmp_path: Path
) -> None:
    engine = live.engine
    channel_id = _add_archived(live, "Archived")
    deadline = time.monotonic() + 20
    while engine.running(channel_id) is None or not engine.running(channel_id).ready:
        assert time.monotonic() < deadline, "an archiving channel starts with no viewer"
        await asyncio.sleep(0.2)
    samples: list[tuple[float, float]] = []
    stop = asyncio.Event()
    watcher = asyncio.create_task(_live_clock(live.url(channel_id), samples, stop))
    recording_from = time.time()
    window_start = recording_from + 5.0
    # A minute boundary with a few recorded seconds before it, for the HH-MM form.
    minute = (int(recording_from) // 60 + 1) * 60
    if minute - recording_from < 3:
        minute += 60
    ready_at = max(window_start + 61.5, minute + 8)
    await asyncio.sleep(ready_at - time.time())
    stop.set()
    await watcher

    # 1. Path form with seconds (§8.5 spelling), one minute: starts at the requested time
    # (within 2 s, read against what a live viewer saw), lasts a minute.
    u, p = live.username, live.password
    url = f"{live.live_base}/timeshift/{u}/{p}/1/{_start(window_start, True)}/{channel_id}.ts"
    async with httpx.AsyncClient(timeout=60) as client:
        reply = await client.get(url)
    assert reply.status_code == 200, reply.text[:200]
    pts = _frames(reply.content, tmp_path / "window.ts")
    assert len(pts) > 1400, len(pts)  # 60 s at 25 fps
    assert abs(_wall_of(pts[0], samples) - window_start) <= 2.0
    assert 58.0 <= pts[-1] - pts[0] <= 62.5

    # 2. Minute form through the panel's port (302), played by ffmpeg.
    url = f"{live.server.base_url}/timeshift/{u}/{p}/1/{_start(minute, False)}/{channel_id}.ts"
    frames, err = await play(url, 3.0)
    assert frames >= 60, err[-1500:]
    async with httpx.AsyncClient(timeout=60) as client:
        reply = await client.get(url, follow_redirects=True)
    first = _frames(reply.content[: 4 << 20], tmp_path / "minute.ts")[0]
    assert abs(_wall_of(first, samples) - minute) <= 2.0

    # 3. Query form and the HLS form.
    start = _start(window_start, True)
    php = (
        f"{live.live_base}/streaming/timeshift.php?username={u}&password={p}"
        f"&stream={channel_id}&start={start}&duration=1"
    )
    frames, err = await play(php, 2.0)
    assert frames >= 40, err[-1500:]
    m3u8 = f"{live.live_base}/timeshift/{u}/{p}/1/{start}/{channel_id}.m3u8"
    frames, err = await play(m3u8, 2.0)
    assert frames >= 40, err[-1500:]

    # 4. Admission: a timeshift play holds one of the line's 3 connections, as live does.
    live.set_policy(ConnectionPolicy.refuse)
    await asyncio.sleep(0.3)
    ts_url = f"{live.live_base}/timeshift/{u}/{p}/1/{start}/{channel_id}.ts"
    held = [await _hold(live.url(channel_id)) for _ in range(2)]
    held.append(await _hold(ts_url))
    assert [h[0] for h in held] == [200, 200, 200]
    assert sorted(s.output for s in engine.sessions.all()) == ["timeshift", "ts", "ts"]
    refused = await _hold(live.url(channel_id))
    await _release(live, [*held, refused])
    assert refused[0] == 429
    held = [await _hold(live.url(channel_id)) for _ in range(3)]
    refused = await _hold(ts_url)
    await _release(live, [*held, refused])
    assert refused[0] == 429

    # 5. Nothing recorded there, bad input, wrong password: clear refusals.
    async with httpx.AsyncClient(timeout=30) as client:
        before = _start(recording_from - 3600, False)
        r = await client.get(f"{live.live_base}/timeshift/{u}/{p}/1/{before}/{channel_id}.ts")
        assert r.status_code == 404 and "NO_ARCHIVE" in r.text
        r = await client.get(f"{live.live_base}/timeshift/{u}/{p}/1/yesterday/{channel_id}.ts")
        assert r.status_code == 400
        r = await client.get(f"{live.live_base}/timeshift/{u}/{p}/0/{start}/{channel_id}.ts")
        assert r.status_code == 400
        r = await client.get(f"{live.live_base}/timeshift/{u}/bad/1/{start}/{channel_id}.ts")
        assert r.status_code == 401
        r = await client.get(f"{live.live_base}/timeshift/{u}/{p}/1/{start}/{live.hidden_id}.ts")
        assert r.status_code == 406

    # 6. has_archive: a programme inside the recording, one before it.
    now = int(time.time())
    held = int(window_start)
    inside = ProgrammeRow(1, 7, "archived.example", held, held + 30, "In", "")
    outside = ProgrammeRow(2, 7, "archived.example", now - 7200, now - 3600, "Before", "")
    live.server.ctx.services["guide"] = ListGuide([outside, inside])
    async with httpx.AsyncClient(timeout=30) as client:
        r = await client.get(
            f"{live.server.base_url}/player_api.php",
            params={"username": u, "password": p, "action": "get_simple_data_table",
                    "stream_id": str(channel_id)},
        )  # fmt: skip
        flags = [row["has_archive"] for row in r.json()["epg_listings"]]
        assert flags == [0, 1]
        r = await client.get(
            f"{live.server.base_url}/player_api.php",
            params={"username": u, "password": p, "action": "get_live_streams"},
        )
        listed = {i["stream_id"]: i for i in r.json()}
        assert listed[channel_id]["tv_archive"] == 1
        assert listed[channel_id]["tv_archive_duration"] == 1
        assert listed[live.pattern_id]["tv_archive"] == 0

    # 7. The admin API's archive status.
    admin = live.server.client(live.server.token())
    status = admin.get(f"/api/v1/live/channels/{channel_id}").json()["archive"]
    assert status["recording"] is True and status["bytes"] > 0 and status["gaps"] == 0
    assert status["oldest"] <= recording_from + 1 and status["newest"] >= ready_at - 3
    json.dumps(status)

    # 8. The archive page's API: the tenant's recorded channels, quota and usage; another
    # tenant's owner sees only its own (empty) archive and a 404 for this tenant.
    report = admin.get("/api/v1/archive", params={"tenant_id": live.tenant_id}).json()
    [tenant] = report["tenants"]
    [row] = [c for c in tenant["channels"] if c["channel_id"] == channel_id]
    assert row["recording"] is True and row["archive_days"] == 1 and row["gaps"] == 0
    assert row["oldest"] == status["oldest"] and row["newest"] >= status["newest"]
    assert row["bytes"] >= status["bytes"] > 0
    assert live.pattern_id not in [c["channel_id"] for c in tenant["channels"]]
    assert tenant["quota_bytes"] == live.server.ctx.settings.archive_quota_mb << 20
    assert tenant["used_bytes"] >= row["bytes"]
    other = make_tenant(live.server, "archive-other")
    with other.client("owner") as c:
        mine = c.get("/api/v1/archive").json()["tenants"]
        assert [(t["tenant_id"], t["channels"], t["used_bytes"]) for t in mine] == [
            (other.id, [], 0)
        ]
        assert c.get("/api/v1/archive", params={"tenant_id": live.tenant_id}).status_code == 404


async def test_restart_during_recording_loses_only_the_downtime(
    sqlite_url: str, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, sqlite_url, outbound_allow_networks="127.0.0.1/32")
    with live_world(settings) as live:
        channel_id = _add_archived(live, "Restarted")
        key = (live.tenant_id, channel_id)
        await asyncio.sleep(9)
        stopped_at = time.time()
    down_until = time.time() + 3
    await asyncio.sleep(3)
    with run_server(settings) as server:  # the same database and data directory
        archive = server.ctx.services["archive"]
        await asyncio.sleep(8)
        spans = archive.spans(key)
        assert len(spans) == 2, spans  # one gap, noted by the index
        (first_start, first_end), (second_start, second_end) = spans
        assert first_end >= stopped_at - 2.5  # recorded up to the stop
        assert second_start - first_end <= (down_until - stopped_at) + 6  # startup slack
        assert second_end - second_start >= 4
        assert (
            server.ctx.services["live"].channel_status(
                server.ctx.services["live"].access.channel(key[0], key[1])
            )["archive"]["gaps"]
            == 1
        )


async def test_a_tenant_over_its_quota_loses_its_oldest_recordings_first(
    sqlite_url: str, tmp_path: Path
) -> None:
    quota = 1 << 20
    settings = make_settings(
        tmp_path,
        sqlite_url,
        outbound_allow_networks="127.0.0.1/32",
        archive_quota_mb=1,
        archive_prune_seconds=1,
    )
    with live_world(settings) as live:
        channel_id = _add_archived(live, "Over quota")
        key = (live.tenant_id, channel_id)
        await asyncio.sleep(4)
    # Half an hour earlier, five minute files (~1.6 MB, over the quota), written by the
    # archive's own writer with its clock set back.
    root = settings.effective_archive_root
    clock = [time.time() - 1800]
    seeded = ArchiveStore(root, 0, wall=lambda: clock[0])
    writer = seeded.writer(*key)
    for i in range(5 * 60 * 2):  # a chunk every 0.5 s, a keyframe every 2 s
        clock[0] += 0.5
        payload = b"\x47" + bytes([i % 256]) * (188 * 14 - 1)
        writer.push(TsChunk(i, payload, i % 4 == 0, None, i % 4 == 0), b"")
    await writer.aclose()
    old = sorted(f.name for f in seeded.files(key))
    sizes = {n: seeded.path(key, n).stat().st_size for n in old}
    assert len(old) >= 5 and sum(sizes.values()) > quota

    with run_server(settings) as server:  # the same data directory: read back from disk
        archive = server.ctx.services["archive"]
        deadline = time.monotonic() + 20
        while archive.pruned_files == 0:
            assert time.monotonic() < deadline, "nothing was pruned"
            await asyncio.sleep(0.2)
        await asyncio.sleep(2.5)  # later rounds find nothing more to prune
        left = sorted(f.name for f in archive.files(key))
        gone = [n for n in old if n not in left]
        # The oldest went first, and no more than the quota asked for.
        assert gone and gone == old[: len(gone)], (old, left)
        assert all(not archive.path(key, n).exists() for n in gone)
        status = archive.status(key)
        assert status["recording"] is True  # the file being written is never pruned
        closed = left[:-1]
        used = sum(archive.path(key, n).stat().st_size for n in closed)
        assert used <= quota < used + sizes[gone[-1]]
        # Recording goes on: the newest stretch ends now.
        assert archive.spans(key)[-1][1] >= time.time() - 3
