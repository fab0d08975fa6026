"""Audit every change made through the API, inside the change's own transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from palinsesto.panel.admin.api.deps import Principal
from palinsesto.trust.audit import record, snapshot

# Which change-event topics an edit of each entity touches. "catalog.<kind>" is a
# "catalog" change confined to live channels, movies or series (see mark_changed).
TOPICS: dict[str, tuple[str, ...]] = {
    "category": ("catalog",),
    "channel": ("catalog.live", "channels"),
    "bouquet": ("catalog",),
    "movie": ("catalog.vod",),
    "series": ("catalog.series",),
    "season": ("catalog.series",),
    "episode": ("catalog.series",),
    "line": ("lines",),
    "line_block": ("lines",),  # a line's blocked items are loaded with the line
    "server": ("servers",),
    "tenant": ("catalog", "lines", "channels"),
    # Rights decide what is listed (catalog) and who may play (rights, palinsesto.panel.playback.
    # rights_gate); a territory rule changes only who may play.
    "rights_record": ("catalog", "rights"),
    "blackout": ("catalog", "rights"),
    "territory_rule": ("rights",),
}
CATALOG_KINDS = ("catalog.live", "catalog.vod", "catalog.series")


def mark_changed(session: Session, tenant_id: int | None, topic: str) -> None:
    """Publish ``topic`` for ``tenant_id`` once this request's transaction commits.

    Catalogue changes go out as ``catalog`` (what most caches watch) plus
    ``catalog.scoped`` and the ``catalog.<kind>`` topics they touch; a bare ``catalog``
    touches every kind. The player API rebuilds only the kinds named, and treats a
    ``catalog`` without ``catalog.scoped`` (published outside this API) as every kind
    (palinsesto.panel.playback.catalog_cache).
    """
    if tenant_id is None:
        return
    changed = session.info.setdefault("changed", set())
    if topic == "catalog" or topic in CATALOG_KINDS:
        kinds = CATALOG_KINDS if topic == "catalog" else (topic,)
        changed.update((tenant_id, t) for t in ("catalog", "catalog.scoped", *kinds))
    else:
        changed.add((tenant_id, topic))


def audited(
    session: Session,
    principal: Principal,
    action: str,
    entity: str,
    obj: Any,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Record ``action`` on ``obj`` (``before`` is the snapshot taken ahead of an update,
    ``after`` replaces the row's own snapshot when the change is to something it owns)
    and mark the change-event topics the entity touches."""
    session.flush()
    tenant_id = obj.id if entity == "tenant" else getattr(obj, "tenant_id", None)
    for topic in TOPICS.get(entity, ()):
        mark_changed(session, tenant_id, topic)
    if after is None and action != "delete":
        after = snapshot(obj)
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
