"""Viewers and bandwidth out per tenant: the figures now, one point a minute for 24 h and
one point an hour for 7 days.

The live engine keeps only what plays now (its sessions); the dashboard also wants the last
day. :class:`ViewerHistory` is fed an observation of the sessions every few seconds (by
:class:`LiveSampler`, on the engine's loop) and keeps, per tenant, a bounded deque of minute
points in memory: 1,440 small tuples a tenant, lost on restart, which is what a dashboard
chart needs; 168 hour points more let it show a week. ``observe`` is pure (sessions and
a time in), so tests drive it with any clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from palinsesto.panel.admin.audience import AudienceBook, Watching

DAY = 24 * 3600
WEEK = 7 * DAY
HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Point:
    at: float  # unix time: the start of the minute (history) or the observation (now)
    viewers: int
    bandwidth_bps: float  # bits per second sent to viewers


@dataclass(frozen=True, slots=True)
class Observed:
    """One playing session, as the sampler sees it."""

    tenant_id: int
    session_id: int
    bytes_sent: int


class ViewerHistory:
    def __init__(
        self,
        step: float = 60.0,
        span: float = DAY,
        coarse_step: float = HOUR,
        coarse_span: float = WEEK,
    ) -> None:
        self.step, self.coarse_step = step, coarse_step
        self.span, self.coarse_span = span, coarse_span
        self._keep = int(span // step) + 1
        self._coarse_keep = int(coarse_span // coarse_step) + 1
        self._points: dict[int, deque[Point]] = {}
        self._coarse: dict[int, deque[Point]] = {}
        self._now: dict[int, Point] = {}
        self._bytes: dict[int, int] = {}
        self._last_at: float | None = None
        # When the first observation was made: before it, nothing is known (not zero).
        self.started_at: float | None = None

    def observe(self, sessions: Iterable[Observed], now: float) -> None:
        """Record what plays at ``now``; the bandwidth is the bytes sent since the last call."""
        viewers: dict[int, int] = {}
        sent: dict[int, int] = {}
        seen: dict[int, int] = {}
        for s in sessions:
            viewers[s.tenant_id] = viewers.get(s.tenant_id, 0) + 1
            before = self._bytes.get(s.session_id, 0)
            sent[s.tenant_id] = sent.get(s.tenant_id, 0) + max(0, s.bytes_sent - before)
            seen[s.session_id] = s.bytes_sent
        elapsed = now - self._last_at if self._last_at is not None else 0.0
        self._bytes, self._last_at = seen, now
        if self.started_at is None:
            self.started_at = now
        for tenant_id in set(viewers) | set(self._points):
            rate = sent.get(tenant_id, 0) * 8 / elapsed if elapsed > 0 else 0.0
            point = Point(now, viewers.get(tenant_id, 0), rate)
            self._now[tenant_id] = point
            fine = self._points.setdefault(tenant_id, deque(maxlen=self._keep))
            coarse = self._coarse.setdefault(tenant_id, deque(maxlen=self._coarse_keep))
            _fold(fine, now - now % self.step, point)
            _fold(coarse, now - now % self.coarse_step, point)

    def current(self, tenant_id: int | None) -> Point:
        """The latest observation of one tenant, or of all of them (``None``)."""
        chosen = [p for t, p in self._now.items() if tenant_id is None or t == tenant_id]
        return Point(
            max((p.at for p in chosen), default=self._last_at or 0.0),
            sum(p.viewers for p in chosen),
            sum(p.bandwidth_bps for p in chosen),
        )

    def step_for(self, since: float, now: float) -> float:
        """Minutes while they reach back far enough, hours beyond."""
        return self.step if now - since <= self.span else self.coarse_step

    def series(self, tenant_id: int | None, since: float, step: float | None = None) -> list[Point]:
        """Points from ``since`` on (a minute each, or an hour with ``step=coarse_step``), of
        one tenant or summed over all (``None``)."""
        kept = self._coarse if step == self.coarse_step else self._points
        if tenant_id is not None:
            return [p for p in kept.get(tenant_id, ()) if p.at >= since]
        merged: dict[float, tuple[int, float]] = {}
        for points in kept.values():
            for p in points:
                if p.at >= since:
                    v, b = merged.get(p.at, (0, 0.0))
                    merged[p.at] = (v + p.viewers, b + p.bandwidth_bps)
        return [Point(at, v, b) for at, (v, b) in sorted(merged.items())]


def _fold(points: deque[Point], bucket: float, point: Point) -> None:
    """Add an observation to its bucket: a bucket keeps its peak viewers and its latest
    bandwidth."""
    if points and points[-1].at == bucket:
        last = points[-1]
        points[-1] = Point(bucket, max(last.viewers, point.viewers), point.bandwidth_bps)
    else:
        points.append(Point(bucket, point.viewers, point.bandwidth_bps))


def filled(
    points: list[Point], since: float, now: float, step: float, started: float | None
) -> list[Point]:
    """Every bucket from ``since`` (or the first observation, if later) to ``now``: a bucket
    the sampler ran through without a tenant's point had no viewers, so it is a zero, and
    the chart spans the range it was asked for instead of bunching at its end."""
    if started is None:
        return []
    first = max(since, started)
    by_at = {p.at: p for p in points}
    bucket = first - first % step
    out: list[Point] = []
    while bucket <= now:
        out.append(by_at.get(bucket, Point(bucket, 0, 0.0)))
        bucket += step
    return out


class LiveSampler:
    """Feeds a :class:`ViewerHistory` from the live engine's sessions every ``interval`` s."""

    def __init__(
        self,
        engine: Any,
        history: ViewerHistory,
        interval: float = 2.0,
        wall: Callable[[], float] = time.time,
        audience: AudienceBook | None = None,
    ) -> None:
        self.engine, self.history, self.audience = engine, history, audience
        self.interval = interval
        self._wall = wall
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        sessions = self.engine.sessions.all()
        now = self._wall()
        self.history.observe((Observed(s.tenant_id, s.id, s.bytes) for s in sessions), now)
        if self.audience is not None:
            # Live sessions only: VOD sessions carry a movie or episode id, not a channel's.
            live = (
                Watching(s.tenant_id, s.channel_id, s.id, s.started_at, s.ip, s.user_agent)
                for s in sessions
                if s.output in ("ts", "hls")
            )
            self.audience.observe(live, now)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="live-sampler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)


def install_live_stats(ctx: Any, engine: Any) -> LiveSampler:
    """Register ``services["viewer_history"]``, ``["audience"]`` and ``["live_sampler"]``;
    the app's lifespan starts and stops the sampler."""
    history = ViewerHistory()
    geo = getattr(getattr(engine, "rights", None), "geo", None)
    audience = AudienceBook(geo.country if geo is not None else lambda address: None)
    sampler = LiveSampler(engine, history, audience=audience)
    ctx.services["viewer_history"] = history
    ctx.services["audience"] = audience
    ctx.services["live_sampler"] = sampler
    return sampler
