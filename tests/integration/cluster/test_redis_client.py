"""The cluster stores' Redis client: bounded calls in flight, a clear error past the wait."""

from __future__ import annotations

import asyncio

import pytest

from palinsesto.cluster.redis_client import RedisCalls
from palinsesto.cluster.session_slots import SlotsUnavailable
from support.redis_servers import REDIS_URL, redis_prefix


async def test_callers_queue_in_order_and_give_up_after_the_timeout() -> None:
    with redis_prefix() as prefix:
        calls = RedisCalls(
            REDIS_URL, "test store", SlotsUnavailable, timeout=1.2, max_connections=1
        )
        try:
            # Each call holds the only connection 0.5 s (a blocking pop on an empty list).
            def hold() -> object:
                return calls.redis.blpop([f"{prefix}:empty"], timeout=0.5)

            results = await asyncio.gather(
                *(calls.call(hold) for _ in range(4)), return_exceptions=True
            )
            # The first runs at once, the second waits 0.5 s (within 1.2 s), the third about
            # 1 s (either way on a loaded machine); the fourth would wait 1.5 s or more and is
            # refused with the reason.
            assert results[:2] == [None, None]
            assert isinstance(results[3], SlotsUnavailable)
            assert "test store" in str(results[3]) and "too many calls waiting" in str(results[3])
            # The gate is free again afterwards.
            assert await calls.call(calls.redis.ping) is True
        finally:
            await calls.close()


async def test_an_unreachable_server_is_named_without_its_password() -> None:
    calls = RedisCalls(
        "redis://:hunter2@127.0.0.1:1/0", "test store", SlotsUnavailable, timeout=0.5
    )
    try:
        with pytest.raises(SlotsUnavailable) as failed:
            await calls.call(calls.redis.ping)
        assert "127.0.0.1:1" in str(failed.value)
        assert "hunter2" not in str(failed.value)
    finally:
        await calls.close()
