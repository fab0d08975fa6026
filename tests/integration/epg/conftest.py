"""The EPG world fixture on each database backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from palinsesto.accounts.models import Tenant
from palinsesto.cluster.events import ChangeEvents
from palinsesto.db import Database, upgrade
from palinsesto.epg.guide import StoredGuide
from palinsesto.epg.importer import ImportLimits
from palinsesto.epg.service import EpgService
from palinsesto.outbound import policy_from_text
from support.epg_world import NOW, EpgWorld


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[EpgWorld]:
    upgrade(database_url)
    db = Database(database_url)
    events = ChangeEvents()
    clock = [float(NOW)]
    guide = StoredGuide(db, events, clock=lambda: clock[0])
    # The providers these tests start listen on 127.0.0.1: the stand-in for the internet.
    limits = ImportLimits(chunk_rows=700, outbound=policy_from_text("127.0.0.1/32"))
    service = EpgService(db, events.publish, guide, tmp_path, limits, clock=lambda: clock[0])
    with db.transaction() as session:
        tenant = Tenant(name="Alpha", slug="alpha")
        session.add(tenant)
        session.flush()
        tenant_id = tenant.id
    try:
        yield EpgWorld(db, tenant_id, events, guide, service, clock)
    finally:
        db.dispose()
