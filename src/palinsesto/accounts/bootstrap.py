"""First start: the platform admin (no default credentials) and the demo tenant."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from palinsesto.accounts.models import AdminUser, Role, Tenant
from palinsesto.accounts.security import generate_password, hash_password


@dataclass(frozen=True)
class BootstrapResult:
    admin_username: str
    generated_password: str | None  # shown once, never stored or logged


def ensure_platform_admin(session: Session, username: str, password: str) -> BootstrapResult | None:
    """Create the platform admin if there is none. Returns what to tell the operator."""
    exists = session.scalar(
        select(AdminUser.id).where(AdminUser.role == Role.platform_admin).limit(1)
    )
    if exists is not None:
        return None
    generated = None if password else generate_password()
    session.add(
        AdminUser(
            tenant_id=None,
            username=username,
            password_hash=hash_password(password or generated or ""),
            role=Role.platform_admin,
        )
    )
    return BootstrapResult(username, generated)


def platform_admin_username(session: Session) -> str | None:
    """The first platform admin's username (the one the start-up banner names)."""
    return session.scalar(
        select(AdminUser.username)
        .where(AdminUser.role == Role.platform_admin)
        .order_by(AdminUser.id)
        .limit(1)
    )


def ensure_tenant(session: Session, slug: str, name: str | None = None) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        tenant = Tenant(slug=slug, name=name or slug.replace("-", " ").title())
        session.add(tenant)
        session.flush()
    return tenant
