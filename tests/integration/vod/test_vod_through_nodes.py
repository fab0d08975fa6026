"""Movies and episodes in ``palinsesto panel`` mode: the panel admits the play (a VOD play
holds one of the line's connections, as a live one does) and sends it by a 302 to a real
``palinsesto node`` process, which serves the file from the tenant's media folder (shared
with the panel here, as a shared mount would be) with HEAD, byte ranges and sendfile."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from palinsesto.accounts.bootstrap import ensure_tenant
from palinsesto.accounts.models import ConnectionPolicy, TenantDomain
from palinsesto.panel.playback.domains import DOMAINS_TOPIC, PLATFORM_WIDE
from support.media import FFMPEG
from support.node_world import add_server
from support.serve_process import ServeProcess, serve_env, serve_process
from support.server import RunningServer, make_settings, run_server
from support.vod_media import VodSamples

from .conftest import VodWorld, build_world

NODE_LINE = re.compile(r"Serving players on (http://\S+) ")


@pytest.fixture
def panel(sqlite_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    settings = make_settings(tmp_path / "panel", sqlite_url, node_heartbeat_seconds=0.5)
    with run_server(settings, local_node=False) as running:
        yield running


@pytest.fixture
def world(panel: RunningServer, vod_samples: VodSamples) -> VodWorld:
    return build_world(panel, vod_samples, slug="nodevod")


@pytest.fixture
def node(panel: RunningServer, world: VodWorld, tmp_path: Path) -> Iterator[str]:
    """A node of the world's tenant, registered; its base URL."""
    _, token = add_server(panel, world.tenant.id, "vod-node")
    env = serve_env(
        tmp_path / "node",
        NODE_HEARTBEAT_SECONDS="0.5",
        MEDIA_ROOT=str(panel.ctx.settings.effective_media_root),
    )
    with serve_process(env, "--panel", panel.base_url, "--token", token, command="node") as n:
        url = n.wait_for(NODE_LINE, timeout=30).group(1)
        _registered(panel, world, n)
        yield url


def _registered(panel: RunningServer, world: VodWorld, node: ServeProcess) -> None:
    """Wait until the node's heartbeats reach the panel (asked as the Servers page asks, so
    no play is admitted meanwhile)."""
    deadline = time.monotonic() + 30
    with world.admin() as c:
        while True:
            items = c.get("/api/v1/nodes/status").json()["items"]
            if any(i["state"] == "online" for i in items):
                return
            assert time.monotonic() < deadline, (items, node.output[-2000:])
            time.sleep(0.2)


def _ffmpeg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", *args], capture_output=True, text=True, timeout=120
    )


