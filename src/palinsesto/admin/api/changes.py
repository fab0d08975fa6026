"""Audit every change made through the API, inside the change's own transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from palinsesto.admin.api.deps import Principal
from palinsesto.trust.audit import record, snapshot


def audited(
    session: Session,
    principal: Principal,
    action: str,
    entity: str,
    obj: Any,
    *,
    before: dict[str, Any] | None = None,
) -> None:
    """Record ``action`` on ``obj``; ``before`` is the snapshot taken ahead of an update."""
    session.flush()
    after = None if action == "delete" else snapshot(obj)
    if action == "delete" and before is None:
        before = snapshot(obj)
    record(
        session,
        actor_id=principal.user_id,
        actor=principal.username,
        tenant_id=getattr(obj, "tenant_id", None) if entity != "tenant" else obj.id,
        action=action,
        entity=entity,
        entity_id=obj.id,
        before=before,
        after=after,
        ip=principal.ip,
    )
