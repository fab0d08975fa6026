"""Pure builders of the Xtream Codes player API JSON (reference xtream-api.md §3–5, §13–14).

Values in (line snapshots, catalogue views, guide rows), plain dicts out; no I/O. The
wire types are the compat profile's (§14), which mixes strings and numbers exactly as the
PHP panels did: strict client deserialisers break when a panel "fixes" them (§13.1).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from palinsesto.panel.playback.catalog_view import (
    CategoryView,
    ChannelView,
    EpisodeView,
    LiveSection,
    MovieView,
    SeasonView,
    SeriesSection,
    SeriesView,
    VodSection,
)
from palinsesto.panel.playback.guide import ProgrammeRow
from palinsesto.panel.playback.lines import LineView

# §1.3: ports the apps expect when the panel does not listen on that protocol itself.
DEFAULT_HTTPS_PORT = "443"
# §3.2: rtmp_port is a str(int) apps parse, and use only to build rtmp output URLs (which
# need "rtmp" in allowed_output_formats): "0" where this server takes no RTMP, rather than
# a port nothing listens on.
NO_RTMP_PORT = "0"
PANEL_VERSION = "1.5.12"  # §3.2: only sent when the XUI marker fields are switched on


@dataclass(frozen=True, slots=True)
class ServerIdentity:
    """What ``server_info`` says about the panel, from the public URL (§3.2, §13.5)."""

    host: str
    port: str
    https_port: str
    protocol: str
    timezone: str
    rtmp_port: str = NO_RTMP_PORT

    @classmethod
    def from_public_url(
        cls, public_url: str, timezone: str, rtmp_port: int | None = None
    ) -> ServerIdentity:
        parts = urlsplit(public_url)
        protocol = parts.scheme or "http"
        default = "443" if protocol == "https" else "80"
        port = str(parts.port) if parts.port else default
        return cls(
            host=parts.hostname or "",
            port=port,
            https_port=port if protocol == "https" else DEFAULT_HTTPS_PORT,
            protocol=protocol,
            timezone=timezone,
            rtmp_port=str(rtmp_port) if rtmp_port else NO_RTMP_PORT,
        )


def _str_or_null(value: int | None) -> str | None:
    return None if value is None else str(value)


def format_local(ts: int, zone: ZoneInfo) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in the panel's zone (§1.2, §4.8)."""
    return datetime.fromtimestamp(ts, zone).strftime("%Y-%m-%d %H:%M:%S")


def user_info(
    line: LineView,
    *,
    now: float,
    message: str,
    active_cons: int,
    active_cons_as_string: bool = False,
) -> dict[str, Any]:
    """The ``user_info`` object of §3.2, typed per §14."""
    return {
        "username": line.username,
        "password": line.password,
        "message": message,
        # §13.4: the number 1, never "1".
        "auth": 1,
        "status": line.status(now),
        # §3.2/§13.3: str(int) unix seconds, or null for a line that never expires.
        "exp_date": _str_or_null(line.exp_date),
        "is_trial": "1" if line.is_trial else "0",
        # §13.2/§14: always present; XUI's number by default, XC's string by setting.
        "active_cons": str(active_cons) if active_cons_as_string else active_cons,
        "created_at": str(line.created_at),
        "max_connections": str(line.max_connections),
        # §3.2: ordered by output id (m3u8, ts, rtmp); apps use [0] as their default.
        "allowed_output_formats": list(line.allowed_outputs),
    }


def server_info(server: ServerIdentity, *, now: float, xui_fields: bool = False) -> dict[str, Any]:
    """The ``server_info`` object of §3.2: ports as strings, ``timestamp_now`` a number."""
    zone = ZoneInfo(server.timezone)
    info: dict[str, Any] = {
        "url": server.host,
        "port": server.port,
        "https_port": server.https_port,
        "server_protocol": server.protocol,
        "rtmp_port": server.rtmp_port,
        "timezone": server.timezone,
        "timestamp_now": int(now),
        "time_now": format_local(int(now), zone),
    }
    if xui_fields:  # §14: only when a setting asks for XUI's marker fields
        info.update({"xui": True, "version": PANEL_VERSION, "revision": None})
    return info


def account(
    line: LineView,
    server: ServerIdentity,
    *,
    now: float,
    message: str,
    active_cons: int,
    active_cons_as_string: bool = False,
    xui_fields: bool = False,
) -> dict[str, Any]:
    """The account call (§3.2): exactly ``user_info`` and ``server_info``."""
    return {
        "user_info": user_info(
            line,
            now=now,
            message=message,
            active_cons=active_cons,
            active_cons_as_string=active_cons_as_string,
        ),
        "server_info": server_info(server, now=now, xui_fields=xui_fields),
    }


