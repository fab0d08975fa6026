"""Change events: the panel tells caches and nodes that something changed.

The in-process bus is the default (all-in-one server); a Redis-backed bus with the same
interface serves several panel replicas and nodes. Listeners get ``(tenant_id, topic)``.

Topics used so far: ``catalog`` (channels, categories, bouquets, movies, series, EPG),
``lines`` (a line's status, bouquets or limits changed), ``channels`` (what should run).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable

Listener = Callable[[int, str], None]


class ChangeEvents:
    """In-process publish/subscribe plus a version counter per (tenant, topic).

    Caches key their entries by :meth:`version`, so a bump makes every stale entry
    unreachable at once, without scanning.
    """

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._versions: defaultdict[tuple[int, str], int] = defaultdict(int)
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def version(self, tenant_id: int, topic: str) -> int:
        return self._versions[(tenant_id, topic)]

    def publish(self, tenant_id: int, topic: str) -> None:
        """Announce a committed change. Call it after the transaction commits."""
        with self._lock:
            self._versions[(tenant_id, topic)] += 1
            listeners = list(self._listeners)
        for listener in listeners:
            listener(tenant_id, topic)