def test_ffmpeg_plays_and_seeks_a_movie_through_the_panel_url(world: VodWorld, node: str) -> None:
    with httpx.Client(timeout=10) as c:
        r = c.get(world.movie_url("mp4"), follow_redirects=False)
    assert r.status_code == 302
    assert r.headers["location"].startswith(f"{node}/vod/")
    assert r.headers["location"].endswith("/feature.mp4")
    world.set_max_connections(5)  # each ffmpeg run below is a new play
    for url in (world.movie_url("mp4"), world.episode_url("e2")):
        run = _ffmpeg("-i", url, "-t", "3", "-f", "null", "-")
        assert run.returncode == 0, run.stderr[-2000:]
        frames = re.findall(r"frame=\s*(\d+)", run.stderr)
        assert frames and int(frames[-1]) >= 60, run.stderr[-1000:]
    run = _ffmpeg(
        "-ss", "60", "-i", world.movie_url("mp4"), "-copyts", "-frames:v", "5",
        "-vf", "showinfo", "-f", "null", "-",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    times = [float(t) for t in re.findall(r"pts_time:([\d.]+)", run.stderr)]
    assert len(times) >= 5, run.stderr[-2000:]
    assert all(abs(t - 60.0) <= 1.0 for t in times), times


def test_ranges_through_the_redirect_are_byte_exact(world: VodWorld, node: str) -> None:
    data = world.samples.mp4.read_bytes()
    size = len(data)
    world.set_max_connections(50)
    with httpx.Client(timeout=30, follow_redirects=True) as c:
        for header, (start, end) in {
            "bytes=0-0": (0, 0),
            f"bytes={size // 2}-{size // 2 + 99_999}": (size // 2, size // 2 + 99_999),
            "bytes=-5000": (size - 5000, size - 1),
            f"bytes={size - 10}-": (size - 10, size - 1),
        }.items():
            r = c.get(world.movie_url("mp4"), headers={"Range": header})
            assert r.status_code == 206, (header, r.status_code, r.text[:200])
            assert str(r.url).startswith(f"{node}/vod/")
            assert r.headers["content-range"] == f"bytes {start}-{end}/{size}", header
            assert r.content == data[start : end + 1], header
        r = c.get(world.movie_url("mp4"), headers={"Range": f"bytes={size}-"})
        assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{size}"
        head = c.head(world.episode_url("e2"))
        assert head.status_code == 200, head.text
        assert head.headers["content-length"] == str(world.samples.mkv.stat().st_size)
        assert head.headers["content-type"] == "video/x-matroska"
        whole = c.get(world.movie_url("mp4"))
        assert whole.status_code == 200 and whole.content == data
        # The token is bound to its file: the same token does not open another one.
        location = c.get(world.movie_url("mp4"), follow_redirects=False).headers["location"]
        other = location.rsplit("/", 1)[0] + "/dual.mkv"
        assert c.get(other).status_code == 403


def test_a_vod_play_holds_one_of_the_lines_connections(world: VodWorld, node: str) -> None:
    world.set_policy(ConnectionPolicy.refuse)
    world.set_max_connections(1)
    with httpx.Client(timeout=30) as c:
        first = c.get(world.movie_url("mp4"), follow_redirects=False)
        assert first.status_code == 302
        # Playing: the node reports the session alive at each heartbeat.
        r = c.get(first.headers["location"], headers={"Range": "bytes=0-999"})
        assert r.status_code == 206
        time.sleep(1.5)
        assert c.get(world.episode_url("e1"), follow_redirects=False).status_code == 429
        # The same device asking the panel's URL again (a player seeking so) is the same
        # play: admitted, and the node serves it as the same session.
        again = c.get(world.movie_url("mp4"), follow_redirects=False)
        assert again.status_code == 302
        r = c.get(again.headers["location"], headers={"Range": "bytes=1000-1999"})
        assert r.status_code == 206 and r.content == world.samples.mp4.read_bytes()[1000:2000]
        with world.admin() as admin:
            listed = admin.get("/api/v1/live/sessions").json()
        assert [(s["output"], s["channel_id"]) for s in listed] == [
            ("movie", world.movies["mp4"]["id"])
        ]
        world.set_max_connections(2)
        assert c.get(world.episode_url("e1"), follow_redirects=False).status_code == 302


def test_the_panels_movie_preview_plays_from_a_node(world: VodWorld, node: str) -> None:
    with world.admin() as c:
        r = c.post(f"/api/v1/movies/{world.movies['mp4']['id']}/preview")
        assert r.status_code == 200, r.text
        path = r.json()["url"]
    data = world.samples.mp4.read_bytes()
    with httpx.Client(base_url=world.server.base_url, timeout=30) as c:
        redirect = c.get(path, follow_redirects=False)
        assert redirect.status_code == 302, redirect.text
        assert redirect.headers["location"].startswith(f"{node}/vod/")
        r = c.get(path, headers={"Range": "bytes=1000-1999"}, follow_redirects=True)
        assert r.status_code == 206 and r.content == data[1000:2000]
        # The token is for this movie alone: asking for another with it opens nothing.
        mp4, mkv = world.movies["mp4"]["id"], world.movies["mkv"]["id"]
        forged = c.get(path.replace(f"/{mp4}.", f"/{mkv}."), follow_redirects=False)
        assert forged.status_code >= 400 and "location" not in forged.headers


def test_what_nodes_do_not_serve_is_never_sent_to_them(
    panel: RunningServer, world: VodWorld, node: str
) -> None:
    """Movie HLS (cut where the file is read) and relayed remote sources (their URL is not
    for viewers) are not sent to a node; on another tenant's domain the line does not play."""
    world.set_max_connections(50)
    with httpx.Client(timeout=10) as c:
        hls = c.get(world.movie_url("mp4", ext="m3u8"), follow_redirects=False)
        assert "location" not in hls.headers, hls.headers
        assert c.get(world.movie_url("mp4"), follow_redirects=False).status_code == 302
    remote = "http://127.0.0.1:9/secret-origin/film.mp4?key=s3cr3t"
    with world.admin() as admin:
        movie_id = world.movies["mkv"]["id"]
        r = admin.patch(
            f"/api/v1/movies/{movie_id}", json={"source_url": remote, "delivery": "proxy"}
        )
        assert r.status_code == 200, r.text
    with httpx.Client(timeout=10) as c:
        relayed = c.get(world.movie_url("mkv", ext="mp4"), follow_redirects=False)
        assert "secret-origin" not in relayed.headers.get("location", ""), relayed.headers
        assert relayed.status_code != 302
    with panel.ctx.db.transaction() as s:
        other = ensure_tenant(s, "elsewhere", "Elsewhere")
        s.add(TenantDomain(tenant_id=other.id, host="tv.elsewhere.test"))
    panel.ctx.events.publish(PLATFORM_WIDE, DOMAINS_TOPIC)
    with httpx.Client(timeout=10) as c:
        foreign = c.get(
            world.movie_url("mp4"), headers={"Host": "tv.elsewhere.test"}, follow_redirects=False
        )
        assert foreign.status_code == 401, foreign.text
        assert c.get(world.movie_url("mp4"), follow_redirects=False).status_code == 302
