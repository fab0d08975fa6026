"""Sign-in: ``POST /api/v1/auth/token`` in the OAuth2 password-flow shape, and API keys."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, Field
from sqlalchemy import select, update

from palinsesto.accounts import totp
from palinsesto.accounts.models import AdminUser, ApiKey, Tenant, TenantStatus
from palinsesto.accounts.security import (
    hash_password,
    issue_token,
    new_api_key,
    verify_password,
)
from palinsesto.accounts.throttle import LockedOut
from palinsesto.panel.admin.api.deps import Context, CurrentPrincipal, DbSession
from palinsesto.panel.admin.api.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Throttled,
    Unauthorized,
    ValidationFailed,
)
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.types import PathId
from palinsesto.panel.playback.domains import shared_domains
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
    otp: Annotated[
        str | None,
        Form(max_length=64, description="the authenticator's code, or a recovery code"),
    ] = None,
) -> TokenResponse:
    """Check the password (and the second factor, once set up), then issue a bearer token.

    The attempt is reserved with the throttle before anything is looked at, so guesses
    beyond the limit, concurrent ones included, are refused without being checked. The
    argon2 check (tens of milliseconds of CPU) runs outside any transaction: on SQLite a
    write transaction holds the database's one write lock, and a storm of sign-ins must
    not hold every other writer up. Only the short writes that follow take it.

    With two-factor sign-in set up, the right password without ``otp`` answers 401 with
    code ``otp_required`` (not counted as a failure); a wrong or reused code counts as one.
    """
    ip = request.client.host if request.client else ""
    try:
        attempt = ctx.login_throttle.reserve(ip, username)
    except LockedOut as exc:
        raise Throttled(
            "Too many failed sign-ins; try again later.",
            headers={"Retry-After": str(exc.retry_after)},
        ) from None
    with attempt:
        with ctx.db.session() as session:
            user = session.scalar(select(AdminUser).where(AdminUser.username == username))
            user_id, stored_hash = (user.id, user.password_hash) if user else (None, _DUMMY_HASH)
            enabled = user is not None and user.enabled
            second = SecondFactor.of(user) if user is not None else None
            tenant = session.get(Tenant, user.tenant_id) if user and user.tenant_id else None
            pending = tenant is not None and tenant.status is TenantStatus.pending
            user_tenant = user.tenant_id if user is not None else None
        ok = verify_password(stored_hash, password) and user_id is not None and enabled
        # On a panel's own domain only its own staff sign in; others as a wrong password.
        domains = shared_domains(ctx.services, ctx.db, ctx.events)
        domain_tenant = domains.tenant_for_host(request.headers.get("host", ""))
        if domain_tenant is not None and user_tenant != domain_tenant:
            ok = False
        refusal = "Wrong username or password."
        if ok and user_id is not None and second is not None and second.secret:
            if not otp:
                raise Unauthorized(
                    "Enter the code from your authenticator app.", code="otp_required"
                )
            ok = _use_second_factor(ctx, user_id, second, otp)
            refusal = "Wrong or already used code."
        if ok and pending:
            attempt.succeeded()  # the right password: not a guess, just too early
            raise Forbidden(
                "This panel is waiting for the platform's approval; sign in once it is approved.",
                code="tenant_pending",
            )
        if ok and user_id is not None:
            attempt.succeeded()
            with ctx.db.transaction() as session:
                session.execute(
                    update(AdminUser)
                    .where(AdminUser.id == user_id)
                    .values(last_login_at=datetime.now(UTC))
                )
            token = issue_token(
                ctx.settings.secret_key,
                user_id,
                ctx.settings.token_ttl_seconds,
                password_hash=stored_hash,
            )
            return TokenResponse(access_token=token, expires_in=ctx.settings.token_ttl_seconds)
        attempt.failed()
        with ctx.db.transaction() as session:
            record(
                session,
                actor_id=None,
                actor=username[:64],
                tenant_id=None,
                action="login_failed",
                entity="session",
                ip=ip,
            )
    raise Unauthorized(refusal)


@dataclass(frozen=True, slots=True)
class SecondFactor:
    secret: str | None
    last_step: int | None
    recovery: tuple[str, ...]

    @classmethod
    def of(cls, user: AdminUser) -> SecondFactor:
        return cls(user.totp_secret, user.totp_last_step, tuple(user.recovery_codes or ()))


def _use_second_factor(ctx: Any, user_id: int, second: SecondFactor, code: str) -> bool:
    """Spend ``code``: a TOTP step newer than the last one used, or an unused recovery code.

    Spent with a conditional update, so two sign-ins racing with the same code cannot both
    win.
    """
    assert second.secret is not None
    step = totp.matching_step(second.secret, code, time.time(), second.last_step)
    with ctx.db.transaction() as session:
        if step is not None:
            last = AdminUser.totp_last_step
            spent = session.execute(
                update(AdminUser)
                .where(AdminUser.id == user_id, (last.is_(None)) | (last < step))
                .values(totp_last_step=step)
            )
            return bool(spent.rowcount)
        digest = totp.recovery_digest(code)
        user = session.get(AdminUser, user_id, with_for_update=True)
        if user is None or digest not in (user.recovery_codes or []):
            return False
        user.recovery_codes = [d for d in user.recovery_codes if d != digest]
        record(
            session,
            actor_id=user.id,
            actor=user.username,
            tenant_id=user.tenant_id,
            action="recovery_code_used",
            entity="user",
            entity_id=user.id,
            after={"recovery_codes_left": len(user.recovery_codes)},
        )
        return True


@router.get("/auth/me", response_model=Me)
def who_am_i(principal: CurrentPrincipal) -> Me:
    return Me(
        id=principal.user_id,
        username=principal.username,
        role=principal.role.value,
        tenant_id=principal.tenant_id,
    )


class ApiKeyCreate(InputModel):
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


# ---- two-factor sign-in ----


class TotpSetup(BaseModel):
    secret: str = Field(description="base32, for typing into an authenticator app")
    uri: str = Field(description="otpauth:// URI, for a QR code")


class TotpCode(InputModel):
    code: str = Field(min_length=6, max_length=64, description="the authenticator's code")


class TotpEnabled(BaseModel):
    recovery_codes: list[str] = Field(description="shown once; each signs in once")


class TotpDisable(InputModel):
    password: str = Field(min_length=1, max_length=256)
    code: str = Field(min_length=6, max_length=64, description="a code or a recovery code")


class TotpState(BaseModel):
    enabled: bool
    required: bool
    recovery_codes_left: int


@router.get("/auth/totp", response_model=TotpState)
def totp_state(principal: CurrentPrincipal, session: DbSession, ctx: Context) -> TotpState:
    user = session.get(AdminUser, principal.user_id)
    assert user is not None
    return TotpState(
        enabled=user.totp_secret is not None,
        required=user.role in ctx.totp_roles,
        recovery_codes_left=len(user.recovery_codes or []),
    )


@router.post("/auth/totp/setup", response_model=TotpSetup)
def totp_setup(principal: CurrentPrincipal, session: DbSession, ctx: Context) -> TotpSetup:
    """Start two-factor sign-in: a new secret to scan; it takes effect once confirmed."""
    user = session.get(AdminUser, principal.user_id)
    assert user is not None
    if user.totp_secret is not None:
        raise Conflict("Two-factor sign-in is already on; turn it off first to change it.")
    user.totp_pending_secret = totp.new_secret()
    issuer = urlsplit(ctx.settings.effective_public_url).hostname or "Palinsesto"
    return TotpSetup(
        secret=user.totp_pending_secret,
        uri=totp.provisioning_uri(user.totp_pending_secret, user.username, f"Palinsesto {issuer}"),
    )


@router.post("/auth/totp/confirm", response_model=TotpEnabled)
def totp_confirm(body: TotpCode, principal: CurrentPrincipal, session: DbSession) -> TotpEnabled:
    """Turn two-factor sign-in on with a first code; answers the recovery codes, once."""
    user = session.get(AdminUser, principal.user_id)
    assert user is not None
    if user.totp_pending_secret is None:
        raise Conflict("Start with POST /auth/totp/setup.")
    step = totp.matching_step(user.totp_pending_secret, body.code, time.time(), None)
    if step is None:
        raise ValidationFailed(
            "That code does not match.",
            fields={"code": "Type the 6 digits your app shows now (check the phone's clock)."},
        )
    codes = totp.new_recovery_codes()
    user.totp_secret, user.totp_pending_secret = user.totp_pending_secret, None
    user.totp_last_step = step
    user.recovery_codes = [totp.recovery_digest(c) for c in codes]
    record(
        session,
        actor_id=user.id,
        actor=user.username,
        tenant_id=user.tenant_id,
        action="totp_enabled",
        entity="user",
        entity_id=user.id,
        ip=principal.ip,
    )
    return TotpEnabled(recovery_codes=codes)


@router.post("/auth/totp/disable", status_code=204)
def totp_disable(body: TotpDisable, principal: CurrentPrincipal, ctx: Context) -> None:
    """Turn two-factor sign-in off: needs the password and a current (or recovery) code."""
    with ctx.db.session() as session:
        user = session.get(AdminUser, principal.user_id)
        assert user is not None
        second, stored_hash = SecondFactor.of(user), user.password_hash
    if second.secret is None:
        raise Conflict("Two-factor sign-in is not on.")
    if not verify_password(stored_hash, body.password) or not _use_second_factor(
        ctx, principal.user_id, second, body.code
    ):
        raise Unauthorized("Wrong password or code.")
    with ctx.db.transaction() as session:
        user = session.get(AdminUser, principal.user_id)
        assert user is not None
        user.totp_secret = user.totp_pending_secret = user.totp_last_step = None
        user.recovery_codes = []
        record(
            session,
            actor_id=user.id,
            actor=user.username,
            tenant_id=user.tenant_id,
            action="totp_disabled",
            entity="user",
            entity_id=user.id,
            ip=principal.ip,
        )
