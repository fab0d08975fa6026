"""The plans a panel (tenant) can be on: a fixed catalogue, chosen by name.

A plan is a starting point, not a link: applying one copies its limits onto the tenant,
where the platform admin can still raise or lower each limit (PATCH /tenants/{id}). The
catalogue lives in code rather than a table because it changes with releases, not at run
time; the tenant row keeps the plan's name so usage can be billed by plan.

``None`` means no limit. ``trial_days`` is how long a plan's trial lasts from sign-up
(0 = not a trial); the end is stored on the tenant as ``trial_ends_at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from palinsesto.accounts.models import Tenant


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    max_channels: int | None
    max_lines: int | None
    max_nodes: int | None
    max_storage_gb: int | None
    max_viewers: int | None
    trial_days: int = 0


PLANS: dict[str, Plan] = {
    plan.name: plan
    for plan in (
        Plan("trial", max_channels=2, max_lines=5, max_nodes=1, max_storage_gb=5, max_viewers=5,
             trial_days=14),
        Plan("creator", max_channels=5, max_lines=100, max_nodes=1, max_storage_gb=50,
             max_viewers=100),
        Plan("business", max_channels=200, max_lines=10_000, max_nodes=10, max_storage_gb=2000,
             max_viewers=5000),
        Plan("unlimited", None, None, None, None, None),
    )
}  # fmt: skip


class UnknownPlan(ValueError):
    """No plan of that name in :data:`PLANS`."""


def plan_named(name: str) -> Plan:
    try:
        return PLANS[name]
    except KeyError:
        raise UnknownPlan(f"unknown plan {name!r}; known: {', '.join(PLANS)}") from None


def apply_plan(tenant: Tenant, plan: Plan, now: datetime) -> None:
    """Copy ``plan``'s limits onto ``tenant`` and start its trial (if it has one) at ``now``."""
    tenant.plan = plan.name
    tenant.max_channels = plan.max_channels
    tenant.max_lines = plan.max_lines
    tenant.max_nodes = plan.max_nodes
    tenant.max_storage_gb = plan.max_storage_gb
    tenant.max_viewers = plan.max_viewers
    tenant.trial_ends_at = now + timedelta(days=plan.trial_days) if plan.trial_days else None