# §3.3/§14: wrong credentials are a 200 with this body, not an HTTP error.
AUTH_FAILED: dict[str, Any] = {"user_info": {"auth": 0}}


def category(cat: CategoryView) -> dict[str, Any]:
    """§4.2: ``category_id`` a string, ``parent_id`` the number 0."""
    return {"category_id": str(cat.id), "category_name": cat.name, "parent_id": 0}


def categories(cats: Iterable[CategoryView]) -> list[dict[str, Any]]:
    return [category(c) for c in cats]


def live_item(channel: ChannelView, num: int, category_id: int | None) -> dict[str, Any]:
    """A ``get_live_streams`` item (§4.3), XC and XUI fields, §14 types."""
    archived = channel.archive_days > 0
    return {
        "num": num,
        "name": channel.name,
        # §13.10: only live / created_live / radio_streams; clients build URLs from it.
        "stream_type": "live",
        "stream_id": channel.id,
        "stream_icon": channel.logo,
        "epg_channel_id": channel.epg_channel_id,
        "added": str(channel.added),
        # §13.8: category_id always present (string), category_ids an array of numbers.
        "category_id": _str_or_null(category_id),
        "category_ids": list(channel.category_ids),
        "custom_sid": channel.custom_sid,
        "tv_archive": 1 if archived else 0,
        # §13.7: empty unless the client can reach the upstream itself.
        "direct_source": "",
        # §14/§13.17: a number of days (XUI style).
        "tv_archive_duration": channel.archive_days if archived else 0,
        "thumbnail": "",
    }


def _rating_5(rating: float | None) -> float:
    return round((rating or 0.0) / 2, 1)


def _duration(secs: int) -> str:
    return f"{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"


