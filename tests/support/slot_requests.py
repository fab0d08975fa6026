"""Slot requests for the session-slot tests, with defaults that say what each test varies."""

from __future__ import annotations

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.cluster.session_slots import PlayLabel, SessionSlots, SlotRequest

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
    label: PlayLabel | None = None,
) -> SlotRequest:
    return SlotRequest(
        tenant, line, session_id, limit, policy, node, ip, ua, tenant_max, ttl, label
    )


def described(req: SlotRequest, started_at: float) -> dict[str, object]:
    """The description a labelled ``req`` must leave, written out field by field."""
    assert req.label is not None
    return {
        "tenant_id": req.tenant_id,
        "line_id": req.line_id,
        "username": req.label.username,
        "channel_id": req.label.item_id,
        "ip": req.ip,
        "user_agent": req.user_agent,
        "output": req.label.output,
        "started_at": started_at,
    }


async def ids(slots: SessionSlots, count: int) -> list[int]:
    return [await slots.next_session_id() for _ in range(count)]
