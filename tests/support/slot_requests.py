"""Slot requests for the session-slot tests, with defaults that say what each test varies."""

from __future__ import annotations

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.cluster.session_slots import SessionSlots, SlotRequest

T0 = 1_000_000.0  # "now" for these tests; the store takes the caller's clock
TTL = 30.0


def play(
    session_id: int,
    *,
    tenant: int = 1,
    line: int = 10,
    limit: int = 2,
    policy: ConnectionPolicy = ConnectionPolicy.refuse,
    node: int = 1,
    ip: str = "192.0.2.1",
    ua: str = "VLC/3",
    tenant_max: int | None = None,
    ttl: float = TTL,
) -> SlotRequest:
    return SlotRequest(tenant, line, session_id, limit, policy, node, ip, ua, tenant_max, ttl)


async def ids(slots: SessionSlots, count: int) -> list[int]:
    return [await slots.next_session_id() for _ in range(count)]
