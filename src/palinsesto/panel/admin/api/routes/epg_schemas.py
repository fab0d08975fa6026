"""What the programme-guide routes share: the time-zone check, import runs, guide channels."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict

from palinsesto.epg.models import ImportStatus


def check_zone(value: str | None) -> str | None:
    """``value`` if it names an IANA time zone (None passes); ValueError otherwise."""
    if value is None:
        return value
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tenant_id: int
    source_id: int
    status: ImportStatus
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int
    bytes_read: int
    channels: int
    programmes: int
    skipped: int
    skipped_reasons: dict[str, int]
    skipped_samples: list[dict[str, Any]]
    error: str


class GuideChannelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    source_id: int
    xmltv_id: str
    display_name: str
    icon: str
