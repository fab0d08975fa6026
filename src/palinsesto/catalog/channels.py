"""Live channels: source lists, categories, transcode profiles, stream keys, plan limit."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from palinsesto.accounts.models import Tenant
from palinsesto.catalog.models import Category, CategoryKind, Channel, ChannelCategory, SourceKind
from palinsesto.errors import InvalidValue, PlanLimitReached

# "copy" remuxes; the others name libx264 ladders the live engine knows.
TRANSCODE_PROFILES = ("copy", "h264-480p", "h264-720p", "h264-1080p")
PUSH_KINDS = frozenset({SourceKind.push_rtmp, SourceKind.push_srt})

# The URL schemes each pulled source kind accepts.
SOURCE_SCHEMES: dict[SourceKind, frozenset[str]] = {
    SourceKind.hls: frozenset({"http", "https"}),
    SourceKind.http_ts: frozenset({"http", "https"}),
    SourceKind.rtsp: frozenset({"rtsp", "rtsps"}),
    SourceKind.rtmp: frozenset({"rtmp", "rtmps"}),
    SourceKind.udp: frozenset({"udp", "rtp"}),
    SourceKind.srt: frozenset({"srt"}),
}


def check_source(index: int, kind: SourceKind, url: str) -> dict[str, str]:
    """One source as stored: ``{"url", "kind"}``; 422 on ``sources.<index>.url`` if wrong."""
    field = f"sources.{index}.url"
    if kind in PUSH_KINDS:
        if url:
            raise InvalidValue("Push sources take no URL: the feed is pushed to a node.", field)
        return {"url": "", "kind": kind.value}
    if kind is SourceKind.test_pattern:
        return {"url": url, "kind": kind.value}
    if kind is SourceKind.file:
        if not url.startswith("/") or "\x00" in url:
            raise InvalidValue("A file source needs an absolute path.", field)
        return {"url": url, "kind": kind.value}
    schemes = SOURCE_SCHEMES[kind]
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme.lower() not in schemes or not host:
        wanted = " or ".join(f"{s}://" for s in sorted(schemes))
        raise InvalidValue(f"A {kind.value} source needs a {wanted} URL with a host.", field)
    return {"url": url, "kind": kind.value}


def check_sources(sources: Sequence[tuple[SourceKind, str]]) -> list[dict[str, str]]:
    return [check_source(i, kind, url) for i, (kind, url) in enumerate(sources)]


def check_profile(profile: str) -> str:
    if profile not in TRANSCODE_PROFILES:
        raise InvalidValue(
            f"Unknown profile; one of: {', '.join(TRANSCODE_PROFILES)}.", "transcode_profile"
        )
    return profile


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
