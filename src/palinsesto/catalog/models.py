"""What a tenant offers: categories, live channels, bouquets, movies and series."""

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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from palinsesto.db.base import Base, TenantScoped, utcnow


class CategoryKind(enum.StrEnum):
    live = "live"
    movie = "movie"
    series = "series"


class Category(Base, TenantScoped):
    __tablename__ = "categories"
    __table_args__ = (Index("ix_categories_tenant_kind_order", "tenant_id", "kind", "sort_order"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[CategoryKind] = mapped_column(Enum(CategoryKind, native_enum=False, length=8))
    name: Mapped[str] = mapped_column(String(200))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)


class RemoteDelivery(enum.StrEnum):
    """How a movie or episode whose source is an http(s) URL reaches a player: sent on to
    the URL (302), or streamed through this server (its address stays hidden)."""

    redirect = "redirect"
    proxy = "proxy"


class ChannelMode(enum.StrEnum):
    always_on = "always_on"
    on_demand = "on_demand"


class Channel(Base, TenantScoped):
    """A live stream. Its id is the ``stream_id`` the apps use."""

    __tablename__ = "channels"
    __table_args__ = (
        Index("ix_channels_tenant_id_id", "tenant_id", "id"),
        Index("ix_channels_tenant_number", "tenant_id", "number"),
        Index("ix_channels_tenant_epg", "tenant_id", "epg_channel_id"),
        Index("ix_channels_tenant_name", "tenant_id", "name"),  # the panel's sort by name
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    number: Mapped[int | None] = mapped_column(Integer, default=None)
    logo: Mapped[str] = mapped_column(String(1000), default="")
    epg_channel_id: Mapped[str | None] = mapped_column(String(200), default=None)
    # Ordered failover list: [{"url": "...", "kind": "hls"}, ...]
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    mode: Mapped[ChannelMode] = mapped_column(
        Enum(ChannelMode, native_enum=False, length=16), default=ChannelMode.on_demand
    )
    transcode_profile: Mapped[str] = mapped_column(String(64), default="copy")
    archive_days: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    stream_key: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    # Anyone with the share link may watch in the browser, without a line.
    public_watch: Mapped[bool] = mapped_column(Boolean, default=False)
    # A creator (accounts Role.creator) who owns the channel: sees and edits only its own.
    owner_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_users.id", ondelete="SET NULL"), default=None, index=True
    )
    custom_sid: Mapped[str] = mapped_column(String(64), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    # Set on a partner's read-only entry for another tenant's channel (catalog/syndication.py):
    # it has no sources or key of its own, and plays resolve to the offered channel. No
    # foreign key: syndications point at channels already (a cycle); ending a syndication
    # deletes its entry (catalog.syndication.end).
    syndication_id: Mapped[int | None] = mapped_column(Integer, default=None, unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    category_links: Mapped[list[ChannelCategory]] = relationship(
        order_by="ChannelCategory.position", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def category_ids(self) -> list[int]:
        return [link.category_id for link in self.category_links]


class ChannelCategory(Base):
    __tablename__ = "channel_categories"

    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)


class ItemType(enum.StrEnum):
    channel = "channel"
    movie = "movie"
    series = "series"


class Bouquet(Base, TenantScoped):
    """An ordered package of channels, movies and series that lines subscribe to."""

    __tablename__ = "bouquets"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BouquetItem(Base):
    __tablename__ = "bouquet_items"
    __table_args__ = (
        Index("ix_bouquet_items_order", "bouquet_id", "item_type", "position"),
        # The admin API's pages of a bouquet, in order (catalog.bouquets.items_of).
        Index(
            "ix_bouquet_items_bouquet_position", "bouquet_id", "position", "item_type", "item_id"
        ),
        Index("ix_bouquet_items_item", "item_type", "item_id"),
    )

    bouquet_id: Mapped[int] = mapped_column(
        ForeignKey("bouquets.id", ondelete="CASCADE"), primary_key=True
    )
    item_type: Mapped[ItemType] = mapped_column(
        Enum(ItemType, native_enum=False, length=8), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Movie(Base, TenantScoped):
    """A VOD title; fields follow reference §4.4–4.5."""

    __tablename__ = "movies"
    __table_args__ = (
        Index("ix_movies_tenant_category", "tenant_id", "category_id"),
        Index("ix_movies_tenant_name", "tenant_id", "name"),  # the panel's sort by name
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    year: Mapped[int | None] = mapped_column(Integer, default=None)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), default=None
    )
    stream_icon: Mapped[str] = mapped_column(String(1000), default="")
    rating: Mapped[float | None] = mapped_column(Float, default=None)
    plot: Mapped[str] = mapped_column(Text, default="")
    cast: Mapped[str] = mapped_column(Text, default="")
    director: Mapped[str] = mapped_column(String(300), default="")
    genre: Mapped[str] = mapped_column(String(300), default="")
    release_date: Mapped[str] = mapped_column(String(10), default="")
    youtube_trailer: Mapped[str] = mapped_column(String(100), default="")
    duration_secs: Mapped[int] = mapped_column(Integer, default=0)
    backdrop_path: Mapped[list[str]] = mapped_column(JSON, default=list)
    tmdb_id: Mapped[int | None] = mapped_column(Integer, default=None)
    container_extension: Mapped[str] = mapped_column(String(8), default="mp4")
    source_url: Mapped[str] = mapped_column(String(2000), default="")
    delivery: Mapped[RemoteDelivery] = mapped_column(
        Enum(RemoteDelivery, native_enum=False, length=8), default=RemoteDelivery.redirect
    )
    # What ffmpeg found in a local file (media/probe_report.py MediaInfo), or why it could
    # not read it; both empty until probed (remote sources are not probed).
    media_info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    probe_error: Mapped[str] = mapped_column(String(500), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Series(Base, TenantScoped):
    """A series; fields follow reference §4.6–4.7."""

    __tablename__ = "series"
    __table_args__ = (Index("ix_series_tenant_category", "tenant_id", "category_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    year: Mapped[int | None] = mapped_column(Integer, default=None)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), default=None
    )
    cover: Mapped[str] = mapped_column(String(1000), default="")
    plot: Mapped[str] = mapped_column(Text, default="")
    cast: Mapped[str] = mapped_column(Text, default="")
    director: Mapped[str] = mapped_column(String(300), default="")
    genre: Mapped[str] = mapped_column(String(300), default="")
    release_date: Mapped[str] = mapped_column(String(10), default="")
    rating: Mapped[float | None] = mapped_column(Float, default=None)
    backdrop_path: Mapped[list[str]] = mapped_column(JSON, default=list)
    youtube_trailer: Mapped[str] = mapped_column(String(100), default="")
    episode_run_time: Mapped[int] = mapped_column(Integer, default=0)
    tmdb_id: Mapped[int | None] = mapped_column(Integer, default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Season(Base, TenantScoped):
    __tablename__ = "seasons"
    __table_args__ = (UniqueConstraint("series_id", "season_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    season_number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200), default="")
    overview: Mapped[str] = mapped_column(Text, default="")
    air_date: Mapped[str] = mapped_column(String(10), default="")
    cover: Mapped[str] = mapped_column(String(1000), default="")


class Episode(Base, TenantScoped):
    """An episode; its id is the stream id in ``/series/U/P/ID.ext``."""

    __tablename__ = "episodes"
    __table_args__ = (
        Index("ix_episodes_series_order", "series_id", "season_number", "episode_num"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    season_number: Mapped[int] = mapped_column(Integer)
    episode_num: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    plot: Mapped[str] = mapped_column(Text, default="")
    duration_secs: Mapped[int] = mapped_column(Integer, default=0)
    movie_image: Mapped[str] = mapped_column(String(1000), default="")
    rating: Mapped[float | None] = mapped_column(Float, default=None)
    release_date: Mapped[str] = mapped_column(String(10), default="")
    container_extension: Mapped[str] = mapped_column(String(8), default="mp4")
    source_url: Mapped[str] = mapped_column(String(2000), default="")
    delivery: Mapped[RemoteDelivery] = mapped_column(
        Enum(RemoteDelivery, native_enum=False, length=8), default=RemoteDelivery.redirect
    )
    media_info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    probe_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LibraryKind(enum.StrEnum):
    movie = "movie"
    series = "series"


class ScanState(enum.StrEnum):
    never = "never"
    running = "running"
    done = "done"
    failed = "failed"


class MediaLibrary(Base, TenantScoped):
    """A folder under the tenant's media root whose video files become movies, or series
    with their seasons and episodes, when it is scanned (catalog/library_scan.py)."""

    __tablename__ = "media_libraries"
    __table_args__ = (UniqueConstraint("tenant_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(1000))  # relative to the tenant's media folder
    kind: Mapped[LibraryKind] = mapped_column(Enum(LibraryKind, native_enum=False, length=8))
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), default=None
    )
    # The last scan's outcome (the running one's progress lives in memory, then lands here).
    scan_state: Mapped[ScanState] = mapped_column(
        Enum(ScanState, native_enum=False, length=8), default=ScanState.never
    )
    scan_started_at: Mapped[datetime | None] = mapped_column(default=None)
    scan_finished_at: Mapped[datetime | None] = mapped_column(default=None)
    scan_summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    scan_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LibraryFileStatus(enum.StrEnum):
    ok = "ok"
    broken = "broken"  # ffmpeg could not read it: probe_error says why
    missing = "missing"  # gone from the folder since an earlier scan


class LibraryFile(Base, TenantScoped):
    """One video file a scan found: what it was when last probed (size, mtime), and the
    movie or episode made from it."""

    __tablename__ = "library_files"
    __table_args__ = (UniqueConstraint("library_id", "rel_path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("media_libraries.id", ondelete="CASCADE"))
    rel_path: Mapped[str] = mapped_column(String(1000))  # relative to the library's folder
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    mtime_ns: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[LibraryFileStatus] = mapped_column(
        Enum(LibraryFileStatus, native_enum=False, length=8), default=LibraryFileStatus.ok
    )
    probe_error: Mapped[str] = mapped_column(String(500), default="")
    movie_id: Mapped[int | None] = mapped_column(
        ForeignKey("movies.id", ondelete="SET NULL"), default=None
    )
    episode_id: Mapped[int | None] = mapped_column(
        ForeignKey("episodes.id", ondelete="SET NULL"), default=None
    )
    probed_at: Mapped[datetime | None] = mapped_column(default=None)


class M3USource(Base, TenantScoped):
    """A provider's playlist URL the panel re-imports every ``refresh_hours``: new entries
    become channels, changed URLs are updated, and channels gone from the list are
    disabled (see catalog.m3u_sources)."""

    __tablename__ = "m3u_sources"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # May carry the provider account's password: shown redacted, never logged as is.
    url: Mapped[str] = mapped_column(String(2000))
    # Every entry goes into this category; none: each group-title becomes a category.
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), default=None
    )
    bouquet_id: Mapped[int | None] = mapped_column(
        ForeignKey("bouquets.id", ondelete="SET NULL"), default=None
    )
    refresh_hours: Mapped[int] = mapped_column(Integer, default=24)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_run_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status: Mapped[str] = mapped_column(String(16), default="")  # "", succeeded, failed
    last_error: Mapped[str] = mapped_column(Text, default="")
    # What the last successful run did: created, updated, unchanged, disabled, skipped.
    last_summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    next_run_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class M3USourceChannel(Base):
    """A channel an M3U source brought: a refresh disables those gone from the list (and
    enables again those it disabled, when they come back)."""

    __tablename__ = "m3u_source_channels"
    __table_args__ = (Index("ix_m3u_source_channels_channel", "channel_id"),)

    source_id: Mapped[int] = mapped_column(
        ForeignKey("m3u_sources.id", ondelete="CASCADE"), primary_key=True
    )
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    disabled_by_source: Mapped[bool] = mapped_column(Boolean, default=False)


class OfferStatus(enum.StrEnum):
    open = "open"
    withdrawn = "withdrawn"


class SyndicationOffer(Base, TenantScoped):
    """Tenant A offers one of its channels to tenant B (``partner_tenant_id``) or, with no
    partner, to every panel through the platform's directory, on these terms."""

    __tablename__ = "syndication_offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), index=True
    )
    partner_tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), default=None, index=True
    )
    until: Mapped[datetime | None] = mapped_column(default=None)
    territories: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: worldwide
    max_viewers: Mapped[int | None] = mapped_column(Integer, default=None)  # per partner
    # All partners' viewers at once, together (None: no total cap).
    max_viewers_total: Mapped[int | None] = mapped_column(Integer, default=None)
    paid_bouquets: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_approve: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[OfferStatus] = mapped_column(
        Enum(OfferStatus, native_enum=False, length=16), default=OfferStatus.open
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SyndicationStatus(enum.StrEnum):
    requested = "requested"
    active = "active"
    refused = "refused"
    revoked = "revoked"  # by the owner (or the offer was withdrawn)
    ended = "ended"  # the offer's term passed
    cancelled = "cancelled"  # by the partner


class Syndication(Base):
    """Tenant B's request for an offer, and once approved its right to carry the channel.

    It belongs to two tenants, so each query names which side it reads as:
    ``owner_tenant_id`` (A) or ``partner_tenant_id`` (B)."""

    __tablename__ = "syndications"
    __table_args__ = (
        Index("ix_syndications_partner_status", "partner_tenant_id", "status"),
        Index("ix_syndications_owner_status", "owner_tenant_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(
        ForeignKey("syndication_offers.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    owner_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    partner_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    status: Mapped[SyndicationStatus] = mapped_column(
        Enum(SyndicationStatus, native_enum=False, length=16), default=SyndicationStatus.requested
    )
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    end_reason: Mapped[str] = mapped_column(String(200), default="")
    # The partner's audience, counted by the node that serves it (no viewer's data).
    peak_viewers: Mapped[int] = mapped_column(Integer, default=0)
    watch_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
