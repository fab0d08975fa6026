"""The forensic watermark as it meets a leak: two lines watch a watermarked channel (one
over TS, one over HLS), one capture is downscaled and re-encoded by ffmpeg, and
``palinsesto watermark extract`` names the line it was served to (README "Watermark")."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from palinsesto.accounts.models import Line, LineBouquet
from palinsesto.catalog.models import Bouquet
from palinsesto.protocol.watermark import PERIOD
from support.admin_api import root_client
from support.cli_runner import Cli
from support.media import FFMPEG
from support.server import make_settings

from .conftest import LiveWorld, live_world

SLOT = 1.0
CAPTURE_SECONDS = PERIOD * SLOT + 6  # a whole period at any phase, and some to spare


@pytest.fixture
def marked(sqlite_url: str, tmp_path: Path) -> Iterator[LiveWorld]:
    settings = make_settings(
        tmp_path, sqlite_url, watermark_slot_seconds=SLOT, live_idle_stop_seconds=2
    )
    with live_world(settings) as world:
        with world.server.ctx.db.transaction() as session:
            bouquet = session.query(Bouquet).filter_by(tenant_id=world.tenant_id).one()
            line = Line(tenant_id=world.tenant_id, username="viewer2", password="pw-viewer-2")
            session.add(line)
            session.flush()
            session.add(LineBouquet(line_id=line.id, bouquet_id=bouquet.id))
        with root_client(world.server) as c:
            r = c.post(
                "/api/v1/rights",
                json={"tenant_id": world.tenant_id, "item_type": "channel",
                      "item_id": world.pattern_id, "holder": "Acme Sports",
                      "starts_at": "2020-01-01T00:00:00Z", "watermark": True},
            )  # fmt: skip
            assert r.status_code == 201 and r.json()["watermark"] is True, r.text
            r = c.post(  # a movie cannot be watermarked: refused, nothing stored
                "/api/v1/rights",
                json={"tenant_id": world.tenant_id, "item_type": "movie", "item_id": 1,
                      "holder": "x", "starts_at": "2020-01-01T00:00:00Z", "watermark": True},
            )  # fmt: skip
            assert r.status_code == 422 and "Channels only" in r.text, r.text
            assert len(c.get("/api/v1/rights").json()) == 1
        yield world


async def _ffmpeg(*args: str, timeout: float = 150) -> str:
    proc = await asyncio.create_subprocess_exec(
        FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return err.decode(errors="replace")


async def _capture(url: str, path: Path) -> None:
    """A player that records what it is served (the leak)."""
    await _ffmpeg("-i", url, "-t", f"{CAPTURE_SECONDS:g}", "-map", "0:v:0", "-c", "copy",
                  str(path))  # fmt: skip


async def _leak(capture: Path, out: Path) -> None:
    """What a pirate re-publishes: half the size, re-encoded."""
    await _ffmpeg("-i", str(capture), "-vf", "scale=iw/2:ih/2", "-c:v", "libx264",
                  "-preset", "veryfast", "-crf", "28", str(out))  # fmt: skip


def _cli(world: LiveWorld, tmp_path: Path) -> Cli:
    settings = world.server.ctx.settings
    return Cli(tmp_path, settings.effective_database_url)


async def test_the_extractor_names_the_line_a_downscaled_reencoded_capture_came_from(
    marked: LiveWorld, tmp_path: Path
) -> None:
    world = marked
    base = world.live_base
    ts_url = f"{base}/live/viewer1/pw-viewer-1/{world.pattern_id}.ts"
    hls_url = f"{base}/live/viewer2/pw-viewer-2/{world.pattern_id}.m3u8"
    ts_cap, hls_cap = tmp_path / "viewer1.ts", tmp_path / "viewer2.ts"
    await asyncio.gather(_capture(ts_url, ts_cap), _capture(hls_url, hls_cap))
    runner = world.engine.running(world.pattern_id)
    assert runner is not None and runner.marked is not None
    assert runner.marked.switches > 0  # the TS viewer moved between renditions

    # The TS copy as captured (not re-encoded) also carries viewer1's SEI tag.
    cli = _cli(world, tmp_path)
    done = cli.run("watermark", "extract", str(ts_cap))
    print(done.stdout, done.stderr)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("SEI tag: session ") and "line viewer1 " in done.stdout
    assert "viewer2" not in done.stdout
    done = cli.run("watermark", "extract", str(hls_cap))  # HLS segments are not tagged
    assert done.returncode == 0 and "SEI tag" not in done.stdout, done.stdout

    ts_leak, hls_leak = tmp_path / "leak1.mp4", tmp_path / "leak2.mp4"
    await asyncio.gather(_leak(ts_cap, ts_leak), _leak(hls_cap, hls_leak))
    for leak, username in ((ts_leak, "viewer1"), (hls_leak, "viewer2")):
        done = cli.run("watermark", "extract", str(leak))
        print(done.stdout, done.stderr)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"line {username} " in done.stdout and "SEI tag" not in done.stdout, done.stdout
        other = "viewer2" if username == "viewer1" else "viewer1"
        assert other not in done.stdout

    # A copy of something never watermarked: the same pattern, encoded plainly.
    plain = tmp_path / "plain.mp4"
    await _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25", "-t",
                  f"{CAPTURE_SECONDS:g}", "-c:v", "libx264", "-crf", "28", str(plain))  # fmt: skip
    done = cli.run("watermark", "extract", str(plain))
    print(done.stdout, done.stderr)
    assert done.returncode in (1, 2) and "line viewer" not in done.stdout, done.stdout
    assert done.stdout.startswith(("no watermark", "ambiguous")), done.stdout

    # Too short to hold a period: said so, nobody named.
    short = tmp_path / "short.mp4"
    await _ffmpeg("-i", str(ts_leak), "-t", "10", "-c", "copy", str(short))
    done = cli.run("watermark", "extract", str(short))
    assert done.returncode == 2 and done.stdout.startswith("ambiguous"), done.stdout
