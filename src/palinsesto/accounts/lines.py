"""Lines (subscribers): field rules, plan limit, purchases and bulk actions.

Functions take plain values and a Session; the caller owns the transaction, so a rule
broken half-way through (a bad bouquet, too few credits) leaves nothing behind.
"""

from __future__ import annotations

import enum
import ipaddress
import secrets
import string
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, not_, or_, select
from sqlalchemy.orm import Session

from palinsesto.accounts import credits
from palinsesto.accounts.models import (
    AdminUser,
    CreditEntry,
    Line,
    LineBouquet,
    Package,
    Role,
    Tenant,
)
from palinsesto.accounts.users import check_credential
from palinsesto.catalog.bouquets import check_bouquet_ids
from palinsesto.errors import AlreadyExists, InvalidValue, OutOfScope, PlanLimitReached


class LineOutput(enum.StrEnum):
    """What a line may play (reference §3.2 ``allowed_output_formats``), in output-id order."""

    m3u8 = "m3u8"
    ts = "ts"
    rtmp = "rtmp"


OUTPUT_ORDER = tuple(o.value for o in LineOutput)  # reference §3.2: ordered by output id


class LineStatus(enum.StrEnum):
    """Reference §3.2 status derivation, as a filter."""

    active = "active"
    expired = "expired"
    banned = "banned"
    disabled = "disabled"


class BulkAction(enum.StrEnum):
    extend = "extend"
    enable = "enable"
    disable = "disable"
    ban = "ban"
    unban = "unban"
    delete = "delete"


def status_of(line: Line, now: datetime) -> LineStatus:
    if line.banned:
        return LineStatus.banned
    if not line.enabled:
        return LineStatus.disabled
    if line.exp_date is None or line.exp_date > now:
        return LineStatus.active
    return LineStatus.expired


def status_clause(status: LineStatus, now: datetime) -> ColumnElement[bool]:
    """SQL for :func:`status_of` (Banned, then Disabled, then Active or Expired)."""
    if status is LineStatus.banned:
        return Line.banned.is_(True)
    live = and_(Line.banned.is_(False), Line.enabled.is_(True))
    if status is LineStatus.disabled:
        return and_(Line.banned.is_(False), Line.enabled.is_(False))
    if status is LineStatus.active:
        return and_(live, or_(Line.exp_date.is_(None), Line.exp_date > now))
    return and_(live, Line.exp_date.is_not(None), not_(Line.exp_date > now))


def generate_line_password(length: int = 12) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def check_outputs(outputs: Iterable[str]) -> list[str]:
    """Known outputs in output-id order. An empty list is refused: a line that may play
    nothing is a mistake (players are told ``USER_DISALLOW_EXT`` for every stream)."""
    wanted = list(outputs)
    if not wanted:
        raise InvalidValue("Choose at least one output: m3u8, ts or rtmp.", "allowed_outputs")
    for index, output in enumerate(wanted):
        if output not in OUTPUT_ORDER:
            raise InvalidValue(
                f"Unknown output {output!r}; use m3u8, ts or rtmp.", f"allowed_outputs.{index}"
            )
    return [o for o in OUTPUT_ORDER if o in wanted]


def check_ips(ips: Iterable[str]) -> list[str]:
    """Addresses (``203.0.113.7``) and ranges (``203.0.113.0/24``), written canonically."""
    result = []
    for index, ip in enumerate(ips):
        text = ip.strip()
        try:
            if "/" in text:
                result.append(str(ipaddress.ip_network(text, strict=False)))
            else:
                result.append(str(ipaddress.ip_address(text)))
        except ValueError:
            raise InvalidValue(
                f"{ip!r} is not an IP address or range: use one like 203.0.113.7 or "
                "203.0.113.0/24.",
                f"allowed_ips.{index}",
            ) from None
    return result


def ip_allowed(ip: str, allowed: frozenset[str]) -> bool:
    """Whether ``ip`` is one of the ``allowed`` addresses or inside one of its ranges."""
    if ip in allowed:
        return True
    ranges = [entry for entry in allowed if "/" in entry]
    if not ranges:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(entry, strict=False) for entry in ranges)


def check_username_free(session: Session, username: str, except_id: int | None = None) -> None:
    """Line usernames are unique across tenants: player URLs carry no tenant (§8.1)."""
    stmt = select(Line.id).where(Line.username == username)
    if except_id is not None:
        stmt = stmt.where(Line.id != except_id)
    if session.scalar(stmt) is not None:
        raise AlreadyExists("This username is taken.", "username")


def check_line_limit(session: Session, tenant_id: int) -> None:
    """Refuse a new line once the tenant's plan ``max_lines`` is reached."""
    limit = session.scalar(select(Tenant.max_lines).where(Tenant.id == tenant_id).with_for_update())
    if limit is None:
        return
    count = session.scalar(select(func.count(Line.id)).where(Line.tenant_id == tenant_id))
    if (count or 0) >= limit:
        raise PlanLimitReached(
            f"The plan allows {limit} lines; delete one or raise the limit.", "max_lines"
        )


def check_reseller(session: Session, tenant_id: int, reseller_id: int | None) -> None:
    if reseller_id is None:
        return
    user = session.get(AdminUser, reseller_id)
    if user is None or user.tenant_id != tenant_id or user.role is not Role.reseller:
        raise InvalidValue(f"No reseller {reseller_id} in this tenant.", "reseller_id")


