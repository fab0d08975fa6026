"""The creator's audience book, driven with a clock of its own: viewers now, the peak of the
last day, watch time, apps and countries, and nothing of another tenant's channel."""

from __future__ import annotations

from palinsesto.panel.admin.audience import AudienceBook, Watching, app_family


def _s(session: int, ua: str = "VLC/3.0.18 LibVLC/3.0.18", ip: str = "198.51.100.1",
       channel: int = 7, tenant: int = 1, start: float = 1000.0) -> Watching:  # fmt: skip
    return Watching(tenant, channel, session, start, ip, ua)


def test_user_agents_are_grouped_by_player_family() -> None:
    assert app_family("Lavf/60.16.100") == "FFmpeg"
    assert app_family("VLC/3.0.18 LibVLC/3.0.18") == "VLC"
    assert app_family("Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36") == "Chrome"
    assert app_family("TiviMate/4.7.0 (Android 11)") == "TiviMate"
    assert app_family("SomethingNew/1.0") == "Other"
    assert app_family("") == "unknown"


def test_viewers_peak_watch_time_apps_and_countries() -> None:
    countries = {"198.51.100.1": "IT", "203.0.113.9": "DE"}
    book = AudienceBook(countries.get)
    book.observe([_s(1), _s(2, ua="Lavf/60", ip="203.0.113.9"), _s(3, ip="192.0.2.1")], 1060.0)
    book.observe([_s(1), _s(9, channel=8)], 1120.0)
    now = book.figures(1, 7, 1120.0)
    assert now.viewers_now == 1 and now.peak_viewers == 3
    # Session 1 watched 120 s so far; 2 and 3 were last seen 60 s in.
    assert now.watch_seconds == 120 + 60 + 60
    assert now.by_app == {"VLC": 1} and now.by_country == {"IT": 1}
    first = AudienceBook(countries.get)
    first.observe([_s(1), _s(2, ua="Lavf/60", ip="203.0.113.9"), _s(3, ip="192.0.2.1")], 1060.0)
    assert first.figures(1, 7, 1060.0).by_country == {"IT": 1, "DE": 1, "unknown": 1}
    assert first.figures(1, 7, 1060.0).by_app == {"VLC": 2, "FFmpeg": 1}
    # Another tenant's channel with the same id is another audience.
    assert book.figures(2, 7, 1120.0).viewers_now == 0
    assert book.figures(1, 8, 1120.0).viewers_now == 1


def test_a_day_later_the_old_peak_and_watch_time_are_forgotten() -> None:
    book = AudienceBook(span=3600.0)
    book.observe([_s(i) for i in range(5)], 1060.0)
    book.observe([], 1060.0 + 3600.0 + 120.0)
    later = book.figures(1, 7, 1060.0 + 3600.0 + 120.0)
    assert (later.viewers_now, later.peak_viewers, later.watch_seconds) == (0, 0, 0)
