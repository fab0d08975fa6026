"""Write audit entries for changes made through the API."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from palinsesto.trust.models import AuditEntry

# Never copied into the log, whatever the entity.
SECRET_COLUMNS = frozenset({"password_hash", "key_hash", "token_hash", "stream_key", "password"})


def snapshot(obj: Any) -> dict[str, Any]:
    """The object's columns as JSON-safe values, secrets masked."""
    data: dict[str, Any] = {}
    for attr in inspect(obj).mapper.column_attrs:
        value = getattr(obj, attr.key)
        if attr.key in SECRET_COLUMNS:
            value = "********" if value else value
        elif isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, enum.Enum):
            value = value.value
        data[attr.key] = value
    return data


def record(
    session: Session,
    *,
    actor_id: int | None,
    actor: str,
    tenant_id: int | None,
    action: str,
    entity: str,
    entity_id: Any = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ip: str = "",
) -> None:
    """Add an audit entry to the caller's transaction: it commits or rolls back with the change."""
    session.add(
        AuditEntry(
            tenant_id=tenant_id,
            actor_id=actor_id,
            actor=actor,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            before=before,
            after=after,
            ip=ip,
        )
    )