def set_bouquets(session: Session, line: Line, bouquet_ids: Sequence[int]) -> None:
    check_bouquet_ids(session, line.tenant_id, bouquet_ids, "bouquet_ids")
    if line.bouquet_links:
        # Delete old links first: a re-added bouquet has the same primary key.
        line.bouquet_links.clear()
        session.flush()
    line.bouquet_links.extend(
        LineBouquet(bouquet_id=b, position=pos) for pos, b in enumerate(bouquet_ids)
    )


def apply_fields(session: Session, line: Line, fields: Mapping[str, Any]) -> None:
    """Validate and set the given fields of ``line`` (new or existing)."""
    for key, value in fields.items():
        if key == "username":
            check_credential(value, "username")
            check_username_free(session, value, line.id)
        elif key == "password":
            check_credential(value, "password")
        elif key == "allowed_outputs":
            value = check_outputs(value)
        elif key == "allowed_ips":
            value = check_ips(value)
        elif key == "reseller_id":
            check_reseller(session, line.tenant_id, value)
        elif key == "bouquet_ids":
            set_bouquets(session, line, value)
            continue
        setattr(line, key, value)


def create_line(session: Session, tenant_id: int, fields: Mapping[str, Any]) -> Line:
    """A new line of ``tenant_id``, within the plan's ``max_lines``."""
    check_line_limit(session, tenant_id)
    line = Line(tenant_id=tenant_id)
    # Added only once its fields are valid, so no autoflush sends a half-filled row.
    apply_fields(session, line, fields)
    session.add(line)
    session.flush()
    return line


def _package(session: Session, tenant_id: int, package_id: int) -> Package:
    package = session.get(Package, package_id)
    if package is None or package.tenant_id != tenant_id or not package.enabled:
        raise InvalidValue(f"No package {package_id} on sale in this tenant.", "package_id")
    return package


def purchase_line(
    session: Session,
    *,
    tenant_id: int,
    reseller_id: int,
    package_id: int,
    fields: Mapping[str, Any],
    now: datetime,
) -> tuple[Line, CreditEntry]:
    """A reseller buys a new line: the package sets its term, limits and bouquets, and its
    price leaves the reseller's balance in the same transaction."""
    package = _package(session, tenant_id, package_id)
    values = dict(fields)
    values.setdefault("password", generate_line_password())
    values.update(
        exp_date=now + timedelta(days=package.duration_days),
        max_connections=package.max_connections,
        is_trial=package.is_trial,
        reseller_id=reseller_id,
        bouquet_ids=list(package.bouquet_ids or []),
    )
    line = create_line(session, tenant_id, values)
    entry = credits.spend(
        session,
        tenant_id=tenant_id,
        reseller_id=reseller_id,
        amount=package.credits,
        reason=f"new line {line.username} ({package.name})",
        line_id=line.id,
    )
    return line, entry


def extend_line(
    session: Session, *, line: Line, reseller_id: int, package_id: int, now: datetime
) -> CreditEntry:
    """Add a package's term to the line (from today if it has lapsed) for its price."""
    package = _package(session, line.tenant_id, package_id)
    start = line.exp_date if line.exp_date is not None and line.exp_date > now else now
    line.exp_date = start + timedelta(days=package.duration_days)
    line.is_trial = package.is_trial
    return credits.spend(
        session,
        tenant_id=line.tenant_id,
        reseller_id=reseller_id,
        amount=package.credits,
        reason=f"extend line {line.username} ({package.name})",
        line_id=line.id,
    )


def extend_by_days(line: Line, days: int, now: datetime) -> None:
    """Push a line's expiry by ``days`` (from today if lapsed); unlimited lines stay so."""
    if line.exp_date is None:
        return
    start = line.exp_date if line.exp_date > now else now
    line.exp_date = start + timedelta(days=days)


def lines_by_ids(session: Session, ids: Sequence[int], scope: ColumnElement[bool]) -> list[Line]:
    """All of ``ids`` within ``scope``, or :class:`OutOfScope` naming the missing ones."""
    rows = list(session.scalars(select(Line).where(Line.id.in_(set(ids)), scope)))
    missing = sorted(set(ids) - {row.id for row in rows})
    if missing:
        raise OutOfScope(
            f"Lines not found: {', '.join(map(str, missing))}.",
            fields={"ids": f"Not found: {', '.join(map(str, missing))}."},
        )
    return rows


def apply_bulk(
    session: Session, lines: Sequence[Line], action: BulkAction, days: int | None, now: datetime
) -> None:
    """Apply one action to every line; the caller's transaction makes it all-or-nothing."""
    if action is BulkAction.extend:
        if not days:
            raise InvalidValue("Say how many days to extend by.", "days")
        for line in lines:
            extend_by_days(line, days, now)
    elif action in (BulkAction.enable, BulkAction.disable):
        for line in lines:
            line.enabled = action is BulkAction.enable
    elif action in (BulkAction.ban, BulkAction.unban):
        for line in lines:
            line.banned = action is BulkAction.ban
    else:
        for line in lines:
            session.delete(line)
