"""Who is calling: bearer token or API key to a :class:`Principal`, and the DB session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from palinsesto.accounts.models import AdminUser, ApiKey, Role, Tenant, TenantStatus
from palinsesto.accounts.security import (
    API_KEY_PREFIX,
    InvalidToken,
    TokenClaims,
    hash_api_key,
    read_token,
    stamp_matches,
)
from palinsesto.context import AppContext
from palinsesto.panel.admin.api.errors import Forbidden, Unauthorized

WRITE_ROLES = frozenset({Role.platform_admin, Role.owner, Role.admin, Role.reseller})
MANAGER_ROLES = frozenset({Role.platform_admin, Role.owner, Role.admin})


@dataclass(frozen=True)
class Principal:
    """The signed-in admin user, reduced to what authorisation needs."""

    user_id: int
    username: str
    role: Role
    tenant_id: int | None
    ip: str = ""

    @property
    def is_platform(self) -> bool:
        return self.role is Role.platform_admin

    @property
    def is_reseller(self) -> bool:
        return self.role is Role.reseller

    @property
    def is_creator(self) -> bool:
        return self.role is Role.creator

    @property
    def can_write(self) -> bool:
        return self.role in WRITE_ROLES

    @property
    def is_manager(self) -> bool:
        return self.role in MANAGER_ROLES


def get_context(request: Request) -> AppContext:
    return request.app.state.ctx


Context = Annotated[AppContext, Depends(get_context)]


API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(request: Request, ctx: Context) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, else rolled back.

    A handler that raises leaves nothing behind. Topics marked with
    :func:`palinsesto.panel.admin.api.changes.mark_changed` are published after the commit.
    Reads get a plain transaction: on SQLite only writes take the write lock up front, so
    the panel's polling never queues behind (or blocks) a writer.
    """
    if request.method in READ_METHODS:
        with ctx.db.session() as session:
            yield session
        return
    with ctx.db.transaction() as session:
        session.info["changed"] = set()
        yield session
    # Committed: now tell caches and nodes (never before, or they could reload old rows).
    for tenant_id, topic in session.info["changed"]:
        ctx.events.publish(tenant_id, topic)


# scope="function": commit before the response is sent, so a client that got 201 reads
# its own write, and a failing commit still turns into an error response.
DbSession = Annotated[Session, Depends(get_session, scope="function")]


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


# What an account that must use two-factor sign-in may reach before it has set it up.
SECOND_FACTOR_PATHS = ("/api/v1/auth/totp", "/api/v1/auth/me")
# All a creator may reach: its own account and its own channels' routes (routes/creator.py).
# Every other route of the tenant (lines, resellers, other channels, sessions with viewers'
# addresses) is refused here, before any handler or query runs.
CREATOR_PATHS = ("/api/v1/auth/", "/api/v1/creator/")


def get_principal(request: Request, ctx: Context) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential:
        raise Unauthorized(
            "Sign in first: send 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    claims: TokenClaims | None = None
    with ctx.db.session() as session:
        if credential.startswith(API_KEY_PREFIX):
            key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_api_key(credential)))
            if key is None or key.revoked:
                raise Unauthorized("Unknown or revoked API key.")
            user_id = key.user_id
            now = datetime.now(UTC)
            # A minute's precision is enough to tell live keys from stale ones, and spares an
            # automation client's every read a write (and SQLite's write lock).
            if key.last_used_at is None or now - key.last_used_at > API_KEY_TOUCH_INTERVAL:
                session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
                session.commit()
        else:
            try:
                claims = read_token(ctx.settings.secret_key, credential)
                user_id = claims.user_id
            except InvalidToken as exc:
                raise Unauthorized(
                    "The token is invalid or expired; sign in again.",
                    headers={"WWW-Authenticate": "Bearer"},
                ) from exc
        user = session.get(AdminUser, user_id)
        if user is None or not user.enabled:
            raise Unauthorized("This account no longer exists or is disabled.")
        if claims is not None and not stamp_matches(
            claims, ctx.settings.secret_key, user.password_hash
        ):
            raise Unauthorized(
                "The password changed after this token was issued; sign in again.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if (
            user.role in ctx.totp_roles
            and user.totp_secret is None
            and not request.url.path.startswith(SECOND_FACTOR_PATHS)
        ):
            raise Forbidden(
                "Set up two-factor sign-in first (POST /api/v1/auth/totp/setup, then /confirm).",
                code="totp_setup_required",
            )
        if user.role is Role.creator and not request.url.path.startswith(CREATOR_PATHS):
            raise Forbidden("Creators see only their own channels (/api/v1/creator/...).")
        if user.tenant_id is not None:
            check_tenant_open(session.get(Tenant, user.tenant_id), request.method)
        return Principal(user.id, user.username, user.role, user.tenant_id, _client_ip(request))


def check_tenant_open(tenant: Tenant | None, method: str) -> None:
    """A panel waiting for approval lets its staff do nothing; a suspended one lets them
    read (to see their data and usage) but change nothing, until the platform resumes it."""
    if tenant is None or tenant.status is TenantStatus.active:
        return
    if tenant.status is TenantStatus.pending:
        raise Forbidden("This panel is waiting for the platform's approval.", code="tenant_pending")
    if method not in READ_METHODS:
        raise Forbidden(
            "This panel is suspended: it is read-only until the platform resumes it.",
            code="tenant_suspended",
        )


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_writer(principal: CurrentPrincipal) -> Principal:
    if not principal.can_write:
        raise Forbidden("This account is read-only.")
    return principal


def require_manager(principal: CurrentPrincipal) -> Principal:
    if not principal.is_manager:
        raise Forbidden("Only tenant owners and admins may do this.")
    return principal


def require_staff(principal: CurrentPrincipal) -> Principal:
    """Managers and support (read-only): everyone but resellers, who see only their lines."""
    if principal.is_reseller:
        raise Forbidden("Resellers may not see this.")
    return principal


def require_creator(principal: CurrentPrincipal) -> Principal:
    if not principal.is_creator:
        raise Forbidden("Only creators have their own channels here.")
    return principal


def require_platform(principal: CurrentPrincipal) -> Principal:
    if not principal.is_platform:
        raise Forbidden("Only platform admins may do this.")
    return principal


Writer = Annotated[Principal, Depends(require_writer)]
Manager = Annotated[Principal, Depends(require_manager)]
PlatformAdmin = Annotated[Principal, Depends(require_platform)]
Staff = Annotated[Principal, Depends(require_staff)]
Creator = Annotated[Principal, Depends(require_creator)]
