"""Line authentication shared by every viewer-facing surface.

Every surface (player_api.php, panel_api.php, get.php, xmltv.php, /live/... on both
ports, HLS, MAG) turns its request into plain values and calls
:meth:`LineDirectory.authenticate`, the one place a line's password is checked, with the
sign-in throttle (accounts/throttle.py) inside it. It raises a :class:`LineRefused`
subclass carrying the reference's reason code (§12 "client logs"), which each surface
renders its own way (reference §3.3, §8.2).

Lines are cached in memory by username: a player that sends credentials with every request
costs a dict lookup, not a database query. The cache of a tenant is dropped when its
``lines`` or ``catalog`` topic changes (see :mod:`palinsesto.cluster.events`), and entries
also expire after ``ttl`` seconds as a backstop for changes made outside this process.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from palinsesto.accounts.lines import ip_allowed
from palinsesto.accounts.models import Line, Tenant, TenantStatus
from palinsesto.accounts.throttle import LockedOut, LoginThrottle
from palinsesto.cluster.events import ChangeEvents
from palinsesto.db import Database
from palinsesto.trust.models import LineBlock

OUTPUT_ORDER = ("m3u8", "ts", "rtmp")  # reference §3.2: ordered by output id


class LineRefused(Exception):
    """Base of every refusal; ``code`` is the reference's log reason."""

    code = "AUTH_FAILED"


class BadCredentials(LineRefused):
    """Unknown username or wrong password: the two look the same to the caller."""

    code = "AUTH_FAILED"


class LoginThrottled(LineRefused):
    """Too many failed sign-ins from this address or at this account (reference §3.3
    "flood"); refused before the password was looked at. Surfaces answer 429."""

    code = "AUTH_FLOOD"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


class LineInactive(LineRefused):
    """Authenticated, but the line may not watch: ``status`` says why."""

    def __init__(self, line: LineView, status: str, code: str) -> None:
        super().__init__(status)
        self.line = line
        self.status = status
        self.code = code


class IpNotAllowed(LineRefused):
    code = "NOT_IN_ALLOWED_IPS"


class UserAgentNotAllowed(LineRefused):
    code = "BLOCKED_USER_AGENT"


class OutputNotAllowed(LineRefused):
    code = "USER_DISALLOW_EXT"


class ItemBlocked(LineRefused):
    """A decision on a notice stopped this line playing this item (451); others still may."""

    code = "ITEM_BLOCKED"


@dataclass(frozen=True, slots=True)
class LineView:
    """An immutable snapshot of a line, as playback needs it."""

    id: int
    tenant_id: int
    username: str
    password: str
    exp_date: int | None  # unix seconds; None = never expires
    created_at: int
    max_connections: int  # 0 = unlimited
    is_trial: bool
    enabled: bool
    banned: bool
    tenant_active: bool
    allowed_outputs: tuple[str, ...]
    allowed_ips: frozenset[str]
    allowed_user_agents: frozenset[str]
    bouquet_ids: tuple[int, ...]
    # (bouquet item type, id) this line may neither play nor list: notice decisions
    # (trust.models.LineBlock). Part of the catalogue key: a line with blocks has its own lists.
    blocked: frozenset[tuple[str, int]] = frozenset()

    def status(self, now: float) -> str:
        """Reference §3.2: Banned, then Disabled, then Active or Expired."""
        if self.banned:
            return "Banned"
        if not self.enabled or not self.tenant_active:
            return "Disabled"
        if self.exp_date is None or self.exp_date > now:
            return "Active"
        return "Expired"

    def allows_output(self, output: str) -> bool:
        return output in self.allowed_outputs

    def check_not_blocked(self, item_type: str, item_id: int) -> None:
        if self.blocked and (item_type, item_id) in self.blocked:
            raise ItemBlocked(f"{item_type} {item_id} is blocked for this line after a notice")


