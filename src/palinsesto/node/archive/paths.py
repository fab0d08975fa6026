"""Timeshift URLs, parsed sans I/O (reference §8.5, §2 routing notes).

Forms: ``/timeshift/U/P/DURATION/START/ID.ext``, XC's MAG order
``/timeshifts/U/P/DURATION/ID/START.ext`` and the query form
``/streaming/timeshift.php?username=U&password=P&stream=ID&start=START&duration=MIN``.
``DURATION`` is in minutes; ``START`` is a wall-clock time in the panel's time zone
(``server_info.timezone``), in any of the spellings §8.5 lists as seen in the wild.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote
from zoneinfo import ZoneInfo

TIMESHIFT_PREFIXES = ("/timeshift/", "/timeshifts/", "/streaming/timeshift.php")
EXTENSIONS = {"ts": "ts", "m3u8": "m3u8", "": "ts"}
MAX_DURATION_MINUTES = 24 * 60
# §8.5: YYYY-MM-DD:HH-MM, :HH-MM-SS, _HH-MM, :HH:MM:SS, " HH:MM:SS", and XC's YYYYMMDD-HH.
_START = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[:_ T](\d{2})[-:](\d{2})(?:[-:](\d{2}))?$"
    r"|^(\d{4})(\d{2})(\d{2})-(\d{2})$"
)
_ID = re.compile(r"^(\d{1,10})(?:\.([a-z0-9]{1,5}))?$")


class BadTimeshift(ValueError):
    """The timeshift request is malformed (400), with the reason."""


@dataclass(frozen=True, slots=True)
class TimeshiftRequest:
    username: str
    password: str
    stream_id: int
    start: float  # unix seconds
    duration: int  # seconds
    output: str  # "ts" or "m3u8"


def parse_start(raw: str, zone: ZoneInfo) -> float:
    """A §8.5 start time in ``zone`` to unix seconds; BadTimeshift if unreadable."""
    match = _START.match(raw.strip())
    if not match:
        raise BadTimeshift("start must look like YYYY-MM-DD:HH-MM")
    g = match.groups()
    if g[0] is not None:
        fields = [int(x) for x in g[:5]] + [int(g[5] or 0)]
    else:
        fields = [int(x) for x in g[6:10]] + [0, 0]
    try:
        y, mo, d, h, mi, sec = fields
        return datetime(y, mo, d, h, mi, sec, tzinfo=zone).timestamp()
    except ValueError:
        raise BadTimeshift("start is not a valid date and time") from None


def _duration(raw: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) <= MAX_DURATION_MINUTES:
        raise BadTimeshift(f"duration must be 1-{MAX_DURATION_MINUTES} minutes")
    return int(raw) * 60


def _stream(raw: str) -> tuple[int, str]:
    match = _ID.match(raw)
    if not match:
        raise BadTimeshift("stream id must be numeric")
    ext = match[2] or ""
    if ext not in EXTENSIONS:
        raise BadTimeshift(f"unsupported extension {ext!r}")
    return int(match[1]), EXTENSIONS[ext]


def parse_timeshift(path: str, query: dict[str, str], zone: ZoneInfo) -> TimeshiftRequest:
    """A timeshift URL to a :class:`TimeshiftRequest`; BadTimeshift otherwise."""
    if "%2f" in path.lower() or "\\" in path:
        raise BadTimeshift("encoded separators are not allowed")
    parts = [unquote(p) for p in path[1:].split("/")]
    if any(p in ("", ".", "..") for p in parts):
        raise BadTimeshift("empty or dot segments are not allowed")
    if parts[0] == "streaming" and len(parts) == 2:
        try:
            user, pw, stream = query["username"], query["password"], query["stream"]
            start, duration = query["start"], query["duration"]
        except KeyError as missing:
            raise BadTimeshift(f"missing parameter {missing}") from None
        stream_id, output = _stream(stream)
        ext = query.get("extension", "")
        if ext:
            output = _stream(f"{stream_id}.{ext}")[1]
        return TimeshiftRequest(
            user, pw, stream_id, parse_start(start, zone), _duration(duration), output
        )
    if parts[0] == "timeshift" and len(parts) == 6:
        user, pw, duration, start, last = parts[1:]
        stream_id, output = _stream(last)
        return TimeshiftRequest(
            user, pw, stream_id, parse_start(start, zone), _duration(duration), output
        )
    if parts[0] == "timeshifts" and len(parts) == 6:
        user, pw, duration, stream, last = parts[1:]
        start, _, ext = last.rpartition(".") if "." in last else (last, "", "")
        stream_id, output = _stream(f"{stream}.{ext}" if ext else stream)
        return TimeshiftRequest(
            user, pw, stream_id, parse_start(start, zone), _duration(duration), output
        )
    raise BadTimeshift("not a timeshift URL")
