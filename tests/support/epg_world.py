"""An EPG test world: a migrated database with a tenant, its channels and the EPG service."""

from __future__ import annotations

from dataclasses import dataclass

from palinsesto.accounts.models import Tenant
from palinsesto.catalog.models import Channel
from palinsesto.cluster.events import ChangeEvents
from palinsesto.db import Database
from palinsesto.epg.guide import StoredGuide
from palinsesto.epg.models import EpgSource
from palinsesto.epg.service import EpgService

NOW = 1_772_323_200  # 2026-03-01 00:00:00 UTC


@dataclass
class EpgWorld:
    db: Database
    tenant_id: int
    events: ChangeEvents
    guide: StoredGuide
    service: EpgService
    clock: list[float]

    def add_channel(self, name: str, epg_channel_id: str | None = None, **kw: object) -> int:
        with self.db.transaction() as session:
            channel = Channel(
                tenant_id=self.tenant_id, name=name, epg_channel_id=epg_channel_id, **kw
            )
            session.add(channel)
            session.flush()
            return channel.id

    def add_source(self, name: str, **kw: object) -> int:
        with self.db.transaction() as session:
            source = EpgSource(tenant_id=self.tenant_id, name=name, **kw)
            session.add(source)
            session.flush()
            return source.id

    def add_tenant(self, slug: str) -> int:
        with self.db.transaction() as session:
            tenant = Tenant(name=slug, slug=slug)
            session.add(tenant)
            session.flush()
            return tenant.id
