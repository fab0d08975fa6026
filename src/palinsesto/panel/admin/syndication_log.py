"""Syndication in both tenants' audit logs, and the sweep that ends expired terms.

A syndication belongs to two panels: each move on it (request, approval, refusal,
revocation, cancellation, the end of its term) is one audit entry in the owner's log and
one in the partner's, written in the move's own transaction. The entries carry the
syndication row (ids, status, dates, audience counts), never a viewer's or a line's data.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from palinsesto.catalog.models import Syndication
from palinsesto.catalog.syndication import end_expired, running_of_owner
from palinsesto.cluster.events import ChangeEvents
from palinsesto.db import Database
from palinsesto.trust.audit import record, snapshot

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system"
# The platform's staff acted (deleted or suspended a panel): in a panel's log, the
# platform, not a person of another organisation.
PLATFORM_ACTOR = "platform"


def record_both(
    session: Session,
    syndication: Syndication,
    action: str,
    *,
    actor_id: int | None,
    actor: str,
    ip: str = "",
    actor_tenant_id: int | None = None,
    before: dict[str, object] | None = None,
) -> None:
    """One entry in the owner's audit log and one in the partner's.

    The person who acted (name, account, address) is named only in their own panel's
    entry (``actor_tenant_id``); the other panel's entry names the side that acted."""
    session.flush()
    after = snapshot(syndication)
    for tenant_id in (syndication.owner_tenant_id, syndication.partner_tenant_id):
        own = actor_tenant_id is None or tenant_id == actor_tenant_id
        side = "owner" if actor_tenant_id == syndication.owner_tenant_id else "partner"
        record(
            session,
            actor_id=actor_id if own else None,
            actor=actor if own else f"{side} panel {actor_tenant_id}",
            tenant_id=tenant_id,
            action=action,
            entity="syndication",
            entity_id=syndication.id,
            before=before,
            after=after,
            ip=ip if own else "",
        )


def record_owner_status(session: Session, tenant_id: int, action: str) -> int:
    """The platform suspended (``action`` "suspend") or resumed panel ``tenant_id``: each
    running syndication of its channels says so in both logs (it stays, but plays to no
    partner while the owner is suspended). Returns how many."""
    running = running_of_owner(session, tenant_id)
    for syndication in running:
        record_both(session, syndication, f"owner_{action}", actor_id=None, actor=PLATFORM_ACTOR)
    return len(running)


def end_expired_syndications(db: Database, events: ChangeEvents) -> int:
    """End every syndication whose term has passed; their entries leave the partners'
    catalogues (``catalog`` published for each partner after the commit)."""
    with db.transaction() as session:
        ended = end_expired(session, datetime.now(UTC))
        for syndication in ended:
            record_both(session, syndication, "end", actor_id=None, actor=SYSTEM_ACTOR)
        partners = {s.partner_tenant_id for s in ended}
    for tenant_id in partners:
        log.info("syndications of tenant %d ended: their term is over", tenant_id)
        for topic in ("catalog", "catalog.scoped", "catalog.live", "channels"):
            events.publish(tenant_id, topic)
    return len(ended)
