"""Shows that creators schedule on their own channels, which the guide then carries."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from palinsesto.catalog.models import Channel
from palinsesto.epg.guide import EPG_TOPIC
from palinsesto.epg.models import ScheduledShow
from palinsesto.panel.admin.api.changes import audited, mark_changed
from palinsesto.panel.admin.api.deps import DbSession, Manager, Principal, Staff
from palinsesto.panel.admin.api.errors import NotFound
from palinsesto.panel.admin.api.identifiers import Label
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.patching import apply_changes, patch_changes
from palinsesto.panel.admin.api.routes.epg_schemas import check_zone
from palinsesto.panel.admin.api.scope import get_scoped
from palinsesto.panel.admin.api.types import PathId
from palinsesto.trust.audit import snapshot

router = APIRouter(prefix="/epg", tags=["epg"])
MAX_SHOW = timedelta(hours=24)
Weekday = Annotated[int, Field(ge=1, le=7, description="ISO weekday, 1 = Monday")]


class ShowIn(InputModel):
    title: Label = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=10_000)
    start: AwareDatetime
    end: AwareDatetime
    weekly_days: list[Weekday] = Field(default=[], description="ISO weekdays, 1 = Monday")
    repeat_until: AwareDatetime | None = None
    timezone: str = Field(default="UTC", max_length=64, description="keeps the local time")
    live: bool = True
    lang: str = Field(default="", max_length=16)

    _zone = field_validator("timezone")(check_zone)

    @field_validator("weekly_days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        return sorted(set(value))

    @model_validator(mode="after")
    def _order(self) -> ShowIn:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.end - self.start > MAX_SHOW:
            raise ValueError("a show lasts at most 24 hours")
        return self


class ShowPatch(InputModel):
    title: Label | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=10_000)
    live: bool | None = None


class ShowOut(BaseModel):
    id: int
    channel_id: int
    title: str
    description: str
    start: datetime
    end: datetime
    weekly_days: list[int]
    repeat_until: datetime | None
    timezone: str
    live: bool
    lang: str


def _show_out(show: ScheduledShow) -> ShowOut:
    def moment(stamp: int) -> datetime:
        return datetime.fromtimestamp(stamp, ZoneInfo(show.timezone or "UTC"))

    return ShowOut(
        id=show.id,
        channel_id=show.channel_id,
        title=show.title,
        description=show.description,
        start=moment(show.start),
        end=moment(show.stop),
        weekly_days=list(show.weekly_days or []),
        repeat_until=moment(show.repeat_until) if show.repeat_until is not None else None,
        timezone=show.timezone,
        live=show.live,
        lang=show.lang,
    )


def _own_show(
    session: Session, principal: Principal, channel_id: int, show_id: int
) -> ScheduledShow:
    channel = get_scoped(session, principal, Channel, channel_id, label="Channel")
    show = get_scoped(session, principal, ScheduledShow, show_id, label="Show")
    if show.channel_id != channel.id:
        raise NotFound(f"Show {show_id} not found.")
    return show


@router.get("/channels/{channel_id}/shows", response_model=list[ShowOut])
def list_shows(channel_id: PathId, principal: Staff, session: DbSession) -> list[ShowOut]:
    channel = get_scoped(session, principal, Channel, channel_id, label="Channel")
    shows = session.scalars(
        select(ScheduledShow)
        .where(ScheduledShow.channel_id == channel.id)
        .order_by(ScheduledShow.start, ScheduledShow.id)
    ).all()
    return [_show_out(s) for s in shows]


@router.post("/channels/{channel_id}/shows", response_model=ShowOut, status_code=201)
def create_show(
    channel_id: PathId, body: ShowIn, principal: Manager, session: DbSession
) -> ShowOut:
    """Schedule a show; a channel without an EPG id gets one, so apps can tie the guide."""
    channel = get_scoped(session, principal, Channel, channel_id, label="Channel")
    if not channel.epg_channel_id:
        before = snapshot(channel)
        channel.epg_channel_id = f"palinsesto-{channel.id}"
        audited(session, principal, "update", "channel", channel, before=before)
    show = ScheduledShow(
        tenant_id=channel.tenant_id,
        channel_id=channel.id,
        title=body.title,
        description=body.description,
        start=int(body.start.timestamp()),
        stop=int(body.end.timestamp()),
        weekly_days=body.weekly_days,
        repeat_until=int(body.repeat_until.timestamp()) if body.repeat_until else None,
        timezone=body.timezone,
        live=body.live,
        lang=body.lang,
    )
    session.add(show)
    audited(session, principal, "create", "epg_show", show)
    mark_changed(session, channel.tenant_id, EPG_TOPIC)
    return _show_out(show)


@router.patch("/channels/{channel_id}/shows/{show_id}", response_model=ShowOut)
def update_show(
    channel_id: PathId, show_id: PathId, body: ShowPatch, principal: Manager, session: DbSession
) -> ShowOut:
    show = _own_show(session, principal, channel_id, show_id)
    before = snapshot(show)
    apply_changes(show, patch_changes(body))
    audited(session, principal, "update", "epg_show", show, before=before)
    mark_changed(session, show.tenant_id, EPG_TOPIC)
    return _show_out(show)


@router.delete("/channels/{channel_id}/shows/{show_id}", status_code=204)
def delete_show(
    channel_id: PathId, show_id: PathId, principal: Manager, session: DbSession
) -> None:
    show = _own_show(session, principal, channel_id, show_id)
    audited(session, principal, "delete", "epg_show", show)
    mark_changed(session, show.tenant_id, EPG_TOPIC)
    session.delete(show)
