"""The stored programme guide: sources, import runs, guide channels, programmes, channel
mappings and the shows creators schedule on their own channels.

Programme times are unix seconds (UTC) in plain integers: the guide is read by range on
every ``get_short_epg``, and integers index and compare the same way on SQLite and
PostgreSQL.

An import writes its programmes under its own ``run_id`` while the source keeps serving
``active_run_id``; the swap is one UPDATE (see :mod:`palinsesto.epg.importer`).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from palinsesto.db.base import Base, TenantScoped, utcnow


class EpgSource(Base, TenantScoped):
    """An XMLTV document an operator loads: by URL, or an uploaded file."""

    __tablename__ = "epg_sources"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2000), default="")
    # Path of the uploaded document under the data dir, when the source is a file.
    upload_path: Mapped[str] = mapped_column(String(1000), default="")
    refresh_hours: Mapped[int] = mapped_column(Integer, default=24)
    # Lower number wins when two sources carry the same XMLTV channel id.
    priority: Mapped[int] = mapped_column(Integer, default=100)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Zone for XMLTV times written without an offset (the XMLTV default is UTC).
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    active_run_id: Mapped[int | None] = mapped_column(Integer, default=None)
    last_import_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImportStatus(enum.StrEnum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class EpgImportRun(Base, TenantScoped):
    """One import of a source: what it read, what it skipped and why, how long it took."""

    __tablename__ = "epg_import_runs"
    __table_args__ = (Index("ix_epg_import_runs_source", "source_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("epg_sources.id", ondelete="CASCADE"))
    status: Mapped[ImportStatus] = mapped_column(
        Enum(ImportStatus, native_enum=False, length=16), default=ImportStatus.running
    )
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    bytes_read: Mapped[int] = mapped_column(BigInteger, default=0)
    channels: Mapped[int] = mapped_column(Integer, default=0)
    programmes: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    # {"reason": count} and the first few skipped entries, for the operator to fix the feed.
    skipped_reasons: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    skipped_samples: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[str] = mapped_column(Text, default="")


class GuideChannel(Base, TenantScoped):
    """A ``<channel>`` seen in a source. Kept across imports so mappings survive them."""

    __tablename__ = "epg_guide_channels"
    __table_args__ = (UniqueConstraint("source_id", "xmltv_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("epg_sources.id", ondelete="CASCADE"))
    xmltv_id: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(300), default="")
    icon: Mapped[str] = mapped_column(String(1000), default="")
    last_run_id: Mapped[int | None] = mapped_column(Integer, default=None)


class Programme(Base):
    """One programme of one guide channel, written by an import run."""

    __tablename__ = "epg_programmes"
    __table_args__ = (
        Index("ix_epg_programmes_tenant_channel_start", "tenant_id", "xmltv_id", "start"),
        Index("ix_epg_programmes_run", "run_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # No single-column tenant index: the composite index above starts with tenant_id, and
    # every extra index costs on a 500,000-row import.
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int] = mapped_column(Integer)
    xmltv_id: Mapped[str] = mapped_column(String(200))
    start: Mapped[int] = mapped_column(BigInteger)
    stop: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    lang: Mapped[str] = mapped_column(String(16), default="")
    # sub-title, categories, episode-num, rating (epg.details); NULL when there are none.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class MatchMethod(enum.StrEnum):
    exact = "exact"
    name = "name"
    manual = "manual"


class MappingState(enum.StrEnum):
    accepted = "accepted"
    review = "review"
    rejected = "rejected"


class ChannelMapping(Base, TenantScoped):
    """Guide channel → Palinsesto channel, as matched or as an operator decided."""

    __tablename__ = "epg_channel_mappings"
    __table_args__ = (
        UniqueConstraint("channel_id", "guide_channel_id"),
        Index("ix_epg_channel_mappings_tenant_state", "tenant_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    guide_channel_id: Mapped[int] = mapped_column(
        ForeignKey("epg_guide_channels.id", ondelete="CASCADE"), index=True
    )
    method: Mapped[MatchMethod] = mapped_column(Enum(MatchMethod, native_enum=False, length=8))
    confidence: Mapped[float] = mapped_column(Float, default=1.0)
    state: Mapped[MappingState] = mapped_column(
        Enum(MappingState, native_enum=False, length=8), default=MappingState.review
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ScheduledShow(Base, TenantScoped):
    """A show a creator schedules on their own channel, once or every week."""

    __tablename__ = "epg_scheduled_shows"
    __table_args__ = (Index("ix_epg_scheduled_shows_channel", "tenant_id", "channel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    start: Mapped[int] = mapped_column(BigInteger)  # first occurrence, unix seconds
    stop: Mapped[int] = mapped_column(BigInteger)
    # ISO weekdays (1 = Monday) on which the show repeats at the same local time of day;
    # empty means it happens once.
    weekly_days: Mapped[list[int]] = mapped_column(JSON, default=list)
    repeat_until: Mapped[int | None] = mapped_column(BigInteger, default=None)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # The show is broadcast live (pushed from the studio) rather than played from files.
    live: Mapped[bool] = mapped_column(Boolean, default=True)
    lang: Mapped[str] = mapped_column(String(16), default="")


class ChannelLiveState(Base, TenantScoped):
    """Whether a push is live on a channel right now, as the live engine reports it."""

    __tablename__ = "epg_channel_live"

    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    live_since: Mapped[int | None] = mapped_column(BigInteger, default=None)
