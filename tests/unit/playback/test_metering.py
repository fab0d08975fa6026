"""The plan's concurrent-viewer limit and the usage meter on a session registry, with
clocks the test moves (no sleeping)."""

from __future__ import annotations

from datetime import date

import pytest

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.panel.playback.admission import SessionRegistry, TooManyViewers
from palinsesto.panel.playback.lines import LineView
from palinsesto.panel.playback.metering import UsageMeter

DAY = 1_764_374_400.0  # 2025-11-29 00:00:00 UTC


def _line(line_id: int, tenant_id: int, max_connections: int = 0) -> LineView:
    return LineView(
        id=line_id, tenant_id=tenant_id, username=f"u{line_id}", password="p", exp_date=None,
        created_at=0, max_connections=max_connections, is_trial=False, enabled=True,
        banned=False, tenant_active=True, allowed_outputs=("ts", "m3u8"),
        allowed_ips=frozenset(), allowed_user_agents=frozenset(), bouquet_ids=(1,),
    )  # fmt: skip


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_plan_limit_refuses_whatever_the_policy_and_counts_only_its_tenant() -> None:
    registry = SessionRegistry()
    a, b = _line(1, tenant_id=10), _line(2, tenant_id=20)
    for ua in ("tv", "phone"):
        registry.admit(a, 5, "1.1.1.1", ua, "ts", ConnectionPolicy.kick_oldest, 2)
    with pytest.raises(TooManyViewers) as refused:
        registry.admit(a, 5, "1.1.1.1", "tablet", "ts", ConnectionPolicy.kick_oldest, 2)
    assert refused.value.code == "TENANT_MAX_VIEWERS"
    assert registry.tenant_count(10) == 2
    registry.admit(b, 5, "2.2.2.2", "tv", "ts", ConnectionPolicy.refuse, 2)  # another tenant
    registry.end(registry.all()[0], "viewer left")
    registry.admit(a, 5, "1.1.1.1", "tablet", "ts", ConnectionPolicy.kick_oldest, 2)
    assert registry.tenant_count(10) == 2 and registry.tenant_count(20) == 1


def test_a_line_at_its_own_limit_replaces_its_session_within_the_plan() -> None:
    registry = SessionRegistry()
    line = _line(1, tenant_id=10, max_connections=1)
    registry.admit(line, 5, "1.1.1.1", "tv", "ts", ConnectionPolicy.kick_oldest, 1)
    zapped = registry.admit(line, 6, "1.1.1.1", "tv", "ts", ConnectionPolicy.kick_oldest, 1)
    assert registry.all() == [zapped] and registry.tenant_count(10) == 1


def test_meter_counts_seconds_peaks_and_bytes_of_live_and_ended_sessions() -> None:
    wall = Clock(DAY + 100)
    registry = SessionRegistry(wall=wall)
    meter = UsageMeter(registry, wall=wall)
    line = _line(1, tenant_id=10)
    s1 = registry.admit(line, 5, "1.1.1.1", "tv", "ts", ConnectionPolicy.refuse)
    s2 = registry.admit(line, 5, "1.1.1.1", "phone", "ts", ConnectionPolicy.refuse)
    s3 = registry.admit(line, 5, "1.1.1.1", "box", "hls", ConnectionPolicy.refuse)
    wall.now += 10
    s1.bytes_sent, s2.bytes_sent, s3.bytes_sent = 1000, 2000, 500
    registry.end(s3, "idle: no HLS request")  # ended between samples: still counted
    wall.now += 5
    [first] = meter.sample()
    assert (first.tenant_id, first.day) == (10, date(2025, 11, 29))
    assert first.viewer_seconds == pytest.approx(15 + 15 + 10)
    assert first.peak_viewers == 3 and first.egress_bytes == 3500
    wall.now += 30
    s1.bytes_sent = 4000
    [second] = meter.sample()
    assert second.viewer_seconds == pytest.approx(60) and second.egress_bytes == 3000
    assert second.peak_viewers == 2  # the peak restarts from who is still watching
    registry.end(s1, "viewer left")
    registry.end(s2, "viewer left")
    assert meter.sample()[0].viewer_seconds == 0  # ended at the sample's time
    assert meter.sample() == []  # nobody watching, nothing to add


def test_fractions_of_seconds_are_carried_not_rounded_away() -> None:
    wall = Clock(DAY)
    registry = SessionRegistry(wall=wall)
    meter = UsageMeter(registry, wall=wall)
    registry.admit(_line(1, tenant_id=10), 5, "1.1.1.1", "tv", "ts", ConnectionPolicy.refuse)
    total = 0.0
    for _ in range(100):
        wall.now += 0.4  # rounding each sample would count 0 every time
        total += meter.sample()[0].viewer_seconds
    assert total in (39, 40)  # short of 40 s only by the fraction still carried
