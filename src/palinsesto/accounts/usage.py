"""Metered usage per tenant per day (``usage_days``): adding samples, reading ranges.

Rows only grow: a sample adds its viewer-seconds and egress to the day's row and raises its
peak. Viewer-seconds are stored whole (the meter carries fractions to its next sample).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Protocol

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


def add_usage(session: Session, samples: Iterable[Sample]) -> None:
    """Add ``samples`` to their days' rows (samples of deleted tenants are dropped)."""
    wanted = list(samples)
    if not wanted:
        return
    ids = {s.tenant_id for s in wanted}
    existing = set(session.scalars(select(Tenant.id).where(Tenant.id.in_(ids))).all())
    for s in wanted:
        if s.tenant_id not in existing:
            continue
        seconds = round(s.viewer_seconds)
        for _ in range(2):  # a second panel may insert the day's row between our two steps
            changed = session.execute(
                update(UsageDay)
                .where(UsageDay.tenant_id == s.tenant_id, UsageDay.day == s.day)
                .values(
                    viewer_seconds=UsageDay.viewer_seconds + seconds,
                    egress_bytes=UsageDay.egress_bytes + s.egress_bytes,
                    peak_viewers=func.max(UsageDay.peak_viewers, s.peak_viewers)
                    if session.get_bind().dialect.name == "sqlite"
                    else func.greatest(UsageDay.peak_viewers, s.peak_viewers),
                )
            )
            if changed.rowcount:  # type: ignore[attr-defined]
                break
            try:
                with session.begin_nested():
                    session.add(
                        UsageDay(
                            tenant_id=s.tenant_id,
                            day=s.day,
                            viewer_seconds=seconds,
                            peak_viewers=s.peak_viewers,
                            egress_bytes=s.egress_bytes,
                        )
                    )
                break
            except IntegrityError:
                continue


@dataclass(frozen=True, slots=True)
class UsageRow:
    tenant_id: int
    tenant_slug: str
    day: date
    viewer_seconds: int
    peak_viewers: int
    egress_bytes: int

    @property
    def viewer_hours(self) -> float:
        return round(self.viewer_seconds / 3600, 3)

    @property
    def egress_gb(self) -> float:
        return round(self.egress_bytes / 1e9, 6)


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
            int(u.egress_bytes),
        )
        for u, slug in session.execute(stmt).all()
    ]  # fmt: skip
