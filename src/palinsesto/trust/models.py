"""The audit log: who changed what, when, with the row before and after, hash-chained.

See :mod:`palinsesto.trust.audit_chain` for the chain. Entries outlive their tenant: deleting
a tenant sets ``tenant_id`` to NULL (only platform admins see them then), while
``tenant_ref`` keeps the id the entry was written for, which is what the chain covers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from palinsesto.db.base import Base, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_tenant_time", "tenant_id", "created_at"),
        UniqueConstraint("seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="SET NULL"), default=None
    )
    tenant_ref: Mapped[int | None] = mapped_column(Integer, default=None)
    actor_id: Mapped[int | None] = mapped_column(Integer, default=None)
    actor: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64), default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    ip: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    seq: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))
    # Per personal field: its salt, and once erased or truncated, its commitment
    # (palinsesto.trust.audit_chain). NULL on entries written before migration 0013.
    salts: Mapped[dict[str, str] | None] = mapped_column(JSON, default=None)
    redacted: Mapped[dict[str, str] | None] = mapped_column(JSON, default=None)


class AuditChainHead(Base):
    """The newest entry's sequence number and digest (one row, id 1), locked by each append."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    row_hash: Mapped[str] = mapped_column(String(64))


class Notice(Base):
    """A notice about content (DSA Art. 16 or DMCA 512(c)(3)), to a tenant or the platform.

    ``targets`` is what its locations name here (see :func:`palinsesto.trust.notices.locate`).
    The notifier's contact details stay with the notice and are shown only to the staff who
    decide on it.
    """

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_tenant_received", "tenant_id", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="SET NULL"), default=None
    )
    receipt: Mapped[str] = mapped_column(String(32), unique=True)
    regime: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="received")
    trusted: Mapped[bool] = mapped_column(Boolean, default=False)
    notifier_id: Mapped[int | None] = mapped_column(
        ForeignKey("trusted_notifiers.id", ondelete="SET NULL"), default=None
    )
    notifier_name: Mapped[str] = mapped_column(String(200), default="")
    notifier_email: Mapped[str] = mapped_column(String(254), default="")
    notifier_address: Mapped[str] = mapped_column(String(500), default="")
    notifier_phone: Mapped[str] = mapped_column(String(40), default="")
    explanation: Mapped[str] = mapped_column(Text, default="")
    work: Mapped[str] = mapped_column(Text, default="")
    locations: Mapped[list[str]] = mapped_column(JSON, default=list)
    targets: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    good_faith: Mapped[bool] = mapped_column(Boolean, default=False)
    accurate: Mapped[bool] = mapped_column(Boolean, default=False)
    authorised: Mapped[bool] = mapped_column(Boolean, default=False)
    signature: Mapped[str] = mapped_column(String(200), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)


