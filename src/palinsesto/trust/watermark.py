"""Marked plays: which session and line each watermark code names.

The code itself, the renditions and reading a capture are in
:mod:`palinsesto.protocol.watermark`; here only the rows that turn a code read from a
captured copy back into the session that received it (``palinsesto watermark extract``).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from palinsesto.protocol.watermark import CODE_BITS
from palinsesto.trust.models import WatermarkMark


def record_mark(
    session: Session,
    *,
    tenant_id: int,
    channel_id: int,
    line_id: int,
    username: str,
    session_id: int,
    output: str,
    slot_seconds: float,
) -> int:
    """A new marked play; its id (the code it carries is ``code_for(id)``)."""
    mark = WatermarkMark(
        tenant_id=tenant_id,
        channel_id=channel_id,
        line_id=line_id,
        username=username,
        session_id=session_id,
        output=output,
        slot_seconds=slot_seconds,
    )
    session.add(mark)
    session.flush()
    return mark.id


def marks_with_code(
    session: Session, code: int, tenant_id: int | None = None
) -> list[WatermarkMark]:
    """Every play carrying ``code``, newest first (ids wrap every 2**CODE_BITS plays);
    only ``tenant_id``'s when given."""
    stmt = select(WatermarkMark).where(WatermarkMark.id % (1 << CODE_BITS) == code)
    if tenant_id is not None:
        stmt = stmt.where(WatermarkMark.tenant_id == tenant_id)
    return list(session.scalars(stmt.order_by(WatermarkMark.id.desc()).limit(50)))


def slot_lengths(session: Session) -> list[float]:
    """The slot lengths marked plays used (a capture is read with each)."""
    found = session.scalars(select(WatermarkMark.slot_seconds).distinct()).all()
    return sorted({float(s) for s in found})


def mark_by_id(session: Session, mark_id: int) -> WatermarkMark | None:
    """The play an SEI tag (node/sei_tag.py) names: its id, exactly."""
    return session.get(WatermarkMark, mark_id)
