"""Tenants, admin users (with resellers and their credits), API keys and lines."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from palinsesto.accounts.partner_codes import new_partner_code
from palinsesto.db.base import Base, TenantScoped, utcnow


class TenantStatus(enum.StrEnum):
    active = "active"
    # Suspended by the platform admin: viewers are refused (or slated), staff read-only,
    # nothing deleted. Pending: signed up, waiting for the platform admin's approval.
    suspended = "suspended"
    pending = "pending"


class ConnectionPolicy(enum.StrEnum):
    """What admission does when a line is at its connection limit (reference §9)."""

    refuse = "refuse"
    kick_oldest = "kick_oldest"


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[TenantStatus] = mapped_column(
        Enum(TenantStatus, native_enum=False, length=16), default=TenantStatus.active
    )
    max_channels: Mapped[int | None] = mapped_column(Integer, default=None)
    max_lines: Mapped[int | None] = mapped_column(Integer, default=None)
    max_nodes: Mapped[int | None] = mapped_column(Integer, default=None)
    # The plan (palinsesto.accounts.plans) the limits came from; the limits stay editable.
    plan: Mapped[str | None] = mapped_column(String(32), default=None)
    max_viewers: Mapped[int | None] = mapped_column(Integer, default=None)
    max_storage_gb: Mapped[int | None] = mapped_column(Integer, default=None)
    trial_ends_at: Mapped[datetime | None] = mapped_column(default=None)
    connection_policy: Mapped[ConnectionPolicy] = mapped_column(
        Enum(ConnectionPolicy, native_enum=False, length=16), default=ConnectionPolicy.kick_oldest
    )
    # Expired / banned / offline TS plays get a short placeholder clip instead of a bare
    # 403/503 (reference §8.2, §13.22): the viewer sees why inside any player.
    playback_slates: Mapped[bool] = mapped_column(Boolean, default=False)
    # Distribution needs a current rights record (trust/rights.py). Off for tenants that
    # predate the setting; the admin API turns it on for new tenants.
    rights_required: Mapped[bool] = mapped_column(Boolean, default=False)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Who operates the service, for its public operator page and security.txt
    # (/t/<slug>/operator); empty fields are left out there.
    operator_name: Mapped[str] = mapped_column(String(200), default="")
    operator_address: Mapped[str] = mapped_column(String(500), default="")
    operator_email: Mapped[str] = mapped_column(String(254), default="")
    security_contact: Mapped[str] = mapped_column(String(254), default="")
    # Client addresses kept in stored rows: truncated (IPv4 /24, IPv6 /48) after this many
    # days, removed after that many; NULL: the platform's defaults (palinsesto.trust.retention).
    ip_truncate_days: Mapped[int | None] = mapped_column(Integer, default=None)
    ip_remove_days: Mapped[int | None] = mapped_column(Integer, default=None)
    # Branding (admin/api/routes/branding.py): shown on the tenant's watch pages and, on its
    # own domain, its panel sign-in page. Empty = the platform's look.
    brand_name: Mapped[str] = mapped_column(String(200), default="")
    brand_color: Mapped[str] = mapped_column(String(7), default="")
    brand_accent: Mapped[str] = mapped_column(String(7), default="")
    brand_logo: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    brand_logo_type: Mapped[str] = mapped_column(String(32), default="")
    # What another panel's owner types to offer this panel a channel privately
    # (accounts/partner_codes.py); shown to this panel's own staff only, replaceable.
    partner_code: Mapped[str] = mapped_column(String(16), unique=True, default=new_partner_code)


class Role(enum.StrEnum):
    platform_admin = "platform_admin"
    owner = "owner"
    admin = "admin"
    reseller = "reseller"
    support = "support"
    # Owns its channels (Channel.owner_user_id) and sees only them and their audience.
    creator = "creator"


class AdminUser(Base):
    """Someone who signs in to the panel: from the platform admin down to a reseller."""

    __tablename__ = "admin_users"
    __table_args__ = (
        CheckConstraint("credits >= 0", name="credits_not_negative"),
        CheckConstraint(
            "(role = 'platform_admin') = (tenant_id IS NULL)", name="tenant_unless_platform"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_users.id", ondelete="SET NULL"), index=True
    )
    credits: Mapped[int] = mapped_column(Integer, default=0)
    email: Mapped[str] = mapped_column(String(255), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    # Two-factor sign-in (palinsesto.accounts.totp): the confirmed secret, one waiting for
    # its first code, the last step used (no replays) and digests of unused recovery codes.
    totp_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    totp_pending_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    totp_last_step: Mapped[int | None] = mapped_column(Integer, default=None)
    recovery_codes: Mapped[list[str]] = mapped_column(JSON, default=list)


class ApiKey(Base):
    """A long-lived key for automation; only its SHA-256 is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("admin_users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class CreditEntry(Base, TenantScoped):
    """One movement of a reseller's credits. Append-only: rows are never updated or deleted.

    Neither user reference cascades or is set to NULL: a user the ledger names cannot be
    deleted (the database refuses, the API answers 409 first) and is disabled instead, so
    every movement keeps saying whose credits moved and who moved them. Only deleting the
    whole tenant removes its ledger.
    """

    __tablename__ = "credit_ledger"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("admin_users.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    balance_after: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    line_id: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Package(Base, TenantScoped):
    """What a reseller sells: a duration and connection count for a credit price."""

    __tablename__ = "packages"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        CheckConstraint("credits >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    duration_days: Mapped[int] = mapped_column(Integer)
    credits: Mapped[int] = mapped_column(Integer)
    max_connections: Mapped[int] = mapped_column(Integer, default=1)
    is_trial: Mapped[bool] = mapped_column(Boolean, default=False)
    bouquet_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class Line(Base, TenantScoped):
    """A subscriber account, as the apps see it.

    The password is stored as given: the Xtream API returns it in ``user_info`` and every
    playlist URL carries it (reference §3.2, §6.3), so it cannot be a one-way hash.
    """

    __tablename__ = "lines"
    __table_args__ = (
        Index("ix_lines_tenant_reseller", "tenant_id", "reseller_id"),
        Index("ix_lines_tenant_exp_date", "tenant_id", "exp_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Globally unique: player URLs (/live/U/P/ID) carry no tenant.
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password: Mapped[str] = mapped_column(String(64))
    exp_date: Mapped[datetime | None] = mapped_column(default=None)
    max_connections: Mapped[int] = mapped_column(Integer, default=1)
    is_trial: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    banned: Mapped[bool] = mapped_column(Boolean, default=False)
    allowed_outputs: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["m3u8", "ts"])
    allowed_ips: Mapped[list[str]] = mapped_column(JSON, default=list)
    allowed_user_agents: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    reseller_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    bouquet_links: Mapped[list[LineBouquet]] = relationship(
        order_by="LineBouquet.position", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def bouquet_ids(self) -> list[int]:
        return [link.bouquet_id for link in self.bouquet_links]


class LineBouquet(Base):
    """A line's bouquets, in the order the line was given them (reference §4.1)."""

    __tablename__ = "line_bouquets"

    line_id: Mapped[int] = mapped_column(
        ForeignKey("lines.id", ondelete="CASCADE"), primary_key=True
    )
    bouquet_id: Mapped[int] = mapped_column(
        ForeignKey("bouquets.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)


class UsageDay(Base, TenantScoped):
    """One tenant's metered viewing on one UTC day, added to by the usage sampler."""

    __tablename__ = "usage_days"
    __table_args__ = (UniqueConstraint("tenant_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    viewer_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    peak_viewers: Mapped[int] = mapped_column(Integer, default=0)
    egress_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # The day's highest storage sample: library files, uploads, catch-up archive (bytes).
    storage_bytes: Mapped[int] = mapped_column(BigInteger, default=0)


class TenantDomain(Base, TenantScoped):
    """A host name of the tenant's own: requests whose Host names it are the tenant's."""

    __tablename__ = "tenant_domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Lower case, no port, no trailing dot (accounts/domains.py normalises).
    host: Mapped[str] = mapped_column(String(253), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    checked_at: Mapped[datetime | None] = mapped_column(default=None)
    dns_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    dns_detail: Mapped[str] = mapped_column(String(500), default="")


class CreatorInvite(Base, TenantScoped):
    """An e-mailed invitation to become a creator of the tenant: single use, time-limited.

    Only a digest of the link's secret is stored (accounts/invites.py)."""

    __tablename__ = "creator_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[int | None] = mapped_column(
        ForeignKey("admin_users.id", ondelete="SET NULL"), default=None
    )
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
