"""One synthetic row at a time, as the dicts a Core bulk insert takes.

Pure functions of a seeded :class:`random.Random`, ids and ``now``;
:mod:`palinsesto.catalog.demo_data` decides how many, in what chunks, and writes them.
Every column is given, so that SQLAlchemy runs no per-row Python defaults.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from palinsesto.catalog import demo_words as words

Row = dict[str, Any]


def channel_sources(rng: random.Random, channel_id: int) -> list[dict[str, str]]:
    """One channel in four is a local test pattern (playable without any network); the
    rest point at origins under the reserved example.net domain, some with a backup."""
    pick = rng.random()
    if pick < 0.25:
        return [{"kind": "test_pattern", "url": "testsrc://320x180@25"}]
    origin = f"http://origin{channel_id % 8 + 1}.example.net"
    if pick < 0.6:
        primary = {"kind": "hls", "url": f"{origin}/live/{channel_id}/index.m3u8"}
    else:
        primary = {"kind": "http_ts", "url": f"{origin}/live/{channel_id}.ts"}
    if pick > 0.9:
        backup = {"kind": "http_ts", "url": f"http://backup.example.net/{channel_id}.ts"}
        return [primary, backup]
    return [primary]


def channel(
    rng: random.Random,
    *,
    channel_id: int,
    tenant_id: int,
    number: int,
    name: str,
    logo_name: str,
    epg_channel_id: str,
    now: datetime,
) -> Row:
    return {
        "id": channel_id,
        "tenant_id": tenant_id,
        "name": name,
        "number": number,
        "logo": f"https://logos.example.net/{words.slugify(logo_name)}.png",
        "epg_channel_id": epg_channel_id,
        "sources": channel_sources(rng, channel_id),
        # On demand only: a node serving a 20k-channel demo catalogue must not start
        # hundreds of always-on ffmpegs at boot; a channel runs while someone watches it.
        "mode": "on_demand",
        "transcode_profile": "copy",
        "archive_days": rng.choice((3, 5, 7)) if rng.random() < 0.1 else 0,
        "enabled": rng.random() >= 0.01,
        "stream_key": None,
        "custom_sid": "",
        "notes": "",
        "created_at": now,
        "updated_at": now,
    }


def movie(
    rng: random.Random,
    *,
    movie_id: int,
    tenant_id: int,
    name: str,
    category: str,
    category_id: int,
    second_genre: str,
    now: datetime,
) -> Row:
    year = rng.randint(1960, now.year)
    extension = rng.choices(("mp4", "mkv", "avi"), (6, 3, 1))[0]
    slug = words.slugify(name)
    return {
        "id": movie_id,
        "tenant_id": tenant_id,
        "name": name,
        "year": year,
        "category_id": category_id,
        "stream_icon": f"https://img.example.net/posters/{slug}.jpg",
        "rating": round(rng.uniform(3.0, 9.5), 1),
        "plot": words.plot(rng),
        "cast": ", ".join(words.person(rng) for _ in range(3)),
        "director": words.person(rng),
        "genre": category if second_genre == category else f"{category}, {second_genre}",
        "release_date": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "youtube_trailer": "",
        "duration_secs": rng.randint(80, 180) * 60,
        "backdrop_path": [f"https://img.example.net/backdrops/{slug}.jpg"],
        "tmdb_id": rng.randint(1000, 999_999),
        "container_extension": extension,
        "source_url": f"http://vod.example.net/movies/{movie_id}.{extension}",
        "enabled": True,
        "created_at": now,
    }


def series(
    rng: random.Random,
    *,
    series_id: int,
    tenant_id: int,
    name: str,
    category: str,
    category_id: int,
    now: datetime,
) -> Row:
    year = rng.randint(1990, now.year)
    slug = words.slugify(name)
    return {
        "id": series_id,
        "tenant_id": tenant_id,
        "name": name,
        "year": year,
        "category_id": category_id,
        "cover": f"https://img.example.net/series/{slug}.jpg",
        "plot": words.plot(rng),
        "cast": ", ".join(words.person(rng) for _ in range(4)),
        "director": words.person(rng),
        "genre": category.removesuffix(" Series"),
        "release_date": f"{year}-{rng.randint(1, 12):02d}-01",
        "rating": round(rng.uniform(4.0, 9.5), 1),
        "backdrop_path": [f"https://img.example.net/backdrops/{slug}.jpg"],
        "youtube_trailer": "",
        "episode_run_time": rng.choice((22, 30, 45, 50, 60)),
        "tmdb_id": rng.randint(1000, 999_999),
        "enabled": True,
        "created_at": now,
        "updated_at": now,
    }


def season_plan(rng: random.Random, episodes: int) -> list[int]:
    """Episodes per season: ``episodes`` split over 1-4 seasons, never an empty season."""
    if episodes == 0:
        return []
    seasons = rng.randint(1, min(4, episodes))
    plan = [episodes // seasons] * seasons
    for extra in range(episodes - sum(plan)):
        plan[extra] += 1
    return plan


def seasons_and_episodes(
    rng: random.Random, series_row: Row, plan: list[int], now: datetime
) -> tuple[list[Row], list[Row]]:
    """A series' seasons and episodes, without ids (they are reserved when written)."""
    seasons: list[Row] = []
    episodes: list[Row] = []
    extension = rng.choices(("mp4", "mkv"), (3, 1))[0]
    run_time = series_row["episode_run_time"] * 60
    for season_number, episode_count in enumerate(plan, start=1):
        year = min(series_row["year"] + season_number - 1, now.year)
        seasons.append(
            {
                "tenant_id": series_row["tenant_id"],
                "series_id": series_row["id"],
                "season_number": season_number,
                "name": f"Season {season_number}",
                "overview": words.plot(rng),
                "air_date": f"{year}-09-01",
                "cover": series_row["cover"],
            }
        )
        for episode_num in range(1, episode_count + 1):
            month = 9 + min(episode_num // 5, 3)
            episodes.append(
                {
                    "tenant_id": series_row["tenant_id"],
                    "series_id": series_row["id"],
                    "season_number": season_number,
                    "episode_num": episode_num,
                    "title": rng.choice(words.EPISODE_TITLES),
                    "plot": words.plot(rng),
                    "duration_secs": run_time + rng.randint(-120, 120),
                    "movie_image": series_row["cover"],
                    "rating": round(rng.uniform(5.0, 9.5), 1),
                    "release_date": f"{year}-{month:02d}-{(episode_num * 7) % 28 + 1:02d}",
                    "container_extension": extension,
                    "source_url": "",  # set once the id is known
                    "created_at": now,
                }
            )
    return seasons, episodes


def line(
    rng: random.Random,
    *,
    line_id: int,
    tenant_id: int,
    username: str,
    resellers: list[int],
    now: datetime,
) -> Row:
    """A subscriber: 10% trials (some over), 15% expired, 15% unlimited, the rest paid up;
    a quarter of them sold by the resellers."""
    created = now - timedelta(days=rng.randint(0, 730))
    kind = rng.random()
    expires: datetime | None
    if kind < 0.10:
        is_trial, max_connections = True, 1
        expires = created + timedelta(days=rng.randint(1, 3))
    elif kind < 0.25:
        is_trial, max_connections = False, rng.randint(1, 3)
        expires = now - timedelta(days=rng.randint(1, 365))
        created = min(created, expires - timedelta(days=30))
    elif kind < 0.40:
        is_trial, max_connections, expires = False, rng.randint(1, 4), None
    else:
        is_trial, max_connections = False, rng.randint(1, 3)
        expires = now + timedelta(days=rng.randint(1, 365))
    owner = rng.random()
    reseller_id = None
    if resellers and owner < 0.25:
        reseller_id = resellers[0] if owner < 0.15 else resellers[-1]
    return {
        "id": line_id,
        "tenant_id": tenant_id,
        "username": username,
        "password": words.password(rng),
        "exp_date": expires,
        "max_connections": max_connections,
        "is_trial": is_trial,
        "enabled": rng.random() >= 0.02,
        "banned": rng.random() < 0.005,
        "allowed_outputs": ["m3u8", "ts"],
        "allowed_ips": [],
        "allowed_user_agents": [],
        "notes": "",
        "reseller_id": reseller_id,
        "created_at": created,
        "updated_at": created,
    }


def line_bouquets(rng: random.Random, line_id: int, full: int, others: list[int]) -> list[Row]:
    """40% of lines get the Full bouquet, the others one to three of the themed ones."""
    chosen = (
        [full] if rng.random() < 0.4 else rng.sample(others, min(len(others), rng.randint(1, 3)))
    )
    return [
        {"line_id": line_id, "bouquet_id": bouquet_id, "position": position}
        for position, bouquet_id in enumerate(chosen)
    ]
