"""Movies and episodes in ``palinsesto panel`` mode: the panel admits the play (a VOD play
holds one of the line's connections, as a live one does) and sends it by a 302 to a real
``palinsesto node`` process, which serves the file from the tenant's media folder (shared
with the panel here, as a shared mount would be) with HEAD, byte ranges and sendfile; as
VOD HLS cut on the node (``.m3u8``); and, for a remote source relayed (``delivery =
proxy``), relays it from the origin (a local HTTP server stands in for it) without the
viewer ever seeing where it is."""

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
from support.remote_files import RemoteFiles
from support.serve_process import ServeProcess, serve_env, serve_process
from support.server import RunningServer, make_settings, run_server
from support.vod_media import VodSamples

from .conftest import VodWorld, build_world

NODE_LINE = re.compile(r"Serving players on (http://\S+) ")


@pytest.fixture
def origin(vod_samples: VodSamples) -> Iterator[RemoteFiles]:
    """Where relayed movies come from: the panel's outbound policy lets its port through
    (on loopback, which no policy allows by default), the node's every loopback port."""
    files = RemoteFiles(vod_samples.mp4.parent)
    yield files
    files.close()


@pytest.fixture
def panel(sqlite_url: str, tmp_path: Path, origin: RemoteFiles) -> Iterator[RunningServer]:
    settings = make_settings(
        tmp_path / "panel",
        sqlite_url,
        node_heartbeat_seconds=0.5,
        outbound_allow_networks=f"127.0.0.1:{origin.port}",
    )
    with run_server(settings, local_node=False) as running:
        yield running


@pytest.fixture
def world(panel: RunningServer, vod_samples: VodSamples) -> VodWorld:
    return build_world(panel, vod_samples, slug="nodevod")