class NoticeAction(Base):
    """A decision on a notice, with its statement of reasons (DSA Art. 17).

    ``reference`` is the code the affected party quotes in a counter-notice (it is in the
    statement of reasons they receive). A restriction ends at ``expires_at`` or after a
    counter-notice nobody took to court; then ``lifted_at`` and ``lift_statement`` say when
    and why.
    """

    __tablename__ = "notice_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    targets: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    actor: Mapped[str] = mapped_column(String(64), default="")
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    statement: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reference: Mapped[str | None] = mapped_column(String(32), unique=True, default=None)
    review_at: Mapped[datetime | None] = mapped_column(default=None)
    lifted_at: Mapped[datetime | None] = mapped_column(default=None)
    lift_reason: Mapped[str] = mapped_column(String(16), default="")
    lift_statement: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class CounterNotice(Base):
    """The affected party's objection to an action (DMCA 512(g)(3), DSA Art. 20 complaint).

    The notifier is told when it arrives (``notifier_told_at``); unless the notifier records
    legal action by ``restore_due_at``, the restriction is lifted by the legal jobs
    (palinsesto.panel.admin.legal_jobs).
    """

    __tablename__ = "counter_notices"
    __table_args__ = (Index("ix_counter_notices_tenant_received", "tenant_id", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="SET NULL"), default=None
    )
    action_id: Mapped[int] = mapped_column(
        ForeignKey("notice_actions.id", ondelete="CASCADE"), index=True
    )
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    receipt: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    explanation: Mapped[str] = mapped_column(Text, default="")
    good_faith: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_jurisdiction: Mapped[bool] = mapped_column(Boolean, default=False)
    signature: Mapped[str] = mapped_column(String(200), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    notifier_told_at: Mapped[datetime | None] = mapped_column(default=None)
    restore_due_at: Mapped[datetime] = mapped_column()
    legal_action_at: Mapped[datetime | None] = mapped_column(default=None)
    legal_action_note: Mapped[str] = mapped_column(Text, default="")
    restored_at: Mapped[datetime | None] = mapped_column(default=None)


class TrustedNotifier(Base):
    """A rights holder or agency whose notices take the fast path (DSA Art. 22 spirit).

    Its key is shown once and stored as SHA-256. A tenant's notifier files to that tenant;
    a platform notifier (no tenant) to any.
    """

    __tablename__ = "trusted_notifiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), default=None, index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RightsRecord(Base):
    """Who holds the rights to distribute a channel, movie or series, where and until when
    (vocabulary in :mod:`palinsesto.trust.rights`)."""

    __tablename__ = "rights_records"
    __table_args__ = (Index("ix_rights_records_item", "tenant_id", "item_type", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    item_type: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int] = mapped_column(Integer)
    holder: Mapped[str] = mapped_column(String(200))
    licence_ref: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column(default=None)
    territories: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The holder asks for the forensic watermark: each viewer gets its own A/B sequence.
    watermark: Mapped[bool] = mapped_column(Boolean, default=False)


class RightsEvidence(Base):
    """A file backing a rights record (a contract, a letter), kept with its SHA-256."""

    __tablename__ = "rights_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(
        ForeignKey("rights_records.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100), default="application/octet-stream")
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TerritoryRule(Base):
    """Per item: allowed or blocked countries, and whether an unknown country is refused."""

    __tablename__ = "territory_rules"
    __table_args__ = (UniqueConstraint("tenant_id", "item_type", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    item_type: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int] = mapped_column(Integer)
    allowed: Mapped[list[str]] = mapped_column(JSON, default=list)
    blocked: Mapped[list[str]] = mapped_column(JSON, default=list)
    deny_unknown: Mapped[bool] = mapped_column(Boolean, default=False)


class BlackoutWindow(Base):
    """Item × time window × territory (empty = everywhere) → slate or hidden."""

    __tablename__ = "blackout_windows"
    __table_args__ = (Index("ix_blackout_windows_item", "tenant_id", "item_type", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    item_type: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    countries: Mapped[list[str]] = mapped_column(JSON, default=list)
    action: Mapped[str] = mapped_column(String(16), default="slate")


class WatermarkMark(Base):
    """One watermarked play: the code its A/B sequence carries (see
    :mod:`palinsesto.protocol.watermark`), the session and the line that watched."""

    __tablename__ = "watermark_marks"
    __table_args__ = (
        Index("ix_watermark_marks_tenant_started", "tenant_id", "started_at"),
        Index("ix_watermark_marks_code", "code"),
        Index("ix_watermark_marks_session", "session_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(Integer)
    line_id: Mapped[int] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(200), default="")
    session_id: Mapped[int] = mapped_column(Integer)
    # The all-in-one server's plays: this row's id modulo 2**CODE_BITS (its session ids
    # start over with each process); a streaming node's: the cluster-wide session id's.
    code: Mapped[int] = mapped_column(Integer, default=0)
    output: Mapped[str] = mapped_column(String(8))  # "ts" or "hls"
    slot_seconds: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)


class LineBlock(Base):
    """One line may no longer play or list one item (a ``block_item`` decision on a notice).

    ``item_type`` is a bouquet item type (channel, movie, series); lifting the decision
    deletes exactly the rows it created (``action_id``). Loaded with the line into the
    playback caches (palinsesto.panel.playback.lines), so a change publishes ``lines``.
    """

    __tablename__ = "line_blocks"
    __table_args__ = (Index("ix_line_blocks_line", "line_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"))
    item_type: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int] = mapped_column(Integer)
    action_id: Mapped[int] = mapped_column(
        ForeignKey("notice_actions.id", ondelete="CASCADE"), index=True
    )
