"""Share links to the public watch page (``/watch/<ref>``) and what that page may show.

A share reference is ``<channel id>-<signature>``: the signature (HMAC of the id under the
secret key) means only someone given the link learns the channel's name, and ids cannot be
walked. Playback itself goes through the viewer URLs, so a line's credentials are still
checked there.

A channel marked ``public_watch`` needs no line: the page gets a signed HLS URL for that
channel alone (playback/watch_tokens.py), valid ``watch_token_ttl_seconds``; it asks this
endpoint again for a fresh one when it expires. Other channels are watched with a line's
credentials through the standard ``/live/U/P/ID.m3u8`` URL, where admission and connection
limits apply as in apps.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from palinsesto.accounts.models import Tenant
from palinsesto.catalog.models import Channel
from palinsesto.panel.admin.api.deps import Context, DbSession, Staff
from palinsesto.panel.admin.api.errors import NotFound
from palinsesto.panel.admin.api.routes.branding import PublicBranding, public_branding
from palinsesto.panel.admin.api.scope import get_scoped
from palinsesto.panel.admin.api.types import MAX_ID, PathId
from palinsesto.panel.playback.domains import shared_domains
from palinsesto.panel.playback.watch_tokens import WatchKind, issuing_watch_tokens, watch_path

router = APIRouter(tags=["watch"])


def share_ref(secret_key: str, channel_id: int) -> str:
    """The reference in a channel's share link."""
    digest = hmac.new(secret_key.encode(), f"watch:{channel_id}".encode(), hashlib.sha256)
    return f"{channel_id}-{digest.hexdigest()[:20]}"


def read_share_ref(secret_key: str, ref: str) -> int | None:
    """The channel id a share reference names, or None if it was not issued by us."""
    head, _, _sig = ref.partition("-")
    # ASCII digits only: str.isdigit() also takes other scripts' digits ("١٢"), which
    # int() reads but compare_digest() refuses on a str; an id past int4 names nothing.
    if not (head.isascii() and head.isdigit()) or len(head) > 10 or int(head) > MAX_ID:
        return None
    channel_id = int(head)
    expected = share_ref(secret_key, channel_id).encode()
    return channel_id if hmac.compare_digest(expected, ref.encode()) else None


class ShareLink(BaseModel):
    channel_id: int
    ref: str
    url: str


class WatchInfo(BaseModel):
    channel_id: int
    name: str
    logo: str
    access: str = Field(description="public: play hls_url; line: fill hls_path's credentials")
    hls_path: str
    hls_url: str | None = None
    expires_at: float | None = None
    branding: PublicBranding | None = Field(default=None, description="the channel's panel's look")


@router.get("/channels/{channel_id}/share-link", response_model=ShareLink)
def get_share_link(
    channel_id: PathId, principal: Staff, session: DbSession, ctx: Context
) -> ShareLink:
    channel = get_scoped(session, principal, Channel, channel_id, label="Channel")
    ref = share_ref(ctx.settings.secret_key, channel.id)
    return ShareLink(
        channel_id=channel.id, ref=ref, url=f"{ctx.settings.effective_public_url}/watch/{ref}"
    )


@router.get("/watch/{ref}", response_model=WatchInfo)
def watch_info(ref: str, request: Request, session: DbSession, ctx: Context) -> WatchInfo:
    """Public: what the watch page shows for a share link (no sign-in). On a tenant's own
    domain only that tenant's channels are found."""
    channel_id = read_share_ref(ctx.settings.secret_key, ref)
    row = (
        session.execute(
            select(
                Channel.id,
                Channel.tenant_id,
                Channel.name,
                Channel.logo,
                Channel.enabled,
                Channel.public_watch,
            ).where(Channel.id == channel_id)
        ).first()
        if channel_id is not None
        else None
    )
    domain_tenant = shared_domains(ctx.services, ctx.db, ctx.events).tenant_for_host(
        request.headers.get("host", "")
    )
    if row is None or not row.enabled or domain_tenant not in (None, row.tenant_id):
        raise NotFound("This watch link is not valid (or the channel was removed).")
    tenant = session.get(Tenant, row.tenant_id)
    branding = public_branding(tenant) if tenant is not None else None
    line_path = f"/live/{{username}}/{{password}}/{row.id}.m3u8"  # reference §8
    tokens = issuing_watch_tokens(ctx.services)
    if row.public_watch and tokens is not None:
        expires = time.time() + ctx.settings.watch_token_ttl_seconds
        token = tokens.issue(WatchKind.public, row.tenant_id, row.id, 0, expires)
        return WatchInfo(
            channel_id=row.id,
            name=row.name,
            logo=row.logo,
            access="public",
            hls_path=line_path,
            hls_url=watch_path(token, row.id),
            expires_at=expires,
            branding=branding,
        )
    return WatchInfo(
        channel_id=row.id,
        name=row.name,
        logo=row.logo,
        access="line",
        hls_path=line_path,
        branding=branding,
    )
