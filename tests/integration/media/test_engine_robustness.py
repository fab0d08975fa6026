"""The engine under load-shaped conditions: no database on the event loop, always-on
channels started a few at a time, placeholder clips instead of bare errors."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import event

from palinsesto.catalog.models import ChannelMode
from palinsesto.node.channel import ChannelState
from support.media import play

from .conftest import LiveWorld
from .test_delivery import _status


async def _loop_thread(live: LiveWorld) -> int:
    async def ident() -> int:
        return threading.get_ident()

    future = asyncio.run_coroutine_threadsafe(ident(), live.engine._loop)
    return await asyncio.wrap_future(future)


async def test_cache_misses_query_the_database_off_the_event_loop(live: LiveWorld) -> None:
    loop_thread = await _loop_thread(live)
    query_threads: list[int] = []

    def record(*_args: Any) -> None:
        query_threads.append(threading.get_ident())

    engine = live.server.ctx.db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        # Forget every cached line, channel, bouquet set and tenant setting.
        live.server.ctx.events.publish(live.tenant_id, "catalog")
        live.server.ctx.events.publish(live.tenant_id, "lines")
        assert await _status(live.url(live.hidden_id)) == 406  # all misses
        cold = len(query_threads)
        assert cold > 0
        assert await _status(live.url(live.hidden_id)) == 406  # all hits
        assert await _status(live.url(999_999)) == 404  # a channel miss
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(query_threads) > cold
    assert loop_thread not in query_threads


async def test_always_on_channels_start_a_few_at_a_time(live: LiveWorld) -> None:
    engine = live.engine
    cap = live.server.ctx.settings.live_max_concurrent_starts
    assert cap == 2
    pattern = [{"kind": "test_pattern", "url": "testsrc://160x90@25"}]
    ids = [live.add_channel(f"Always {i}", pattern, mode=ChannelMode.always_on) for i in range(4)]
    most_starting = 0
    deadline = time.monotonic() + 30
    while True:
        runners = [engine.runners.get(i) for i in ids]
        starting = sum(1 for r in runners if r is not None and r.state is ChannelState.starting)
        most_starting = max(most_starting, starting)
        if all(r is not None and r.ready for r in runners):
            break
        assert time.monotonic() < deadline, [r and r.status() for r in runners]
        await asyncio.sleep(0.02)
    assert 1 <= most_starting <= cap


async def _slates(live: LiveWorld, on: bool) -> None:
    """The tenant setting, through the admin API (which publishes the change)."""
    async with httpx.AsyncClient(timeout=20) as client:
        r = await client.patch(
            f"{live.server.base_url}/api/v1/tenants/{live.tenant_id}",
            json={"playback_slates": on},
            headers={"Authorization": f"Bearer {live.server.token()}"},
        )
    assert r.status_code == 200 and r.json()["playback_slates"] is on, r.text


async def test_expired_and_offline_plays_get_a_placeholder_clip_when_the_tenant_wants(
    live: LiveWorld,
) -> None:
    offline_id = live.add_channel("No source", [])
    assert await _status(live.url(offline_id)) == 503  # no slates by default
    await _slates(live, True)
    frames, err = await play(live.url(offline_id), 10)
    assert frames >= 50, err[-1500:]
    live.set_line(exp_date=datetime(2001, 1, 1, tzinfo=UTC))
    frames, err = await play(live.url(live.pattern_id), 10)
    assert frames >= 50, err[-1500:]
    assert "returned 403" not in err  # (not "403" alone: the port may contain it)
    assert await _status(live.url(live.pattern_id, "m3u8")) == 403  # TS only
    await _slates(live, False)
    assert await _status(live.url(live.pattern_id)) == 403
