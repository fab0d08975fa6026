"""The change-event contract (cluster/events.py), run against the in-process bus and Redis."""

from __future__ import annotations

import threading
import time

import pytest

from palinsesto.cluster.events import ChangeEvents, make_change_events
from palinsesto.cluster.events_redis import RedisChangeEvents
from palinsesto.config import ConfigError, Settings, load_settings
from support.redis_servers import REDIS_URL, redis_prefix


def test_publish_moves_only_its_own_version(bus: ChangeEvents) -> None:
    keys = [(1, "catalog"), (1, "lines"), (2, "catalog")]
    before = {key: bus.version(*key) for key in keys}
    bus.publish(1, "catalog")
    after = {key: bus.version(*key) for key in keys}
    assert after[(1, "catalog")] != before[(1, "catalog")]
    assert after[(1, "lines")] == before[(1, "lines")]
    assert after[(2, "catalog")] == before[(2, "catalog")]


def test_versions_never_come_back(bus: ChangeEvents) -> None:
    seen = [bus.version(7, "catalog")]
    for _ in range(20):
        bus.publish(7, "catalog")
        seen.append(bus.version(7, "catalog"))
    assert len(set(seen)) == len(seen)
    assert seen == sorted(seen)


def test_listeners_hear_a_publish_before_it_returns(bus: ChangeEvents) -> None:
    first: list[tuple[int, str]] = []
    second: list[tuple[int, str]] = []
    bus.subscribe(lambda t, topic: first.append((t, topic)))
    bus.subscribe(lambda t, topic: second.append((t, topic)))
    bus.publish(3, "lines")
    # No waiting: the publishing process must read its own write at once.
    assert first == second == [(3, "lines")]


def test_a_failing_listener_neither_breaks_publish_nor_silences_others(
    bus: ChangeEvents,
) -> None:
    heard: list[tuple[int, str]] = []

    def broken(_tenant: int, _topic: str) -> None:
        raise RuntimeError("listener bug")

    bus.subscribe(broken)
    bus.subscribe(lambda t, topic: heard.append((t, topic)))
    before = bus.version(4, "catalog")
    bus.publish(4, "catalog")
    assert heard == [(4, "catalog")]
    assert bus.version(4, "catalog") != before


def test_concurrent_publishes_are_each_heard_once(bus: ChangeEvents) -> None:
    heard: list[tuple[int, str]] = []
    lock = threading.Lock()

    def listener(tenant: int, topic: str) -> None:
        with lock:
            heard.append((tenant, topic))

    bus.subscribe(listener)
    start = bus.version(5, "catalog")

    def worker() -> None:
        for _ in range(25):
            bus.publish(5, "catalog")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(0.3)  # echoes of our own publishes (Redis) must not be heard twice
    assert heard == [(5, "catalog")] * 200
    assert bus.version(5, "catalog") != start


def test_close_is_idempotent_and_versions_still_answer(bus: ChangeEvents) -> None:
    bus.publish(6, "catalog")
    version = bus.version(6, "catalog")
    bus.close()
    bus.close()
    assert bus.version(6, "catalog") == version


def test_the_settings_choose_the_bus() -> None:
    plain = make_change_events(Settings())
    assert type(plain) is ChangeEvents
    with redis_prefix() as prefix:
        shared = make_change_events(Settings(redis_url=REDIS_URL, redis_key_prefix=prefix))
        try:
            assert isinstance(shared, RedisChangeEvents) and shared.connected
        finally:
            shared.close()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PALINSESTO_REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL"),
        ({"PALINSESTO_REDIS_KEY_PREFIX": "two words"}, "REDIS_KEY_PREFIX"),
    ],
)
def test_bad_redis_settings_are_refused_by_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env)