@pytest.fixture
def node(
    panel: RunningServer, world: VodWorld, tmp_path: Path, origin: RemoteFiles
) -> Iterator[str]:
    """A node of the world's tenant, registered; its base URL."""
    _, token = add_server(panel, world.tenant.id, "vod-node")
    env = serve_env(
        tmp_path / "node",
        NODE_HEARTBEAT_SECONDS="0.5",
        MEDIA_ROOT=str(panel.ctx.settings.effective_media_root),
        # The node's own policy lets all of loopback through: what the panel sends decides.
        OUTBOUND_ALLOW_NETWORKS="127.0.0.1/32",
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
        # Its HLS form (what the panel's player uses for files browsers cannot decode) is
        # cut on the node too, CORS open for the panel's page.
        hls = path.rsplit(".", 1)[0] + ".m3u8"
        redirect = c.get(hls, follow_redirects=False)
        assert redirect.status_code == 302, redirect.text
        assert redirect.headers["location"].startswith(f"{node}/vodhls/")
        playlist = c.get(hls, follow_redirects=True)
        assert playlist.status_code == 200 and "#EXT-X-ENDLIST" in playlist.text
        assert playlist.headers["access-control-allow-origin"] == "*"


def test_on_another_tenants_domain_the_line_does_not_play(
    panel: RunningServer, world: VodWorld, node: str
) -> None:
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


# ---- movies as VOD HLS, cut on the node ----


def _video_times(*args: str) -> list[float]:
    run = _ffmpeg(*args, "-map", "0:v:0", "-vf", "showinfo", "-f", "null", "-")
    assert run.returncode == 0, run.stderr[-2000:]
    return [float(t) for t in re.findall(r"pts_time:(-?[\d.]+)", run.stderr)]


def test_ffmpeg_plays_and_seeks_a_movie_as_hls_served_by_the_node(
    world: VodWorld, node: str
) -> None:
    world.set_max_connections(10)
    url = world.movie_url("mp4", ext="m3u8")
    with httpx.Client(timeout=60) as c:
        r = c.get(url, follow_redirects=False)
        assert r.status_code == 302, r.text
        location = r.headers["location"]
        assert location.startswith(f"{node}/vodhls/") and location.endswith("/feature.mp4.m3u8")
        playlist = c.get(location)
    assert playlist.status_code == 200, playlist.text
    assert playlist.headers["content-type"] == "application/vnd.apple.mpegurl"
    text = playlist.text
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and text.rstrip().endswith("#EXT-X-ENDLIST")
    durations = [float(d) for d in re.findall(r"#EXTINF:([\d.]+),", text)]
    assert abs(sum(durations) - 90.0) < 0.1 and all(d >= 6.0 for d in durations[:-1])
    segments = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert all(s.startswith("/vodhls/") and s.endswith(".ts") for s in segments), segments[:2]

    # The whole film decoded through the panel's URL: every frame, the same length.
    source = _video_times("-i", str(world.samples.mp4))
    played = _video_times("-i", url)
    assert len(played) == len(source) == 90 * 25
    frame = 1 / 25
    assert abs((played[-1] - played[0]) - (source[-1] - source[0])) < 0.5
    steps = [b - a for a, b in zip(played, played[1:], strict=False)]
    assert all(0.5 * frame < s < 1.5 * frame for s in steps)

    # A seek: the first frame decoded is where the player asked (both on the stream's own
    # timeline, as -copyts keeps it).
    start = _video_times("-copyts", "-i", url, "-frames:v", "1")[0]
    seeked = _video_times("-ss", "47", "-copyts", "-i", url, "-frames:v", "5")
    assert len(seeked) >= 5, seeked
    assert abs((seeked[0] - start) - 47.0) <= 0.5, (start, seeked[:5])

    # An episode of another container (MKV, two audio tracks) plays as HLS too.
    episode = world.episode_url("e2").rsplit(".", 1)[0] + ".m3u8"
    assert len(_video_times("-i", episode)) == 8 * 25


def test_the_hls_token_opens_its_own_file_only_and_the_play_is_one_session(
    world: VodWorld, node: str
) -> None:
    world.set_policy(ConnectionPolicy.refuse)
    world.set_max_connections(1)
    with httpx.Client(timeout=60) as c:
        location = c.get(world.movie_url("mp4", ext="m3u8"), follow_redirects=False).headers[
            "location"
        ]
        playlist = c.get(location)
        assert playlist.status_code == 200, playlist.text
        first = next(line for line in playlist.text.splitlines() if line.endswith("/0.ts"))
        segment = c.get(f"{node}{first}")
        assert segment.status_code == 200 and segment.headers["content-type"] == "video/mp2t"
        assert segment.content[:1] == b"\x47" and len(segment.content) % 188 == 0
        # The same token over another file, or as a file download: refused.
        token = location.split("/")[4]
        assert c.get(f"{node}/vodhls/{token}/dual.mkv.m3u8").status_code == 403
        assert c.get(f"{node}/vodhls/{token}/dual.mkv/0.ts").status_code == 403
        assert c.get(f"{node}/vod/{token}/feature.mp4").status_code == 403
        assert c.get(f"{node}{first.replace('/0.ts', '/999.ts')}").status_code == 404
        # The play holds the line's one connection (the node reports it alive).
        deadline = time.monotonic() + 15
        while c.get(world.episode_url("e1"), follow_redirects=False).status_code != 429:
            assert time.monotonic() < deadline
            c.get(f"{node}{first}")  # the player goes on
            time.sleep(0.3)
        with world.admin() as admin:
            listed = admin.get("/api/v1/live/sessions").json()
        assert [(s["output"], s["channel_id"]) for s in listed] == [
            ("movie-hls", world.movies["mp4"]["id"])
        ]
    # A file no demuxer reads is refused with the reason, on the node.
    world.set_max_connections(5)
    with httpx.Client(timeout=60, follow_redirects=True) as c:
        broken = c.get(world.movie_url("broken", ext="m3u8"))
    assert broken.status_code == 415 and broken.text.startswith("NOT_PLAYABLE_AS_HLS")


# ---- remote movies relayed by the node ----


SECRET = "s3cr3t-origin-key"


def _relayed(world: VodWorld, origin: RemoteFiles, name: str = "feature.mp4") -> str:
    """The mkv movie pointed at the origin, relayed; the panel's URL of it."""
    with world.admin() as admin:
        movie_id = world.movies["mkv"]["id"]
        r = admin.patch(
            f"/api/v1/movies/{movie_id}",
            json={"source_url": f"{origin.base}/{name}?key={SECRET}", "delivery": "proxy"},
        )
        assert r.status_code == 200, r.text
    return world.movie_url("mkv", ext="mp4")


def _secret_kept(origin: RemoteFiles, *responses: httpx.Response) -> None:
    for r in responses:
        for history in (*r.history, r):
            told = str(history.headers) + str(history.url)
            if len(history.content) < 100_000:
                told += history.content.decode("latin-1")
            assert SECRET not in told and f":{origin.port}" not in told, told[:2000]


def test_a_relayed_movie_is_served_by_the_node_byte_exact_and_its_origin_stays_secret(
    world: VodWorld, node: str, origin: RemoteFiles
) -> None:
    url = _relayed(world, origin)
    data = world.samples.mp4.read_bytes()
    size = len(data)
    world.set_max_connections(50)
    seen: list[httpx.Response] = []
    with httpx.Client(timeout=30, follow_redirects=True) as c:
        first = c.get(url, follow_redirects=False)
        assert first.status_code == 302, first.text
        assert first.headers["location"].startswith(f"{node}/vodproxy/")
        assert first.headers["location"].endswith("/movie.mp4")
        seen.append(first)
        whole = c.get(url)
        assert whole.status_code == 200 and whole.content == data
        assert str(whole.url).startswith(f"{node}/vodproxy/")
        seen.append(whole)
        for header, (start, end) in {
            "bytes=0-0": (0, 0),
            f"bytes={size // 2}-{size // 2 + 99_999}": (size // 2, size // 2 + 99_999),
            "bytes=-5000": (size - 5000, size - 1),
        }.items():
            r = c.get(url, headers={"Range": header})
            assert r.status_code == 206, (header, r.status_code, r.text[:200])
            assert r.headers["content-range"] == f"bytes {start}-{end}/{size}"
            assert r.content == data[start : end + 1]
            seen.append(r)
        r = c.get(url, headers={"Range": f"bytes={size}-"})
        assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{size}"
        seen.append(r)
        head = c.head(url)
        assert head.status_code == 200 and head.headers["content-length"] == str(size)
        seen.append(head)
        # If-Range goes to the origin with the Range (it decides).
        r = c.get(url, headers={"Range": "bytes=10-19", "If-Range": '"whatever"'})
        assert r.status_code == 206 and r.content == data[10:20]
        seen.append(r)
        # A missing file at the origin: not found, and nothing of the origin said.
        missing = c.get(_relayed(world, origin, "nothing.mp4"))
        assert missing.status_code == 404 and missing.text == "STREAM_NOT_FOUND\n"
        seen.append(missing)
    _secret_kept(origin, *seen)
    assert "bytes=10-19" in origin.ranges and f"bytes={size}-" in origin.ranges

    # A real player seeks in it through the panel's URL.
    url = _relayed(world, origin)
    run = _ffmpeg(
        "-ss", "60", "-i", url, "-copyts", "-frames:v", "5", "-vf", "showinfo", "-f", "null", "-"
    )
    assert run.returncode == 0, run.stderr[-2000:]
    times = [float(t) for t in re.findall(r"pts_time:([\d.]+)", run.stderr)]
    assert len(times) >= 5 and all(abs(t - 60.0) <= 1.0 for t in times), times
    assert SECRET not in run.stderr


def test_a_relayed_token_opens_only_its_source_and_the_policies_hold(
    world: VodWorld, node: str, origin: RemoteFiles, vod_samples: VodSamples
) -> None:
    world.set_max_connections(50)
    url = _relayed(world, origin)
    with httpx.Client(timeout=30) as c:
        location = c.get(url, follow_redirects=False).headers["location"]
        token, tag = location.split("/")[4:6]
        # The token is signed over the movie's kind and its source's tag: as an episode,
        # for another source, or as a file, no; nor tampered.
        assert c.get(f"{node}/vodproxy/{token}/{tag}/series.mp4").status_code == 403
        other = f"{int(tag, 16) ^ 1:012x}"
        assert c.get(f"{node}/vodproxy/{token}/{other}/movie.mp4").status_code == 403
        assert c.get(f"{node}/vod/{token}/feature.mp4").status_code == 403
        tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        assert c.get(f"{node}/vodproxy/{tampered}/{tag}/movie.mp4").status_code == 403
        assert SECRET not in location and origin.base not in location
    # An origin the node's own policy lets through but the panel's does not (another
    # port): the node honours the panel's, refuses to fetch it (502, nothing of why), and
    # the origin never sees a request.
    elsewhere = RemoteFiles(vod_samples.mp4.parent)
    try:
        with world.admin() as admin:
            r = admin.patch(
                f"/api/v1/movies/{world.movies['mkv']['id']}",
                json={"source_url": f"{elsewhere.base}/feature.mp4?key={SECRET}"},
            )
            assert r.status_code == 200, r.text
        with httpx.Client(timeout=30, follow_redirects=True) as c:
            refused = c.get(url)
        assert refused.status_code == 502 and refused.text == "STREAM_UNAVAILABLE\n"
        assert elsewhere.ranges == []
        _secret_kept(elsewhere, refused)
    finally:
        elsewhere.close()


def test_a_relayed_movie_asked_without_or_with_an_upper_case_extension_plays(
    world: VodWorld, node: str, origin: RemoteFiles
) -> None:
    """The panel takes ``/movie/U/P/ID`` and ``ID.MP4`` (its paths allow both): the node's
    ``/vodproxy/`` URL it sends the player to must open too, not 404 with a slot held."""
    url = _relayed(world, origin)
    data = world.samples.mp4.read_bytes()
    world.set_max_connections(50)
    with httpx.Client(timeout=30, follow_redirects=True) as c:
        for asked in (url.rsplit(".", 1)[0], url.rsplit(".", 1)[0] + ".MP4"):
            r = c.get(asked, headers={"Range": "bytes=0-99"})
            assert str(r.url).startswith(f"{node}/vodproxy/"), r.url
            assert r.status_code == 206 and r.content == data[:100], (asked, r.status_code)
