"""The pure parts behind the panel's live pages: watch tokens, viewer history, ingest URL."""

from __future__ import annotations

from dataclasses import replace

import pytest

from palinsesto.config import ConfigError, Settings, load_settings
from palinsesto.panel.admin.api.routes.live import ingest_url
from palinsesto.panel.admin.live_stats import DAY, HOUR, Observed, ViewerHistory, filled
from palinsesto.panel.playback.watch_tokens import (
    WatchKind,
    WatchTokenRefused,
    WatchTokens,
    is_signed_line,
    watch_path,
)

NOW = 1_750_000_000.0


def test_watch_tokens_name_one_channel_for_one_purpose_until_they_expire() -> None:
    tokens = WatchTokens("secret")
    token = tokens.issue(WatchKind.preview, 3, 42, 7, NOW + 60)
    grant = tokens.verify(token, 42, NOW)
    assert (grant.kind, grant.tenant_id, grant.channel_id, grant.subject_id) == (
        WatchKind.preview,
        3,
        42,
        7,
    )
    line = grant.as_line()
    assert is_signed_line(line.id) and not is_signed_line(2_147_483_647)
    assert line.allowed_outputs == ("m3u8",) and line.max_connections == 0
    assert watch_path(token, 42) == f"/live/~watch/{token}/42.m3u8"
    with pytest.raises(WatchTokenRefused, match="another channel"):
        tokens.verify(token, 43, NOW)
    with pytest.raises(WatchTokenRefused, match="expired"):
        tokens.verify(token, 42, NOW + 61)
    with pytest.raises(WatchTokenRefused, match="signature"):
        WatchTokens("other secret").verify(token, 42, NOW)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for bad in (flipped, "", "not base64 !", token + "AAAA"):
        with pytest.raises(WatchTokenRefused):
            tokens.verify(bad, 42, NOW)


def test_history_keeps_a_peak_point_a_minute_per_tenant_for_a_day() -> None:
    history = ViewerHistory(step=60, span=DAY)
    history.observe([Observed(1, 10, 0), Observed(1, 11, 0), Observed(2, 20, 0)], NOW)
    # 2 s later: 1 MB more from tenant 1's two sessions, 0.5 MB from a new one of tenant 2.
    history.observe(
        [Observed(1, 10, 600_000), Observed(1, 11, 400_000), Observed(2, 21, 500_000)], NOW + 2
    )
    assert history.current(1).viewers == 2 and history.current(1).bandwidth_bps == 4_000_000
    assert history.current(None).viewers == 3
    assert history.current(None).bandwidth_bps == 6_000_000
    # The next minute: tenant 2 has nobody; it gets a zero point, not a gap.
    history.observe([Observed(1, 10, 700_000)], NOW + 70)
    bucket = NOW - NOW % 60
    assert [(p.at, p.viewers) for p in history.series(1, 0)] == [(bucket, 2), (bucket + 60, 1)]
    assert [(p.at, p.viewers) for p in history.series(2, 0)] == [(bucket, 1), (bucket + 60, 0)]
    assert [(p.at, p.viewers) for p in history.series(None, 0)] == [
        (bucket, 3),
        (bucket + 60, 1),
    ]
    assert history.series(None, bucket + 1) == history.series(None, bucket + 60)
    # A day later the first points are gone: at most one day of minutes per tenant.
    for minute in range(2, 24 * 60 + 3):
        history.observe([], NOW + 60 * minute)
    points = history.series(1, 0)
    assert len(points) == 24 * 60 + 1 and points[0].at > bucket + 60
    assert history.series(3, 0) == [] and history.current(3).viewers == 0


def test_history_keeps_an_hour_point_for_a_week_and_fills_the_range() -> None:
    history = ViewerHistory(step=60, span=DAY)
    assert filled([], 0, NOW, 60, history.started_at) == []  # nothing observed: nothing known
    start = NOW - NOW % HOUR
    # Three viewers in the first hour, one for a moment two hours later.
    history.observe([Observed(1, 1, 0), Observed(1, 2, 0), Observed(1, 3, 0)], start + 10)
    history.observe([Observed(1, 4, 0)], start + 2 * HOUR + 5)
    assert history.step_for(start - DAY, start) == 60
    assert history.step_for(start - 7 * DAY, start) == HOUR
    hours = history.series(1, 0, HOUR)
    assert [(p.at, p.viewers) for p in hours] == [(start, 3), (start + 2 * HOUR, 1)]
    now = start + 2 * HOUR + 30
    # Asked for a week: hour buckets from the first observation (not before: unknown) to
    # now, the hour without a point a zero.
    week = filled(hours, now - 7 * DAY, now, HOUR, history.started_at)
    assert [(p.at, p.viewers) for p in week] == [
        (start, 3),
        (start + HOUR, 0),
        (start + 2 * HOUR, 1),
    ]
    # Asked for the last hour: a bucket a minute, 61 of them, the range spanned.
    last = filled(history.series(1, now - HOUR), now - HOUR, now, 60, history.started_at)
    assert (
        len(last) == 61 and last[-1].viewers == 1 and last[0].at == now - HOUR - (now - HOUR) % 60
    )
    # Eight days on, the first hour has gone.
    for hour in range(3, 8 * 24):
        history.observe([], start + hour * HOUR)
    assert history.series(1, 0, HOUR)[0].at > start


def test_ingest_url_comes_from_the_setting_or_the_public_host_and_the_rtmp_port() -> None:
    base = Settings(rtmp_listen="0.0.0.0:1935")
    assert ingest_url(base, 0, "panel.example.net") == "rtmp://panel.example.net:1935/live"
    assert ingest_url(base, 19350, "10.0.0.5") == "rtmp://10.0.0.5:19350/live"
    public = replace(base, public_url="https://tv.example.com")
    assert ingest_url(public, 0, "127.0.0.1") == "rtmp://tv.example.com:1935/live"
    assert ingest_url(public, 0, "::1") == "rtmp://tv.example.com:1935/live"
    assert ingest_url(replace(base, public_url=""), 0, "::1") == "rtmp://[::1]:1935/live"
    chosen = replace(base, rtmp_public_url="rtmp://ingest.example.com:443/live/")
    assert ingest_url(chosen, 1935, "x") == "rtmp://ingest.example.com:443/live"
    assert ingest_url(replace(base, rtmp_listen=""), 0, "x") is None
    with pytest.raises(ConfigError, match="RTMP_PUBLIC_URL"):
        load_settings({"PALINSESTO_RTMP_PUBLIC_URL": "http://wrong"})
