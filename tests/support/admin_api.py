"""Tenants and their staff for admin API tests, made cheaply.

Users are inserted with one precomputed argon2id hash and get tokens issued directly, so a
test pays for argon2 once per process rather than once per user (sign-in itself is tested
in tests/integration/test_admin_basics.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from palinsesto.accounts.models import AdminUser, Role
from palinsesto.accounts.security import hash_password, issue_token
from support.server import RunningServer

USER_PASSWORD = "staff-password-1"
_HASH: list[str] = []


def password_hash() -> str:
    if not _HASH:
        _HASH.append(hash_password(USER_PASSWORD))
    return _HASH[0]


@dataclass
class Staff:
    id: int
    username: str
    token: str


@dataclass
class TenantWorld:
    """One tenant with one user of each role and a reseller tree: reseller > sub; sibling."""

    server: RunningServer
    id: int
    slug: str
    users: dict[str, Staff] = field(default_factory=dict)

    def client(self, who: str = "owner") -> httpx.Client:
        return self.server.client(self.users[who].token)

    def partner_code(self) -> str:
        """The code another panel's owner types to offer this one a channel privately
        (read as its own staff read it)."""
        with self.client() as c:
            r = c.get("/api/v1/syndication/partner-code")
        assert r.status_code == 200, r.text
        return str(r.json()["partner_code"])


def add_user(
    server: RunningServer,
    tenant_id: int | None,
    username: str,
    role: Role,
    parent_id: int | None = None,
    credits: int = 0,
) -> Staff:
    with server.ctx.db.transaction() as session:
        user = AdminUser(
            tenant_id=tenant_id,
            username=username,
            password_hash=password_hash(),
            role=role,
            parent_id=parent_id,
            credits=credits,
        )
        session.add(user)
        session.flush()
        user_id = user.id
    token = issue_token(
        server.ctx.settings.secret_key, user_id, 3600, password_hash=password_hash()
    )
    return Staff(user_id, username, token)


def make_tenant(server: RunningServer, slug: str, **limits: Any) -> TenantWorld:
    """A tenant (made over HTTP by the platform admin) with owner, admin, support and
    resellers ``reseller`` > ``sub``, plus ``sibling`` beside ``reseller``."""
    with root_client(server) as c:
        r = c.post("/api/v1/tenants", json={"name": slug.title(), "slug": slug, **limits})
        assert r.status_code == 201, r.text
        tenant_id = r.json()["id"]
    world = TenantWorld(server, tenant_id, slug)
    for role in (Role.owner, Role.admin, Role.support):
        world.users[role.value] = add_user(server, tenant_id, f"{role.value}-{slug}", role)
    reseller = add_user(server, tenant_id, f"reseller-{slug}", Role.reseller)
    world.users["reseller"] = reseller
    world.users["sub"] = add_user(server, tenant_id, f"sub-{slug}", Role.reseller, reseller.id)
    world.users["sibling"] = add_user(server, tenant_id, f"sibling-{slug}", Role.reseller)
    return world


def root_client(server: RunningServer) -> httpx.Client:
    """A client signed in as the platform admin."""
    with server.ctx.db.session() as session:
        root = session.scalar(select(AdminUser).where(AdminUser.role == Role.platform_admin))
        assert root is not None
        root_id, root_hash = root.id, root.password_hash
    secret = server.ctx.settings.secret_key
    return server.client(issue_token(secret, root_id, 3600, password_hash=root_hash))


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()
