"""Daily usage per tenant, sampled from the session registry (for billing and plans).

Every ``usage_sample_seconds`` the live engine asks :meth:`UsageMeter.sample` what its
viewers used since the last sample: viewer-seconds (each session's time since it was
last metered, exact for sessions that ended in between), the peak of concurrent viewers
(exact: the registry keeps the high-water mark between samples) and egress bytes (what
was sent since the last sample). Figures are added to the ``usage_days`` row of the UTC
day of the sample (accounts/usage.py), so they survive restarts and add up across nodes;
what was used since the last sample is lost if the process dies without stopping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from palinsesto.panel.playback.admission import SessionRegistry


@dataclass(frozen=True, slots=True)
class UsageSample:
    tenant_id: int
    day: date
    viewer_seconds: float
    peak_viewers: int
    egress_bytes: int


class UsageMeter:
    def __init__(self, registry: SessionRegistry, wall: Callable[[], float] = time.time) -> None:
        self._registry = registry
        self._wall = wall
        # Whole seconds go out; each tenant's fraction waits for the next sample, so a day's
        # figure is not skewed by rounding thousands of samples.
        self._carry: dict[int, float] = {}

    def sample(self) -> list[UsageSample]:
        """What each tenant used since the last call (tenants with no viewers left out)."""
        registry = self._registry
        now = self._wall()
        seconds: dict[int, float] = {}
        sent: dict[int, int] = {}
        for tenant_id, (ended_seconds, ended_bytes) in registry.ended_usage.items():
            seconds[tenant_id] = ended_seconds
            sent[tenant_id] = ended_bytes
        registry.ended_usage = {}
        for session in registry.all():
            metered_at, metered_bytes = session.metered
            total = session.bytes
            tid = session.tenant_id
            seconds[tid] = seconds.get(tid, 0.0) + max(0.0, now - metered_at)
            sent[tid] = sent.get(tid, 0) + max(0, total - metered_bytes)
            session.metered = (now, total)
        peaks = registry.peaks
        registry.peaks = {t: registry.tenant_count(t) for t in peaks if registry.tenant_count(t)}
        day = datetime.fromtimestamp(now, UTC).date()
        samples = []
        for tid in sorted(set(seconds) | set(peaks)):
            exact = seconds.get(tid, 0.0) + self._carry.pop(tid, 0.0)
            whole = float(int(exact))
            if exact - whole > 0:
                self._carry[tid] = exact - whole
            samples.append(UsageSample(tid, day, whole, peaks.get(tid, 0), sent.get(tid, 0)))
        return samples
