"""How long the stored guide is kept, and the prune job.

Past programmes stay as long as the longest catch-up window (``archive_days``) of any
channel of the tenant, so every programme a viewer can replay still has its guide entry
(Smarters' Catch Up lists them, reference §4.8 ``has_archive``); at least ``min_days``.
Future programmes stay as far as the sources give them. Pruning is idempotent: running it
twice deletes nothing more.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update

from palinsesto.catalog.models import Channel
from palinsesto.db import Database
from palinsesto.epg.models import EpgImportRun, EpgSource, ImportStatus, Programme

DAY = 86_400
# An import still "running" after this long died with its process; its rows are orphans.
STALE_RUN = timedelta(hours=6)


def keep_past_days(db: Database, tenant_id: int, min_days: int = 1) -> int:
    """Days of past guide the tenant keeps: its longest archive window, at least ``min_days``."""
    with db.session() as session:
        longest = session.scalar(
            select(func.max(Channel.archive_days)).where(Channel.tenant_id == tenant_id)
        )
    return max(min_days, longest or 0)


def prune(db: Database, now: int, min_days: int = 1) -> int:
    """Delete programmes past every tenant's retention and rows of dead imports.

    Returns the number of programmes deleted.
    """
    deleted = 0
    with db.transaction() as session:
        session.execute(
            update(EpgImportRun)
            .where(
                EpgImportRun.status == ImportStatus.running,
                EpgImportRun.started_at < datetime.fromtimestamp(now, UTC) - STALE_RUN,
            )
            .values(status=ImportStatus.failed, error="the import was interrupted")
        )
        tenants = session.scalars(select(EpgSource.tenant_id).distinct()).all()
    for tenant_id in tenants:
        horizon = now - keep_past_days(db, tenant_id, min_days) * DAY
        with db.engine.begin() as conn:
            result = conn.execute(
                delete(Programme).where(Programme.tenant_id == tenant_id, Programme.stop < horizon)
            )
            deleted += result.rowcount or 0
    live_runs = select(EpgSource.active_run_id).where(EpgSource.active_run_id.is_not(None))
    running = select(EpgImportRun.id).where(EpgImportRun.status == ImportStatus.running)
    with db.engine.begin() as conn:
        result = conn.execute(
            delete(Programme).where(
                Programme.run_id.not_in(live_runs), Programme.run_id.not_in(running)
            )
        )
        deleted += result.rowcount or 0
    return deleted
