"""Live channels: source lists, categories, transcode profiles, stream keys, plan limit."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from palinsesto.accounts.models import Tenant
from palinsesto.catalog.models import Category, CategoryKind, Channel, ChannelCategory
from palinsesto.errors import InvalidValue, PlanLimitReached
from palinsesto.protocol.sources import PUSH_KINDS, InvalidSource, SourceKind, SourceSpec


def check_source(index: int, kind: SourceKind, url: str) -> dict[str, str]:
    """One source as stored: ``{"url", "kind"}``; 422 on ``sources.<index>.url`` if wrong."""
    try:
        return SourceSpec.checked(kind, url).to_json()
    except InvalidSource as exc:
        raise InvalidValue(str(exc), f"sources.{index}.url") from None


def check_sources(sources: Sequence[tuple[SourceKind, str]]) -> list[dict[str, str]]:
    return [check_source(i, kind, url) for i, (kind, url) in enumerate(sources)]


def has_push_source(sources: Sequence[dict[str, str]]) -> bool:
    return any(s.get("kind") in PUSH_KINDS for s in sources)


def new_stream_key() -> str:
    """The secret a publisher puts in its push URL (rtmp://node/live/<key>)."""
    return secrets.token_urlsafe(24)


def set_categories(session: Session, channel: Channel, category_ids: Sequence[int]) -> None:
    """Link the channel to ``category_ids`` in order; each a live category of its tenant."""
    found = set(
        session.scalars(
            select(Category.id).where(
                Category.tenant_id == channel.tenant_id,
                Category.kind == CategoryKind.live,
                Category.id.in_(set(category_ids)),
            )
        )
    )
    seen: set[int] = set()
    for index, category_id in enumerate(category_ids):
        if category_id not in found:
            raise InvalidValue(
                f"No live category {category_id} in this tenant.", f"category_ids.{index}"
            )
        if category_id in seen:
            raise InvalidValue(f"Category {category_id} is listed twice.", f"category_ids.{index}")
        seen.add(category_id)
    if channel.category_links:
        # Delete the old links first: a re-added category has the same primary key.
        channel.category_links.clear()
        session.flush()
    channel.category_links.extend(
        ChannelCategory(category_id=c, position=pos) for pos, c in enumerate(category_ids)
    )


def check_channel_limit(session: Session, tenant_id: int) -> None:
    """Refuse a new channel once the tenant's plan ``max_channels`` is reached."""
    limit = session.scalar(
        select(Tenant.max_channels).where(Tenant.id == tenant_id).with_for_update()
    )
    if limit is None:
        return
    count = session.scalar(select(func.count(Channel.id)).where(Channel.tenant_id == tenant_id))
    if (count or 0) >= limit:
        raise PlanLimitReached(
            f"The plan allows {limit} channels; delete one or raise the limit.", "max_channels"
        )
