"""Admin users of a tenant: owners, admins, resellers (a tree of them) and support."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, Select, select

from palinsesto.accounts import users as service
from palinsesto.accounts.models import AdminUser, Role
from palinsesto.accounts.security import hash_password
from palinsesto.panel.admin.api.changes import audited
from palinsesto.panel.admin.api.deps import CurrentPrincipal, DbSession, Principal, Writer
from palinsesto.panel.admin.api.errors import Forbidden, NotFound, ValidationFailed
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.pagination import ListParams, Page, page_of, paginate
from palinsesto.panel.admin.api.scope import tenant_for_create
from palinsesto.panel.admin.api.types import EmailAddress, ObjectId, PathId, QueryId
from palinsesto.trust.audit import snapshot

router = APIRouter(tags=["users"])

TenantRole = Annotated[Role, Field(description="owner, admin, reseller, support or creator")]
Password = Annotated[str, Field(min_length=8, max_length=256)]
Username = Annotated[str, Field(min_length=1, max_length=64, pattern=service.CREDENTIAL_PATTERN)]


class UserIn(InputModel):
    username: Username
    password: Password
    role: TenantRole
    parent_id: ObjectId | None = Field(default=None, description="resellers: parent reseller")
    email: EmailAddress = ""
    notes: str = Field(default="", max_length=10_000)
    enabled: bool = True
    tenant_id: ObjectId | None = Field(default=None, description="platform admins only")


class UserPatch(InputModel):
    password: Password | None = Field(default=None, description="set a new password")
    role: TenantRole | None = None
    parent_id: ObjectId | None = None
    email: EmailAddress | None = None
    notes: str | None = Field(default=None, max_length=10_000)
    enabled: bool | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tenant_id: int | None
    username: str
    role: Role
    parent_id: int | None
    credits: int
    email: str
    notes: str
    enabled: bool
    created_at: datetime
    last_login_at: datetime | None


class PasswordChange(InputModel):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: Password


def visible_clause(session: DbSession, principal: Principal) -> ColumnElement[bool]:
    """Tenant users the caller may see: a reseller, only itself and its subtree."""
    if principal.is_platform:
        return AdminUser.tenant_id.is_not(None)
    if principal.is_reseller:
        return AdminUser.id.in_(service.subtree(session, principal.user_id))
    return AdminUser.tenant_id == principal.tenant_id


def get_visible(session: DbSession, principal: Principal, user_id: int) -> AdminUser:
    user = session.scalar(
        select(AdminUser).where(AdminUser.id == user_id, visible_clause(session, principal))
    )
    if user is None:
        raise NotFound(f"User {user_id} not found.")
    return user


def _select_users(session: DbSession, principal: Principal) -> Select[Any]:
    return select(AdminUser).where(visible_clause(session, principal))


@router.get("/users", response_model=Page[UserOut])
def list_users(
    principal: CurrentPrincipal,
    session: DbSession,
    params: Annotated[ListParams, Depends()],
    q: Annotated[
        str | None, Query(max_length=100, description="username or email contains")
    ] = None,
    role: Role | None = None,
    parent_id: QueryId = None,
    tenant_id: QueryId = None,
) -> Page[UserOut]:
    stmt = _select_users(session, principal)
    if q:
        stmt = stmt.where(AdminUser.username.contains(q) | AdminUser.email.contains(q))
    if role:
        stmt = stmt.where(AdminUser.role == role)
    if parent_id is not None:
        stmt = stmt.where(AdminUser.parent_id == parent_id)
    if tenant_id is not None and principal.is_platform:
        stmt = stmt.where(AdminUser.tenant_id == tenant_id)
    sortable = {
        "id": AdminUser.id,
        "username": AdminUser.username,
        "role": AdminUser.role,
        "credits": AdminUser.credits,
        "created_at": AdminUser.created_at,
    }
    rows, total = paginate(session, stmt, params, sortable, AdminUser.id)
    return page_of(rows, total, params, UserOut)


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(body: UserIn, principal: Writer, session: DbSession) -> AdminUser:
    # First, before the session's first statement begins the write transaction (and on
    # SQLite takes the write lock): argon2 must not hold other writers up.
    password_hash = hash_password(body.password)
    if body.role is Role.platform_admin:
        raise ValidationFailed(
            "Platform admins are made with the CLI.", fields={"role": "Not allowed."}
        )
    parent_id = body.parent_id
    if principal.is_reseller:
        # Resellers grow their own tree and nothing else.
        parent_id = parent_id or principal.user_id
        if parent_id not in service.subtree(session, principal.user_id):
            raise ValidationFailed(
                f"No reseller {parent_id} below you.", fields={"parent_id": "Not below you."}
            )
    tenant_id = tenant_for_create(session, principal, body.tenant_id)
    user = service.create_user(
        session,
        tenant_id=tenant_id,
        actor_role=principal.role,
        username=body.username,
        password_hash=password_hash,
        role=body.role,
        parent_id=parent_id,
        email=body.email,
        notes=body.notes,
        enabled=body.enabled,
    )
    audited(session, principal, "create", "user", user)
    return user


@router.post("/users/me/password", status_code=204)
def change_own_password(
    body: PasswordChange, principal: CurrentPrincipal, session: DbSession
) -> None:
    user = session.get(AdminUser, principal.user_id)
    if user is None:
        raise NotFound("Your account no longer exists.")
    before = snapshot(user)
    service.change_own_password(user, body.current_password, body.new_password)
    audited(session, principal, "change_password", "user", user, before=before)


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(user_id: PathId, principal: CurrentPrincipal, session: DbSession) -> AdminUser:
    return get_visible(session, principal, user_id)


def _check_may_manage(principal: Principal, user: AdminUser) -> None:
    if user.id == principal.user_id:
        raise Forbidden("Change your own account with /users/me/password.")
    if user.role not in service.ASSIGNABLE[principal.role]:
        raise Forbidden(f"A {principal.role.value} may not manage {user.role.value} accounts.")


@router.patch("/users/{user_id}", response_model=UserOut)
def update_user(
    user_id: PathId, body: UserPatch, principal: Writer, session: DbSession
) -> AdminUser:
    user = get_visible(session, principal, user_id)
    _check_may_manage(principal, user)
    before = snapshot(user)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("role") is not None and changes["role"] is not user.role:
        if Role.reseller in (user.role, changes["role"]):
            raise ValidationFailed(
                "Resellers cannot change role (their lines and credits would be orphaned).",
                fields={"role": "Create a new account instead."},
            )
        service.check_role(principal.role, changes["role"])
        user.role = changes["role"]
    if "parent_id" in changes:
        allowed = service.subtree(session, principal.user_id) if principal.is_reseller else None
        parent_id = changes["parent_id"]
        if principal.is_reseller and parent_id is None:
            raise ValidationFailed(
                "Sub-resellers stay below you.", fields={"parent_id": "Required."}
            )
        service.move_parent(session, user, parent_id, allowed)
    if changes.get("password"):
        service.set_password(user, changes["password"])
    for key in ("email", "notes", "enabled"):
        if changes.get(key) is not None:
            setattr(user, key, changes[key])
    audited(session, principal, "update", "user", user, before=before)
    return user


@router.delete("/users/{user_id}", status_code=204)
def delete_user(user_id: PathId, principal: Writer, session: DbSession) -> None:
    user = get_visible(session, principal, user_id)
    _check_may_manage(principal, user)
    audited(session, principal, "delete", "user", user)
    service.delete_user(session, user)
