"""Validation errors name each field, and limits of the tenant's plan are enforced."""

from __future__ import annotations

import pytest

from support.admin_api import TenantWorld, created, make_tenant
from support.server import RunningServer


@pytest.fixture(scope="module")
def world(shared_server: RunningServer) -> TenantWorld:
    return make_tenant(shared_server, "forms", max_channels=2, max_lines=2, max_nodes=1)


def _fields(response) -> dict[str, str]:  # noqa: ANN001
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    return response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("source", "ok"),
    [
        ({"kind": "hls", "url": "https://cdn.test/live.m3u8"}, True),
        ({"kind": "hls", "url": "rtmp://cdn.test/live"}, False),
        ({"kind": "http_ts", "url": "ftp://cdn.test/a.ts"}, False),
        ({"kind": "rtmp", "url": "rtmps://cdn.test/app/key"}, True),
        ({"kind": "rtmp", "url": "http://cdn.test/app"}, False),
        ({"kind": "udp", "url": "udp://239.0.0.1:1234"}, True),
        ({"kind": "udp", "url": "rtp://239.0.0.1:1234"}, True),
        ({"kind": "udp", "url": "http://239.0.0.1"}, False),
        ({"kind": "srt", "url": "srt://ingest.test:9000"}, True),
        ({"kind": "srt", "url": "udp://ingest.test:9000"}, False),
        ({"kind": "file", "url": "/srv/media/loop.mp4"}, True),
        ({"kind": "file", "url": "media/loop.mp4"}, False),
        ({"kind": "test_pattern", "url": ""}, True),
        ({"kind": "push_rtmp", "url": ""}, True),
        ({"kind": "push_srt", "url": "srt://x"}, False),
    ],
)
def test_source_urls_are_checked_per_kind(world: TenantWorld, source: dict, ok: bool) -> None:
    good = {"kind": "test_pattern", "url": ""}
    with world.client() as c:
        r = c.post("/api/v1/channels", json={"name": "probe", "sources": [good, source]})
        if ok:
            channel = created(r)
            assert channel["sources"][1]["kind"] == source["kind"]
            assert c.delete(f"/api/v1/channels/{channel['id']}").status_code == 204
        else:
            assert set(_fields(r)) == {"sources.1.url"}


def test_channel_fields(world: TenantWorld) -> None:
    with world.client() as c:
        movie_cat = created(c.post("/api/v1/categories", json={"kind": "movie", "name": "Films"}))
        assert "transcode_profile" in _fields(
            c.post("/api/v1/channels", json={"name": "x", "transcode_profile": "h265-8k"})
        )
        assert set(
            _fields(c.post("/api/v1/channels", json={"name": "", "archive_days": 366, "mode": "x"}))
        ) == {"name", "archive_days", "mode"}
        assert "category_ids.0" in _fields(
            c.post("/api/v1/channels", json={"name": "x", "category_ids": [movie_cat["id"]]})
        )
        assert c.get("/api/v1/channels").json()["total"] == 0


def test_line_fields(world: TenantWorld) -> None:
    with world.client() as c:
        fields = _fields(
            c.post(
                "/api/v1/lines",
                json={
                    "username": "has space",
                    "password": "a/b",
                    "allowed_outputs": ["m3u8"],
                    "max_connections": -1,
                },
            )
        )
        assert {"username", "password", "max_connections"} <= set(fields)
        assert "allowed_outputs.0" in _fields(
            c.post(
                "/api/v1/lines",
                json={"username": "ok", "password": "pw", "allowed_outputs": ["flv"]},
            )
        )
        assert "allowed_ips.1" in _fields(
            c.post(
                "/api/v1/lines",
                json={"username": "ok", "password": "pw", "allowed_ips": ["10.0.0.1", "host"]},
            )
        )
        r = c.post(
            "/api/v1/lines",
            json={
                "username": "a.b_c@d-e",
                "password": "p.w_1@x-y",
                "allowed_outputs": ["ts", "m3u8"],
            },
        )
        line = created(r)
        assert line["allowed_outputs"] == ["m3u8", "ts"]  # reference §3.2 order
        r = c.post("/api/v1/lines", json={"username": "a.b_c@d-e", "password": "pw"})
        assert r.status_code == 409 and "username" in r.json()["error"]["fields"]
        assert "exp_date" in _fields(
            c.post(
                "/api/v1/lines",
                json={"username": "naive", "password": "pw", "exp_date": "2030-01-01T00:00:00"},
            )
        )


