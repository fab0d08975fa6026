"""``palinsesto admin``: tenants and admin users from the command line."""

from __future__ import annotations

import re

import typer
from sqlalchemy import select

from palinsesto.accounts.bootstrap import ensure_tenant
from palinsesto.accounts.models import AdminUser, Role, Tenant
from palinsesto.accounts.security import generate_password, hash_password
from palinsesto.accounts.users import CREDENTIAL_PATTERN
from palinsesto.cli.common import (
    announce_changes,
    console,
    err_console,
    open_database,
    settings_or_exit,
)
from palinsesto.names import SLUG_PATTERN, hidden_character
from palinsesto.trust.audit import record

admin_app = typer.Typer(help="Tenants and admin users.", no_args_is_help=True)


def _audit_cli(session, action: str, entity: str, entity_id: object, tenant_id: int | None) -> None:  # noqa: ANN001
    record(
        session,
        actor_id=None,
        actor="cli",
        tenant_id=tenant_id,
        action=action,
        entity=entity,
        entity_id=entity_id,
    )


@admin_app.command("create-tenant")
def create_tenant(
    slug: str = typer.Argument(..., help="short name, lower-case letters, digits and '-'"),
    name: str = typer.Option("", help="display name"),
) -> None:
    """Create a tenant (panel)."""
    # The same rules as the admin API: a URL-safe slug, a name without hidden characters.
    if not re.fullmatch(SLUG_PATTERN, slug):
        err_console.print("The slug takes lower-case letters, digits and '-' only.")
        raise typer.Exit(2)
    hidden = hidden_character(name)
    if hidden is not None:
        err_console.print(
            f"The name contains an invisible or direction-changing character ({hidden})."
        )
        raise typer.Exit(2)
    settings = settings_or_exit()
    db = open_database(settings)
    with db.transaction() as session:
        if session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
            err_console.print(f"Tenant '{slug}' already exists.")
            raise typer.Exit(1)
        tenant = ensure_tenant(session, slug, name or None)
        _audit_cli(session, "create", "tenant", tenant.id, tenant.id)
        tenant_id = tenant.id
        console.print(f"tenant {tenant.id} '{tenant.slug}' created")
    # Servers cache "no such line" answers too; a new tenant's lines must not hit them.
    announce_changes(settings, tenant_id, ("catalog", "lines", "channels"))


@admin_app.command("create-user")
def create_user(
    username: str = typer.Argument(...),
    role: Role = typer.Option(Role.owner, help="platform_admin, owner, admin, reseller, support"),
    tenant: str = typer.Option("", help="tenant slug (all roles but platform_admin)"),
    password: str = typer.Option("", help="leave empty to generate one", hide_input=True),
) -> None:
    """Create an admin user; prints a generated password once."""
    if not re.fullmatch(CREDENTIAL_PATTERN, username):
        err_console.print("The username takes letters, digits and . _ @ - only.")
        raise typer.Exit(2)
    settings = settings_or_exit()
    db = open_database(settings)
    with db.transaction() as session:
        tenant_id = None
        if role is not Role.platform_admin:
            row = session.scalar(select(Tenant).where(Tenant.slug == tenant))
            if row is None:
                err_console.print(f"No tenant '{tenant}': give --tenant SLUG.")
                raise typer.Exit(1)
            tenant_id = row.id
        if session.scalar(select(AdminUser.id).where(AdminUser.username == username)):
            err_console.print(f"User '{username}' already exists.")
            raise typer.Exit(1)
        secret = password or generate_password()
        user = AdminUser(
            tenant_id=tenant_id, username=username, password_hash=hash_password(secret), role=role
        )
        session.add(user)
        session.flush()
        _audit_cli(session, "create", "admin_user", user.id, tenant_id)
    console.print(f"user '{username}' ({role.value}) created")
    if not password:
        console.print(f"password (shown once): {secret}")


@admin_app.command("reset-password")
def reset_password(
    username: str = typer.Argument(...),
    password: str = typer.Option("", help="leave empty to generate one", hide_input=True),
) -> None:
    """Set a new password for an admin user."""
    settings = settings_or_exit()
    db = open_database(settings)
    with db.transaction() as session:
        user = session.scalar(select(AdminUser).where(AdminUser.username == username))
        if user is None:
            err_console.print(f"No user '{username}'.")
            raise typer.Exit(1)
        secret = password or generate_password()
        user.password_hash = hash_password(secret)
        _audit_cli(session, "reset_password", "admin_user", user.id, user.tenant_id)
    console.print(f"password of '{username}' reset")
    if not password:
        console.print(f"new password (shown once): {secret}")


def register(app: typer.Typer) -> None:
    app.add_typer(admin_app, name="admin")
