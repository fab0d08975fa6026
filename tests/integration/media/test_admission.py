"""Connection limits under 50 concurrent attempts, both policies; cutting a disabled line."""

from __future__ import annotations

import asyncio
import time

from palinsesto.accounts.models import ConnectionPolicy

from .conftest import LiveWorld


async def _open(
    world: LiveWorld, ua: str
) -> tuple[int, asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", world.engine.port)
    path = f"/live/{world.username}/{world.password}/{world.pattern_id}.ts"
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: {ua}\r\n\r\n".encode())
    status = int((await asyncio.wait_for(reader.readline(), 20)).split()[1])
    return status, reader, writer


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            data = await asyncio.wait_for(reader.read(65536), deadline - time.monotonic())
            if not data:
                return True
    except (TimeoutError, ConnectionError):
        return False
    return False


async def _warm(world: LiveWorld) -> None:
    status, reader, writer = await _open(world, "warm-up")
    assert status == 200
    await reader.read(1000)
    writer.close()
    deadline = time.monotonic() + 5
    while world.engine.sessions.all():
        assert time.monotonic() < deadline, "the warm-up session did not end"
        await asyncio.sleep(0.05)


async def test_refuse_policy_admits_exactly_the_limit(live: LiveWorld) -> None:
    live.set_policy(ConnectionPolicy.refuse)
    await asyncio.sleep(0.2)
    await _warm(live)
    results = await asyncio.gather(*(_open(live, f"app-{i}") for i in range(50)))
    statuses = sorted(r[0] for r in results)
    assert statuses.count(200) == 3 and statuses.count(429) == 47
    assert live.engine.active_count(live.engine.sessions.all()[0].line_id) == 3
    for _, _, writer in results:
        writer.close()


async def test_kick_oldest_keeps_exactly_the_limit_and_the_newest(live: LiveWorld) -> None:
    await _warm(live)
    results = []
    for i in range(50):  # sequential starts, then 50 at once
        if i == 5:
            break
        results.append(await _open(live, f"dev-{i}"))
    results += await asyncio.gather(*(_open(live, f"burst-{i}") for i in range(45)))
    assert all(r[0] == 200 for r in results)
    await asyncio.sleep(0.5)
    sessions = live.engine.sessions.all()
    assert len(sessions) == 3
    # The first five were kicked: their sockets are closed.
    for _, reader, _ in results[:5]:
        assert await _closed_within(reader, 2.0)
    for _, _, writer in results:
        writer.close()


async def test_kick_prefers_the_same_device(live: LiveWorld) -> None:
    await _warm(live)
    a = await _open(live, "tv")
    b = await _open(live, "phone")
    c = await _open(live, "tablet")
    d = await _open(live, "phone")  # the phone zaps: its own old connection goes
    assert [x[0] for x in (a, b, c, d)] == [200] * 4
    assert await _closed_within(b[1], 2.0)
    uas = sorted(s.user_agent for s in live.engine.sessions.all())
    assert uas == ["phone", "tablet", "tv"]
    for _, _, writer in (a, b, c, d):
        writer.close()


async def test_disabling_the_line_cuts_running_viewers_within_2_s(live: LiveWorld) -> None:
    await _warm(live)
    status, reader, writer = await _open(live, "tv")
    assert status == 200
    await reader.read(10_000)
    live.set_line(enabled=False)
    assert await _closed_within(reader, 2.0)
    assert live.engine.sessions.all() == []
    writer.close()
