"""The lean Redis connection of the reservation hot path (cluster/redis_pipe.py), against
the real Redis: scripts by SHA (loaded on NOSCRIPT), the database in the URL, replies cut
anywhere, and every way Redis can be out of reach mapped to the store's error."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.cluster.redis_pipe import (
    INCOMPLETE,
    RedisPipe,
    RedisReplyError,
    encode,
    endpoint,
    parse,
)
from palinsesto.cluster.session_slots import NEW_SESSION, SlotRequest, SlotsUnavailable
from palinsesto.cluster.session_slots_redis import RedisSessionSlots
from support.redis_servers import REDIS_URL, redis_prefix


def pipe(url: str = REDIS_URL, timeout: float = 1.0) -> RedisPipe:
    made = RedisPipe.for_url(url, "session store", SlotsUnavailable, timeout=timeout)
    assert made is not None
    return made


def with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def test_urls_it_handles_and_those_it_leaves_to_redis_py() -> None:
    found = endpoint("redis://user:p%40ss@cache.example:6380/3")
    assert found is not None
    assert (found.host, found.port, found.username, found.password, found.db, found.tls) == (
        "cache.example",
        6380,
        "user",
        "p@ss",
        3,
        False,
    )
    assert endpoint("rediss://cache.example") is not None
    for other in ("unix:///run/redis.sock", "redis://h/0?health_check_interval=2", "redis://h/x"):
        assert endpoint(other) is None, other


def test_replies_cut_anywhere_are_waited_for() -> None:
    replies = [b"+OK\r\n", b"$5\r\nhe\r\nl\r\n", b"*2\r\n:7\r\n$-1\r\n", b"-ERR bad\r\n"]
    expected: list[object] = [b"OK", b"he\r\nl", [7, None], "ERR bad"]
    whole = b"".join(replies)
    ends = [sum(len(r) for r in replies[: i + 1]) for i in range(len(replies))]
    for cut in range(len(whole) + 1):
        buffer = bytearray(whole[:cut])
        got: list[object] = []
        start = 0
        while True:
            value, start = parse(buffer, start)
            if value is INCOMPLETE:
                break
            got.append(str(value) if isinstance(value, RedisReplyError) else value)
        assert got == expected[: sum(1 for end in ends if end <= cut)], cut
    assert encode(["GET", b"k\r\n"]) == b"*2\r\n$3\r\nGET\r\n$3\r\nk\r\n\r\n"


async def test_scripts_run_by_sha_and_are_loaded_when_redis_lacks_them() -> None:
    conn = pipe()
    try:
        # A script Redis has never seen (its text is new): NOSCRIPT, SCRIPT LOAD, again.
        script = f"-- {uuid.uuid4().hex}\nreturn {{ARGV[1], tonumber(ARGV[2]) + 1}}"
        assert await conn.evalsha(script, ("a", "41")) == [b"a", 42]
        assert await conn.evalsha(script, ("b", "1")) == [b"b", 2]
        # Concurrent calls on the one connection each get their own reply.
        got = await asyncio.gather(*(conn.evalsha(script, (str(i), str(i))) for i in range(50)))
        assert got == [[str(i).encode(), i + 1] for i in range(50)]
        with pytest.raises(RedisReplyError):  # a script's own error is no outage
            await conn.evalsha("return redis.call('NOSUCHCOMMAND')", ())
        assert await conn.call(("PING",)) == b"PONG"  # and the connection goes on
    finally:
        await conn.close()


async def test_the_database_in_the_url_is_selected() -> None:
    key = f"palinsesto-test-{uuid.uuid4().hex}"
    conn = pipe(with_db(REDIS_URL, 5))
    client = redis.Redis.from_url(with_db(REDIS_URL, 5))
    try:
        await conn.evalsha("return redis.call('SET', ARGV[1], 'x')", (key,))
        assert client.get(key) == b"x"
    finally:
        client.delete(key)
        client.close()
        await conn.close()


async def test_redis_out_of_reach_raises_the_stores_error() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    nobody = pipe(f"redis://127.0.0.1:{port}/0")
    with pytest.raises(SlotsUnavailable, match="unreachable"):
        await nobody.call(("PING",))
    parts = urlsplit(REDIS_URL)
    wrong = pipe(urlunsplit(parts._replace(netloc=f":wrong@{parts.netloc.split('@')[-1]}")))
    with pytest.raises(SlotsUnavailable, match="refused AUTH"):
        await wrong.call(("PING",))


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


async def test_a_silent_redis_times_out_and_every_call_in_flight_fails(silent_server: int) -> None:
    conn = pipe(f"redis://127.0.0.1:{silent_server}/0", timeout=0.3)
    started = time.monotonic()
    results = await asyncio.gather(
        *(conn.call(("PING",)) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, SlotsUnavailable) for r in results), results
    assert time.monotonic() - started < 2.0
    with pytest.raises(SlotsUnavailable):  # a new connection, silent again
        await conn.call(("PING",))
    await conn.close()


async def test_reservations_without_the_pipe_decide_alike() -> None:
    """A URL the pipe leaves to redis-py (options in its query) still reserves, through
    the same script."""
    with redis_prefix() as prefix:
        slots = RedisSessionSlots(f"{REDIS_URL}?health_check_interval=0", prefix)
        assert slots._pipe is None
        try:
            req = SlotRequest(
                1, 2, NEW_SESSION, 1, ConnectionPolicy.refuse, 3, "10.0.0.1", "ua", None, 30.0
            )
            first, second = await slots.reserve_many([req, req], time.time())
            assert not isinstance(first, Exception) and first.session_id > 0
            assert isinstance(second, Exception)  # the line's one connection is taken
            assert await slots.line_count(1, 2, time.time()) == 1
        finally:
            await slots.close()
