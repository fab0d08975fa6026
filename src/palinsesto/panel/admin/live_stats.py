"""Viewers and bandwidth out per tenant: the figures now and one point a minute for 24 h.

The live engine keeps only what plays now (its sessions); the dashboard also wants the last
day. :class:`ViewerHistory` is fed an observation of the sessions every few seconds (by
:class:`LiveSampler`, on the engine's loop) and keeps, per tenant, a bounded deque of minute
points in memory: 1,440 small tuples a tenant, lost on restart, which is what a dashboard
chart needs. ``observe`` is pure (sessions and a time in), so tests drive it with any clock.
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
    def __init__(self, step: float = 60.0, span: float = DAY) -> None:
        self.step = step
        self._keep = int(span // step) + 1
        self._points: dict[int, deque[Point]] = {}
        self._now: dict[int, Point] = {}
        self._bytes: dict[int, int] = {}
        self._last_at: float | None = None

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
        bucket = now - now % self.step
        for tenant_id in set(viewers) | set(self._points):
            rate = sent.get(tenant_id, 0) * 8 / elapsed if elapsed > 0 else 0.0
            point = Point(now, viewers.get(tenant_id, 0), rate)
            self._now[tenant_id] = point
            points = self._points.setdefault(tenant_id, deque(maxlen=self._keep))
            if points and points[-1].at == bucket:
                last = points[-1]
                # The minute's point keeps its peak viewers and its latest bandwidth.
                points[-1] = Point(bucket, max(last.viewers, point.viewers), rate)
            else:
                points.append(Point(bucket, point.viewers, rate))

    def current(self, tenant_id: int | None) -> Point:
        """The latest observation of one tenant, or of all of them (``None``)."""
        chosen = [p for t, p in self._now.items() if tenant_id is None or t == tenant_id]
        return Point(
            max((p.at for p in chosen), default=self._last_at or 0.0),
            sum(p.viewers for p in chosen),
            sum(p.bandwidth_bps for p in chosen),
        )

    def series(self, tenant_id: int | None, since: float) -> list[Point]:
        """Minute points from ``since`` on, of one tenant or summed over all (``None``)."""
        if tenant_id is not None:
            return [p for p in self._points.get(tenant_id, ()) if p.at >= since]
        merged: dict[float, tuple[int, float]] = {}
        for points in self._points.values():
            for p in points:
                if p.at >= since:
                    v, b = merged.get(p.at, (0, 0.0))
                    merged[p.at] = (v + p.viewers, b + p.bandwidth_bps)
        return [Point(at, v, b) for at, (v, b) in sorted(merged.items())]


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
