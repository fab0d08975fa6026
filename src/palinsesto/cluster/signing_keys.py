"""The play-token key ring in the database, shared by every panel replica.

The newest unretired key signs; a rotation retires it and adds a new one. Retired keys
are still handed to nodes for :data:`RETIRED_GRACE_SECONDS`, so a token signed just before
a rotation, and the relay URLs edges hold, keep verifying; after that they are dropped
from replies (and from the table by the next rotation).
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from palinsesto.cluster.models import PlaySigningKey
from palinsesto.db.base import utcnow
from palinsesto.protocol.play_tokens import SigningKey

RETIRED_GRACE_SECONDS = 3600
MAX_KEY_ID = 65535  # the key id is 16 bits inside a token


def _new_secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _as_key(row: PlaySigningKey) -> SigningKey:
    return SigningKey(row.id, base64.urlsafe_b64decode(row.secret))


def current_keys(session: Session, now: datetime | None = None) -> list[SigningKey]:
    """Keys that verify now, the signing one last (empty: no key yet)."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=RETIRED_GRACE_SECONDS)
    rows = session.scalars(select(PlaySigningKey).order_by(PlaySigningKey.id)).all()
    retired = [r for r in rows if r.retired_at is not None and r.retired_at > cutoff]
    active = [r for r in rows if r.retired_at is None]
    return [_as_key(r) for r in (*retired, *active[-1:])]


def ensure_key(session: Session) -> None:
    """Create the first key if there is none (several replicas starting at once: the
    primary key makes one of them win; the others see its key)."""
    if session.scalar(select(PlaySigningKey.id).where(PlaySigningKey.retired_at.is_(None))):
        return
    try:
        with session.begin_nested():
            session.add(PlaySigningKey(id=_next_id(session), secret=_new_secret()))
    except IntegrityError:
        pass


def rotate(session: Session, now: datetime | None = None) -> int:
    """Retire the signing key, add a new one, drop keys past their grace; the new key id."""
    now = now or utcnow()
    for row in session.scalars(
        select(PlaySigningKey).where(PlaySigningKey.retired_at.is_(None)).with_for_update()
    ):
        row.retired_at = now
    cutoff = now - timedelta(seconds=RETIRED_GRACE_SECONDS)
    session.execute(delete(PlaySigningKey).where(PlaySigningKey.retired_at < cutoff))
    key_id = _next_id(session)
    session.add(PlaySigningKey(id=key_id, secret=_new_secret(), created_at=now))
    session.flush()
    return key_id


def _next_id(session: Session) -> int:
    ids = set(session.scalars(select(PlaySigningKey.id)))
    newest = max(ids, default=0)
    # Ids wrap after 65535 rotations; a free one is always found (few keys are kept).
    candidate = newest % MAX_KEY_ID + 1
    while candidate in ids:
        candidate = candidate % MAX_KEY_ID + 1
    return candidate
