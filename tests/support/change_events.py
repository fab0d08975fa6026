"""Listening to change events in tests: a recording listener, and Redis buses per "process"."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from palinsesto.cluster.events_redis import RedisChangeEvents
from support.redis_servers import REDIS_URL


class Heard:
    """A listener that remembers what it heard, and can wait for it."""

    def __init__(self) -> None:
        self.events: list[tuple[int, str]] = []
        self._changed = threading.Condition()

    def __call__(self, tenant_id: int, topic: str) -> None:
        with self._changed:
            self.events.append((tenant_id, topic))
            self._changed.notify_all()

    def wait_for(self, event: tuple[int, str], timeout: float) -> float:
        """Seconds until ``event`` was heard; fails after ``timeout``."""
        start = time.monotonic()
        with self._changed:
            ok = self._changed.wait_for(lambda: event in self.events, timeout)
        assert ok, f"{event} not heard within {timeout}s (heard {self.events})"
        return time.monotonic() - start


def eventually(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


class BusMaker:
    """Makes Redis buses sharing one prefix, as if each were another process; closes them."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.made: list[RedisChangeEvents] = []

    def __call__(
        self, url: str = REDIS_URL, prefix: str = "", **tuning: float
    ) -> RedisChangeEvents:
        events = RedisChangeEvents(url, prefix or self.prefix, **tuning)
        self.made.append(events)
        return events

    def close_all(self) -> None:
        for events in self.made:
            events.close()
