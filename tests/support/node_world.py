"""Two tenants with a channel, a bouquet and a line each, and a node client speaking the
node API over real HTTP (what `palinsesto node` sends, built from protocol/messages.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from palinsesto.accounts.bootstrap import ensure_tenant
from palinsesto.accounts.models import ConnectionPolicy, Line, LineBouquet, Tenant
from palinsesto.catalog.models import Bouquet, BouquetItem, Channel, ChannelMode, ItemType
from palinsesto.protocol.messages import (
    HEARTBEAT_PATH,
    REGISTER_PATH,
    Capacity,
    Heartbeat,
    PanelReply,
    Registration,
    SessionEnd,
)
from palinsesto.protocol.play_tokens import PlayTokens
from support.admin_api import root_client
from support.server import RunningServer

PASSWORD = "node-line-pw"


@dataclass
class TenantSide:
    id: int
    channel: int  # on demand
    always_on: int
    line: str
    line_id: int


def make_tenant(
    server: RunningServer,
    slug: str,
    *,
    max_connections: int = 1,
    policy: ConnectionPolicy = ConnectionPolicy.kick_oldest,
) -> TenantSide:
    with server.ctx.db.transaction() as s:
        tenant = ensure_tenant(s, slug, slug.title())
        tenant.connection_policy = policy
        pattern = [{"kind": "test_pattern", "url": ""}]
        demand = Channel(tenant_id=tenant.id, name=f"{slug} news", sources=pattern)
        always = Channel(
            tenant_id=tenant.id,
            name=f"{slug} always",
            sources=pattern,
            mode=ChannelMode.always_on,
        )
        s.add_all([demand, always])
        s.flush()
        bouquet = Bouquet(tenant_id=tenant.id, name="All")
        s.add(bouquet)
        s.flush()
        for pos, ch in enumerate((demand, always)):
            s.add(
                BouquetItem(
                    bouquet_id=bouquet.id, item_type=ItemType.channel, item_id=ch.id, position=pos
                )
            )
        line = Line(
            tenant_id=tenant.id,
            username=f"{slug}-viewer",
            password=PASSWORD,
            max_connections=max_connections,
        )
        s.add(line)
        s.flush()
        s.add(LineBouquet(line_id=line.id, bouquet_id=bouquet.id, position=0))
        return TenantSide(tenant.id, demand.id, always.id, line.username, line.id)


def set_policy(server: RunningServer, tenant_id: int, policy: ConnectionPolicy) -> None:
    with server.ctx.db.transaction() as s:
        tenant = s.get(Tenant, tenant_id)
        assert tenant is not None
        tenant.connection_policy = policy
    server.ctx.events.publish(tenant_id, "lines")


def add_server(
    server: RunningServer, tenant_id: int, name: str, capacity: int = 100
) -> tuple[int, str]:
    """A server of the tenant made through the admin API: its id and token (shown once)."""
    with root_client(server) as c:
        r = c.post(
            "/api/v1/servers",
            json={
                "name": name,
                "public_url": f"http://{name}.invalid:8001",
                "capacity": capacity,
                "tenant_id": tenant_id,
            },
        )
        assert r.status_code == 201, r.text
        return r.json()["id"], r.json()["token"]


@dataclass
class FakeNode:
    """The node API's client side: registers and heartbeats like a node would."""

    server: RunningServer
    token: str
    public_url: str
    alive: list[int] = field(default_factory=list)
    last: PanelReply | None = None

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        with httpx.Client(base_url=self.server.base_url, timeout=10) as c:
            return c.post(path, json=body, headers={"Authorization": f"Bearer {self.token}"})

    def register(self, rtmp_url: str = "") -> httpx.Response:
        reg = Registration("n", self.public_url, rtmp_url, Capacity(1000, 100, 2), "test")
        r = self._post(REGISTER_PATH, reg.to_json())
        if r.status_code == 200:
            self.last = PanelReply.from_json(r.json())
        return r

    def beat(self, ended: tuple[int, ...] = (), viewers: int = 0) -> httpx.Response:
        beat = Heartbeat(
            viewers=viewers,
            egress_mbps=1.5,
            cpu_percent=3.0,
            alive=tuple(self.alive),
            ended=tuple(SessionEnd(i, "viewer left") for i in ended),
        )
        r = self._post(HEARTBEAT_PATH, beat.to_json())
        if r.status_code == 200:
            self.last = PanelReply.from_json(r.json())
        return r

    def tokens(self) -> PlayTokens:
        assert self.last is not None
        return PlayTokens(list(self.last.keys))

    def assigned(self) -> set[int]:
        assert self.last is not None
        return {a.channel.id for a in self.last.assignments}
