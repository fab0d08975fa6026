"""Resumable uploads: a real MP4 sent in chunks, cut off half way through one chunk,
resumed from the server's resume point, arrives byte-exact, becomes a movie, and plays
through /movie/ (decoded by ffmpeg). Bad requests get a 4xx with a sentence."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from typing import Any

import httpx

from palinsesto.accounts.models import Tenant
from support.media import FFMPEG

from .conftest import VodWorld

CHUNK = 256 * 1024


def _put(c: httpx.Client, upload_id: str, data: bytes, first: int, total: int) -> httpx.Response:
    last = first + len(data) - 1
    return c.put(
        f"/api/v1/uploads/{upload_id}",
        content=data,
        headers={"Content-Range": f"bytes {first}-{last}/{total}"},
    )


def _cut_off_put(vod: VodWorld, upload_id: str, data: bytes, first: int, total: int) -> int:
    """Send a PUT whose body stops half way, then close the connection; bytes sent."""
    host, port = vod.server.base_url.removeprefix("http://").split(":")
    token = vod.tenant.users["owner"].token
    half = len(data) // 2
    head = (
        f"PUT /api/v1/uploads/{upload_id} HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(data)}\r\n"
        f"Content-Range: bytes {first}-{first + len(data) - 1}/{total}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + data[:half])
        time.sleep(0.5)  # let the server write what arrived before the connection drops
    return half


def _message(r: httpx.Response) -> str:
    return str(r.json()["error"]["message"])


def _status(c: httpx.Client, upload_id: str) -> dict[str, Any]:
    r = c.get(f"/api/v1/uploads/{upload_id}")
    assert r.status_code == 200, r.text
    return r.json()


def _add_to_bouquet(vod: VodWorld, c: httpx.Client, movie_id: int) -> None:
    items = c.get(f"/api/v1/bouquets/{vod.bouquet_id}/items").json()
    listed = [{"item_type": i["item_type"], "item_id": i["item_id"]} for i in items["items"]]
    listed.append({"item_type": "movie", "item_id": movie_id})
    r = c.put(f"/api/v1/bouquets/{vod.bouquet_id}/items", json={"items": listed})
    assert r.status_code == 200, r.text


def test_a_chunked_upload_resumes_after_a_cut_and_the_movie_plays(vod: VodWorld) -> None:
    data = vod.samples.mp4.read_bytes()
    total = len(data)
    assert total > 4 * CHUNK
    with vod.admin() as c:
        r = c.post("/api/v1/uploads", json={"name": "Upload.Test.2021.mp4", "total_bytes": total})
        assert r.status_code == 201, r.text
        upload_id = r.json()["id"]
        assert _status(c, upload_id)["received_bytes"] == 0

        assert _put(c, upload_id, data[:CHUNK], 0, total).status_code == 200
        sent = _cut_off_put(vod, upload_id, data[CHUNK : 3 * CHUNK], CHUNK, total)
        resume = _status(c, upload_id)["received_bytes"]
        # What arrived before the cut is kept (and nothing more): the resume point.
        assert CHUNK < resume <= CHUNK + sent, resume

        # A chunk that skips ahead, or starts inside what arrived, is refused with a reason.
        r = _put(c, upload_id, data[resume + 10 : resume + 20], resume + 10, total)
        assert r.status_code == 409 and f"starts at byte {resume:,}" in _message(r)
        r = _put(c, upload_id, data[0:10], 0, total)
        assert r.status_code == 409
        # A chunk past the end, or naming another total, is not satisfiable.
        r = c.put(
            f"/api/v1/uploads/{upload_id}",
            content=b"x" * 10,
            headers={"Content-Range": f"bytes {total - 5}-{total + 4}/{total}"},
        )
        assert r.status_code == 416 and "past the file's last byte" in _message(r)
        r = _put(c, upload_id, data[resume : resume + 10], resume, total + 1)
        assert r.status_code == 416

        position = resume
        done: dict[str, Any] = {}
        while position < total:
            piece = data[position : position + CHUNK]
            r = _put(c, upload_id, piece, position, total)
            position += len(piece)
            expected = 201 if position == total else 200
            assert r.status_code == expected, r.text
            done = r.json()
        assert done["complete"] is True and done["received_bytes"] == total
        movie = done["movie"]
        assert movie["name"] == "Upload Test" and movie["year"] == 2021
        assert movie["container_extension"] == "mp4"
        assert movie["media_info"]["video"]["codec_name"] == "h264"
        assert movie["duration_secs"] >= 89
        # The working files are gone; the file is in place, byte for byte.
        stored = vod.media_folder / "uploads" / "Upload.Test.2021.mp4"
        assert stored.read_bytes() == data
        assert os.listdir(vod.media_folder / ".uploads") == []
        assert c.get(f"/api/v1/uploads/{upload_id}").status_code == 404
        _add_to_bouquet(vod, c, movie["id"])

    vod.movies["uploaded"] = movie
    url = vod.movie_url("uploaded")
    run = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-i", url, "-t", "3", "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    frames = re.findall(r"frame=\s*(\d+)", run.stderr)
    assert frames and int(frames[-1]) >= 60, run.stderr[-1000:]


def test_bad_uploads_are_refused_with_a_reason(vod: VodWorld) -> None:
    with vod.admin() as c:
        for name in ("../escape.mp4", "a/b.mp4", ".hidden.mp4", "noextension", " x.mp4"):
            r = c.post("/api/v1/uploads", json={"name": name, "total_bytes": 10})
            assert r.status_code == 400, (name, r.text)
            assert _message(r).endswith("."), r.text
        r = c.post("/api/v1/uploads", json={"name": "huge.mp4", "total_bytes": 60 * 1024**4})
        assert r.status_code == 400 and "upload limit" in _message(r)
        # A name already uploaded is refused before any byte is sent.
        (vod.media_folder / "uploads").mkdir(exist_ok=True)
        (vod.media_folder / "uploads" / "taken.mp4").write_bytes(b"x")
        r = c.post("/api/v1/uploads", json={"name": "taken.mp4", "total_bytes": 10})
        assert r.status_code == 409

        r = c.post("/api/v1/uploads", json={"name": "small.mp4", "total_bytes": 10})
        upload_id = r.json()["id"]
        r = c.put(f"/api/v1/uploads/{upload_id}", content=b"0123456789")
        assert r.status_code == 400 and "Content-Range" in _message(r)
        r = c.put(
            f"/api/v1/uploads/{upload_id}",
            content=b"0123456789",
            headers={"Content-Range": "bytes 0-4/10"},
        )
        assert r.status_code == 400 and "Content-Length" in _message(r)
        assert _status(c, upload_id)["received_bytes"] == 0
        # Support staff and other tenants see no upload of this tenant.
        with vod.tenant.client("support") as s:
            assert s.get(f"/api/v1/uploads/{upload_id}").status_code == 403
        assert c.get("/api/v1/uploads/" + "0" * 32).status_code == 404
        assert c.delete(f"/api/v1/uploads/{upload_id}").status_code == 204
        assert c.get(f"/api/v1/uploads/{upload_id}").status_code == 404

    # A plan with a storage limit refuses an upload that would not fit.
    with vod.server.ctx.db.transaction() as session:
        session.get(Tenant, vod.tenant.id).max_storage_gb = 0
    with vod.admin() as c:
        r = c.post("/api/v1/uploads", json={"name": "nofit.mp4", "total_bytes": 10})
        assert r.status_code == 409 and "storage" in _message(r)


def test_a_chunk_over_the_route_limit_is_refused_and_abandoned_uploads_expire(
    vod: VodWorld,
) -> None:
    limit = vod.server.ctx.settings.upload_chunk_max_bytes
    with vod.admin() as c:
        r = c.post("/api/v1/uploads", json={"name": "late.mp4", "total_bytes": limit * 2})
        upload_id = r.json()["id"]
        # Refused from its Content-Length alone, before a byte of the body is sent.
        host, port = vod.server.base_url.removeprefix("http://").split(":")
        head = (
            f"PUT /api/v1/uploads/{upload_id} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {vod.tenant.users['owner'].token}\r\n"
            f"Content-Length: {limit + 1}\r\n"
            f"Content-Range: bytes 0-{limit}/{limit * 2}\r\n\r\n"
        )
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(head.encode())
            assert sock.recv(65536).startswith(b"HTTP/1.1 413 ")
        # JSON routes keep their small limit.
        r = c.post("/api/v1/movies", content=b"x" * (3 * 1024 * 1024))
        assert r.status_code == 413
    store = vod.server.ctx.services["uploads"]
    assert store.expire(now=time.time()) == 0  # touched just now
    assert store.expire(now=time.time() + store.expiry_seconds + 1) == 1
    with vod.admin() as c:
        assert c.get(f"/api/v1/uploads/{upload_id}").status_code == 404


def test_a_chunk_sent_as_a_form_is_stored_as_the_bytes_it_is(vod: VodWorld) -> None:
    """`curl --data-binary @film.mp4` names its body a form; a chunk is a file's bytes."""
    data = vod.samples.mp4.read_bytes()
    total = len(data)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with vod.admin() as c:
        r = c.post("/api/v1/uploads", json={"name": "Curl.Sent.2022.mp4", "total_bytes": total})
        assert r.status_code == 201, r.text
        upload_id = r.json()["id"]
        half = total // 2
        for first, last, expected in ((0, half - 1, 200), (half, total - 1, 201)):
            r = c.put(
                f"/api/v1/uploads/{upload_id}",
                content=data[first : last + 1],
                headers={**form, "Content-Range": f"bytes {first}-{last}/{total}"},
            )
            assert r.status_code == expected, r.text
        assert r.json()["movie"]["name"] == "Curl Sent"
    assert (vod.media_folder / "uploads" / "Curl.Sent.2022.mp4").read_bytes() == data
