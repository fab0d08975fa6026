"""Range planning, sans I/O (RFC 9110 §14)."""

from __future__ import annotations

import pytest

from palinsesto.node.http_range import ByteSpan, RangeNotSatisfiable, plan_range, whole

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=0-499", 0, 499),
        ("bytes=500-", 500, 999),
        ("bytes=999-999", 999, 999),
        ("bytes=-1", 999, 999),
        ("bytes=-500", 500, 999),
        ("bytes=-5000", 0, 999),  # suffix longer than the file: all of it
        ("bytes=990-5000", 990, 999),  # end clipped to the file
        ("BYTES = 10 - 20", 10, 20),  # case and spaces tolerated
        ("bytes=0-1,", 0, 1),  # empty list elements are ignored (§5.6.1)
    ],
)
def test_single_ranges(header: str, start: int, end: int) -> None:
    span = plan_range(header, SIZE)
    assert span == ByteSpan(start, end, SIZE, partial=True)
    assert span.length == end - start + 1
    assert span.content_range() == f"bytes {start}-{end}/{SIZE}"


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-2000", "bytes=-0", "bytes=5000-"])
def test_ranges_past_the_end_are_unsatisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        plan_range(header, SIZE)


@pytest.mark.parametrize(
    "header",
    [None, "", "bytes=5-1", "items=0-1", "bytes=abc", "bytes=1-2-3", "bytes=", "bytes=0-1,2-3"],
)
def test_absent_malformed_or_multiple_ranges_mean_the_whole_file(header: str | None) -> None:
    assert plan_range(header, SIZE) == whole(SIZE)


def test_several_ranges_all_past_the_end_are_unsatisfiable() -> None:
    with pytest.raises(RangeNotSatisfiable):
        plan_range("bytes=2000-,3000-", SIZE)


def test_if_range_must_match_a_current_validator() -> None:
    kwargs = {"etag": '"abc"', "last_modified": "Sun, 29 Nov 2026 00:00:00 GMT"}
    assert plan_range("bytes=0-9", SIZE, if_range='"abc"', **kwargs).partial
    assert plan_range("bytes=0-9", SIZE, if_range=kwargs["last_modified"], **kwargs).partial
    assert plan_range("bytes=0-9", SIZE, if_range='"old"', **kwargs) == whole(SIZE)
    assert plan_range("bytes=0-9", SIZE, if_range="", **kwargs) == whole(SIZE)


def test_an_empty_file() -> None:
    assert whole(0).length == 0
    with pytest.raises(RangeNotSatisfiable):
        plan_range("bytes=0-", 0)
    with pytest.raises(RangeNotSatisfiable):
        plan_range("bytes=-10", 0)
