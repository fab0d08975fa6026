"""fast_live_path answers exactly as parse_delivery_path for the paths it takes, and
leaves every other path to it."""

from __future__ import annotations

import random

import pytest

from palinsesto.panel.playback.stream_paths import (
    LivePath,
    fast_live_path,
    parse_delivery_path,
)


def _slow(path: str) -> object:
    try:
        return parse_delivery_path(path)
    except (ValueError, LookupError) as exc:
        return type(exc)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/live/u/p/12.ts", LivePath("u", "p", 12, "ts")),
        ("/live/u/p/12.m3u8", LivePath("u", "p", 12, "m3u8")),
        ("/live/u/p/12", LivePath("u", "p", 12, "ts")),
        ("/u/p/7", LivePath("u", "p", 7, "ts")),
        ("/u/p/7.ch", LivePath("u", "p", 7, "ts")),
        ("/live/p/7", LivePath("live", "p", 7, "ts")),  # the short form of a line "live"
    ],
)
def test_plain_live_paths_are_parsed_alike(path: str, expected: LivePath) -> None:
    assert fast_live_path(path) == expected == parse_delivery_path(path)


@pytest.mark.parametrize(
    "path",
    [
        "/live/u/p/12.mp4",  # unsupported extension: the slow parser says which
        "/live/u%20x/p/1.ts",  # escapes are decoded by the slow parser
        "/live/../p/1.ts",
        "/./p/1",
        "/u/p/1\n",
        "/u/p/1.ts\n",
        "/hls/" + "a" * 30 + "/5",  # a segment path's shape
        "/hls/" + "a" * 30 + "/5.ts",
        "/vodhls/" + "a" * 30 + "/5.ts",  # a movie's HLS segment
        "/movie/u/p/3.mkv",
        "/live/u/p/q/1.ts",
        "/u/p/x1",
        "/u/p/" + "1" * 11,
        "/u\\x/p/1",
        "/" + "u" * 1100 + "/p/1",
    ],
)
def test_other_paths_are_left_to_the_full_parser(path: str) -> None:
    assert fast_live_path(path) is None


def test_random_paths_never_disagree() -> None:
    rng = random.Random(11)
    pieces = ["a", "b", "1", "7", ".", "..", "%", "%2f", "\x00", "\n", "\\", "live", "é", ".ts"]
    taken = 0
    for _ in range(20_000):
        segments = [
            "".join(rng.choice(pieces) for _ in range(rng.randint(0, 3)))
            for _ in range(rng.randint(1, 4))
        ]
        last = rng.choice(["1", "7", "12", "x"]) + rng.choice(["", ".ts", ".m3u8", ".ch", ".x"])
        path = "/" + "/".join([*segments, last])
        fast = fast_live_path(path)
        if fast is not None:
            taken += 1
            assert fast == _slow(path), path
    assert taken > 200  # the comparison was made often
