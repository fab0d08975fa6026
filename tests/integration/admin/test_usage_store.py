"""The daily usage table on SQLite and PostgreSQL: samples add up per tenant and day, the
peak is the highest seen, figures survive a restart, deleted tenants' samples are dropped."""

from __future__ import annotations

from datetime import date

from palinsesto.accounts.models import Tenant
from palinsesto.accounts.usage import add_usage, record_storage, usage_rows
from palinsesto.db import Database, upgrade
from palinsesto.panel.playback.metering import UsageSample

DAY = date(2026, 11, 28)
NEXT = date(2026, 11, 29)


def test_samples_add_up_per_day_and_survive_a_restart(database_url: str) -> None:
    upgrade(database_url)
    db = Database(database_url)
    with db.transaction() as session:
        tenants = [Tenant(name="A", slug="usage-a"), Tenant(name="B", slug="usage-b")]
        session.add_all(tenants)
        session.flush()
        a, b = (t.id for t in tenants)
    with db.transaction() as session:
        add_usage(session, [UsageSample(a, DAY, 10.4, 3, 1000), UsageSample(b, DAY, 5, 1, 10)])
    with db.transaction() as session:
        add_usage(
            session,
            [
                UsageSample(a, DAY, 20.2, 2, 500),  # lower peak: the day's stays 3
                UsageSample(a, NEXT, 1, 7, 1),
                UsageSample(999_999, DAY, 1, 1, 1),  # no such tenant: dropped
            ],
        )
    db.dispose()
    restarted = Database(database_url)
    with restarted.session() as session:
        rows = usage_rows(session, DAY, NEXT)
        only_a = usage_rows(session, DAY, DAY, tenant_id=a)
    restarted.dispose()
    figures = [
        (r.tenant_slug, r.day, r.viewer_seconds, r.peak_viewers, r.egress_bytes) for r in rows
    ]
    assert figures == [
        ("usage-a", DAY, 30, 3, 1500),
        ("usage-a", NEXT, 1, 7, 1),
        ("usage-b", DAY, 5, 1, 10),
    ]
    assert [(r.tenant_id, r.day) for r in only_a] == [(a, DAY)]


def test_storage_keeps_the_days_highest_sample_beside_viewing(database_url: str) -> None:
    upgrade(database_url)
    db = Database(database_url)
    with db.transaction() as session:
        tenant = Tenant(name="S", slug="storage-s")
        session.add(tenant)
        session.flush()
        s = tenant.id
    with db.transaction() as session:
        record_storage(session, DAY, {s: 5_000, 999_999: 1})  # no such tenant: dropped
        add_usage(session, [UsageSample(s, DAY, 60, 2, 700)])
    with db.transaction() as session:
        record_storage(session, DAY, {s: 3_000})  # lower: the day's stays 5000
        record_storage(session, NEXT, {s: 3_000})
    with db.transaction() as session:
        record_storage(session, DAY, {s: 8_000})
    with db.session() as session:
        rows = usage_rows(session, DAY, NEXT)
    db.dispose()
    assert [
        (r.day, r.viewer_seconds, r.peak_viewers, r.egress_bytes, r.storage_bytes) for r in rows
    ] == [(DAY, 60, 2, 700, 8_000), (NEXT, 0, 0, 0, 3_000)]
    assert rows[0].storage_gb == 8e-6
