"""Rights records (with evidence files), territory rules and blackout windows.

A record says who holds the rights to distribute a channel, movie or series, under which
licence, from when until when and where; its evidence files are stored with their SHA-256.
With the tenant's ``rights_required`` on, an item without a current record is absent from
the player API, playlists and guide, and its stream URLs answer 451 with the reason
(palinsesto.panel.playback.rights_gate). Expiry alerts: ``GET /rights/expiring`` lists the
records ending within 30, 7 or 1 days, each with the threshold it has crossed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from palinsesto.catalog.models import Channel, Movie, Series
from palinsesto.panel.admin.api.changes import audited
from palinsesto.panel.admin.api.deps import DbSession, Manager, Principal
from palinsesto.panel.admin.api.errors import NotFound, ValidationFailed
from palinsesto.panel.admin.api.identifiers import Label
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.types import MAX_ID, PathId
from palinsesto.trust.models import BlackoutWindow, RightsEvidence, RightsRecord, TerritoryRule
from palinsesto.trust.rights import (
    BlackoutAction,
    RightsItem,
    RightsStatus,
    expiry_bucket,
    normalise_countries,
)

router = APIRouter(tags=["rights"])

MAX_EVIDENCE_BYTES = 1536 << 10  # base64 of it fits the 2 MiB request body limit
ITEM_MODELS: dict[RightsItem, Any] = {
    RightsItem.channel: Channel,
    RightsItem.movie: Movie,
    RightsItem.series: Series,
}
Countries = Annotated[list[str], Field(default=[], max_length=300)]


class _ItemRef(InputModel):
    tenant_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="platform admins")
    item_type: RightsItem
    item_id: int = Field(ge=1, le=MAX_ID)


def _countries(value: list[str]) -> list[str]:
    return normalise_countries(value)


class EvidenceIn(InputModel):
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(default="application/octet-stream", max_length=100)
    content_base64: str = Field(min_length=1)


class RightsIn(_ItemRef):
    holder: Label = Field(min_length=1, max_length=200)
    licence_ref: str = Field(default="", max_length=200)
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    territories: Countries
    status: RightsStatus = RightsStatus.active
    evidence: list[EvidenceIn] = Field(default=[], max_length=20)
    # Channels only: each viewer gets its own invisible A/B sequence (README "Watermark").
    watermark: bool = False

    _norm = field_validator("territories")(_countries)


class EvidenceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str


class RightsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tenant_id: int
    item_type: RightsItem
    item_id: int
    holder: str
    licence_ref: str
    starts_at: datetime
    ends_at: datetime | None
    territories: list[str]
    status: RightsStatus
    watermark: bool = False
    evidence: list[EvidenceOut] = []


class ExpiringOut(BaseModel):
    record: RightsOut
    alert_days: int  # 30, 7 or 1: the tightest threshold the record is within
    seconds_left: int


class TerritoryIn(_ItemRef):
    allowed: Countries
    blocked: Countries
    deny_unknown: bool = False

    _norm = field_validator("allowed", "blocked")(_countries)


class TerritoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tenant_id: int
    item_type: RightsItem
    item_id: int
    allowed: list[str]
    blocked: list[str]
    deny_unknown: bool


class BlackoutIn(_ItemRef):
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    countries: Countries
    action: BlackoutAction = BlackoutAction.slate

    _norm = field_validator("countries")(_countries)


class BlackoutOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tenant_id: int
    item_type: RightsItem
    item_id: int
    starts_at: datetime
    ends_at: datetime
    countries: list[str]
    action: BlackoutAction


def _tenant(principal: Principal, ref: _ItemRef) -> int:
    if principal.is_platform:
        if ref.tenant_id is None:
            raise ValidationFailed("Say which tenant.", fields={"tenant_id": "Required."})
        return ref.tenant_id
    return int(principal.tenant_id or 0)


def _check_item(session: Session, tenant_id: int, ref: _ItemRef) -> None:
    row = session.get(ITEM_MODELS[ref.item_type], ref.item_id)
    if row is None or row.tenant_id != tenant_id:
        raise ValidationFailed(
            f"No {ref.item_type.value} {ref.item_id} in this tenant.",
            fields={"item_id": "Not found."},
        )


def _evidence(files: list[EvidenceIn]) -> list[RightsEvidence]:
    found = []
    for n, item in enumerate(files):
        try:
            data = base64.b64decode(item.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationFailed(
                "Evidence must be base64.", fields={f"evidence.{n}": "Not base64."}
            ) from None
        if not data or len(data) > MAX_EVIDENCE_BYTES:
            raise ValidationFailed(
                "Evidence files hold 1 byte to 1.5 MiB.", fields={f"evidence.{n}": "Bad size."}
            )
        found.append(
            RightsEvidence(
                filename=item.filename,
                content_type=item.content_type,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                content=data,
            )
        )
    return found


def _out(session: Session, rec: RightsRecord) -> RightsOut:
    files = session.scalars(
        select(RightsEvidence).where(RightsEvidence.record_id == rec.id).order_by(RightsEvidence.id)
    ).all()
    out = RightsOut.model_validate(rec)
    out.evidence = [EvidenceOut.model_validate(f) for f in files]
    return out


def _scoped_get(session: Session, principal: Principal, model: Any, row_id: int) -> Any:
    row = session.get(model, row_id)
    if row is None or not (principal.is_platform or row.tenant_id == principal.tenant_id):
        raise NotFound(f"{model.__name__} {row_id} not found.")
    return row


@router.post("/rights", response_model=RightsOut, status_code=201)
def create_rights(body: RightsIn, principal: Manager, session: DbSession) -> RightsOut:
    tenant_id = _tenant(principal, body)
    if body.watermark and body.item_type is not RightsItem.channel:
        raise ValidationFailed(
            "Only live channels can be watermarked.", fields={"watermark": "Channels only."}
        )
    _check_item(session, tenant_id, body)
    if body.ends_at is not None and body.ends_at <= body.starts_at:
        raise ValidationFailed("The end is not after the start.", fields={"ends_at": "Too early."})
    files = _evidence(body.evidence)
    rec = RightsRecord(
        tenant_id=tenant_id,
        **body.model_dump(exclude={"tenant_id", "evidence"}, mode="python"),
    )
    session.add(rec)
    session.flush()
    for f in files:
        f.record_id = rec.id
        session.add(f)
    out = _out(session, rec)
    audited(session, principal, "create", "rights_record", rec, after=out.model_dump(mode="json"))
    return out


@router.get("/rights", response_model=list[RightsOut])
def list_rights(
    principal: Manager, session: DbSession, item_type: RightsItem | None = None
) -> list[RightsOut]:
    stmt = select(RightsRecord).order_by(RightsRecord.id)
    if not principal.is_platform:
        stmt = stmt.where(RightsRecord.tenant_id == principal.tenant_id)
    if item_type is not None:
        stmt = stmt.where(RightsRecord.item_type == item_type.value)
    return [_out(session, r) for r in session.scalars(stmt.limit(10_000)).all()]


@router.get("/rights/expiring", response_model=list[ExpiringOut])
def expiring_rights(principal: Manager, session: DbSession) -> list[ExpiringOut]:
    """Active records ending within 30, 7 or 1 days, soonest first (the expiry alerts)."""
    now = time.time()
    stmt = select(RightsRecord).where(
        RightsRecord.status == RightsStatus.active.value, RightsRecord.ends_at.is_not(None)
    )
    if not principal.is_platform:
        stmt = stmt.where(RightsRecord.tenant_id == principal.tenant_id)
    found = []
    for rec in session.scalars(stmt).all():
        ends = rec.ends_at.timestamp() if rec.ends_at is not None else None
        days = expiry_bucket(ends, now)
        if days is not None and ends is not None:
            found.append(ExpiringOut(record=_out(session, rec), alert_days=days,
                                     seconds_left=int(ends - now)))  # fmt: skip
    return sorted(found, key=lambda e: e.seconds_left)


@router.get("/rights/{record_id}/evidence/{evidence_id}")
def evidence_file(
    record_id: PathId, evidence_id: PathId, principal: Manager, session: DbSession
) -> Response:
    _scoped_get(session, principal, RightsRecord, record_id)
    f = session.get(RightsEvidence, evidence_id)
    if f is None or f.record_id != record_id:
        raise NotFound(f"Evidence {evidence_id} not found.")
    headers = {"X-Content-SHA256": f.sha256, "Content-Disposition": "attachment"}
    return Response(f.content, media_type="application/octet-stream", headers=headers)


@router.delete("/rights/{record_id}", status_code=204)
def delete_rights(record_id: PathId, principal: Manager, session: DbSession) -> None:
    rec = _scoped_get(session, principal, RightsRecord, record_id)
    audited(session, principal, "delete", "rights_record", rec)
    session.delete(rec)


@router.put("/territory-rules", response_model=TerritoryOut)
def put_territory_rule(body: TerritoryIn, principal: Manager, session: DbSession) -> TerritoryRule:
    """The item's allowed / blocked countries and deny-on-unknown (one rule per item)."""
    tenant_id = _tenant(principal, body)
    _check_item(session, tenant_id, body)
    rule = session.scalar(
        select(TerritoryRule).where(
            TerritoryRule.tenant_id == tenant_id,
            TerritoryRule.item_type == body.item_type.value,
            TerritoryRule.item_id == body.item_id,
        )
    )
    if rule is None:
        rule = TerritoryRule(tenant_id=tenant_id, item_type=body.item_type.value,
                             item_id=body.item_id)  # fmt: skip
        session.add(rule)
    rule.allowed, rule.blocked, rule.deny_unknown = body.allowed, body.blocked, body.deny_unknown
    audited(session, principal, "update", "territory_rule", rule)
    return rule


@router.post("/blackouts", response_model=BlackoutOut, status_code=201)
def create_blackout(body: BlackoutIn, principal: Manager, session: DbSession) -> BlackoutWindow:
    tenant_id = _tenant(principal, body)
    _check_item(session, tenant_id, body)
    if body.ends_at <= body.starts_at:
        raise ValidationFailed("The end is not after the start.", fields={"ends_at": "Too early."})
    window = BlackoutWindow(
        tenant_id=tenant_id, **body.model_dump(exclude={"tenant_id"}, mode="python")
    )
    session.add(window)
    audited(session, principal, "create", "blackout", window)
    return window


@router.delete("/blackouts/{blackout_id}", status_code=204)
def delete_blackout(blackout_id: PathId, principal: Manager, session: DbSession) -> None:
    window = _scoped_get(session, principal, BlackoutWindow, blackout_id)
    audited(session, principal, "delete", "blackout", window)
    session.delete(window)
