"""Audit every change made through the API, inside the change's own transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from palinsesto.admin.api.deps import Principal
from palinsesto.trust.audit import record, snapshot

# Which change-event topics an edit of each entity touches.
TOPICS: dict[str, tuple[str, ...]] = {
    "category": ("catalog",),
    "channel": ("catalog", "channels"),
    "bouquet": ("catalog",),
    "movie": ("catalog",),
    "series": ("catalog",),
    "season": ("catalog",),
    "episode": ("catalog",),
    "line": ("lines",),
    "server": ("servers",),
    "tenant": ("catalog", "lines", "channels"),
}


def mark_changed(session: Session, tenant_id: int | None, topic: str) -> None:
    """Publish ``topic`` for ``tenant_id`` once this request's transaction commits."""
    if tenant_id is not None:
        session.info.setdefault("changed", set()).add((tenant_id, topic))


def audited(
    session: Session,
    principal: Principal,
    action: str,
    entity: str,
    obj: Any,
    *,
    before: dict[str, Any] | None = None,
) -> None:
    """Record ``action`` on ``obj`` (``before`` is the snapshot taken ahead of an update)
    and mark the change-event topics the entity touches."""
    session.flush()
    tenant_id = obj.id if entity == "tenant" else getattr(obj, "tenant_id", None)
    for topic in TOPICS.get(entity, ()):
        mark_changed(session, tenant_id, topic)
    after = None if action == "delete" else snapshot(obj)
    if action == "delete" and before is None:
        before = snapshot(obj)
    record(
        session,
        actor_id=principal.user_id,
        actor=principal.username,
        tenant_id=tenant_id,
        action=action,
        entity=entity,
        entity_id=obj.id,
        before=before,
        after=after,
        ip=principal.ip,
    )
