"""Every XMLTV time form to unix seconds."""

from __future__ import annotations

import calendar
from zoneinfo import ZoneInfo

import pytest

from palinsesto.epg.xmltv_time import BadTime, format_xmltv_time, parse_xmltv_time

NOON_UTC = calendar.timegm((2026, 3, 1, 12, 0, 0))


@pytest.mark.parametrize(
    "text",
    [
        "20260301120000 +0000",
        "20260301130000 +0100",
        "20260301130000 +01:00",
        "20260301130000+0100",
        "20260301140000 +02",
        "20260301070000 -0500",
        "20260301120000 Z",
        "20260301120000 GMT",
        "20260301120000",  # no zone: UTC (XMLTV DTD)
        "202603011200",  # no seconds
        "202603011300 +0100",
        "  20260301120000 +0000  ",
    ],
)
def test_time_forms_read_the_same_instant(text: str) -> None:
    assert parse_xmltv_time(text) == NOON_UTC


def test_truncated_to_the_day_and_month() -> None:
    assert parse_xmltv_time("20260301") == calendar.timegm((2026, 3, 1, 0, 0, 0))
    assert parse_xmltv_time("202603") == calendar.timegm((2026, 3, 1, 0, 0, 0))


def test_missing_offset_uses_the_sources_zone_with_daylight_saving() -> None:
    rome = ZoneInfo("Europe/Rome")
    assert parse_xmltv_time("20260301130000", rome) == NOON_UTC  # CET, +0100
    summer = calendar.timegm((2026, 7, 1, 12, 0, 0))
    assert parse_xmltv_time("20260701140000", rome) == summer  # CEST, +0200
    # An explicit offset wins over the source's zone.
    assert parse_xmltv_time("20260301120000 +0000", rome) == NOON_UTC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "tomorrow",
        "2026030112000",
        "20261301120000 +0000",
        "20260230120000 +0000",
        "20260301250000 +0000",
        "20260301120000 +9900",
        "20260301120000 CEST+",
    ],
)
def test_nonsense_is_refused_with_the_text_quoted(text: str) -> None:
    with pytest.raises(BadTime):
        parse_xmltv_time(text)


def test_format_always_has_seconds_and_offset() -> None:
    assert format_xmltv_time(NOON_UTC) == "20260301120000 +0000"
