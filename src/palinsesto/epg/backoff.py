"""When an EPG source is next read: its refresh interval after a success, and after
failures an exponential back-off, so a broken provider is asked (and logged) ever less
often instead of at every check.

The state comes from the import runs themselves (the failed runs since the last success),
so it survives restarts and needs no column of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from palinsesto.epg.models import EpgImportRun, EpgSource, ImportStatus


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """What the status of a source reports about its recent imports."""

    consecutive_failures: int = 0
    last_error: str = ""
    last_failure_at: datetime | None = None


def retry_delay(failures: int, base_seconds: int, cap_seconds: int) -> int:
    """Seconds to wait after the ``failures``-th failure in a row: base, 2 × base, 4 × base…
    never more than ``cap_seconds``."""
    if failures <= 0:
        return 0
    # The exponent is bounded so that a long-broken source never builds a huge integer.
    return min(cap_seconds, base_seconds * 2 ** min(failures - 1, 40))


def refresh_interval(source: EpgSource) -> timedelta:
    return timedelta(hours=max(1, source.refresh_hours))


def next_attempt(source: EpgSource, health: SourceHealth, base_seconds: int) -> datetime | None:
    """When the periodic job reads ``source`` again (``None``: never, it has nothing to read
    or is disabled). A time in the past means at the next check."""
    if not source.enabled or not (source.url or source.upload_path):
        return None
    interval = refresh_interval(source)
    if health.consecutive_failures and health.last_failure_at is not None:
        delay = retry_delay(
            health.consecutive_failures, base_seconds, int(interval.total_seconds())
        )
        return health.last_failure_at + timedelta(seconds=delay)
    if source.last_import_at is None:
        return source.created_at
    return source.last_import_at + interval


def source_health(session: Session, source_ids: Iterable[int]) -> dict[int, SourceHealth]:
    """The failures in a row (since the last successful run) of each source."""
    health: dict[int, SourceHealth] = {}
    for source_id in source_ids:
        last_ok = session.scalar(
            select(func.max(EpgImportRun.id)).where(
                EpgImportRun.source_id == source_id,
                EpgImportRun.status == ImportStatus.succeeded,
            )
        )
        failed = select(EpgImportRun).where(
            EpgImportRun.source_id == source_id,
            EpgImportRun.status == ImportStatus.failed,
            EpgImportRun.id > (last_ok or 0),
        )
        count = session.scalar(select(func.count()).select_from(failed.subquery())) or 0
        if not count:
            health[source_id] = SourceHealth()
            continue
        last = session.scalars(failed.order_by(EpgImportRun.id.desc()).limit(1)).one()
        health[source_id] = SourceHealth(
            consecutive_failures=count,
            last_error=last.error,
            last_failure_at=last.finished_at or last.started_at,
        )
    return health
