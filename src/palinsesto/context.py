"""What the running application holds, built once at start-up and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from palinsesto.accounts.models import Role
from palinsesto.accounts.throttle import LoginThrottle
from palinsesto.cluster.events import ChangeEvents, make_change_events
from palinsesto.config import ConfigError, Settings
from palinsesto.db import Database


@dataclass
class AppContext:
    settings: Settings
    db: Database
    # Admin sign-in, and viewer lines' sign-in on every surface (player API, playlists,
    # guide, stream URLs): separate, so a viewer's typos never lock out an operator at the
    # same address, and vice versa.
    login_throttle: LoginThrottle
    line_throttle: LoginThrottle
    events: ChangeEvents
    # Roles that must sign in with a second factor (PALINSESTO_TOTP_REQUIRED_ROLES).
    totp_roles: frozenset[Role] = frozenset()
    # Components that other packages attach at start-up (player caches, the live engine...).
    services: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, db: Database) -> AppContext:
        return cls(
            settings=settings,
            db=db,
            login_throttle=login_throttle(settings),
            line_throttle=login_throttle(settings),
            events=make_change_events(settings),
            totp_roles=totp_roles(settings),
        )


def totp_roles(settings: Settings) -> frozenset[Role]:
    try:
        return frozenset(Role(name) for name in settings.totp_required)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise ConfigError(
            f"PALINSESTO_TOTP_REQUIRED_ROLES: expected role names among {names}, "
            f"got {settings.totp_required_roles!r}"
        ) from None


def login_throttle(settings: Settings) -> LoginThrottle:
    return LoginThrottle(
        settings.login_max_failures,
        settings.login_window_seconds,
        settings.login_account_max_failures,
    )
