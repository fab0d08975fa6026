"""Sign-in: ``POST /api/v1/auth/token`` in the OAuth2 password-flow shape, and API keys."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from palinsesto.accounts.models import AdminUser, ApiKey
from palinsesto.accounts.security import (
    hash_password,
    issue_token,
    new_api_key,
    verify_password,
)
from palinsesto.admin.api.deps import Context, CurrentPrincipal, DbSession
from palinsesto.admin.api.errors import NotFound, Throttled, Unauthorized
from palinsesto.admin.api.types import PathId
from palinsesto.trust.audit import record

router = APIRouter(tags=["auth"])

# Verifying against this keeps an unknown username as slow as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_hex(16))


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class Me(BaseModel):
    id: int
    username: str
    role: str
    tenant_id: int | None


@router.post("/auth/token", response_model=TokenResponse)
def sign_in(
    request: Request,
    ctx: Context,
    username: Annotated[str, Form(min_length=1, max_length=64)],
    password: Annotated[str, Form(min_length=1, max_length=256)],
) -> TokenResponse:
    ip = request.client.host if request.client else ""
    wait = ctx.login_throttle.retry_after(ip)
    if wait:
        raise Throttled(
            "Too many failed sign-ins from this address; try again later.",
            headers={"Retry-After": str(wait)},
        )
    with ctx.db.transaction() as session:
        user = session.scalar(select(AdminUser).where(AdminUser.username == username))
        ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
        if ok and user is not None and user.enabled:
            user.last_login_at = datetime.now(UTC)
            token = issue_token(ctx.settings.secret_key, user.id, ctx.settings.token_ttl_seconds)
        else:
            token = None
            record(
                session,
                actor_id=None,
                actor=username[:64],
                tenant_id=None,
                action="login_failed",
                entity="session",
                ip=ip,
            )
    if token is None:
        ctx.login_throttle.failed(ip)
        raise Unauthorized("Wrong username or password.")
    ctx.login_throttle.succeeded(ip)
    return TokenResponse(access_token=token, expires_in=ctx.settings.token_ttl_seconds)


@router.get("/auth/me", response_model=Me)
def who_am_i(principal: CurrentPrincipal) -> Me:
    return Me(
        id=principal.user_id,
        username=principal.username,
        role=principal.role.value,
        tenant_id=principal.tenant_id,
    )


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class ApiKeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="Shown once; only its hash is stored.")


@router.get("/auth/api-keys", response_model=list[ApiKeyOut])
def list_api_keys(principal: CurrentPrincipal, session: DbSession) -> list[ApiKey]:
    return list(
        session.scalars(
            select(ApiKey).where(ApiKey.user_id == principal.user_id).order_by(ApiKey.id)
        )
    )


@router.post("/auth/api-keys", response_model=ApiKeyCreated, status_code=201)
def create_api_key(
    body: ApiKeyCreate, principal: CurrentPrincipal, session: DbSession
) -> ApiKeyCreated:
    key, prefix, digest = new_api_key()
    row = ApiKey(user_id=principal.user_id, name=body.name, prefix=prefix, key_hash=digest)
    session.add(row)
    session.flush()
    record(
        session,
        actor_id=principal.user_id,
        actor=principal.username,
        tenant_id=principal.tenant_id,
        action="create",
        entity="api_key",
        entity_id=row.id,
        after={"name": row.name, "prefix": prefix},
        ip=principal.ip,
    )
    return ApiKeyCreated(
        id=row.id,
        name=row.name,
        prefix=prefix,
        created_at=row.created_at,
        last_used_at=None,
        revoked=False,
        key=key,
    )


@router.delete("/auth/api-keys/{key_id}", status_code=204)
def revoke_api_key(key_id: PathId, principal: CurrentPrincipal, session: DbSession) -> None:
    row = session.get(ApiKey, key_id)
    if row is None or row.user_id != principal.user_id:
        raise NotFound(f"API key {key_id} not found.")
    row.revoked = True
    record(
        session,
        actor_id=principal.user_id,
        actor=principal.username,
        tenant_id=principal.tenant_id,
        action="revoke",
        entity="api_key",
        entity_id=row.id,
        ip=principal.ip,
    )
