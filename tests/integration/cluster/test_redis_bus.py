"""What only the Redis bus does: processes hear each other, and survive Redis going away.

Each bus here stands for one process (its own connections, thread and mirror). Outages use
a private redis-server (``own_redis``), never the machine's Redis.
"""

from __future__ import annotations

import logging
import time

import pytest
import redis

from palinsesto.cluster.events_redis import ChangeBusUnavailable, publish_changes
from support.change_events import BusMaker, Heard, eventually
from support.redis_servers import REDIS_URL, PrivateRedis, free_port

LOGGER = "palinsesto.cluster.events_redis"


def test_another_process_hears_a_change_and_agrees_on_its_version(buses: BusMaker) -> None:
    a, b = buses(), buses()
    heard = Heard()
    b.subscribe(heard)
    before = b.version(1, "catalog")
    a.publish(1, "catalog")
    assert heard.wait_for((1, "catalog"), timeout=1.0) < 1.0
    assert b.version(1, "catalog") == a.version(1, "catalog") != before
    assert heard.events == [(1, "catalog")]


def test_a_process_started_later_starts_from_the_shared_versions(buses: BusMaker) -> None:
    a = buses()
    a.publish(1, "catalog")
    a.publish(2, "lines")
    late = buses()
    assert late.version(1, "catalog") == a.version(1, "catalog")
    assert late.version(2, "lines") == a.version(2, "lines")
    assert late.version(9, "catalog") == a.version(9, "catalog")  # never published


def test_prefixes_keep_panels_apart(buses: BusMaker) -> None:
    a = buses()
    other = buses(prefix=buses.prefix + ":other")  # still removed with the test's keys
    heard = Heard()
    other.subscribe(heard)
    before = other.version(1, "catalog")
    a.publish(1, "catalog")
    time.sleep(0.3)
    assert heard.events == []
    assert other.version(1, "catalog") == before


def test_the_cli_path_announces_to_running_processes(buses: BusMaker) -> None:
    b = buses()
    heard = Heard()
    b.subscribe(heard)
    before = b.version(3, "catalog")
    publish_changes(REDIS_URL, buses.prefix, [(3, "catalog"), (3, "channels")])
    heard.wait_for((3, "channels"), timeout=1.0)
    assert heard.events == [(3, "catalog"), (3, "channels")]
    assert b.version(3, "catalog") != before


def test_the_cli_path_says_when_redis_is_unreachable() -> None:
    start = time.monotonic()
    with pytest.raises(ChangeBusUnavailable, match="127.0.0.1"):
        publish_changes(f"redis://127.0.0.1:{free_port()}/0", "x", [(1, "catalog")])
    assert time.monotonic() - start < 3


def test_malformed_messages_are_ignored(buses: BusMaker) -> None:
    a, b = buses(), buses()
    heard = Heard()
    b.subscribe(heard)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for junk in (b"junk", b"x 1 2 3", b"o 1 2 notanumber:catalog", b"o 1 2 5"):
            client.publish(f"{buses.prefix}:changes", junk)
    finally:
        client.close()
    a.publish(1, "lines")
    heard.wait_for((1, "lines"), timeout=1.0)
    assert heard.events == [(1, "lines")]
    assert b.version(1, "lines") == a.version(1, "lines")


def test_version_is_a_memory_read_not_a_round_trip(buses: BusMaker) -> None:
    a = buses()
    a.publish(1, "catalog")
    start = time.perf_counter()
    for _ in range(200_000):
        a.version(1, "catalog")
    # One Redis round trip costs tens of microseconds: 200,000 would take seconds.
    assert time.perf_counter() - start < 1.0


def test_a_cut_subscription_misses_nothing(own_redis: PrivateRedis, buses: BusMaker) -> None:
    a, b = buses(own_redis.url), buses(own_redis.url)
    heard = Heard()
    b.subscribe(heard)
    admin = own_redis.client()
    try:
        # Cut every subscriber's connection, then change things before they resubscribe:
        # the message is lost, the counters in Redis are not.
        admin.client_kill_filter(_type="pubsub")
        a.publish(1, "catalog")
        a.publish(2, "lines")
    finally:
        admin.close()
    heard.wait_for((2, "lines"), timeout=3.0)
    heard.wait_for((1, "catalog"), timeout=1.0)
    # a may have noticed the cut first and kept its changes until it resubscribed.
    eventually(lambda: b.version(1, "catalog") == a.version(1, "catalog") > 0, timeout=1.0)
    eventually(lambda: b.version(2, "lines") == a.version(2, "lines") > 0, timeout=1.0)


def test_redis_restart_without_its_data(
    own_redis: PrivateRedis, buses: BusMaker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    a = buses(own_redis.url, max_retry_seconds=0.3)
    b = buses(own_redis.url, max_retry_seconds=0.3)
    heard_a, heard_b = Heard(), Heard()
    a.subscribe(heard_a)
    b.subscribe(heard_b)
    a.publish(2, "lines")
    heard_b.wait_for((2, "lines"), timeout=1.0)
    shared_before = b.version(2, "lines")
    catalog_before = a.version(1, "catalog")

    own_redis.stop()
    eventually(lambda: not a.connected and not b.connected, timeout=3.0)
    # Down: publishing still works locally and never raises; the other process can't know.
    for _ in range(3):
        a.publish(1, "catalog")
    during = a.version(1, "catalog")
    assert during != catalog_before
    assert heard_a.events.count((1, "catalog")) == 3
    assert b.version(1, "catalog") == catalog_before
    time.sleep(0.5)  # several reconnect attempts
    down = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(down) == 2  # once per process, not once per attempt or publish

    heard_b.events.clear()
    own_redis.start()  # empty: a new epoch begins
    # a's change made during the outage reaches b; versions agree again and are new.
    heard_b.wait_for((1, "catalog"), timeout=5.0)
    eventually(lambda: a.connected and b.connected, timeout=3.0)
    eventually(lambda: a.version(1, "catalog") == b.version(1, "catalog"), timeout=1.0)
    assert a.version(1, "catalog") not in {catalog_before, during}
    # What was known before the restart changed version everywhere, and listeners heard it.
    heard_b.wait_for((2, "lines"), timeout=1.0)
    assert b.version(2, "lines") != shared_before
    assert b.version(2, "lines") == a.version(2, "lines")
    back = [r for r in caplog.records if "reachable again" in r.getMessage()]
    assert len(back) == 2
    # And the bus works as before.
    heard_a.events.clear()
    b.publish(5, "catalog")
    heard_a.wait_for((5, "catalog"), timeout=1.0)


def test_starting_while_redis_is_down(own_redis: PrivateRedis, buses: BusMaker) -> None:
    own_redis.stop()
    start = time.monotonic()
    early = buses(own_redis.url, max_retry_seconds=0.3)
    assert time.monotonic() - start < 3.5 and not early.connected
    heard = Heard()
    early.subscribe(heard)
    before = early.version(1, "catalog")
    early.publish(1, "catalog")
    assert heard.events == [(1, "catalog")]
    assert early.version(1, "catalog") != before

    own_redis.start()
    eventually(lambda: early.connected, timeout=3.0)
    other = buses(own_redis.url)
    # The change made before Redis was reachable was pushed once it was.
    assert other.version(1, "catalog") == early.version(1, "catalog") != before
    heard.events.clear()
    other.publish(1, "lines")
    heard.wait_for((1, "lines"), timeout=1.0)
