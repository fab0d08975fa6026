"""What the running application holds, built once at start-up and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from palinsesto.accounts.throttle import LoginThrottle
from palinsesto.cluster.events import ChangeEvents, make_change_events
from palinsesto.config import Settings
from palinsesto.db import Database


@dataclass
class AppContext:
    settings: Settings
    db: Database
    login_throttle: LoginThrottle
    events: ChangeEvents
    # Components that other packages attach at start-up (player caches, the live engine...).
    services: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, db: Database) -> AppContext:
        return cls(
            settings=settings,
            db=db,
            login_throttle=LoginThrottle(
                settings.login_max_failures, settings.login_window_seconds
            ),
            events=make_change_events(settings),
        )
