"""A channel's audience, for its creator: viewers now, peak, watch time, apps, countries.

Fed by the live sampler (admin/live_stats.py) with the sessions playing at each sample, like
the dashboard's history, and kept in memory for a day: per channel, the sessions seen in
that day (their start and last sighting give the watch time) and the highest viewer count
of each minute (the peak). What a creator sees is counts, never an address: the country
comes from the address (trust/geo.py, "unknown" without a GeoIP database) and the app from
the user agent's family.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

DAY = 24 * 3600.0
UNKNOWN = "unknown"

# (needle in the lower-cased user agent, family), first match wins: apps before the
# browsers and libraries they embed.
_FAMILIES = (
    ("tivimate", "TiviMate"),
    ("smarters", "IPTV Smarters"),
    ("kodi", "Kodi"),
    ("vlc", "VLC"),
    ("lavf", "FFmpeg"),
    ("ffmpeg", "FFmpeg"),
    ("mpv", "mpv"),
    ("exoplayer", "ExoPlayer"),
    ("gse", "GSE Smart IPTV"),
    ("mag", "MAG box"),
    ("edg/", "Edge"),
    ("firefox", "Firefox"),
    ("chrome", "Chrome"),
    ("safari", "Safari"),
)


def app_family(user_agent: str) -> str:
    """The player family a user agent names ("Other" when none is recognised)."""
    lowered = user_agent.lower()
    for needle, family in _FAMILIES:
        if needle in lowered:
            return family
    return "Other" if user_agent else UNKNOWN


@dataclass(frozen=True, slots=True)
class Watching:
    """One live session at a sample."""

    tenant_id: int
    channel_id: int
    session_id: int
    started_at: float
    ip: str
    user_agent: str


@dataclass(frozen=True, slots=True)
class ChannelAudience:
    viewers_now: int
    peak_viewers: int
    watch_seconds: int
    by_app: dict[str, int]
    by_country: dict[str, int]


Key = tuple[int, int]  # (tenant id, channel id)


class AudienceBook:
    def __init__(
        self,
        country: Callable[[str], str | None] = lambda address: None,
        span: float = DAY,
        step: float = 60.0,
    ) -> None:
        self._country, self.span, self.step = country, span, step
        self._now: dict[Key, list[Watching]] = {}
        self._seen: dict[Key, dict[int, tuple[float, float]]] = {}  # session: (start, last)
        self._peaks: dict[Key, deque[tuple[float, int]]] = {}  # (minute, most viewers)

    def observe(self, sessions: Iterable[Watching], now: float) -> None:
        current: dict[Key, list[Watching]] = {}
        for s in sessions:
            key = (s.tenant_id, s.channel_id)
            current.setdefault(key, []).append(s)
            self._seen.setdefault(key, {})[s.session_id] = (s.started_at, now)
        self._now = current
        bucket = now - now % self.step
        for key in set(current) | set(self._peaks):
            count = len(current.get(key, ()))
            peaks = self._peaks.setdefault(key, deque())
            if peaks and peaks[-1][0] == bucket:
                peaks[-1] = (bucket, max(peaks[-1][1], count))
            elif count:
                peaks.append((bucket, count))
            while peaks and peaks[0][0] < now - self.span:
                peaks.popleft()
        for seen in self._seen.values():
            for session_id in [i for i, (_, last) in seen.items() if last < now - self.span]:
                del seen[session_id]
        for key in [k for k, v in self._peaks.items() if not v]:
            del self._peaks[key]

    def figures(self, tenant_id: int, channel_id: int, now: float) -> ChannelAudience:
        key = (tenant_id, channel_id)
        watching = self._now.get(key, [])
        since = now - self.span
        watch = sum(
            max(0.0, last - max(start, since)) for start, last in self._seen.get(key, {}).values()
        )
        by_app: dict[str, int] = {}
        by_country: dict[str, int] = {}
        for s in watching:
            app = app_family(s.user_agent)
            by_app[app] = by_app.get(app, 0) + 1
            country = self._country(s.ip) or UNKNOWN
            by_country[country] = by_country.get(country, 0) + 1
        peak = max((count for _, count in self._peaks.get(key, ())), default=0)
        return ChannelAudience(
            len(watching), max(peak, len(watching)), int(watch), by_app, by_country
        )
