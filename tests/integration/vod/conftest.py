"""A running server whose tenant has movies and episodes made through the admin API,
pointing at real files (made by ffmpeg) under the tenant's media folder."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from palinsesto.accounts.models import ConnectionPolicy, Tenant
from support.admin_api import TenantWorld, created, make_tenant
from support.server import RunningServer
from support.vod_media import VodSamples, make_samples

USERNAME, PASSWORD = "vodviewer", "vod-pass-1"


@pytest.fixture(scope="session")
def vod_samples(tmp_path_factory: pytest.TempPathFactory) -> VodSamples:
    return make_samples(tmp_path_factory.mktemp("vod-samples"))


@dataclass
class VodWorld:
    server: RunningServer
    tenant: TenantWorld
    samples: VodSamples
    media_folder: Path
    movies: dict[str, dict[str, Any]] = field(default_factory=dict)
    series: dict[str, Any] = field(default_factory=dict)
    episodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    bouquet_id: int = 0
    line_id: int = 0
    username: str = USERNAME
    password: str = PASSWORD

    def admin(self) -> httpx.Client:
        return self.tenant.client("owner")

    @property
    def engine(self) -> Any:
        return self.server.ctx.services["live"]

    @property
    def data_plane(self) -> str:
        return f"http://127.0.0.1:{self.engine.port}"

    def movie_url(self, key: str, base: str | None = None, ext: str | None = None) -> str:
        movie = self.movies[key]
        ext = movie["container_extension"] if ext is None else ext
        root = self.server.base_url if base is None else base
        return f"{root}/movie/{self.username}/{self.password}/{movie['id']}.{ext}"

    def episode_url(self, key: str, base: str | None = None) -> str:
        ep = self.episodes[key]
        root = self.server.base_url if base is None else base
        return (
            f"{root}/series/{self.username}/{self.password}/{ep['id']}.{ep['container_extension']}"
        )

    def player_api(self, **params: Any) -> Any:
        with httpx.Client(base_url=self.server.base_url, timeout=30) as c:
            r = c.get(
                "/player_api.php",
                params={"username": self.username, "password": self.password, **params},
            )
            r.raise_for_status()
            return r.json()

    def set_policy(self, policy: ConnectionPolicy) -> None:
        with self.server.ctx.db.transaction() as session:
            session.get(Tenant, self.tenant.id).connection_policy = policy
        self.server.ctx.events.publish(self.tenant.id, "lines")

    def set_max_connections(self, limit: int) -> None:
        with self.admin() as c:
            r = c.patch(f"/api/v1/lines/{self.line_id}", json={"max_connections": limit})
            assert r.status_code == 200, r.text


def build_world(server: RunningServer, samples: VodSamples, slug: str = "vodco") -> VodWorld:
    tenant = make_tenant(server, slug)
    folder = server.ctx.settings.effective_media_root / str(tenant.id)
    samples.install(folder)
    world = VodWorld(server, tenant, samples, folder)
    with world.admin() as c:
        for key, source in (
            ("mp4", "feature.mp4"),
            ("mkv", "dual.mkv"),
            ("broken", "broken.mp4"),
            ("hidden", "feature.mp4"),  # in no bouquet of the line
        ):
            world.movies[key] = created(
                c.post("/api/v1/movies", json={"name": f"Film {key}", "source_url": source})
            )
        world.series = created(c.post("/api/v1/series", json={"name": "Show"}))
        sid = world.series["id"]
        for key, num, source in (("e1", 1, "feature.mp4"), ("e2", 2, "dual.mkv")):
            world.episodes[key] = created(
                c.post(
                    f"/api/v1/series/{sid}/episodes",
                    json={
                        "season_number": 1,
                        "episode_num": num,
                        "title": key,
                        "source_url": source,
                    },
                )
            )
        bouquet = created(c.post("/api/v1/bouquets", json={"name": "VOD"}))
        world.bouquet_id = bouquet["id"]
        items = [
            {"item_type": "movie", "item_id": world.movies[k]["id"]}
            for k in ("mp4", "mkv", "broken")
        ]
        items.append({"item_type": "series", "item_id": sid})
        r = c.put(f"/api/v1/bouquets/{bouquet['id']}/items", json={"items": items})
        assert r.status_code == 200, r.text
        line = created(
            c.post(
                "/api/v1/lines",
                json={
                    "username": USERNAME,
                    "password": PASSWORD,
                    "max_connections": 2,
                    "bouquet_ids": [bouquet["id"]],
                },
            )
        )
        world.line_id = line["id"]
    return world


@pytest.fixture
def vod(sqlite_server: RunningServer, vod_samples: VodSamples) -> Iterator[VodWorld]:
    yield build_world(sqlite_server, vod_samples)
