"""Write audit entries for changes made through the API, each chained to the one before.

Appending takes the chain's head row with ``SELECT … FOR UPDATE`` (PostgreSQL) inside the
caller's write transaction (SQLite's writers are serialised already), so concurrent changes
line up one after another and the chain never forks.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from palinsesto.db.base import utcnow
from palinsesto.trust.audit_chain import (
    CHAINED_FIELDS,
    ChainHead,
    ChainReport,
    NotRedactable,
    canonical_json,
    entry_digest,
    new_salts,
    redact,
    redaction_fingerprint,
    verify_chain,
)
from palinsesto.trust.models import AuditChainHead, AuditEntry

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
        elif isinstance(value, bytes):  # an uploaded file (a tenant's logo): its size only
            value = f"{len(value)} bytes"
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
    head = session.scalars(
        select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update()
    ).one()  # made by the migration that introduced the chain
    entry = AuditEntry(
        tenant_id=tenant_id,
        tenant_ref=tenant_id,
        actor_id=actor_id,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        before=canonical_json(before),
        after=canonical_json(after),
        ip=ip,
        created_at=utcnow(),
        seq=head.seq + 1,
        prev_hash=head.row_hash,
        salts=new_salts(),
        redacted=None,
    )
    entry.row_hash = entry_digest(head.row_hash, _chained_values(entry))
    head.seq, head.row_hash = entry.seq, entry.row_hash
    session.add(entry)


def _chained_values(entry: AuditEntry) -> dict[str, Any]:
    values = {name: getattr(entry, name) for name in CHAINED_FIELDS}
    values["salts"], values["redacted"] = entry.salts, entry.redacted
    return values


class Redactions:
    """Personal fields of stored entries replaced (erasure, IP retention), then sealed.

    :meth:`replace` rewrites an entry so that it keeps verifying; :meth:`seal` appends the
    ``redact`` entry that fixes the replacement values (see
    :mod:`palinsesto.trust.audit_chain`). Call both in the same transaction.
    """

    def __init__(self) -> None:
        self.fingerprints: dict[int, str] = {}
        self.skipped = 0  # entries written before salted fields: left as they are

    def replace(self, entry: AuditEntry, **values: Any) -> bool:
        """Replace ``values`` (personal field name -> replacement) in ``entry``; False (and
        nothing changed) for an entry whose digest covers the values themselves."""
        try:
            redaction = redact(_chained_values(entry), values)
        except NotRedactable:
            self.skipped += 1
            return False
        for name, value in values.items():
            setattr(entry, name, canonical_json(value) if name in ("before", "after") else value)
        entry.salts, entry.redacted = redaction.salts, redaction.redacted
        self.fingerprints[entry.seq] = redaction_fingerprint(_chained_values(entry))
        return True

    def seal(
        self,
        session: Session,
        *,
        actor: str,
        reason: str,
        tenant_id: int | None = None,
        actor_id: int | None = None,
        ip: str = "",
    ) -> None:
        if not self.fingerprints:
            return
        record(
            session,
            actor_id=actor_id,
            actor=actor,
            tenant_id=tenant_id,
            action="redact",
            entity="audit_log",
            after={
                "reason": reason,
                "redactions": {str(k): v for k, v in self.fingerprints.items()},
            },
            ip=ip,
        )
        self.fingerprints = {}


def verify(session: Session, batch: int = 5000) -> ChainReport:
    """Check the whole chain, reading entries in sequence order ``batch`` at a time."""
    head_row = session.get(AuditChainHead, 1)
    head = ChainHead(head_row.seq, head_row.row_hash) if head_row is not None else None
    columns = [
        getattr(AuditEntry, name)
        for name in (*CHAINED_FIELDS, "id", "prev_hash", "row_hash", "salts", "redacted")
    ]

    def entries() -> Iterator[dict[str, Any]]:
        last = 0
        while True:
            rows = (
                session.execute(
                    select(*columns)
                    .where(AuditEntry.seq > last)
                    .order_by(AuditEntry.seq)
                    .limit(batch)
                )
                .mappings()
                .all()
            )
            if not rows:
                return
            for row in rows:
                yield dict(row)
            last = rows[-1]["seq"]

    return verify_chain(entries(), head)
