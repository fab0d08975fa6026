"""Movies and episodes play: real ffmpeg reads /movie and /series URLs (through the
panel's 302), seeks, and the data plane answers HEAD and byte ranges exactly."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from support.admin_api import created
from support.media import FFMPEG

from .conftest import VodWorld


def _ffmpeg(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _frames(stderr: str) -> int:
    found = re.findall(r"frame=\s*(\d+)", stderr)
    return int(found[-1]) if found else 0


def test_ffmpeg_plays_a_movie_and_an_episode_from_the_panel_url(vod: VodWorld) -> None:
    for url in (vod.movie_url("mp4"), vod.episode_url("e2")):
        run = _ffmpeg("-i", url, "-t", "3", "-f", "null", "-")
        assert run.returncode == 0, run.stderr[-2000:]
        assert _frames(run.stderr) >= 60, run.stderr[-1000:]
    # The two-audio MKV keeps both tracks over HTTP.
    run = _ffmpeg("-i", vod.episode_url("e2"))
    assert len(re.findall(r"Stream #0:\d+\(\w+\): Audio", run.stderr)) == 2, run.stderr


def test_ffmpeg_seeking_60_s_into_a_movie_decodes_frames_near_60_s(vod: VodWorld) -> None:
    run = _ffmpeg(
        "-ss", "60", "-i", vod.movie_url("mp4"), "-copyts", "-frames:v", "5",
        "-vf", "showinfo", "-f", "null", "-",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    times = [float(t) for t in re.findall(r"pts_time:([\d.]+)", run.stderr)]
    assert len(times) >= 5, run.stderr[-2000:]
    assert all(abs(t - 60.0) <= 1.0 for t in times), times


def test_range_requests_are_byte_exact(vod: VodWorld) -> None:
    data = vod.samples.mp4.read_bytes()
    size = len(data)
    url = vod.movie_url("mp4", base=vod.data_plane)
    cases = {
        "bytes=0-0": (0, 0),  # first byte
        f"bytes={size // 2}-{size // 2 + 99_999}": (size // 2, size // 2 + 99_999),  # middle
        f"bytes={size - 1}-{size - 1}": (size - 1, size - 1),  # last byte
        "bytes=-1": (size - 1, size - 1),  # suffix: the last byte
        "bytes=-5000": (size - 5000, size - 1),
        f"bytes={size - 10}-": (size - 10, size - 1),  # open-ended
        f"bytes=100-{size * 2}": (100, size - 1),  # end past the file: clipped
        f"bytes=-{size * 3}": (0, size - 1),  # suffix longer than the file
    }
    with httpx.Client(timeout=30) as c:  # one keep-alive connection for every case
        for header, (start, end) in cases.items():
            r = c.get(url, headers={"Range": header})
            assert r.status_code == 206, (header, r.status_code)
            assert r.headers["content-range"] == f"bytes {start}-{end}/{size}", header
            assert r.headers["content-length"] == str(end - start + 1)
            assert r.content == data[start : end + 1], header
        for header in (f"bytes={size}-", f"bytes={size + 5}-{size + 10}", "bytes=-0"):
            r = c.get(url, headers={"Range": header})
            assert r.status_code == 416, header
            assert r.headers["content-range"] == f"bytes */{size}"
            assert r.content == b""
        # Malformed ranges and several ranges are ignored: the whole file (RFC 9110 §14.2).
        for header in ("bytes=5-1", "items=0-1", "bytes=abc", "bytes=0-1,5-6"):
            r = c.get(url, headers={"Range": header})
            assert r.status_code == 200, header
            assert r.content == data
        whole = c.get(url)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["accept-ranges"] == "bytes"
        # If-Range with a stale validator: the whole file; with the current one: the range.
        etag = whole.headers["etag"]
        r = c.get(url, headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
        assert r.status_code == 200 and len(r.content) == size
        r = c.get(url, headers={"Range": "bytes=0-9", "If-Range": etag})
        assert r.status_code == 206 and r.content == data[:10]


def test_a_file_changed_between_ranges_on_one_connection_is_served_as_it_is_now(
    vod: VodWorld, tmp_path: Path
) -> None:
    """The connection keeps its file open between requests; every request still answers
    from the file its path names now: replaced, truncated in place, swapped for a symlink
    out of the folder (refused), or another item asked for on the same connection."""
    mutable = vod.media_folder / "mutable.mp4"
    shutil.copyfile(vod.samples.mp4, mutable)
    with vod.admin() as c:
        movie = created(
            c.post("/api/v1/movies", json={"name": "Mutable", "source_url": "mutable.mp4"})
        )
        items = [{"item_type": "movie", "item_id": m["id"]} for m in (vod.movies["mp4"], movie)]
        r = c.put(f"/api/v1/bouquets/{vod.bouquet_id}/items", json={"items": items})
        assert r.status_code == 200, r.text
    url = f"{vod.data_plane}/movie/{vod.username}/{vod.password}/{movie['id']}.mp4"
    with httpx.Client(timeout=30) as client:  # one keep-alive connection throughout
        first = client.get(url, headers={"Range": "bytes=0-99"})
        assert first.status_code == 206 and first.content == mutable.read_bytes()[:100]

        replacement = tmp_path / "new.mp4"
        replacement.write_bytes(vod.samples.mkv.read_bytes())
        os.replace(replacement, mutable)  # a new file under the same name
        r = client.get(url, headers={"Range": "bytes=0-99"})
        size = mutable.stat().st_size
        assert r.headers["content-range"] == f"bytes 0-99/{size}"
        assert r.content == vod.samples.mkv.read_bytes()[:100]
        assert r.headers["etag"] != first.headers["etag"]

        with open(mutable, "r+b") as fh:  # the same file, cut short where it lies
            fh.truncate(5000)
        r = client.get(url, headers={"Range": "bytes=4990-"})
        assert r.status_code == 206 and r.headers["content-range"] == "bytes 4990-4999/5000"
        assert r.content == vod.samples.mkv.read_bytes()[4990:5000]
        assert client.get(url, headers={"Range": "bytes=5000-"}).status_code == 416

        outside = tmp_path / "secret.mp4"
        outside.write_bytes(b"not yours" * 1000)
        mutable.unlink()
        mutable.symlink_to(outside)
        r = client.get(url, headers={"Range": "bytes=0-9"})
        assert r.status_code == 404 and b"not yours" not in r.content

        other = client.get(
            vod.movie_url("mp4", base=vod.data_plane), headers={"Range": "bytes=0-99"}
        )
        assert other.status_code == 206 and other.content == vod.samples.mp4.read_bytes()[:100]
        assert client.get(url).status_code == 404


def test_head_gives_length_and_type_without_a_body(vod: VodWorld) -> None:
    cases = [
        (vod.movie_url("mp4", base=vod.data_plane), vod.samples.mp4, "video/mp4"),
        (vod.episode_url("e2", base=vod.data_plane), vod.samples.mkv, "video/x-matroska"),
    ]
    for url, path, content_type in cases:
        target = url.split(str(vod.engine.port), 1)[1]
        with socket.create_connection(("127.0.0.1", vod.engine.port), timeout=10) as sock:
            # HEAD, then GET of one byte on the same connection: if HEAD had sent a body,
            # it would be read as the second response's status line.
            sock.sendall(
                f"HEAD {target} HTTP/1.1\r\nHost: x\r\n\r\n"
                f"GET {target} HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0\r\n\r\n".encode()
            )
            raw = b""
            while raw.count(b"\r\n\r\n") < 2 or not raw.endswith(path.read_bytes()[:1]):
                chunk = sock.recv(65536)
                assert chunk, raw
                raw += chunk
        head, rest = raw.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200 OK")
        assert f"Content-Length: {path.stat().st_size}".encode() in head
        assert f"Content-Type: {content_type}".encode() in head
        assert rest.startswith(b"HTTP/1.1 206 Partial Content"), rest[:100]


def test_the_panel_port_redirects_to_the_data_plane_keeping_the_extension(vod: VodWorld) -> None:
    with httpx.Client(timeout=10) as c:
        for method in ("GET", "HEAD"):
            r = c.request(method, vod.movie_url("mkv"))
            assert r.status_code == 302
            assert r.headers["location"] == vod.movie_url("mkv", base=vod.data_plane)


@pytest.mark.parametrize("ext", ["mp4", "mkv", ""])
def test_any_extension_in_the_url_serves_the_stored_file(vod: VodWorld, ext: str) -> None:
    url = vod.movie_url("mkv", base=vod.data_plane, ext=ext).rstrip(".")
    with httpx.Client(timeout=10) as c:
        r = c.get(url, headers={"Range": "bytes=0-3"})
    assert r.status_code == 206
    assert r.headers["content-type"] == "video/x-matroska"
    assert r.content == vod.samples.mkv.read_bytes()[:4]
