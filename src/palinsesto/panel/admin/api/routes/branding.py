"""A tenant's branding: display name, colours and logo, and the public view of them.

Staff set it here; the watch page (per channel's tenant) and the panel's sign-in page (per
the Host it was reached on, a tenant's own domain) read the public view, which holds only
what every visitor sees anyway.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Request, Response, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from palinsesto.accounts.branding import LOGO_MAX_BYTES, check_colour, logo_type
from palinsesto.accounts.models import Tenant
from palinsesto.panel.admin.api.changes import audited
from palinsesto.panel.admin.api.deps import Context, DbSession, Manager, Principal
from palinsesto.panel.admin.api.errors import NotFound
from palinsesto.panel.admin.api.identifiers import Label
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.types import QueryId
from palinsesto.panel.playback.domains import shared_domains
from palinsesto.trust.audit import snapshot

router = APIRouter(tags=["branding"])

HexColour = Annotated[
    str, Field(max_length=7, examples=["#1a2b3c"], description="#rrggbb or empty")
]


class BrandingIn(InputModel):
    display_name: Label = Field(default="", max_length=200)
    primary_color: HexColour = ""
    accent_color: HexColour = ""


class BrandingOut(BaseModel):
    tenant_id: int
    display_name: str
    primary_color: str
    accent_color: str
    logo_url: str | None


class PublicBranding(BaseModel):
    """What visitors see: no ids beyond the public slug."""

    name: str
    primary_color: str
    accent_color: str
    logo_url: str | None


def logo_path(tenant: Tenant) -> str | None:
    if not tenant.brand_logo:
        return None
    # The version makes a new logo a new URL, so browsers drop the cached one.
    version = hashlib.sha256(tenant.brand_logo).hexdigest()[:12]
    return f"/api/v1/public/branding/{tenant.slug}/logo?v={version}"


def public_branding(tenant: Tenant) -> PublicBranding:
    return PublicBranding(
        name=tenant.brand_name or tenant.name,
        primary_color=tenant.brand_color,
        accent_color=tenant.brand_accent,
        logo_url=logo_path(tenant),
    )


def _out(tenant: Tenant) -> BrandingOut:
    return BrandingOut(
        tenant_id=tenant.id,
        display_name=tenant.brand_name,
        primary_color=tenant.brand_color,
        accent_color=tenant.brand_accent,
        logo_url=logo_path(tenant),
    )


def _tenant(session: Session, principal: Principal, tenant_id: int | None) -> Tenant:
    wanted = tenant_id if principal.is_platform else principal.tenant_id
    tenant = session.get(Tenant, wanted) if wanted is not None else None
    if tenant is None:
        raise NotFound("Say which tenant (tenant_id): platform admins have no branding.")
    return tenant


@router.get("/branding", response_model=BrandingOut)
def get_branding(principal: Manager, session: DbSession, tenant_id: QueryId = None) -> BrandingOut:
    return _out(_tenant(session, principal, tenant_id))


@router.put("/branding", response_model=BrandingOut)
def set_branding(
    body: BrandingIn, principal: Manager, session: DbSession, tenant_id: QueryId = None
) -> BrandingOut:
    tenant = _tenant(session, principal, tenant_id)
    before = snapshot(tenant)
    tenant.brand_name = body.display_name
    tenant.brand_color = check_colour(body.primary_color, "primary_color")
    tenant.brand_accent = check_colour(body.accent_color, "accent_color")
    audited(session, principal, "update", "tenant", tenant, before=before)
    return _out(tenant)


@router.put("/branding/logo", response_model=BrandingOut)
async def set_logo(
    file: UploadFile, principal: Manager, ctx: Context, tenant_id: QueryId = None
) -> BrandingOut:
    """Upload the logo: PNG, JPEG, GIF or WebP, recognised by its content, at most 256 KiB."""
    data = await file.read(LOGO_MAX_BYTES + 1)
    media_type = logo_type(data)

    def store() -> BrandingOut:
        with ctx.db.transaction() as session:
            tenant = _tenant(session, principal, tenant_id)
            before = snapshot(tenant)
            tenant.brand_logo, tenant.brand_logo_type = data, media_type
            audited(session, principal, "update", "tenant", tenant, before=before)
            return _out(tenant)

    return await run_in_threadpool(store)


@router.delete("/branding/logo", response_model=BrandingOut)
def remove_logo(principal: Manager, session: DbSession, tenant_id: QueryId = None) -> BrandingOut:
    tenant = _tenant(session, principal, tenant_id)
    before = snapshot(tenant)
    tenant.brand_logo, tenant.brand_logo_type = None, ""
    audited(session, principal, "update", "tenant", tenant, before=before)
    return _out(tenant)


@router.get("/public/branding", response_model=PublicBranding | None)
def branding_for_host(request: Request, session: DbSession, ctx: Context) -> PublicBranding | None:
    """Public: the branding of the tenant whose domain this request came on (null: none)."""
    domains = shared_domains(ctx.services, ctx.db, ctx.events)
    tenant_id = domains.tenant_for_host(request.headers.get("host", ""))
    tenant = session.get(Tenant, tenant_id) if tenant_id is not None else None
    return public_branding(tenant) if tenant is not None else None


@router.get(
    "/public/branding/{slug}/logo",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def branding_logo(slug: str, session: DbSession) -> Response:
    """Public: a tenant's logo image."""
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug[:64]))
    if tenant is None or not tenant.brand_logo:
        raise NotFound("No logo here.")
    return Response(
        tenant.brand_logo,
        media_type=tenant.brand_logo_type,
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
