"""Streaming servers (nodes) a tenant attaches: enrolment tokens and the plan's node limit."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from palinsesto.accounts.models import Tenant
from palinsesto.cluster.models import Server, ServerStatus
from palinsesto.errors import PlanLimitReached

NODE_TOKEN_PREFIX = "node_"


def hash_node_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_node_token() -> tuple[str, str]:
    """A node's enrolment token (shown once) and its SHA-256 (the only thing stored)."""
    token = NODE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hash_node_token(token)


def check_node_limit(session: Session, tenant_id: int) -> None:
    """Refuse a new server once the tenant's plan ``max_nodes`` is reached."""
    limit = session.scalar(select(Tenant.max_nodes).where(Tenant.id == tenant_id).with_for_update())
    if limit is None:
        return
    count = session.scalar(select(func.count(Server.id)).where(Server.tenant_id == tenant_id))
    if (count or 0) >= limit:
        raise PlanLimitReached(
            f"The plan allows {limit} servers; delete one or raise the limit.", "max_nodes"
        )


def rotate_token(server: Server) -> str:
    """A new enrolment token (shown once); the old one stops working at once."""
    token, digest = new_node_token()
    server.token_hash = digest
    if server.status == ServerStatus.disabled:
        server.status = ServerStatus.pending
    return token


def revoke_token(server: Server) -> None:
    """No token opens this server any more; its node is refused at its next heartbeat."""
    server.token_hash = ""
    server.status = ServerStatus.disabled
