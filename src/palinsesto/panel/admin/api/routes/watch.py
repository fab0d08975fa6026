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

A movie has a share link too (``/watch/m<movie id>-<signature>``, signed apart from
channels' so one cannot be turned into the other): it is watched with a line's
credentials through ``/movie/U/P/ID.m3u8``, the movie as HLS, whose play counts as one
of the line's connections as in apps.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from palinsesto.accounts.models import Tenant
from palinsesto.catalog.models import Channel, Movie
from palinsesto.panel.admin.api.deps import Context, DbSession, Staff
from palinsesto.panel.admin.api.errors import NotFound
from palinsesto.panel.admin.api.routes.branding import PublicBranding, public_branding
from palinsesto.panel.admin.api.scope import get_scoped
from palinsesto.panel.admin.api.types import MAX_ID, PathId
from palinsesto.panel.playback.domains import shared_domains
from palinsesto.panel.playback.watch_tokens import WatchKind, issuing_watch_tokens, watch_path

router = APIRouter(tags=["watch"])


MOVIE_REF = "m"  # a movie's share reference starts with it; a channel's with a digit


def share_ref(secret_key: str, channel_id: int) -> str:
    """The reference in a channel's share link."""
    digest = hmac.new(secret_key.encode(), f"watch:{channel_id}".encode(), hashlib.sha256)
    return f"{channel_id}-{digest.hexdigest()[:20]}"


def movie_share_ref(secret_key: str, movie_id: int) -> str:
    """The reference in a movie's share link."""
    digest = hmac.new(secret_key.encode(), f"watch-movie:{movie_id}".encode(), hashlib.sha256)
    return f"{MOVIE_REF}{movie_id}-{digest.hexdigest()[:20]}"


def _read_ref(ref: str, prefix: str, sign: Callable[[int], str]) -> int | None:
    if not ref.startswith(prefix):
        return None
    head, _, _sig = ref[len(prefix) :].partition("-")
    # ASCII digits only: str.isdigit() also takes other scripts' digits ("١٢"), which
    # int() reads but compare_digest() refuses on a str; an id past int4 names nothing.
    if not (head.isascii() and head.isdigit()) or len(head) > 10 or int(head) > MAX_ID:
        return None
    item_id = int(head)
    return item_id if hmac.compare_digest(sign(item_id).encode(), ref.encode()) else None


def read_share_ref(secret_key: str, ref: str) -> int | None:
    """The channel id a share reference names, or None if it was not issued by us."""
    return _read_ref(ref, "", lambda i: share_ref(secret_key, i))


def read_movie_share_ref(secret_key: str, ref: str) -> int | None:
    """The movie id a movie's share reference names, or None if it was not issued by us."""
    return _read_ref(ref, MOVIE_REF, lambda i: movie_share_ref(secret_key, i))


class ShareLink(BaseModel):
    channel_id: int
    ref: str
    url: str


class MovieShareLink(BaseModel):
    movie_id: int
    ref: str
    url: str


class WatchInfo(BaseModel):
    kind: Literal["channel", "movie"] = "channel"
    channel_id: int | None = Field(default=None, description="the channel (kind channel)")
    movie_id: int | None = Field(default=None, description="the movie (kind movie)")
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


@router.get("/movies/{movie_id}/share-link", response_model=MovieShareLink)
def get_movie_share_link(
    movie_id: PathId, principal: Staff, session: DbSession, ctx: Context
) -> MovieShareLink:
    movie = get_scoped(session, principal, Movie, movie_id, label="Movie")
    ref = movie_share_ref(ctx.settings.secret_key, movie.id)
    return MovieShareLink(
        movie_id=movie.id, ref=ref, url=f"{ctx.settings.effective_public_url}/watch/{ref}"
    )


def _movie_watch_info(
    movie_id: int | None, request: Request, session: DbSession, ctx: Context
) -> WatchInfo:
    movie = session.get(Movie, movie_id) if movie_id is not None else None
    domain_tenant = shared_domains(ctx.services, ctx.db, ctx.events).tenant_for_host(
        request.headers.get("host", "")
    )
    if movie is None or not movie.enabled or domain_tenant not in (None, movie.tenant_id):
        raise NotFound("This watch link is not valid (or the movie was removed).")
    tenant = session.get(Tenant, movie.tenant_id)
    return WatchInfo(
        kind="movie",
        movie_id=movie.id,
        name=movie.name,
        logo=movie.stream_icon,
        access="line",
        hls_path=f"/movie/{{username}}/{{password}}/{movie.id}.m3u8",  # the movie as HLS
        branding=public_branding(tenant) if tenant is not None else None,
    )


@router.get("/watch/{ref}", response_model=WatchInfo)
def watch_info(ref: str, request: Request, session: DbSession, ctx: Context) -> WatchInfo:
    """Public: what the watch page shows for a share link (no sign-in). On a tenant's own
    domain only that tenant's channels and movies are found."""
    if ref.startswith(MOVIE_REF):
        movie_id = read_movie_share_ref(ctx.settings.secret_key, ref)
        return _movie_watch_info(movie_id, request, session, ctx)
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
