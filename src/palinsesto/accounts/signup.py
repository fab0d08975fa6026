"""Self-service panels: a sign-up creates a tenant on a plan, with its owner.

The platform admin chooses the mode (``PALINSESTO_SIGNUP``): ``off``, ``open`` (the new
panel is active at once) or ``approval`` (it is ``pending``: its owner cannot sign in and
its lines cannot play until the platform admin approves it). Sign-ups are throttled per
client address by :class:`SignupThrottle`, counted in this process.
"""

from __future__ import annotations

import enum
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from palinsesto.accounts.models import AdminUser, Role, Tenant, TenantStatus
from palinsesto.accounts.plans import Plan, apply_plan
from palinsesto.accounts.users import check_credential, username_taken
from palinsesto.errors import AlreadyExists, InvalidValue
from palinsesto.names import SLUG_PATTERN

EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z]{2,63}$")
SLUG = re.compile(SLUG_PATTERN)
# Slugs that name the platform's own pages or sound like it.
RESERVED_SLUGS = frozenset({"admin", "api", "panel", "platform", "signup", "www", "root"})


class SignupMode(enum.StrEnum):
    off = "off"
    open = "open"
    approval = "approval"


@dataclass(frozen=True, slots=True)
class SignupRequest:
    panel_name: str
    slug: str
    email: str
    username: str
    password_hash: str


def check_signup_values(slug: str, email: str) -> None:
    """Refuse a malformed slug or e-mail address (before anything is hashed or stored)."""
    if not SLUG.match(slug) or slug in RESERVED_SLUGS:
        raise InvalidValue("Use lower-case letters, digits and '-' (not a reserved name).", "slug")
    if len(email) > 255 or not EMAIL_PATTERN.match(email):
        raise InvalidValue("Enter a valid e-mail address.", "email")


def sign_up(
    session: Session, request: SignupRequest, plan: Plan, mode: SignupMode, now: datetime
) -> tuple[Tenant, AdminUser]:
    """The new tenant (active, or pending in approval mode) and its owner."""
    check_signup_values(request.slug, request.email)
    check_credential(request.username, "username")
    if session.scalar(select(Tenant.id).where(Tenant.slug == request.slug)) is not None:
        raise AlreadyExists("A panel with this address exists.", "slug")
    if username_taken(session, request.username):
        raise AlreadyExists("This username is taken.", "username")
    status = TenantStatus.pending if mode is SignupMode.approval else TenantStatus.active
    tenant = Tenant(name=request.panel_name, slug=request.slug, status=status)
    apply_plan(tenant, plan, now)
    session.add(tenant)
    session.flush()
    owner = AdminUser(
        tenant_id=tenant.id,
        username=request.username,
        password_hash=request.password_hash,
        role=Role.owner,
        credits=0,
        email=request.email,
    )
    session.add(owner)
    session.flush()
    return tenant, owner


class TooManySignups(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


class SignupThrottle:
    """At most ``limit`` sign-up attempts per client address in any ``window`` seconds."""

    def __init__(
        self, limit: int, window: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window, self._clock = limit, window, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def reserve(self, address: str) -> None:
        """Count an attempt from ``address``, or raise :class:`TooManySignups`."""
        now = self._clock()
        with self._lock:
            if len(self._seen) > 100_000:
                self._seen.clear()
            times = self._seen.setdefault(address, deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.limit:
                raise TooManySignups(int(times[0] + self.window - now) + 1)
            times.append(now)
