"""Marked plays: which session and line each watermark code (or SEI tag) names.

The code itself, the renditions and reading a capture are in
:mod:`palinsesto.protocol.watermark`; here only the rows that turn what a captured copy
carries back into the session that received it (``palinsesto watermark extract``).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from palinsesto.protocol.watermark import code_for
from palinsesto.trust.models import WatermarkMark

SHOWN = 50  # plays listed for one code or tag at most (newest first)


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
    code: int | None = None,
) -> int:
    """A new marked play; the code its sequence carries: ``code`` (a streaming node's
    play: its session id's), else taken from the row's id."""
    mark = WatermarkMark(
        tenant_id=tenant_id,
        channel_id=channel_id,
        line_id=line_id,
        username=username,
        session_id=session_id,
        code=code or 0,
        output=output,
        slot_seconds=slot_seconds,
    )
    session.add(mark)
    session.flush()
    if code is None:
        mark.code = code_for(mark.id)
        session.flush()
    return mark.code


def marks_with_code(
    session: Session, code: int, tenant_id: int | None = None
) -> list[WatermarkMark]:
    """Every play carrying ``code``, newest first (codes wrap every 2**CODE_BITS plays);
    only ``tenant_id``'s when given."""
    stmt = select(WatermarkMark).where(WatermarkMark.code == code)
    if tenant_id is not None:
        stmt = stmt.where(WatermarkMark.tenant_id == tenant_id)
    return list(session.scalars(stmt.order_by(WatermarkMark.id.desc()).limit(SHOWN)))


def marks_of_session(
    session: Session, session_id: int, tenant_id: int | None = None
) -> list[WatermarkMark]:
    """The plays an SEI tag (node/sei_tag.py, which carries the session id) names, newest
    first: one, unless the all-in-one server restarted in between (its ids start over)."""
    stmt = select(WatermarkMark).where(WatermarkMark.session_id == session_id)
    if tenant_id is not None:
        stmt = stmt.where(WatermarkMark.tenant_id == tenant_id)
    return list(session.scalars(stmt.order_by(WatermarkMark.id.desc()).limit(SHOWN)))


def slot_lengths(session: Session) -> list[float]:
    """The slot lengths marked plays used (a capture is read with each)."""
    found = session.scalars(select(WatermarkMark.slot_seconds).distinct()).all()
    return sorted({float(s) for s in found})
