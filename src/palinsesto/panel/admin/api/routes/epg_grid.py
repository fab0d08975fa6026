"""The guide as a grid: a page of channels, each with its programmes of one day.

The day is the tenant's (its time zone), midnight to midnight. Programmes are what viewers'
players get (the stored guide, ``ctx.services["guide"]``: the accepted mapping or the
channel's XMLTV id, the source's active import, scheduled shows merged in), so the grid
shows the guide as it is served.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from palinsesto.accounts.models import Tenant
from palinsesto.catalog.models import Channel
from palinsesto.panel.admin.api.deps import Context, DbSession, Staff
from palinsesto.panel.admin.api.errors import NotFound, ValidationFailed
from palinsesto.panel.admin.api.pagination import ListParams, paginate
from palinsesto.panel.admin.api.scope import scoped_select
from palinsesto.panel.admin.api.types import QueryId

router = APIRouter(prefix="/epg", tags=["epg"])

# Days a guide can hold (and whose midnights are unix times every database stores).
FIRST_DAY, LAST_DAY = date(1970, 1, 2), date(9999, 12, 30)


class GridProgramme(BaseModel):
    start: int  # unix seconds
    stop: int
    title: str
    description: str


class GridChannel(BaseModel):
    id: int
    number: int | None
    name: str
    epg_channel_id: str | None
    programmes: list[GridProgramme]


class GridOut(BaseModel):
    day: date
    timezone: str
    start: int  # the day's midnight, unix seconds
    stop: int  # the next midnight (23 or 25 hours later on a clock change)
    now: int
    items: list[GridChannel]
    total: int
    page: int
    per_page: int


def _tenant(session: Any, principal: Any, tenant_id: int | None) -> Tenant:
    wanted = tenant_id if principal.is_platform else principal.tenant_id
    if wanted is None:
        raise ValidationFailed(
            "Say which tenant's guide to show.",
            fields={"tenant_id": "Required for platform admins."},
        )
    tenant = session.get(Tenant, wanted)
    if tenant is None:
        raise NotFound(f"Tenant {wanted} not found.")
    return tenant


@router.get("/grid", response_model=GridOut)
def guide_grid(
    principal: Staff,
    session: DbSession,
    ctx: Context,
    params: Annotated[ListParams, Depends()],
    day: Annotated[date | None, Query(description="the tenant's day; today when absent")] = None,
    tenant_id: QueryId = None,
) -> GridOut:
    """Channels (by number, then name) × the programmes of one day in the tenant's time
    zone, as players are served them; a channel without guide data has none."""
    tenant = _tenant(session, principal, tenant_id)
    zone = ZoneInfo(tenant.timezone)
    now = time.time()
    chosen = day or datetime.fromtimestamp(now, zone).date()
    if not FIRST_DAY <= chosen <= LAST_DAY:
        raise ValidationFailed(
            f"Choose a day between {FIRST_DAY} and {LAST_DAY}.", fields={"day": "Out of range."}
        )
    midnight = datetime(chosen.year, chosen.month, chosen.day, tzinfo=zone)
    start = int(midnight.timestamp())
    # Wall-clock arithmetic on an aware datetime: the next local midnight, DST or not.
    stop = int((midnight + timedelta(days=1)).timestamp())
    stmt = scoped_select(principal, Channel, tenant.id).where(Channel.tenant_id == tenant.id)
    sortable = {"number": Channel.number, "name": Channel.name}
    if params.sort is None:
        params.sort = "number"
    rows, total = paginate(session, stmt, params, sortable, Channel.name)
    guide = ctx.services.get("guide")
    items = []
    for channel in rows:
        found = (
            guide.programmes(tenant.id, channel.epg_channel_id, start, stop)
            if guide is not None and channel.epg_channel_id
            else []
        )
        items.append(
            GridChannel(
                id=channel.id,
                number=channel.number,
                name=channel.name,
                epg_channel_id=channel.epg_channel_id,
                programmes=[
                    GridProgramme(
                        start=p.start, stop=p.stop, title=p.title, description=p.description
                    )
                    for p in found
                ],
            )
        )
    return GridOut(
        day=chosen,
        timezone=tenant.timezone,
        start=start,
        stop=stop,
        now=int(now),
        items=items,
        total=total,
        page=params.page,
        per_page=params.per_page,
    )
