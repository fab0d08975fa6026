"""XMLTV time stamps to unix seconds.

The XMLTV DTD writes times as ``YYYYMMDDhhmmss ±hhmm``; parts may be left off from the
right (``YYYYMMDDhhmm``, ``YYYYMMDD``...) and the zone may be missing, in which case UTC is
meant (reference §7.2). Feeds in the wild also write ``+01:00``, ``+01``, ``Z`` or ``GMT``,
and some providers leave the zone off while meaning their local time: a source can name
that zone.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, tzinfo

_STAMP = re.compile(r"\s*(\d{4,14})\s*(.*?)\s*$")
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})?$")
_UTC_NAMES = frozenset({"Z", "UTC", "GMT", "UT"})


class BadTime(ValueError):
    """A time stamp that no XMLTV form can read; the message quotes it."""


def _offset_seconds(zone: str, cache: dict[str, int] = {}) -> int:  # noqa: B006 - a cache
    seconds = cache.get(zone)
    if seconds is not None:
        return seconds
    if zone.upper() in _UTC_NAMES:
        seconds = 0
    else:
        match = _OFFSET.fullmatch(zone)
        if match is None:
            raise BadTime(f"unknown time zone {zone!r}")
        sign, hours, minutes = match.groups()
        if int(hours) > 14 or int(minutes or 0) > 59:
            raise BadTime(f"time zone offset out of range {zone!r}")
        seconds = (int(hours) * 3600 + int(minutes or 0) * 60) * (-1 if sign == "-" else 1)
    cache[zone] = seconds
    return seconds


def parse_xmltv_time(text: str, default_zone: tzinfo = UTC) -> int:
    """Unix seconds of an XMLTV time stamp; ``default_zone`` applies when it has no zone."""
    match = _STAMP.fullmatch(text)
    if match is None:
        raise BadTime(f"not an XMLTV time {text!r}")
    digits, zone = match.groups()
    if len(digits) % 2:
        raise BadTime(f"not an XMLTV time {text!r}")
    year = int(digits[0:4])
    month = int(digits[4:6] or 1)
    day = int(digits[6:8] or 1)
    hour = int(digits[8:10] or 0)
    minute = int(digits[10:12] or 0)
    second = int(digits[12:14] or 0)
    try:
        if zone:
            # timegm is several times faster than building an aware datetime: one import
            # parses a million of these.
            if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
                raise ValueError("day is out of range for month")
            if hour > 23 or minute > 59 or second > 60:
                raise ValueError("time of day out of range")
            stamp = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
            return stamp - _offset_seconds(zone)
        moment = datetime(year, month, day, hour, minute, second, tzinfo=default_zone)
        return int(moment.timestamp())
    except ValueError as exc:
        if isinstance(exc, BadTime):
            raise
        raise BadTime(f"not a date {text!r}: {exc}") from exc


def format_xmltv_time(stamp: int) -> str:
    """``YYYYMMDDhhmmss +0000``: seconds and an explicit zone always (reference §7.2)."""
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y%m%d%H%M%S +0000")
