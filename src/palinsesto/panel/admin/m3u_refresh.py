"""The M3U sources' refresh job: in the panel process, like the EPG's, a daemon thread that
re-imports the sources that are due every ``m3u_check_seconds``; and "refresh now"."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from palinsesto.catalog.m3u_sources import FAILED, RefreshResult, due_sources, refresh_source
from palinsesto.context import AppContext
from palinsesto.db import Database
from palinsesto.outbound import OutboundPolicy, policy_from_settings

log = logging.getLogger(__name__)
FETCH_TIMEOUT = 30.0
# What a refresh changes: channels (the catalogue every player lists, and the engine's
# view of sources) and bouquets.
TOPICS = ("catalog", "channels")


class SourceBusy(RuntimeError):
    """The source is being refreshed already."""


class M3URefreshService:
    """One per application: ``ctx.services["m3u"]``."""

    def __init__(
        self,
        db: Database,
        publish: Callable[[int, str], None],
        policy: OutboundPolicy,
        *,
        max_bytes: int,
        check_seconds: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db, self.publish, self.policy = db, publish, policy
        self.max_bytes = max_bytes
        self.check_seconds = check_seconds
        # A failing source waits this long, then twice as long, and so on.
        self.retry_base_seconds = max(1, check_seconds)
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._running: set[int] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified when a refresh ends

    def refresh(
        self, source_id: int, *, actor: str = "m3u-refresh", actor_id: int | None = None
    ) -> RefreshResult:
        """Re-import one source now; :class:`SourceBusy` if it is running already."""
        with self._lock:
            if source_id in self._running:
                raise SourceBusy(f"M3U source {source_id} is being refreshed already.")
            self._running.add(source_id)
        try:
            result = refresh_source(
                self.db,
                source_id,
                self.policy,
                now=datetime.fromtimestamp(self.clock(), UTC),
                retry_base_seconds=self.retry_base_seconds,
                max_bytes=self.max_bytes,
                timeout=FETCH_TIMEOUT,
                actor=actor,
                actor_id=actor_id,
            )
        finally:
            with self._idle:
                self._running.discard(source_id)
                self._idle.notify_all()
        if result.status == FAILED:
            log.warning("M3U source %s failed: %s", source_id, result.error)
        else:
            for topic in TOPICS:
                self.publish(result.tenant_id, topic)
        return result

    def wait(self, source_id: int, timeout: float) -> bool:
        """Wait until no refresh of the source runs; False if one still does at ``timeout``."""
        with self._idle:
            return self._idle.wait_for(lambda: source_id not in self._running, timeout)

    def tick(self) -> None:
        """One round of the job: refresh every source that is due."""
        with self.db.session() as session:
            due = due_sources(session, datetime.fromtimestamp(self.clock(), UTC))
        for source_id in due:
            if self._stop.is_set():
                return
            try:
                self.refresh(source_id)
            except SourceBusy:
                continue  # "refresh now" is running it
            except Exception:  # keep the job alive for the other sources
                log.exception("M3U source %s: refresh crashed", source_id)

    def start(self) -> None:
        if self._thread is not None or self.check_seconds <= 0:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(self.check_seconds):
                try:
                    self.tick()
                except Exception:
                    log.exception("M3U refresh job failed")

        self._thread = threading.Thread(target=loop, name="m3u-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None


def install_m3u_refresh(ctx: AppContext) -> M3URefreshService:
    service = M3URefreshService(
        ctx.db,
        ctx.events.publish,
        policy_from_settings(ctx.settings),
        max_bytes=ctx.settings.m3u_max_bytes,
        check_seconds=ctx.settings.m3u_check_seconds,
    )
    ctx.services["m3u"] = service
    return service
