"""Streaming servers (nodes) attached to a tenant's panel."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, Integer, String
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
    role: Mapped[ServerRole] = mapped_column(
        Enum(ServerRole, native_enum=False, length=8), default=ServerRole.edge
    )
    status: Mapped[ServerStatus] = mapped_column(
        Enum(ServerStatus, native_enum=False, length=16), default=ServerStatus.pending
    )
    capacity: Mapped[int] = mapped_column(Integer, default=1000)
    token_hash: Mapped[str] = mapped_column(String(64), default="")
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
