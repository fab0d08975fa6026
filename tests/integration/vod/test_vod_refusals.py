"""What must not play does not, and says nothing about the node's disk: paths outside
the tenant's media folder, items outside the line's bouquets, bad credentials."""

from __future__ import annotations

import os
import socket
import time

import httpx

from palinsesto.catalog.models import Movie
from support.admin_api import root_client

from .conftest import VodWorld

HOSTILE_SOURCES = [
    "../escape.mp4",
    "../../../../etc/passwd.mp4",
    "/etc/hostname.mp4",
    "file:///etc/hosts.mp4",
    "sub/../../other.mp4",
    "link-out.mp4",  # a symlink inside the folder pointing outside it
    "rtmp://example.net/x.mp4",
    "feature",  # no extension: the apps could not name it
]


def test_admin_api_refuses_sources_outside_the_media_folder(vod: VodWorld) -> None:
    outside = vod.media_folder.parent / "escape.mp4"
    outside.write_bytes(b"secret")
    os.symlink(outside, vod.media_folder / "link-out.mp4")
    movie_id = vod.movies["mp4"]["id"]
    with vod.admin() as c:
        before = c.get("/api/v1/movies").json()["total"]
        for source in HOSTILE_SOURCES:
            r = c.post("/api/v1/movies", json={"name": "Escape", "source_url": source})
            assert r.status_code == 422, (source, r.text)
            assert list(r.json()["error"]["fields"]) == ["source_url"]
            message = r.json()["error"]["message"]
            assert str(vod.media_folder.parent) not in message and "/etc" not in message
            r = c.patch(f"/api/v1/movies/{movie_id}", json={"source_url": source})
            assert r.status_code == 422, (source, r.text)
        assert c.get("/api/v1/movies").json()["total"] == before
        assert c.get(f"/api/v1/movies/{movie_id}").json()["source_url"] == "feature.mp4"


def test_a_stored_path_outside_the_folder_is_never_served(vod: VodWorld) -> None:
    """A row written behind the API's back (an import, an old version) is checked again
    when played: 404 without detail."""
    secret = vod.media_folder.parent / "other-tenant.mp4"
    secret.write_bytes(b"not yours")
    with vod.server.ctx.db.transaction() as session:
        session.get(Movie, vod.movies["mp4"]["id"]).source_url = "../other-tenant.mp4"
    vod.server.ctx.events.publish(vod.tenant.id, "catalog")
    with httpx.Client(timeout=10) as c:
        r = c.get(vod.movie_url("mp4", base=vod.data_plane))
    assert r.status_code == 404
    assert r.content == b"STREAM_NOT_FOUND\n"


def test_hostile_urls_are_refused_before_any_lookup(vod: VodWorld) -> None:
    port = vod.engine.port
    for path in (
        f"/movie/{vod.username}/{vod.password}/..%2f..%2fetc%2fpasswd",
        f"/movie/{vod.username}/{vod.password}/../1.mp4",
        f"/series/{vod.username}/{vod.password}/1.mp4/..",
        f"/movie/{vod.username}/{vod.password}/passwd",
    ):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            raw = b""
            while chunk := sock.recv(65536):
                raw += chunk
        status = int(raw.split(b" ", 2)[1])
        assert status in (400, 404), (path, raw)
        assert b"/etc" not in raw and str(vod.media_folder).encode() not in raw


def test_lines_play_only_what_their_bouquets_hold(vod: VodWorld) -> None:
    with httpx.Client(timeout=10) as c:
        # The hidden movie exists but is in no bouquet of the line: 406 (reference §8.2).
        r = c.get(vod.movie_url("hidden", base=vod.data_plane))
        assert (r.status_code, r.content) == (406, b"NOT_IN_BOUQUET\n")
        # Unknown ids: 404, as for live.
        for kind in ("movie", "series"):
            url = f"{vod.data_plane}/{kind}/{vod.username}/{vod.password}/987654.mp4"
            assert (c.get(url).status_code, c.get(url).content) == (404, b"STREAM_NOT_FOUND\n")
        # Taking the series out of the bouquet takes its episodes with it.
        items = [{"item_type": "movie", "item_id": vod.movies["mp4"]["id"]}]
        with vod.admin() as admin:
            r = admin.put(f"/api/v1/bouquets/{vod.bouquet_id}/items", json={"items": items})
            assert r.status_code == 200
        r = c.get(vod.episode_url("e1", base=vod.data_plane))
        assert (r.status_code, r.content) == (406, b"NOT_IN_BOUQUET\n")
        r = c.get(vod.movie_url("mp4", base=vod.data_plane), headers={"Range": "bytes=0-0"})
        assert r.status_code == 206
        # Wrong password: 401, as for live (§8.2).
        url = vod.movie_url("mp4", base=vod.data_plane).replace(vod.password, "wrong-pass")
        assert c.get(url).status_code == 401
    _no_sessions_left(vod)


def test_a_remote_source_is_a_redirect_to_it(vod: VodWorld) -> None:
    remote = "http://vod.example.net/films/trailer.mp4"
    with vod.admin() as c:
        r = c.patch(
            f"/api/v1/movies/{vod.movies['mkv']['id']}",
            json={"source_url": remote, "container_extension": "mp4"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["media_info"] == {} and r.json()["container_extension"] == "mp4"
    with httpx.Client(timeout=10) as c:
        r = c.get(vod.movie_url("mkv", base=vod.data_plane, ext="mp4"))
    assert r.status_code == 302
    assert r.headers["location"] == remote
    _no_sessions_left(vod)


def test_movies_and_episodes_need_their_rights_where_the_tenant_requires_them(
    vod: VodWorld,
) -> None:
    """A tenant that distributes only what it holds rights to: a movie (and a series'
    episodes) answer 451 with the reason until a record covers them, like live channels."""
    with root_client(vod.server) as root:
        r = root.patch(f"/api/v1/tenants/{vod.tenant.id}", json={"rights_required": True})
        assert r.status_code == 200, r.text
    movie_url = vod.movie_url("mp4", base=vod.data_plane)
    episode_url = vod.episode_url("e1", base=vod.data_plane)
    with httpx.Client(timeout=10) as c:
        for url in (movie_url, episode_url):
            r = c.get(url, headers={"Range": "bytes=0-0"})
            assert (r.status_code, r.content) == (451, b"RIGHTS_MISSING\n"), url
        with vod.admin() as admin:
            for item_type, item_id in (
                ("movie", vod.movies["mp4"]["id"]),
                ("series", vod.series["id"]),
            ):
                record = {
                    "item_type": item_type,
                    "item_id": item_id,
                    "holder": "Studio",
                    "starts_at": "2026-01-01T00:00:00Z",
                    "territories": [],
                }
                assert admin.post("/api/v1/rights", json=record).status_code == 201
        for url in (movie_url, episode_url):
            r = c.get(url, headers={"Range": "bytes=0-0"})
            assert r.status_code == 206, (url, r.status_code, r.content[:100])


def _no_sessions_left(vod: VodWorld, seconds: float = 5.0) -> None:
    """Once the client's connections are closed, the server forgets their plays (it learns
    of the close a moment later, on its own loop)."""
    deadline = time.monotonic() + seconds
    while vod.engine.sessions.all():
        assert time.monotonic() < deadline, vod.engine.sessions.all()
        time.sleep(0.05)
