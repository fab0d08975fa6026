"""The EPG as the running application holds it: imports, matching, the refresh job and
the live mark, wired to the change events; and the hook the app calls at start-up."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from palinsesto.context import AppContext
from palinsesto.db import Database
from palinsesto.epg.backoff import next_attempt, source_health
from palinsesto.epg.guide import EPG_TOPIC, StoredGuide
from palinsesto.epg.importer import ImportLimits, ImportResult, run_import
from palinsesto.epg.matching import match_channels
from palinsesto.epg.models import EpgSource, ImportStatus
from palinsesto.epg.retention import prune
from palinsesto.epg.schedule import mark_live
from palinsesto.outbound import policy_from_settings

log = logging.getLogger(__name__)


class EpgService:
    """One per application: ``ctx.services["epg"]``."""

    def __init__(
        self,
        db: Database,
        publish: Callable[[int, str], None],
        guide: StoredGuide,
        data_dir: Path,
        limits: ImportLimits,
        check_seconds: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.publish = publish
        self.guide = guide
        self.data_dir = data_dir
        self.limits = limits
        self.check_seconds = check_seconds
        # A failing source waits this long, then twice as long, and so on (see backoff).
        self.retry_base_seconds = max(1, check_seconds)
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._importing: set[int] = set()
        self._lock = threading.Lock()

    def changed(self, tenant_id: int) -> None:
        """Tell caches (the guide, the player API) that the tenant's guide changed."""
        self.guide.invalidate(tenant_id)
        self.publish(tenant_id, EPG_TOPIC)

    def import_source(self, source_id: int, *, run_id: int | None = None) -> ImportResult:
        """Import one source now, then re-match the tenant's channels."""
        with self._lock:
            if source_id in self._importing:
                raise RuntimeError(f"EPG source {source_id} is already importing")
            self._importing.add(source_id)
        try:
            result = run_import(
                self.db,
                source_id,
                data_dir=self.data_dir,
                limits=self.limits,
                now=int(self.clock()),
                run_id=run_id,
            )
            if result.status is ImportStatus.succeeded:
                self.rematch(result.tenant_id)
            return result
        finally:
            with self._lock:
                self._importing.discard(source_id)

    def rematch(self, tenant_id: int) -> None:
        with self.db.transaction() as session:
            match_channels(session, tenant_id)
        self.changed(tenant_id)
        # Matching may have given channels their epg_channel_id.
        self.publish(tenant_id, "catalog")

    def mark_live(self, tenant_id: int, channel_id: int, live: bool) -> None:
        """For the live engine: a push started (``True``) or ended on ``channel_id``."""
        mark_live(
            self.db, tenant_id, channel_id, live, now=int(self.clock()), on_change=self.changed
        )

    def tick(self) -> None:
        """One round of the periodic job: import the sources that are due, prune."""
        now = int(self.clock())
        moment = datetime.fromtimestamp(now, UTC)
        with self.db.session() as session:
            sources = session.scalars(select(EpgSource).where(EpgSource.enabled.is_(True))).all()
            health = source_health(session, [s.id for s in sources])
            due = []
            for s in sources:
                when = next_attempt(s, health[s.id], self.retry_base_seconds)
                if when is not None and when <= moment:
                    due.append(s.id)
        for source_id in due:
            if self._stop.is_set():
                return
            try:
                result = self.import_source(source_id)
                if result.status is ImportStatus.failed:
                    self._log_failure(source_id, result.error)
            except Exception:  # keep the job alive; the run records the error
                log.exception("EPG import of source %s crashed", source_id)
        prune(self.db, now)

    def _log_failure(self, source_id: int, error: str) -> None:
        with self.db.session() as session:
            source = session.get(EpgSource, source_id)
            if source is None:
                return
            health = source_health(session, [source_id])[source_id]
            when = next_attempt(source, health, self.retry_base_seconds)
        log.warning(
            "EPG import of source %s failed (%d in a row; next attempt %s): %s",
            source_id,
            health.consecutive_failures,
            when.isoformat(timespec="seconds") if when else "never",
            error,
        )

    def start(self) -> None:
        """Run :meth:`tick` every ``check_seconds`` in a daemon thread."""
        if self._thread is not None or self.check_seconds <= 0:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(self.check_seconds):
                try:
                    self.tick()
                except Exception:
                    log.exception("EPG periodic job failed")

        self._thread = threading.Thread(target=loop, name="epg-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None


def install_epg(ctx: AppContext) -> EpgService:
    """Put the stored guide in ``ctx.services["guide"]`` and the service in ``["epg"]``."""
    guide = StoredGuide(ctx.db, ctx.events)
    service = EpgService(
        ctx.db,
        ctx.events.publish,
        guide,
        ctx.settings.data_dir,
        ImportLimits(
            max_bytes=ctx.settings.epg_max_bytes, outbound=policy_from_settings(ctx.settings)
        ),
        check_seconds=ctx.settings.epg_check_seconds,
    )
    ctx.services["guide"] = guide
    ctx.services["epg"] = service
    return service
