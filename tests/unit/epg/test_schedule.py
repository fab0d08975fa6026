"""Weekly shows expanded into programmes, across daylight-saving changes, and the live mark."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from palinsesto.epg.schedule import LIVE_PREFIX, Occurrence, ShowRule, expand, with_live_mark

ROME = ZoneInfo("Europe/Rome")


def at(*args: int) -> int:
    return int(datetime(*args, tzinfo=ROME).timestamp())


def rule(**kw: object) -> ShowRule:
    values: dict[str, object] = {
        "id": 7,
        "channel_id": 1,
        "title": "Drum lesson",
        "description": "Paradiddles",
        "start": at(2026, 3, 17, 19, 0),  # a Tuesday
        "stop": at(2026, 3, 17, 20, 0),
        "weekly_days": (2, 4),  # Tuesdays and Thursdays
        "repeat_until": None,
        "timezone": "Europe/Rome",
        "lang": "it",
    }
    values.update(kw)
    return ShowRule(**values)  # type: ignore[arg-type]


def test_weekly_show_keeps_its_local_time_across_daylight_saving() -> None:
    found = expand(rule(), at(2026, 3, 16, 0, 0), at(2026, 4, 3, 0, 0))
    local = [datetime.fromtimestamp(o.start, ROME).strftime("%a %d %H:%M") for o in found]
    # Summer time starts on Sunday 29 March: still 19:00 in Rome afterwards.
    assert local == [
        "Tue 17 19:00",
        "Thu 19 19:00",
        "Tue 24 19:00",
        "Thu 26 19:00",
        "Tue 31 19:00",
        "Thu 02 19:00",
    ]
    assert all(o.stop - o.start == 3600 for o in found)
    assert len({o.id for o in found}) == 6 and found[0].title == "Drum lesson"


def test_repeat_until_and_first_occurrence_bound_the_series() -> None:
    found = expand(
        rule(repeat_until=at(2026, 3, 25, 0, 0)), at(2026, 1, 1, 0, 0), at(2026, 6, 1, 0, 0)
    )
    assert [datetime.fromtimestamp(o.start, ROME).day for o in found] == [17, 19, 24]


def test_a_one_off_show_and_a_window_that_cuts_it() -> None:
    once = rule(weekly_days=())
    assert [o.start for o in expand(once, at(2026, 3, 17, 19, 30), at(2026, 3, 18, 0, 0))] == [
        at(2026, 3, 17, 19, 0)
    ]
    assert expand(once, at(2026, 3, 17, 20, 0), at(2026, 3, 18, 0, 0)) == []


def test_live_mark_on_the_running_show_or_a_filler() -> None:
    shows = [
        Occurrence(1, 100, 200, "A", "", ""),
        Occurrence(2, 300, 400, "B", "", ""),
    ]
    assert with_live_mark(shows, None, 150, "Studio") == shows
    marked = with_live_mark(shows, 120, 150, "Studio")
    assert [o.title for o in marked] == [LIVE_PREFIX + "A", "B"]
    filler = with_live_mark(shows, 210, 250, "Studio")
    assert [(o.title, o.start, o.stop) for o in filler] == [
        ("A", 100, 200),
        (LIVE_PREFIX + "Studio", 210, 300),  # until the next show
        ("B", 300, 400),
    ]
