"""VOD URL forms (reference §8.1) and VOD plays as viewing sessions (§9), plain values."""

from __future__ import annotations

import pytest

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.panel.playback.admission import SessionRegistry, TooManyConnections
from palinsesto.panel.playback.lines import LineView
from palinsesto.panel.playback.stream_paths import (
    BadPath,
    UnknownPath,
    VodKind,
    VodPath,
    parse_delivery_path,
)
from palinsesto.panel.playback.vod_access import VodGrant, VodItem
from palinsesto.panel.playback.vod_plays import VodPlays


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/movie/u/p/42.mp4", VodPath("u", "p", VodKind.movie, 42, "mp4")),
        ("/movie/u/p/42.MKV", VodPath("u", "p", VodKind.movie, 42, "mkv")),
        ("/movie/u/p/42", VodPath("u", "p", VodKind.movie, 42, "")),
        ("/series/u/p/7.m2ts", VodPath("u", "p", VodKind.series, 7, "m2ts")),
        ("/series/a%40b/p/7.mp4", VodPath("a@b", "p", VodKind.series, 7, "mp4")),
    ],
)
def test_vod_paths(path: str, expected: VodPath) -> None:
    assert parse_delivery_path(path) == expected


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/movie/u/p/x.mp4", UnknownPath),
        ("/movie/u/p/42.toolongext", UnknownPath),
        ("/movie/u/p/..", BadPath),
        ("/movie/u/p/%2e%2e%2f1.mp4", BadPath),
        ("/movie/u/p/1.mp4%00", BadPath),
        ("/movie/u//1.mp4", BadPath),
    ],
)
def test_bad_vod_paths(path: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_delivery_path(path)


def _line(max_connections: int) -> LineView:
    return LineView(
        1, 1, "u", "p", None, 0, max_connections, False, True, False, True,
        ("m3u8", "ts"), frozenset(), frozenset(), (1,),
    )  # fmt: skip


def _grant(
    item_id: int, limit: int = 1, policy: ConnectionPolicy = ConnectionPolicy.refuse
) -> VodGrant:
    return VodGrant(
        _line(limit), VodItem(VodKind.movie, item_id, 1, item_id, "a.mp4", True), policy
    )


def test_requests_of_one_play_share_one_session_until_the_last_closes() -> None:
    registry = SessionRegistry()
    plays = VodPlays(registry)
    cut: list[str] = []
    first = plays.open(_grant(5), "1.2.3.4", "vlc", lambda: cut.append("a"))
    seek = plays.open(_grant(5), "1.2.3.4", "vlc", lambda: cut.append("b"))
    assert first.session is seek.session and registry.active_count(1) == 1
    with pytest.raises(TooManyConnections):  # another item is another play
        plays.open(_grant(6), "1.2.3.4", "vlc", lambda: None)
    with pytest.raises(TooManyConnections):  # and so is another device
        plays.open(_grant(5), "1.2.3.9", "tv", lambda: None)
    plays.close(first)
    assert registry.active_count(1) == 1
    plays.close(seek)
    assert registry.active_count(1) == 0 and len(plays) == 0 and cut == []


def test_ending_the_session_cuts_every_request_of_the_play() -> None:
    registry = SessionRegistry()
    plays = VodPlays(registry)
    cut: list[str] = []
    a = plays.open(_grant(5, 2), "ip", "ua", lambda: cut.append("a"))
    plays.open(_grant(5, 2), "ip", "ua", lambda: cut.append("b"))
    registry.end(a.session, "ended by an administrator")
    assert sorted(cut) == ["a", "b"] and len(plays) == 0
    # A new request after the kick starts a new play.
    again = plays.open(_grant(5, 2), "ip", "ua", lambda: None)
    assert again.session is not a.session and registry.active_count(1) == 1


def test_kick_oldest_ends_an_older_play_of_the_same_device() -> None:
    registry = SessionRegistry()
    plays = VodPlays(registry)
    cut: list[int] = []
    kick = ConnectionPolicy.kick_oldest
    plays.open(_grant(5, 1, kick), "ip", "ua", lambda: cut.append(5))
    plays.open(_grant(6, 1, kick), "ip", "ua", lambda: cut.append(6))
    assert cut == [5] and registry.active_count(1) == 1 and len(plays) == 1
