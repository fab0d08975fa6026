"""Metered usage per tenant per day (for billing): JSON or CSV over a date range.

The platform admin sees every tenant (or one, with ``tenant_id``); a tenant's owners,
admins and support see their own panel only. Figures come from the ``usage_days`` table
the live engine samples into (palinsesto.panel.playback.metering) and the storage meter
measures into (palinsesto.panel.admin.storage_meter).
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from palinsesto.accounts.usage import UsageRow, usage_rows
from palinsesto.panel.admin.api.deps import DbSession, Staff
from palinsesto.panel.admin.api.errors import NotFound, ValidationFailed

router = APIRouter(tags=["usage"])

MAX_DAYS = 366
CSV_COLUMNS = (
    "tenant_id", "tenant_slug", "day", "viewer_seconds", "viewer_hours", "peak_viewers",
    "egress_bytes", "egress_gb", "storage_bytes", "storage_gb",
)  # fmt: skip


class UsageDayOut(BaseModel):
    tenant_id: int
    tenant_slug: str
    day: date
    viewer_seconds: int
    viewer_hours: float
    peak_viewers: int
    egress_bytes: int
    egress_gb: float
    storage_bytes: int = Field(
        description="the day's highest storage sample: library files, uploads, catch-up archive"
    )
    storage_gb: float


class UsageReport(BaseModel):
    start: date
    end: date
    items: list[UsageDayOut]


def _out(row: UsageRow) -> UsageDayOut:
    return UsageDayOut(
        tenant_id=row.tenant_id,
        tenant_slug=row.tenant_slug,
        day=row.day,
        viewer_seconds=row.viewer_seconds,
        viewer_hours=row.viewer_hours,
        peak_viewers=row.peak_viewers,
        egress_bytes=row.egress_bytes,
        egress_gb=row.egress_gb,
        storage_bytes=row.storage_bytes,
        storage_gb=row.storage_gb,
    )


@router.get("/usage", response_model=UsageReport)
def usage_report(
    principal: Staff,
    session: DbSession,
    start: Annotated[date, Query(description="first day (UTC), YYYY-MM-DD")],
    end: Annotated[date | None, Query(description="last day, included; default: start")] = None,
    tenant_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",  # noqa: A002 - the wire name
) -> UsageReport | Response:
    last = end or start
    if last < start:
        raise ValidationFailed("The end is before the start.", fields={"end": "Before start."})
    if last - start > timedelta(days=MAX_DAYS - 1):
        raise ValidationFailed(f"At most {MAX_DAYS} days at once.", fields={"end": "Too far."})
    if not principal.is_platform:
        if tenant_id is not None and tenant_id != principal.tenant_id:
            raise NotFound(f"Tenant {tenant_id} not found.")
        tenant_id = principal.tenant_id
    items = [_out(r) for r in usage_rows(session, start, last, tenant_id)]
    if format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for item in items:
            data = item.model_dump()
            writer.writerow([data[c] for c in CSV_COLUMNS])
        filename = f"usage-{start.isoformat()}-{last.isoformat()}.csv"
        return Response(
            buffer.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return UsageReport(start=start, end=last, items=items)
