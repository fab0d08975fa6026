"""Channels' stream keys, bouquet contents, series with seasons and episodes, server tokens."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from palinsesto.catalog.models import Channel
from palinsesto.cluster.models import Server
from support.admin_api import created, make_tenant
from support.server import RunningServer


def test_stream_key_for_push_channels(shared_server: RunningServer) -> None:
    world = make_tenant(shared_server, "keys")
    with world.client() as c:
        pulled = created(
            c.post(
                "/api/v1/channels",
                json={
                    "name": "Pulled",
                    "sources": [{"kind": "hls", "url": "http://a.test/x.m3u8"}],
                },
            )
        )
        assert pulled["stream_key"] is None
        pushed = created(
            c.post("/api/v1/channels", json={"name": "Studio", "sources": [{"kind": "push_rtmp"}]})
        )
        key = pushed["stream_key"]
        assert key and len(key) >= 24
        rotated = c.post(f"/api/v1/channels/{pushed['id']}/stream-key").json()["stream_key"]
        assert rotated and rotated != key
        # Switching a pulled channel to push gives it a key too.
        r = c.patch(f"/api/v1/channels/{pulled['id']}", json={"sources": [{"kind": "push_srt"}]})
        assert r.json()["stream_key"]
    with world.client("support") as c:
        assert c.get(f"/api/v1/channels/{pushed['id']}").json()["stream_key"] is None
        assert c.post(f"/api/v1/channels/{pushed['id']}/stream-key").status_code == 403
    with shared_server.ctx.db.session() as session:
        assert session.get(Channel, pushed["id"]).stream_key == rotated


def test_bouquet_items_keep_order_and_follow_deletes(shared_server: RunningServer) -> None:
    world = make_tenant(shared_server, "bq")
    with world.client() as c:
        ch = created(c.post("/api/v1/channels", json={"name": "C"}))
        mv = created(c.post("/api/v1/movies", json={"name": "M"}))
        se = created(c.post("/api/v1/series", json={"name": "S"}))
        bq = created(c.post("/api/v1/bouquets", json={"name": "All"}))
        items = [
            {"item_type": "series", "item_id": se["id"]},
            {"item_type": "channel", "item_id": ch["id"]},
            {"item_type": "movie", "item_id": mv["id"]},
        ]
        url = f"/api/v1/bouquets/{bq['id']}/items"
        assert c.put(url, json={"items": items}).json()["items"] == items
        assert c.get(url).json()["items"] == items
        assert c.delete(f"/api/v1/channels/{ch['id']}").status_code == 204
        assert c.get(url).json()["items"] == [items[0], items[2]]
        # Paged on request (the panel shows the first page of a large bouquet); by default
        # the whole list, as before.
        assert c.get(url).json()["total"] == 2
        first = c.get(url, params={"per_page": 1}).json()
        assert first["items"] == [items[0]] and first["total"] == 2
        second = c.get(url, params={"per_page": 1, "page": 2}).json()
        assert second["items"] == [items[2]] and second["total"] == 2
        assert c.get(url, params={"per_page": 501}).status_code == 422


def test_series_seasons_and_episodes(shared_server: RunningServer) -> None:
    world = make_tenant(shared_server, "shows")
    with world.client() as c:
        live_cat = created(c.post("/api/v1/categories", json={"kind": "live", "name": "L"}))
        cat = created(c.post("/api/v1/categories", json={"kind": "series", "name": "Drama"}))
        r = c.post("/api/v1/series", json={"name": "S", "category_id": live_cat["id"]})
        assert r.status_code == 422 and "category_id" in r.json()["error"]["fields"]
        show = created(
            c.post(
                "/api/v1/series",
                json={"name": "Show", "category_id": cat["id"], "release_date": "2020-01-31"},
            )
        )
        base = f"/api/v1/series/{show['id']}"
        created(c.post(f"{base}/seasons", json={"season_number": 2, "name": "Two"}))
        created(c.post(f"{base}/seasons", json={"season_number": 1, "name": "One"}))
        assert c.post(f"{base}/seasons", json={"season_number": 1}).status_code == 409
        assert [s["season_number"] for s in c.get(f"{base}/seasons").json()] == [1, 2]
        e2 = created(
            c.post(f"{base}/episodes", json={"season_number": 1, "episode_num": 2, "title": "B"})
        )
        created(
            c.post(f"{base}/episodes", json={"season_number": 1, "episode_num": 1, "title": "A"})
        )
        r = c.post(f"{base}/episodes", json={"season_number": 1, "episode_num": 2, "title": "dup"})
        assert r.status_code == 409 and "episode_num" in r.json()["error"]["fields"]
        assert [e["title"] for e in c.get(f"{base}/episodes").json()] == ["A", "B"]
        r = c.patch(
            f"/api/v1/episodes/{e2['id']}", json={"title": "Bee", "container_extension": "mkv"}
        )
        assert r.json()["title"] == "Bee" and r.json()["container_extension"] == "mkv"
        r = c.patch(f"/api/v1/episodes/{e2['id']}", json={"container_extension": "../x"})
        assert r.status_code == 422
        assert c.delete(base).status_code == 204
        assert c.get(f"/api/v1/episodes/{e2['id']}").status_code == 404


def test_server_token_is_shown_once_and_stored_hashed(shared_server: RunningServer) -> None:
    world = make_tenant(shared_server, "nodes")
    with world.client() as c:
        made = created(
            c.post("/api/v1/servers", json={"name": "edge", "public_url": "https://edge.test/"})
        )
        token = made["token"]
        assert made["public_url"] == "https://edge.test"
        again = c.get(f"/api/v1/servers/{made['id']}").json()
        assert "token" not in again and "token_hash" not in again
        r = c.post("/api/v1/servers", json={"name": "bad", "public_url": "edge.test"})
        assert r.status_code == 422 and "public_url" in r.json()["error"]["fields"]
    with shared_server.ctx.db.session() as session:
        stored = session.scalar(select(Server.token_hash).where(Server.id == made["id"]))
    assert stored == hashlib.sha256(token.encode()).hexdigest()


def test_users_passwords(shared_server: RunningServer) -> None:
    world = make_tenant(shared_server, "people")
    with world.client() as c:
        user = created(
            c.post(
                "/api/v1/users",
                json={"username": "helper-people", "password": "first-password", "role": "support"},
            )
        )
        assert "password" not in user and "password_hash" not in user
        r = c.post(
            "/api/v1/users",
            json={"username": "helper-people", "password": "other-password", "role": "support"},
        )
        assert r.status_code == 409 and "username" in r.json()["error"]["fields"]
        assert (
            "password"
            in c.post(
                "/api/v1/users",
                json={"username": "short-people", "password": "x", "role": "support"},
            ).json()["error"]["fields"]
        )
    token = shared_server.token("helper-people", "first-password")
    with shared_server.client(token) as me:
        r = me.post(
            "/api/v1/users/me/password",
            json={"current_password": "wrong", "new_password": "second-password"},
        )
        assert r.status_code == 422 and "current_password" in r.json()["error"]["fields"]
        r = me.post(
            "/api/v1/users/me/password",
            json={"current_password": "first-password", "new_password": "second-password"},
        )
        assert r.status_code == 204
    assert shared_server.token("helper-people", "second-password")
