"""Change events: the panel tells caches and nodes that something changed.

The in-process bus is the default (all-in-one server); a Redis-backed bus with the same
interface (:mod:`palinsesto.cluster.events_redis`) serves several panel replicas and nodes.
:func:`make_change_events` picks one from the settings. Listeners get ``(tenant_id, topic)``.

Topics used so far: ``catalog`` (channels, categories, bouquets, movies, series, EPG),
``lines`` (a line's status, bouquets or limits changed), ``channels`` (what should run).

Contract shared by both buses (tests/integration/cluster/test_change_events.py runs one
suite against each):

- :meth:`ChangeEvents.version` is cheap (a dict read, never I/O) and changes whenever a
  change to ``(tenant_id, topic)`` becomes known here; it never returns a value it returned
  before for that key after having moved on, so a cache entry tagged with an old version
  can never become valid again.
- :meth:`ChangeEvents.publish` never raises: the data is already committed when it is called.
  Local listeners are called before it returns (a node reads its own writes at once).
- Listeners may be called from another thread; a listener that raises is logged and the
  others still run.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable

from palinsesto.config import Settings

Listener = Callable[[int, str], None]

log = logging.getLogger(__name__)


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
        self._notify(tenant_id, topic)

    def close(self) -> None:
        """Release what the bus holds (nothing in process; the Redis bus stops its thread)."""

    def _notify(self, tenant_id: int, topic: str) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(tenant_id, topic)
            except Exception:
                # The change is committed whatever a cache does with the news.
                log.exception("change listener %r failed on (%s, %s)", listener, tenant_id, topic)


def make_change_events(settings: Settings) -> ChangeEvents:
    """The bus for this process: Redis when ``PALINSESTO_REDIS_URL`` is set, else in-process."""
    if not settings.redis_url:
        return ChangeEvents()
    from palinsesto.cluster.events_redis import RedisChangeEvents

    return RedisChangeEvents(settings.redis_url, settings.redis_key_prefix)
