"""The legal jobs: restorations after counter-notices, expired actions, IP retention.

Every ``PALINSESTO_LEGAL_JOBS_SECONDS`` (in a worker thread, one write transaction a run):

* a counter-notice whose deadline passed without legal action lifts its restriction
  (status ``restored``), with a statement, in the audit log;
* an action past its ``expires_at`` is lifted the same way;
* client addresses stored in the audit log, notices and counter-notices are truncated to
  their /24 or /48 after the tenant's ``ip_truncate_days`` and emptied after its
  ``ip_remove_days`` (the platform's settings when the tenant sets none). Audit entries keep
  verifying: the address is replaced through its salted commitment (trust/audit_chain.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from palinsesto.accounts.models import Tenant
from palinsesto.db.base import utcnow
from palinsesto.panel.admin.api.lifting import LEGAL_JOBS, lift
from palinsesto.trust.audit import Redactions, record
from palinsesto.trust.counter_notices import CounterStatus, LiftReason, restrictable
from palinsesto.trust.models import AuditEntry, CounterNotice, Notice, NoticeAction
from palinsesto.trust.notices import ActionKind
from palinsesto.trust.retention import RetentionPolicy, truncate_ip

log = logging.getLogger(__name__)

BATCH = 2000  # rows of one kind handled per run and tenant; the next run takes the rest


@dataclass(slots=True)
class JobReport:
    restored: int = 0
    expired: int = 0
    ips_truncated: int = 0
    ips_removed: int = 0


class LegalJobs:
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="legal-jobs")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.ctx.settings.legal_jobs_seconds)
            try:
                report = await asyncio.to_thread(self.run_once)
            except Exception:  # the next run tries again; the database may be back by then
                log.exception("legal jobs: run failed")
                continue
            if report.restored or report.expired:
                log.info(
                    "legal jobs: %d restriction(s) restored after counter-notices, %d expired",
                    report.restored,
                    report.expired,
                )

    def run_once(self, now: datetime | None = None) -> JobReport:
        now = now or utcnow()
        report = JobReport()
        with self.ctx.db.transaction() as session:
            session.info["changed"] = set()
            report.restored = _restore_after_counter_notices(session, now)
            report.expired = _lift_expired(session, now)
            report.ips_truncated, report.ips_removed = _apply_retention(
                session, now, self.ctx.settings
            )
        for tenant_id, topic in session.info["changed"]:
            self.ctx.events.publish(tenant_id, topic)
        return report


def _restore_after_counter_notices(session: Session, now: datetime) -> int:
    due = session.scalars(
        select(CounterNotice)
        .where(
            CounterNotice.status == CounterStatus.pending.value,
            CounterNotice.restore_due_at <= now,
        )
        .order_by(CounterNotice.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True)  # several panel processes: each row once
    )
    restored = 0
    for counter in list(due):
        action = session.get(NoticeAction, counter.action_id)
        if action is None or action.lifted_at is not None:
            counter.status = CounterStatus.moot.value
            continue
        lift(session, action, LiftReason.counter_notice, now, counter.id)
        counter.status = CounterStatus.restored.value
        counter.restored_at = now
        record(
            session,
            actor_id=None,
            actor=LEGAL_JOBS.username,
            tenant_id=counter.tenant_id,
            action="restore",
            entity="counter_notice",
            entity_id=counter.id,
            after={"action_id": action.id, "statement": action.lift_statement},
        )
        restored += 1
    return restored


def _lift_expired(session: Session, now: datetime) -> int:
    kinds = [k.value for k in ActionKind if restrictable(k)]
    expired = list(
        session.scalars(
            select(NoticeAction)
            .where(
                NoticeAction.expires_at <= now,
                NoticeAction.lifted_at.is_(None),
                NoticeAction.kind.in_(kinds),
            )
            .order_by(NoticeAction.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    for action in expired:
        lift(session, action, LiftReason.expired, now)
        for counter in session.scalars(
            select(CounterNotice).where(
                CounterNotice.action_id == action.id,
                CounterNotice.status == CounterStatus.pending.value,
            )
        ):
            counter.status = CounterStatus.moot.value
    return len(expired)


def _policies(session: Session, settings: Any) -> dict[int | None, RetentionPolicy]:
    default = RetentionPolicy(settings.ip_truncate_days, settings.ip_remove_days)
    policies: dict[int | None, RetentionPolicy] = {None: default}
    for tenant_id, truncate, remove in session.execute(
        select(Tenant.id, Tenant.ip_truncate_days, Tenant.ip_remove_days)
    ):
        policies[tenant_id] = RetentionPolicy(
            truncate if truncate is not None else default.truncate_days,
            remove if remove is not None else default.remove_days,
        )
    return policies


def _apply_retention(session: Session, now: datetime, settings: Any) -> tuple[int, int]:
    truncated = removed = 0
    redactions = Redactions()
    for tenant_id, policy in _policies(session, settings).items():
        # Removal first (the oldest), then truncation of what is not a network yet.
        for before, replace in (
            (policy.remove_before(now), lambda ip: ""),
            (policy.truncate_before(now), truncate_ip),
        ):
            changed = _audit_ips(session, redactions, tenant_id, before, replace)
            changed += _row_ips(session, tenant_id, before, replace)
            if replace is truncate_ip:
                truncated += changed
            else:
                removed += changed
    redactions.seal(session, actor=LEGAL_JOBS.username, reason="ip retention")
    return truncated, removed


def _audit_ips(
    session: Session,
    redactions: Redactions,
    tenant_id: int | None,
    before: datetime,
    replace: Any,
) -> int:
    scope = (
        AuditEntry.tenant_id.is_(None) if tenant_id is None else AuditEntry.tenant_id == tenant_id
    )
    stmt = select(AuditEntry).where(
        scope,
        # Entries written before salted fields (migration 0013) keep their address: their
        # digest covers it as it is (see trust/audit_chain.py).
        AuditEntry.salts.is_not(None),
        AuditEntry.ip != "",
        AuditEntry.created_at < before,
    )
    if replace is truncate_ip:
        stmt = stmt.where(~AuditEntry.ip.contains("/"))
    changed = 0
    for entry in list(session.scalars(stmt.order_by(AuditEntry.id).limit(BATCH))):
        changed += redactions.replace(entry, ip=replace(entry.ip))
    return changed


def _row_ips(session: Session, tenant_id: int | None, before: datetime, replace: Any) -> int:
    changed = 0
    model: type[Notice] | type[CounterNotice]
    for model in (Notice, CounterNotice):
        scope = model.tenant_id.is_(None) if tenant_id is None else model.tenant_id == tenant_id
        stmt = select(model).where(scope, model.ip != "", model.received_at < before)
        if replace is truncate_ip:
            stmt = stmt.where(~model.ip.contains("/"))
        rows: list[Notice | CounterNotice] = list(
            session.scalars(stmt.order_by(model.id).limit(BATCH))
        )
        for row in rows:
            row.ip = replace(row.ip)
            changed += 1
    return changed
