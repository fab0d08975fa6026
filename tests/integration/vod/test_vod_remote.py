"""A movie whose source is a remote http(s) URL, per item: ``delivery = redirect`` sends
the player there (302); ``delivery = proxy`` streams it through us, Range passed on, under
the outbound policy (a local HTTP server stands in for the remote, its port allowed as
the M3U/EPG tests allow theirs)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.admin_api import created
from support.media import FFMPEG
from support.remote_files import RemoteFiles
from support.server import make_settings, run_server
from support.vod_media import VodSamples

from .conftest import VodWorld, build_world


@pytest.fixture
def remote(vod_samples: VodSamples) -> Iterator[RemoteFiles]:
    files = RemoteFiles(vod_samples.mp4.parent)
    yield files
    files.close()


@pytest.fixture
def elsewhere(vod_samples: VodSamples) -> Iterator[RemoteFiles]:
    """The same files on a port the outbound policy does not allow."""
    files = RemoteFiles(vod_samples.mp4.parent)
    yield files
    files.close()


@pytest.fixture
def world(
    remote: RemoteFiles, vod_samples: VodSamples, sqlite_url: str, tmp_path: Path
) -> Iterator[VodWorld]:
    settings = make_settings(
        tmp_path, sqlite_url, outbound_allow_networks=f"127.0.0.1:{remote.port}"
    )
    with run_server(settings) as server:
        yield build_world(server, vod_samples)


def _remote_movie(world: VodWorld, url: str, delivery: str | None) -> dict[str, object]:
    body: dict[str, object] = {"name": f"Remote {delivery}", "source_url": url}
    if delivery is not None:
        body["delivery"] = delivery
    with world.admin() as c:
        movie = created(c.post("/api/v1/movies", json=body))
        items = [{"item_type": "movie", "item_id": world.movies[k]["id"]} for k in ("mp4", "mkv")]
        items.append({"item_type": "movie", "item_id": movie["id"]})
        r = c.put(f"/api/v1/bouquets/{world.bouquet_id}/items", json={"items": items})
        assert r.status_code == 200, r.text
    return movie


def _url(world: VodWorld, movie: dict[str, object]) -> str:
    return f"{world.data_plane}/movie/{world.username}/{world.password}/{movie['id']}.mp4"


def test_redirect_is_the_default_and_sends_the_player_to_the_source(
    world: VodWorld, remote: RemoteFiles
) -> None:
    movie = _remote_movie(world, f"{remote.base}/feature.mp4", None)
    assert movie["delivery"] == "redirect"
    with httpx.Client(timeout=10) as c:
        r = c.get(_url(world, movie))
    assert r.status_code == 302 and r.headers["location"] == f"{remote.base}/feature.mp4"
    assert remote.ranges == []  # we never fetched it ourselves


def test_proxy_streams_the_source_with_ranges_passed_on(
    world: VodWorld, remote: RemoteFiles, vod_samples: VodSamples
) -> None:
    movie = _remote_movie(world, f"{remote.base}/feature.mp4", "proxy")
    data = vod_samples.mp4.read_bytes()
    size = len(data)
    url = _url(world, movie)
    with httpx.Client(timeout=30) as c:
        whole = c.get(url)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["content-length"] == str(size)
        assert "location" not in whole.headers
        for header, (start, end) in {
            "bytes=0-0": (0, 0),
            f"bytes={size // 2}-{size // 2 + 99_999}": (size // 2, size // 2 + 99_999),
            "bytes=-5000": (size - 5000, size - 1),
        }.items():
            r = c.get(url, headers={"Range": header})
            assert r.status_code == 206, header
            assert r.headers["content-range"] == f"bytes {start}-{end}/{size}"
            assert r.content == data[start : end + 1]
        r = c.get(url, headers={"Range": f"bytes={size}-"})
        assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{size}"
        head = c.head(url)
        assert head.status_code == 200 and head.headers["content-length"] == str(size)
        # The play holds one connection of the line while its socket is open.
        assert [s.output for s in world.engine.sessions.all()] == ["movie"]
    assert remote.ranges[:5] == [None, "bytes=0-0", f"bytes={size // 2}-{size // 2 + 99_999}",
                                 "bytes=-5000", f"bytes={size}-"]  # fmt: skip

    # A real player seeks in it through the panel's URL.
    panel_url = f"{world.server.base_url}/movie/{world.username}/{world.password}/{movie['id']}.mp4"
    run = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-ss", "60", "-i", panel_url, "-copyts",
         "-frames:v", "5", "-vf", "showinfo", "-f", "null", "-"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    times = [float(t) for t in re.findall(r"pts_time:([\d.]+)", run.stderr)]
    assert len(times) >= 5 and all(abs(t - 60.0) <= 1.0 for t in times), times


def test_proxy_honours_the_outbound_policy(world: VodWorld, elsewhere: RemoteFiles) -> None:
    movie = _remote_movie(world, f"{elsewhere.base}/feature.mp4", "proxy")
    with httpx.Client(timeout=30) as c:
        r = c.get(_url(world, movie))
    assert r.status_code == 502 and r.text == "STREAM_UNAVAILABLE\n"
    assert elsewhere.ranges == []  # refused before any connection


def test_a_missing_remote_file_is_not_found_and_delivery_is_checked_and_switchable(
    world: VodWorld, remote: RemoteFiles
) -> None:
    movie = _remote_movie(world, f"{remote.base}/nothing.mp4", "proxy")
    with httpx.Client(timeout=30) as c:
        assert c.get(_url(world, movie)).status_code == 404
    with world.admin() as admin:
        r = admin.patch(f"/api/v1/movies/{movie['id']}", json={"delivery": "teleport"})
        assert r.status_code == 422
        r = admin.patch(
            f"/api/v1/movies/{movie['id']}",
            json={"delivery": "redirect", "source_url": f"{remote.base}/feature.mp4"},
        )
        assert r.status_code == 200 and r.json()["delivery"] == "redirect"
    with httpx.Client(timeout=30) as c:
        r = c.get(_url(world, movie))
    assert r.status_code == 302 and r.headers["location"] == f"{remote.base}/feature.mp4"
