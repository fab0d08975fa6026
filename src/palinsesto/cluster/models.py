"""Streaming servers (nodes) attached to a tenant's panel."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from palinsesto.db.base import Base, TenantScoped, utcnow


class ServerRole(enum.StrEnum):
    main = "main"
    edge = "edge"


class ServerStatus(enum.StrEnum):
    pending = "pending"
    online = "online"
    offline = "offline"
    disabled = "disabled"


class Server(Base, TenantScoped):
    __tablename__ = "servers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    public_url: Mapped[str] = mapped_column(String(500))
    # Unused: nothing ever read it, and a node's role is per channel (the placement's:
    # /nodes/status counts both). No longer shown or set; a migration may drop it.
    role: Mapped[ServerRole] = mapped_column(
        Enum(ServerRole, native_enum=False, length=8), default=ServerRole.edge
    )
    status: Mapped[ServerStatus] = mapped_column(
        Enum(ServerStatus, native_enum=False, length=16), default=ServerStatus.pending
    )
    capacity: Mapped[int] = mapped_column(Integer, default=1000)
    # SHA-256 of the node's token; "" once revoked (no token matches it).
    token_hash: Mapped[str] = mapped_column(String(64), default="", index=True)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What the node said of itself when it last registered (protocol/messages.Registration).
    rtmp_url: Mapped[str] = mapped_column(String(500), default="")
    egress_mbps: Mapped[int] = mapped_column(Integer, default=0)
    max_channels: Mapped[int] = mapped_column(Integer, default=0)
    cpus: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[str] = mapped_column(String(40), default="")
    # Set by an operator: keeps what it serves, gets no new sessions or channels.
    draining: Mapped[bool] = mapped_column(Boolean, default=False)


class PlaySigningKey(Base):
    """The key ring play tokens are signed with (protocol/play_tokens.py), shared by every
    panel replica. The newest unretired key signs; retired keys still verify for a grace
    period so a rotation never cuts a player admitted a second before. Platform-wide: a
    token names its tenant and the node checks it against the assignment."""

    __tablename__ = "play_signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)  # the key id inside tokens (< 65536)
    secret: Mapped[str] = mapped_column(String(64))  # urlsafe base64 of 32 random bytes
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(default=None)