def test_bouquet_items_name_the_bad_index(world: TenantWorld) -> None:
    with world.client() as c:
        bouquet = created(c.post("/api/v1/bouquets", json={"name": "Items"}))
        movie = created(c.post("/api/v1/movies", json={"name": "Film"}))
        url = f"/api/v1/bouquets/{bouquet['id']}/items"
        good = [{"item_type": "movie", "item_id": movie["id"]}]
        assert c.put(url, json={"items": good}).status_code == 200
        bad = good + [{"item_type": "channel", "item_id": movie["id"]}]
        assert set(_fields(c.put(url, json={"items": bad}))) == {"items.1"}
        assert set(_fields(c.put(url, json={"items": good + good}))) == {"items.1"}
        assert c.get(url).json()["items"] == good


def test_plan_limits(world: TenantWorld) -> None:
    with world.client() as c:
        for i in range(2):
            created(c.post("/api/v1/channels", json={"name": f"ch{i}"}))
        r = c.post("/api/v1/channels", json={"name": "one too many"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "plan_limit_reached"
        assert "max_channels" in r.json()["error"]["fields"]
        existing = c.get("/api/v1/lines").json()["total"]
        for i in range(2 - existing):
            created(c.post("/api/v1/lines", json={"username": f"limit{i}", "password": "pw"}))
        r = c.post("/api/v1/lines", json={"username": "limit-x", "password": "pw"})
        assert r.status_code == 409 and "max_lines" in r.json()["error"]["fields"]
        created(c.post("/api/v1/servers", json={"name": "n1", "public_url": "https://n1.test"}))
        r = c.post("/api/v1/servers", json={"name": "n2", "public_url": "https://n2.test"})
        assert r.status_code == 409 and "max_nodes" in r.json()["error"]["fields"]
        assert c.get("/api/v1/channels").json()["total"] == 2
        assert c.get("/api/v1/servers").json()["total"] == 1


def test_what_people_get_wrong_is_refused_with_a_sentence(shared_server: RunningServer) -> None:
    world = make_tenant(shared_server, "mistakes")
    with world.client() as c:
        # Duplicate category names within a kind (any case); another kind may share it.
        created(c.post("/api/v1/categories", json={"kind": "live", "name": "Sport"}))
        r = c.post("/api/v1/categories", json={"kind": "live", "name": "sport"})
        assert r.status_code == 409, r.text
        assert "already a live category named" in r.json()["error"]["message"]
        other = created(c.post("/api/v1/categories", json={"kind": "movie", "name": "Sport"}))
        renamed = c.patch(f"/api/v1/categories/{other['id']}", json={"name": "SPORT"})
        assert renamed.status_code == 200, renamed.text  # its own name, another case
        # E-mail addresses and password length of users.
        fields = _fields(
            c.post(
                "/api/v1/users",
                json={"username": "ann", "password": "short", "role": "support",
                      "email": "ann.example.com"},
            )
        )  # fmt: skip
        assert set(fields) == {"password", "email"}
        assert "name@example.com" in fields["email"]
        # A new line already expired, and IP locks that are not addresses or ranges.
        fields = _fields(
            c.post(
                "/api/v1/lines",
                json={"username": "typo-year", "password": "pw-123456",
                      "exp_date": "2020-01-01T00:00:00Z"},
            )
        )  # fmt: skip
        assert "in the past" in fields["exp_date"]
        r = c.post(
            "/api/v1/lines",
            json={"username": "locked", "password": "pw-123456",
                  "allowed_ips": ["203.0.113.7", "198.51.100.0/24", "10.0.0.300"]},
        )  # fmt: skip
        assert r.status_code == 422, r.text
        assert "203.0.113.0/24" in r.text
        line = created(
            c.post(
                "/api/v1/lines",
                json={"username": "locked", "password": "pw-123456",
                      "allowed_ips": [" 203.0.113.7", "198.51.100.9/24"]},
            )
        )  # fmt: skip
        assert line["allowed_ips"] == ["203.0.113.7", "198.51.100.0/24"]
    # Time zones of tenants.
    with shared_server.client(shared_server.token()) as c:
        fields = _fields(
            c.post("/api/v1/tenants", json={"name": "Zoned", "slug": "zoned", "timezone": "Rome"})
        )
        assert "Europe/Rome" in fields["timezone"]
