"""The node's session registry: what heartbeats report, and what the panel's end refuses."""

from __future__ import annotations

from palinsesto.node.sessions import NodeSessions
from palinsesto.protocol.play_tokens import PlayKind


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_beat_not_acknowledged_is_said_again_with_what_came_after() -> None:
    sessions = NodeSessions()
    first = sessions.open(1, 1, 11, 7, PlayKind.ts, 2_000_000_000)
    sent = sessions.snapshot()  # this beat fails: nothing acknowledged
    assert sent.started == [1]
    sessions.open(2, 1, 12, 7, PlayKind.hls, 2_000_000_000)
    sessions.end(first, "viewer left")
    again = sessions.snapshot()
    assert again.started == [1, 2] and [e.session_id for e in again.ended] == [1]
    sessions.acknowledged(again)
    sessions.open(3, 1, 13, 7, PlayKind.ts, 2_000_000_000)
    assert sessions.snapshot().started == [3] and sessions.snapshot().ended == []


def test_one_session_per_token_and_a_second_end_is_not_reported() -> None:
    sessions = NodeSessions()
    one = sessions.open(5, 1, 11, 7, PlayKind.hls, 2_000_000_000)
    assert sessions.open(5, 1, 11, 7, PlayKind.hls, 2_000_000_000) is one
    sessions.end(one, "viewer left")
    sessions.end(one, "again")
    assert [e.reason for e in sessions.snapshot().ended] == ["viewer left"]


def test_sessions_the_panel_ended_are_cut_and_refused_until_their_token_expires() -> None:
    clock = Clock()
    sessions = NodeSessions(clock)
    cut: list[int] = []
    running = sessions.open(8, 1, 11, 7, PlayKind.ts, int(clock.now) + 30)
    running.cut = lambda: cut.append(8)
    assert sessions.end_by_panel((8, 9), far=int(clock.now) + 60) == 1
    assert cut == [8] and sessions.get(8) is None
    assert sessions.refused(8) and sessions.refused(9)  # 9 was not here yet: refused too
    clock.now += 31
    sessions.expire_idle()
    assert not sessions.refused(8) and sessions.refused(9)
    clock.now += 30
    sessions.expire_idle()
    assert not sessions.refused(9)


def test_an_hls_session_ends_after_its_timeout_without_requests() -> None:
    clock = Clock()
    sessions = NodeSessions(clock)
    sessions.hls_timeout = 10
    hls = sessions.open(1, 1, 11, 7, PlayKind.hls, 0)
    ts = sessions.open(2, 1, 12, 7, PlayKind.ts, 0)
    hls.bytes_sent = 500
    clock.now += 8
    sessions.touch(hls)
    clock.now += 8
    sessions.expire_idle()
    assert sessions.get(1) is hls
    clock.now += 3
    sessions.expire_idle()
    assert sessions.get(1) is None and sessions.get(2) is ts  # TS lives with its socket
    assert sessions.bytes_sent() == 500


def test_a_vod_play_lives_while_it_sends_or_asks_and_is_no_viewer_of_a_channel() -> None:
    clock = Clock()
    sessions = NodeSessions(clock)
    sessions.hls_timeout = 30.0
    live = sessions.open(1, 1, 11, 7, PlayKind.ts, 2_000_000_000)
    vod = sessions.open(2, 1, 12, 7, PlayKind.vod, 2_000_000_000)  # movie 7, not channel 7
    assert sessions.of_channel(7) == 1 and sessions.of_channel(7, PlayKind.vod) == 1
    vod.sending = 1  # a long range being sent: never idle meanwhile
    clock.now += 120
    sessions.expire_idle()
    assert sessions.get(2) is vod and sessions.get(1) is live
    vod.sending = 0
    sessions.touch(vod)
    clock.now += 29
    sessions.expire_idle()
    assert sessions.get(2) is vod
    clock.now += 2
    sessions.expire_idle()
    assert sessions.get(2) is None and sessions.get(1) is live
    assert [e.reason for e in sessions.snapshot().ended] == ["idle: no request"]