def vod_item(movie: MovieView, num: int) -> dict[str, Any]:
    """A ``get_vod_streams`` item (§4.4)."""
    return {
        "num": num,
        "name": movie.name,
        "title": movie.name,
        "year": _str_or_null(movie.year),
        "stream_type": "movie",
        "stream_id": movie.id,
        "stream_icon": movie.stream_icon,
        # §4.4: XC sends the 0-10 rating as a string such as "6.3" ("" when unknown).
        "rating": "" if movie.rating is None else f"{movie.rating:.1f}",
        "rating_5based": _rating_5(movie.rating),
        "added": str(movie.added),
        "plot": movie.plot,
        "cast": movie.cast,
        "director": movie.director,
        "genre": movie.genre,
        "release_date": movie.release_date,
        "youtube_trailer": movie.youtube_trailer,
        # §14: episode_run_time is a string (minutes).
        "episode_run_time": str(movie.duration_secs // 60),
        "category_id": _str_or_null(movie.category_id),
        "category_ids": [] if movie.category_id is None else [movie.category_id],
        "container_extension": movie.container_extension,
        "custom_sid": "",
        "direct_source": "",
    }


def _probed(info: dict[str, Any], media: Mapping[str, Any] | None) -> dict[str, Any]:
    """§4.5/§4.7: what probing the file found: duration, bitrate (kbit/s) and, as XC
    sends them, the ffprobe-style ``video`` stream and first ``audio`` stream objects."""
    if not media:
        return info
    secs = int(media.get("duration_secs") or 0)
    info["duration_secs"] = secs
    info["duration"] = _duration(secs)
    info["bitrate"] = int(media.get("bitrate_kbps") or 0)
    if media.get("video"):
        info["video"] = dict(media["video"])
    audio = media.get("audio") or []
    if audio:
        info["audio"] = dict(audio[0])
    return info


def subtitle_tracks(media: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The file's subtitle tracks as XUI lists them (§4.5, §4.7): ``{index, language,
    title}``, ``index`` the stream's index in the file (as ffprobe numbers it); ``title``
    the track's own name, else its language code."""
    tracks = []
    for stream in (media or {}).get("subtitles") or []:
        tags = stream.get("tags") or {}
        language = str(tags.get("language", ""))
        title = str(tags.get("title", "")) or language
        tracks.append({"index": int(stream.get("index", 0)), "language": language, "title": title})
    return tracks


def vod_info(movie: MovieView | None, media: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``get_vod_info`` (§4.5); ``{"info": []}`` (an empty *array*) when not found.
    ``media``: the probed file (media/probe_report.py MediaInfo as a dict), if any."""
    if movie is None:
        # §4.5/§5.1: the PHP empty array; @iptv/xtream-api detects "not found" this way.
        return {"info": []}
    info = {
        "kinopoisk_url": "",
        "tmdb_id": movie.tmdb_id,
        "name": movie.name,
        "o_name": movie.name,
        "cover_big": movie.stream_icon,
        "movie_image": movie.stream_icon,
        "release_date": movie.release_date,
        "releasedate": movie.release_date,
        "episode_run_time": movie.duration_secs // 60,
        "youtube_trailer": movie.youtube_trailer,
        "director": movie.director,
        "actors": movie.cast,
        "cast": movie.cast,
        "description": movie.plot,
        "plot": movie.plot,
        "age": "",
        "mpaa_rating": "",
        "rating_count_kinopoisk": 0,
        "country": "",
        "genre": movie.genre,
        # §13.12: always an array.
        "backdrop_path": list(movie.backdrop_path),
        "duration_secs": movie.duration_secs,
        "duration": _duration(movie.duration_secs),
        "bitrate": 0,
        "rating": movie.rating or 0,
        "subtitles": subtitle_tracks(media),
    }
    _probed(info, media)
    movie_data = {
        "stream_id": movie.id,
        "name": movie.name,
        "title": movie.name,
        "year": _str_or_null(movie.year),
        "added": str(movie.added),
        "category_id": _str_or_null(movie.category_id),
        "category_ids": [] if movie.category_id is None else [movie.category_id],
        "container_extension": movie.container_extension,
        "custom_sid": "",
        "direct_source": "",
    }
    return {"info": info, "movie_data": movie_data}


def _series_fields(series: SeriesView) -> dict[str, Any]:
    return {
        "name": series.name,
        "title": series.name,
        "year": _str_or_null(series.year),
        "cover": series.cover,
        "plot": series.plot,
        "cast": series.cast,
        "director": series.director,
        "genre": series.genre,
        "releaseDate": series.release_date,
        "release_date": series.release_date,
        "last_modified": str(series.last_modified),
        # §4.6: str(int) such as "7".
        "rating": str(round(series.rating or 0)),
        "rating_5based": _rating_5(series.rating),
        # §5.5/§13.12: never "", always an array.
        "backdrop_path": list(series.backdrop_path),
        "youtube_trailer": series.youtube_trailer,
        "episode_run_time": str(series.episode_run_time),
        "category_id": _str_or_null(series.category_id),
        "category_ids": [] if series.category_id is None else [series.category_id],
    }


def series_item(series: SeriesView, num: int) -> dict[str, Any]:
    """A ``get_series`` item (§4.6)."""
    item: dict[str, Any] = {"num": num}
    item.update(_series_fields(series))
    item["stream_type"] = "series"
    item["series_id"] = series.id
    return item


def _episode(
    ep: EpisodeView, series: SeriesView, media: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    return {
        # §4.7: the episode's stream id, a string, used in /series/U/P/ID.EXT.
        "id": str(ep.id),
        # §4.7: XC's number.
        "episode_num": ep.episode_num,
        "title": ep.title,
        "container_extension": ep.container_extension,
        "info": _probed(
            {
                "release_date": ep.release_date,
                "plot": ep.plot,
                "duration_secs": ep.duration_secs,
                "duration": _duration(ep.duration_secs),
                "movie_image": ep.movie_image or series.cover,
                "cover_big": ep.movie_image or series.cover,
                "bitrate": 0,
                "rating": ep.rating or 0,
                "season": ep.season_number,
            },
            media,
        ),
        "subtitles": subtitle_tracks(media),
        "custom_sid": "",
        "added": str(ep.added),
        "season": ep.season_number,
        "direct_source": "",
    }


def series_info(
    series: SeriesView | None,
    seasons: Sequence[SeasonView],
    episodes: Sequence[EpisodeView],
    media: Mapping[int, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """``get_series_info`` (§4.7): ``seasons``, ``info`` and ``episodes`` keyed by season;
    ``media``: probed files by episode id."""
    if series is None:
        # §4.7: XUI's not-found shape (info fields null); keeps every key's type stable.
        return {"seasons": [], "info": {"name": None}, "episodes": {}}
    # §4.7/§5.2/§13.11: an object keyed by season *strings*, even for season "0".
    by_season: dict[str, list[dict[str, Any]]] = {}
    for ep in episodes:
        probed = media.get(ep.id) if media else None
        by_season.setdefault(str(ep.season_number), []).append(_episode(ep, series, probed))
    counts = {k: len(v) for k, v in by_season.items()}
    stored = {s.season_number: s for s in seasons}
    numbers = sorted(set(stored) | {int(k) for k in by_season})
    season_rows = []
    for number in numbers:
        s = stored.get(number)
        row: dict[str, Any] = {
            "episode_count": counts.get(str(number), 0),
            "id": s.id if s else 0,
            "name": (s.name if s and s.name else f"Season {number}"),
            "overview": s.overview if s else "",
            "season_number": number,
            "cover": (s.cover if s and s.cover else series.cover),
            "cover_big": (s.cover if s and s.cover else series.cover),
        }
        # §13.11: a null air_date crashed the Jellyfin plugin: send a date or omit it.
        if s and s.air_date:
            row["air_date"] = s.air_date
        season_rows.append(row)
    return {"seasons": season_rows, "info": _series_fields(series), "episodes": by_season}


def _b64(text: str) -> str:
    # §4.8: title and description stay base64 (UTF-8, standard alphabet, padded).
    return base64.b64encode(text.encode()).decode("ascii")


def epg_row(
    row: ProgrammeRow,
    zone: ZoneInfo,
    *,
    now: int | None = None,
    archive_days: int = 0,
    recorded: Callable[[int, int], bool] | None = None,
) -> dict[str, Any]:
    """One EPG listing (§4.8). With ``now`` it carries the ``get_simple_data_table``
    fields ``now_playing`` and ``has_archive``; ``recorded(start, stop)`` says whether the
    archive really holds that time (never advertise what cannot be played)."""
    out: dict[str, Any] = {
        "id": str(row.id),
        "epg_id": str(row.epg_source_id),
        "title": _b64(row.title),
        "lang": row.lang,
        "start": format_local(row.start, zone),
        "end": format_local(row.stop, zone),
        "description": _b64(row.description),
        "channel_id": row.channel_id,
        # §13.14: robust clients use these; strings.
        "start_timestamp": str(row.start),
        "stop_timestamp": str(row.stop),
    }
    if now is not None:
        out["now_playing"] = 1 if row.start <= now < row.stop else 0
        # §4.8: ended, the channel keeps archive, and the end lies inside the window.
        ended_in_window = row.stop <= now and row.stop > now - archive_days * 86400
        held = archive_days > 0 and ended_in_window
        out["has_archive"] = 1 if held and recorded and recorded(row.start, row.stop) else 0
    return out


def epg_row_unix(row: ProgrammeRow) -> dict[str, Any]:
    """An EPG row for XUI's ``get_epg`` and ``panel_api.php?action=get_epg`` (§3.4, §4.1):
    ``start``/``end`` as unix integers, title/description still base64."""
    return {
        "id": str(row.id),
        "epg_id": str(row.epg_source_id),
        "title": _b64(row.title),
        "lang": row.lang,
        "start": row.start,
        "end": row.stop,
        "description": _b64(row.description),
        "channel_id": row.channel_id,
        "start_timestamp": str(row.start),
        "stop_timestamp": str(row.stop),
    }


def panel_channel(item: dict[str, Any], type_name: str, category_name: str) -> dict[str, Any]:
    """An ``available_channels`` value of ``panel_api.php`` (§3.4) from a list item."""
    live = item["stream_type"] == "live"
    return {
        "num": item["num"],
        "name": item["name"],
        "stream_type": item["stream_type"],
        "type_name": type_name,
        "stream_id": item["stream_id"],
        "stream_icon": item["stream_icon"],
        "epg_channel_id": item.get("epg_channel_id"),
        "added": item["added"],
        "category_name": category_name,
        "category_id": item["category_id"],
        "series_no": None,
        "live": "1" if live else "0",
        "container_extension": item.get("container_extension", "ts" if live else ""),
        "custom_sid": item["custom_sid"],
        "tv_archive": item.get("tv_archive", 0),
        "direct_source": item["direct_source"],
        "tv_archive_duration": item.get("tv_archive_duration", 0),
    }


def live_items(
    live: LiveSection, category_id: int | None, offset: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    """``get_live_streams``: the set's channels, optionally those in one category.

    §4.1: ``num`` counts over the returned list, so it restarts at 1 under a category
    filter; a channel matches a filter by any of its categories (XUI), and the filter's
    category is the one reported.
    """
    if category_id is None:
        chosen = [(c, c.category_ids[0] if c.category_ids else None) for c in live.items]
    else:
        chosen = [(c, category_id) for c in live.items if category_id in c.category_ids]
    end = None if limit is None else offset + limit
    return [live_item(c, offset + i + 1, cat) for i, (c, cat) in enumerate(chosen[offset:end])]


def vod_items(
    vod: VodSection, category_id: int | None, offset: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    chosen = [m for m in vod.items if category_id is None or m.category_id == category_id]
    end = None if limit is None else offset + limit
    return [vod_item(m, offset + i + 1) for i, m in enumerate(chosen[offset:end])]


def series_items(
    series: SeriesSection, category_id: int | None, offset: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    chosen = [s for s in series.items if category_id is None or s.category_id == category_id]
    end = None if limit is None else offset + limit
    return [series_item(s, offset + i + 1) for i, s in enumerate(chosen[offset:end])]
