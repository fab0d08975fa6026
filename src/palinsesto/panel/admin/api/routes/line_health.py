"""Lines seen from the viewer's side: who is online now, and why a line cannot play.

Connections are counted as the player API counts ``active_cons`` (panel/playback/viewer.py):
this panel's engine's sessions plus, with nodes, the cluster's session slots. Handlers are
``async`` so the slot store is asked on the loop that owns it; the database is read in a
worker thread. Included before routes/lines.py so ``/lines/online`` is not taken for an id.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import func, select

from palinsesto.accounts import lines as service
from palinsesto.accounts.models import Line, Tenant
from palinsesto.catalog.models import Bouquet, BouquetItem, ItemType
from palinsesto.panel.admin.api.deps import Context, CurrentPrincipal
from palinsesto.panel.admin.api.errors import ValidationFailed
from palinsesto.panel.admin.api.routes.lines import get_visible, scope_clause
from palinsesto.panel.admin.api.types import MAX_ID, PathId
from palinsesto.panel.admin.line_diagnosis import BouquetContents, LineFacts, diagnose

router = APIRouter(tags=["lines"])

MAX_IDS = 500


class LineOnline(BaseModel):
    line_id: int
    connections: int
    max_connections: int  # 0 = unlimited


class LineOnlineList(BaseModel):
    items: list[LineOnline]


class FindingOut(BaseModel):
    level: str  # problem | warning | ok
    code: str
    message: str
    fix: str


class DiagnosisOut(BaseModel):
    line_id: int
    can_play: bool
    connections: int
    max_connections: int
    findings: list[FindingOut]


def _parse_ids(ids: str) -> list[int]:
    try:
        found = [int(part) for part in ids.split(",") if part.strip()]
    except ValueError:
        raise ValidationFailed(
            "List line ids as numbers separated by commas.", fields={"ids": "Numbers only."}
        ) from None
    if len(found) > MAX_IDS:
        raise ValidationFailed(
            f"Ask for at most {MAX_IDS} lines at once.", fields={"ids": "Too many."}
        )
    # An id no column can hold names no line (and must not reach the driver as an overflow).
    return [i for i in found if 0 < i <= MAX_ID]


async def connections_of(ctx: Any, tenant_id: int, line_id: int) -> int:
    """Open connections of a line: this panel's engine's, plus its nodes' session slots."""
    count = 0
    sessions = ctx.services.get("sessions")
    if sessions is not None:
        count += sessions.active_count(line_id)
    control = ctx.services.get("nodes")
    if control is not None:
        try:
            count += await control.slots.line_count(tenant_id, line_id, time.time())
        except RuntimeError:  # the shared store is out of reach: nothing known there
            pass
    return count


@router.get("/lines/online", response_model=LineOnlineList)
async def lines_online(
    principal: CurrentPrincipal,
    ctx: Context,
    ids: Annotated[str, Query(max_length=6000, description="line ids, comma-separated")] = "",
) -> LineOnlineList:
    """Connections now and the limit, for the lines of a page (ids you may not see are
    left out)."""
    wanted = _parse_ids(ids)

    def load() -> list[tuple[int, int, int]]:
        if not wanted:
            return []
        with ctx.db.session() as session:
            rows = session.execute(
                select(Line.id, Line.tenant_id, Line.max_connections).where(
                    Line.id.in_(wanted), scope_clause(session, principal)
                )
            )
            return [(r[0], r[1], r[2]) for r in rows]

    items = [
        LineOnline(
            line_id=line_id,
            connections=await connections_of(ctx, tenant_id, line_id),
            max_connections=limit,
        )
        for line_id, tenant_id, limit in await asyncio.to_thread(load)
    ]
    return LineOnlineList(items=items)


def _bouquet_contents(session: Any, bouquet_ids: list[int]) -> list[BouquetContents]:
    if not bouquet_ids:
        return []
    names = dict(
        session.execute(select(Bouquet.id, Bouquet.name).where(Bouquet.id.in_(bouquet_ids))).all()
    )
    counts: dict[int, dict[ItemType, int]] = {}
    for bouquet_id, kind, n in session.execute(
        select(BouquetItem.bouquet_id, BouquetItem.item_type, func.count())
        .where(BouquetItem.bouquet_id.in_(bouquet_ids))
        .group_by(BouquetItem.bouquet_id, BouquetItem.item_type)
    ):
        counts.setdefault(bouquet_id, {})[ItemType(kind)] = n
    return [
        BouquetContents(
            name=names[b],
            channels=counts.get(b, {}).get(ItemType.channel, 0),
            movies=counts.get(b, {}).get(ItemType.movie, 0),
            series=counts.get(b, {}).get(ItemType.series, 0),
        )
        for b in bouquet_ids
        if b in names
    ]


@router.get("/lines/{line_id}/diagnosis", response_model=DiagnosisOut)
async def line_diagnosis(
    line_id: PathId, principal: CurrentPrincipal, ctx: Context
) -> DiagnosisOut:
    """Why can't this line play? Each check as a sentence with its fix: status and expiry,
    the service's state, bouquets (none, or empty), allowed outputs, address and player
    locks, and the connection limit against the connections open now."""

    def load() -> tuple[LineFacts, int]:
        with ctx.db.session() as session:
            line = get_visible(session, principal, line_id)
            tenant = session.get(Tenant, line.tenant_id)
            assert tenant is not None  # a line's tenant is a foreign key
            now = datetime.now(UTC)
            facts = LineFacts(
                status=service.status_of(line, now),
                exp_date=line.exp_date,
                now=now,
                tenant_name=tenant.name,
                tenant_status=tenant.status,
                connection_policy=tenant.connection_policy,
                bouquets=_bouquet_contents(session, line.bouquet_ids),
                allowed_outputs=list(line.allowed_outputs),
                allowed_ips=list(line.allowed_ips),
                allowed_user_agents=list(line.allowed_user_agents),
                connections=0,
                max_connections=line.max_connections,
            )
            return facts, line.tenant_id

    facts, tenant_id = await asyncio.to_thread(load)
    connections = await connections_of(ctx, tenant_id, line_id)
    facts = replace(facts, connections=connections)
    findings = diagnose(facts)
    return DiagnosisOut(
        line_id=line_id,
        can_play=not any(f.level == "problem" for f in findings),
        connections=connections,
        max_connections=facts.max_connections,
        findings=[
            FindingOut(level=f.level.value, code=f.code, message=f.message, fix=f.fix)
            for f in findings
        ],
    )
