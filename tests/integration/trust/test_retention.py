"""IP retention per tenant, applied by the legal jobs to the rows that hold client addresses
(audit entries, notices, counter-notices), with the audit chain still verifying after.

The job is the server's own (``services["legal_jobs"]``), run against the real database
with its clock moved forward: rows cannot be aged by hand, since an audit entry's time is
part of what its digest covers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.admin_api import make_tenant
from support.legal import act, audit_verify, catalogue, file_notice, sql
from support.server import RunningServer


def _ips(url: str, tenant_id: int) -> dict[str, set[str]]:
    return {
        "audit": {
            ip for (ip,) in sql(url, "SELECT ip FROM audit_log WHERE tenant_id = :t", t=tenant_id)
        },
        "notices": {
            ip for (ip,) in sql(url, "SELECT ip FROM notices WHERE tenant_id = :t", t=tenant_id)
        },
        "platform": {ip for (ip,) in sql(url, "SELECT ip FROM audit_log WHERE tenant_id IS NULL")},
    }


def test_addresses_are_truncated_then_removed_per_tenant(
    server: RunningServer, database_url: str, tmp_path: Path
) -> None:
    world = make_tenant(server, "acme")
    with world.client() as c:
        r = c.put(
            f"/api/v1/tenants/{world.id}/operator",
            json={"ip_truncate_days": 1, "ip_remove_days": 2},
        )
        assert r.status_code == 200, r.text
        assert (r.json()["effective_ip_truncate_days"], r.json()["effective_ip_remove_days"]) == (
            1,
            2,
        )
        r = c.put(
            f"/api/v1/tenants/{world.id}/operator",
            json={"ip_truncate_days": 5, "ip_remove_days": 2},
        )
        assert r.status_code == 422, r.text
    channel_id = catalogue(world, ["fan-r"])
    receipt = file_notice(server, world, f"/live/fan-r/viewer-pass-1/{channel_id}.ts")
    act(world, receipt, "suspend_line")
    with server.client() as anyone:  # a failed sign-in: a platform-wide entry with an address
        anyone.post("/api/v1/auth/token", data={"username": "nobody", "password": "x"})
    before = _ips(database_url, world.id)
    assert before["audit"] >= {"127.0.0.1"} and before["notices"] == {"127.0.0.1"}
    assert "127.0.0.1" in before["platform"]

    jobs = server.ctx.services["legal_jobs"]
    now = datetime.now(UTC)
    report = jobs.run_once(now + timedelta(days=1, hours=12))
    assert report.ips_truncated >= 3 and report.ips_removed == 0
    after = _ips(database_url, world.id)
    assert after["audit"] <= {"127.0.0.0/24", ""} and "127.0.0.0/24" in after["audit"]
    assert after["notices"] == {"127.0.0.0/24"}
    assert "127.0.0.1" in after["platform"]  # the platform keeps addresses 30 days
    code, out = audit_verify(tmp_path, database_url)
    assert code == 0, out

    report = jobs.run_once(now + timedelta(days=3))
    assert report.ips_removed >= 3
    after = _ips(database_url, world.id)
    assert after["audit"] == {""} and after["notices"] == {""}
    assert "127.0.0.1" in after["platform"]
    code, out = audit_verify(tmp_path, database_url)
    assert code == 0, out
    seals = sql(database_url, "SELECT COUNT(*) FROM audit_log WHERE action = 'redact'")
    assert seals[0][0] == 2

    report = jobs.run_once(now + timedelta(days=31))  # the platform's own 30 days
    platform = _ips(database_url, world.id)["platform"]
    assert "127.0.0.1" not in platform and "127.0.0.0/24" in platform
    assert audit_verify(tmp_path, database_url)[0] == 0
