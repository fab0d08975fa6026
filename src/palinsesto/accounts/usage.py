"""Metered usage per tenant per day (``usage_days``): adding samples, reading ranges.

Rows only grow: a sample adds its viewer-seconds and egress to the day's row and raises its
peak. Viewer-seconds are stored whole (the meter carries fractions to its next sample).
Storage (library files, uploads, catch-up archive on this machine's disks) is measured by
the storage meter (panel/admin/storage_meter.py) several times a day; the day's row keeps
the highest figure, what a day of storage is billed by.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from palinsesto.accounts.models import Tenant, UsageDay


class Sample(Protocol):
    @property
    def tenant_id(self) -> int: ...
    @property
    def day(self) -> date: ...
    @property
    def viewer_seconds(self) -> float: ...
    @property
    def peak_viewers(self) -> int: ...
    @property
    def egress_bytes(self) -> int: ...


def _greatest(session: Session, column: Any, value: int) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        return func.max(column, value)
    return func.greatest(column, value)


def _upsert(
    session: Session, tenant_id: int, day: date, changes: dict[str, Any], first: dict[str, int]
) -> None:
    """Apply ``changes`` to the day's row, or insert it with ``first`` when it is missing."""
    for _ in range(2):  # a second panel may insert the day's row between our two steps
        changed = session.execute(
            update(UsageDay)
            .where(UsageDay.tenant_id == tenant_id, UsageDay.day == day)
            .values(**changes)
        )
        if changed.rowcount:  # type: ignore[attr-defined]
            return
        try:
            with session.begin_nested():
                session.add(UsageDay(tenant_id=tenant_id, day=day, **first))
            return
        except IntegrityError:
            continue


def _existing(session: Session, ids: set[int]) -> set[int]:
    return set(session.scalars(select(Tenant.id).where(Tenant.id.in_(ids))).all())


def add_usage(session: Session, samples: Iterable[Sample]) -> None:
    """Add ``samples`` to their days' rows (samples of deleted tenants are dropped)."""
    wanted = list(samples)
    if not wanted:
        return
    existing = _existing(session, {s.tenant_id for s in wanted})
    for s in wanted:
        if s.tenant_id not in existing:
            continue
        seconds = round(s.viewer_seconds)
        changes = {
            "viewer_seconds": UsageDay.viewer_seconds + seconds,
            "egress_bytes": UsageDay.egress_bytes + s.egress_bytes,
            "peak_viewers": _greatest(session, UsageDay.peak_viewers, s.peak_viewers),
        }
        first = {
            "viewer_seconds": seconds,
            "peak_viewers": s.peak_viewers,
            "egress_bytes": s.egress_bytes,
        }
        _upsert(session, s.tenant_id, s.day, changes, first)


def record_storage(session: Session, day: date, sizes: dict[int, int]) -> None:
    """Raise each tenant's storage figure for ``day`` to at least its measured bytes
    (tenants deleted meanwhile are dropped)."""
    if not sizes:
        return
    existing = _existing(session, set(sizes))
    for tenant_id, size in sorted(sizes.items()):
        if tenant_id not in existing or size < 0:
            continue
        changes = {"storage_bytes": _greatest(session, UsageDay.storage_bytes, size)}
        _upsert(session, tenant_id, day, changes, {"storage_bytes": size})


@dataclass(frozen=True, slots=True)
class UsageRow:
    tenant_id: int
    tenant_slug: str
    day: date
    viewer_seconds: int
    peak_viewers: int
    egress_bytes: int
    storage_bytes: int = 0

    @property
    def viewer_hours(self) -> float:
        return round(self.viewer_seconds / 3600, 3)

    @property
    def egress_gb(self) -> float:
        return round(self.egress_bytes / 1e9, 6)

    @property
    def storage_gb(self) -> float:
        return round(self.storage_bytes / 1e9, 6)


def usage_rows(
    session: Session, start: date, end: date, tenant_id: int | None = None
) -> list[UsageRow]:
    """Every metered day from ``start`` to ``end`` (both included), by tenant then day."""
    stmt = (
        select(UsageDay, Tenant.slug)
        .join(Tenant, Tenant.id == UsageDay.tenant_id)
        .where(UsageDay.day >= start, UsageDay.day <= end)
        .order_by(UsageDay.tenant_id, UsageDay.day)
    )
    if tenant_id is not None:
        stmt = stmt.where(UsageDay.tenant_id == tenant_id)
    return [
        UsageRow(
            u.tenant_id, slug, u.day, int(u.viewer_seconds), int(u.peak_viewers),
            int(u.egress_bytes), int(u.storage_bytes or 0),
        )
        for u, slug in session.execute(stmt).all()
    ]  # fmt: skip