def _ts(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def line_view(
    line: Line, tenant_active: bool, blocked: frozenset[tuple[str, int]] = frozenset()
) -> LineView:
    outputs = tuple(o for o in OUTPUT_ORDER if o in (line.allowed_outputs or []))
    return LineView(
        id=line.id,
        tenant_id=line.tenant_id,
        username=line.username,
        password=line.password,
        exp_date=_ts(line.exp_date),
        created_at=_ts(line.created_at) or 0,
        max_connections=line.max_connections,
        is_trial=line.is_trial,
        enabled=line.enabled,
        banned=line.banned,
        tenant_active=tenant_active,
        allowed_outputs=outputs,
        allowed_ips=frozenset(line.allowed_ips or ()),
        allowed_user_agents=frozenset(line.allowed_user_agents or ()),
        bouquet_ids=tuple(line.bouquet_ids),
        blocked=blocked,
    )


class LineDirectory:
    """Looks lines up by username, through a per-process cache."""

    def __init__(
        self,
        db: Database,
        events: ChangeEvents,
        throttle: LoginThrottle,
        ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self.throttle = throttle
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, LineView | None]] = {}
        self._lock = threading.Lock()
        events.subscribe(self._on_change)

    def _on_change(self, tenant_id: int, topic: str) -> None:
        if topic not in {"lines", "catalog"}:
            return
        with self._lock:
            stale = [
                k for k, (_, v) in self._cache.items() if v is None or v.tenant_id == tenant_id
            ]
            for key in stale:
                del self._cache[key]

    def is_cached(self, username: str) -> bool:
        """True when :meth:`lookup` would answer from memory (no database query).

        Async surfaces call :meth:`authenticate` inline on a hit and in a worker thread
        on a miss, so the event loop never waits on the database.
        """
        hit = self._cache.get(username)
        return hit is not None and self._clock() - hit[0] < self._ttl

    def cached_view(self, username: str) -> LineView | None | bool:
        """What :meth:`lookup` would answer from memory (None: no such line), or False
        when it would query the database. The same object is returned until the entry is
        dropped (a change event) or expires: callers may key their own facts on it."""
        hit = self._cache.get(username)
        if hit is None or self._clock() - hit[0] >= self._ttl:
            return False
        return hit[1]

    def lookup(self, username: str) -> LineView | None:
        if "\x00" in username:
            # No line's name holds a NUL (credentials are checked on the way in), and
            # PostgreSQL refuses to even compare one: answer "no such line" ourselves.
            return None
        now = self._clock()
        hit = self._cache.get(username)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        with self._db.session() as session:
            row = session.execute(
                select(Line, Tenant.status)
                .join(Tenant, Tenant.id == Line.tenant_id)
                .where(Line.username == username)
            ).first()
            view = None
            if row is not None:
                blocked = frozenset(
                    (str(t), int(i))
                    for t, i in session.execute(
                        select(LineBlock.item_type, LineBlock.item_id).where(
                            LineBlock.line_id == row[0].id
                        )
                    )
                )
                view = line_view(row[0], row[1] == TenantStatus.active, blocked)
        with self._lock:
            if len(self._cache) > 500_000:
                self._cache.clear()
            self._cache[username] = (now, view)
        return view

    def authenticate(
        self,
        username: str,
        password: str,
        *,
        ip: str = "",
        user_agent: str = "",
        now: float | None = None,
        require_active: bool = True,
        tenant_id: int | None = None,
    ) -> LineView:
        """The line, if the credentials are right and it may be used from ``ip``.

        The attempt is reserved with the throttle first (:class:`LoginThrottled` when the
        address or the account is locked out), then the password is checked: wrong
        credentials count as a failure, a right password (whatever the line's status)
        clears that (address, username) pair's failures. With ``require_active=False`` an
        Expired/Banned/Disabled line is returned rather than refused (the account call
        shows the status, reference §3.3). With ``tenant_id`` (the request came on that
        tenant's own domain) another tenant's line is refused as a wrong password is.
        """
        try:
            attempt = self.throttle.reserve(ip, username)
        except LockedOut as exc:
            raise LoginThrottled(exc.retry_after) from None
        with attempt:  # released uncounted if the lookup fails (database down)
            line = self.lookup(username) if username else None
            right = line is not None and hmac.compare_digest(
                line.password.encode(), password.encode()
            )
            if line is None or not right or (tenant_id is not None and line.tenant_id != tenant_id):
                attempt.failed()
                raise BadCredentials("invalid credentials")
            attempt.succeeded()
        now = time.time() if now is None else now
        status = line.status(now)
        if require_active and status != "Active":
            code = {"Banned": "USER_BAN", "Disabled": "USER_DISABLED"}.get(status, "USER_EXPIRED")
            raise LineInactive(line, status, code)
        if line.allowed_ips and not ip_allowed(ip, line.allowed_ips):
            raise IpNotAllowed("address not allowed for this line")
        if line.allowed_user_agents and user_agent not in line.allowed_user_agents:
            raise UserAgentNotAllowed("user agent not allowed for this line")
        return line


def shared_line_directory(
    services: dict[str, Any], db: Database, events: ChangeEvents, throttle: LoginThrottle
) -> LineDirectory:
    """The process's one :class:`LineDirectory`, kept in ``services["lines"]``.

    Every surface (player API, playlists, /live/...) calls this at mount time so they
    share one cache, one change-event subscription and one sign-in throttle.
    """
    directory = services.get("lines")
    if directory is None:
        directory = LineDirectory(db, events, throttle)
        services["lines"] = directory
    return directory
