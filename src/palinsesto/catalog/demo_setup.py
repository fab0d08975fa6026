"""The small rows demo-data makes before the bulk ones, reused by name on later runs:
live, movie and series categories, the five bouquets, two resellers; and the plan check."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from palinsesto.accounts.models import AdminUser, CreditEntry, Line, Role, Tenant
from palinsesto.accounts.security import hash_password
from palinsesto.catalog import demo_words as words
from palinsesto.catalog.models import Bouquet, Category, CategoryKind, Channel

# (bouquet name, what it holds); "Full" holds everything, in category order.
BOUQUETS = ("Full", "Sports", "Kids", "Movies", "Series")
RESELLER_CREDITS = (1_000, 250)


class DemoDataError(ValueError):
    """The request cannot be met (bad size, bad slug, a plan limit); nothing was written."""


@dataclass(frozen=True)
class ResellerCredentials:
    username: str
    password: str  # shown once; only its argon2id hash is stored


@dataclass
class DemoCategories:
    """Category ids by name, per kind."""

    live: dict[str, int]
    movie: dict[str, int]
    series: dict[str, int]


def check_limits(session: Session, tenant: Tenant, channels: int, lines: int) -> None:
    """Raise :class:`DemoDataError` if the new rows would exceed the tenant's plan."""
    for limit, model, wanted, what in (
        (tenant.max_channels, Channel, channels, "channels"),
        (tenant.max_lines, Line, lines, "lines"),
    ):
        if limit is None or wanted == 0:
            continue
        existing = session.scalar(
            select(func.count()).select_from(model).where(model.tenant_id == tenant.id)
        )
        if (existing or 0) + wanted > limit:
            raise DemoDataError(
                f"tenant '{tenant.slug}' allows {limit} {what}; it has {existing}, "
                f"so {wanted} more would exceed its plan"
            )


def ensure_categories(session: Session, tenant_id: int) -> DemoCategories:
    """The demo categories of each kind, made after the tenant's own when missing."""
    wanted = {
        CategoryKind.live: list(words.LIVE_CATEGORIES),
        CategoryKind.movie: list(words.MOVIE_CATEGORIES),
        CategoryKind.series: list(words.SERIES_CATEGORIES),
    }
    found: dict[CategoryKind, dict[str, int]] = {}
    for kind, names in wanted.items():
        rows = session.execute(
            select(Category.name, Category.id, Category.sort_order).where(
                Category.tenant_id == tenant_id, Category.kind == kind
            )
        ).all()
        existing = {name: cid for name, cid, _ in rows}
        order = max((sort for _, _, sort in rows), default=0)
        for name in names:
            if name in existing:
                continue
            order += 1
            category = Category(tenant_id=tenant_id, kind=kind, name=name, sort_order=order)
            session.add(category)
            session.flush()
            existing[name] = category.id
        found[kind] = {name: existing[name] for name in names}
    return DemoCategories(
        found[CategoryKind.live], found[CategoryKind.movie], found[CategoryKind.series]
    )


def ensure_bouquets(session: Session, tenant_id: int) -> dict[str, int]:
    """The ids of the :data:`BOUQUETS`, made after the tenant's own when missing."""
    existing = dict(
        session.execute(
            select(Bouquet.name, Bouquet.id).where(Bouquet.tenant_id == tenant_id)
        ).all()
    )
    order = len(existing)
    for name in BOUQUETS:
        if name not in existing:
            order += 1
            bouquet = Bouquet(tenant_id=tenant_id, name=name, sort_order=order)
            session.add(bouquet)
            session.flush()
            existing[name] = bouquet.id
    return {name: existing[name] for name in BOUQUETS}


def ensure_resellers(
    session: Session, tenant_id: int, slug: str, rng: random.Random
) -> tuple[list[int], list[ResellerCredentials]]:
    """Two resellers (the second a sub-reseller of the first), reused on later runs."""
    ids: list[int] = []
    created: list[ResellerCredentials] = []
    parent_id: int | None = None
    for number, credits in enumerate(RESELLER_CREDITS, start=1):
        name = f"{slug}-reseller{number}"
        user = session.scalar(select(AdminUser).where(AdminUser.username == name))
        if user is not None and (user.tenant_id != tenant_id or user.role != Role.reseller):
            raise DemoDataError(f"admin user '{name}' exists and is not this tenant's reseller")
        if user is None:
            secret = words.password(rng, 14)
            # The only hashing demo-data does: argon2id is slow on purpose.
            user = AdminUser(
                tenant_id=tenant_id,
                username=name,
                password_hash=hash_password(secret),
                role=Role.reseller,
                parent_id=parent_id,
                credits=credits,
                notes="created by demo-data",
            )
            session.add(user)
            session.flush()
            session.add(
                CreditEntry(
                    tenant_id=tenant_id,
                    user_id=user.id,
                    actor_id=None,
                    amount=credits,
                    balance_after=credits,
                    reason="demo-data opening balance",
                )
            )
            created.append(ResellerCredentials(name, secret))
        ids.append(user.id)
        parent_id = user.id
    return ids, created
