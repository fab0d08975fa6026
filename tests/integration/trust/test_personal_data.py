"""GDPR export and erasure over HTTP, with the audit chain checked by the real command.

A line is created, named in a notice, suspended and objected to; an admin user signs in and
changes things. The export holds what is stored about each; after erasure nothing stored
names them (every row of the tables that could, read straight from the database), the chain
still verifies, and a hand edit of an erased entry still breaks it.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from palinsesto.accounts.models import Role
from support.admin_api import USER_PASSWORD, add_user, created, make_tenant
from support.legal import LINE_PASSWORD, act, audit_verify, catalogue, file_notice, sql, status
from support.server import RunningServer

# Tables whose rows could name a line or a user, and the columns to read as text.
STORED = {
    "audit_log": "actor || ' ' || COALESCE(CAST(before AS TEXT), '') || ' ' || "
    "COALESCE(CAST(after AS TEXT), '') || ' ' || ip",
    "notices": "CAST(locations AS TEXT) || ' ' || CAST(targets AS TEXT)",
    "notice_actions": "actor || ' ' || CAST(targets AS TEXT) || ' ' || CAST(statement AS TEXT)",
    "counter_notices": "name || email || address || phone || explanation || signature",
    "lines": "username || ' ' || password || ' ' || notes",
    "admin_users": "username || ' ' || email || ' ' || notes",
}


def _stored_text(url: str) -> str:
    return "\n".join(
        str(row[0])
        for table, expr in STORED.items()
        for row in sql(url, f"SELECT {expr} FROM {table}")
    )


def test_line_export_and_erasure_keep_the_chain_verifiable(
    server: RunningServer, database_url: str, tmp_path: Path
) -> None:
    world = make_tenant(server, "acme")
    channel_id = catalogue(world, ["holder-of-line"])
    url = f"{server.base_url}/live/holder-of-line/{LINE_PASSWORD}/{channel_id}.ts"
    receipt = file_notice(server, world, url)
    action = act(world, receipt, "suspend_line")
    with server.client() as c:
        created(
            c.post(
                "/api/v1/public/counter-notices",
                json={
                    "reference": action["reference"],
                    "name": "Jo Holder",
                    "email": "jo@home.example",
                    "address": "2 Side Street",
                    "phone": "+44 20 7946 0000",
                    "explanation": "A mistake: my line was never shared with anyone.",
                    "good_faith": True,
                    "consent_jurisdiction": True,
                    "signature": "Jo Holder",
                },
            )
        )
    with world.client() as c:
        line = c.get("/api/v1/lines", params={"q": "holder-of-line"}).json()["items"][0]
        other = make_tenant(server, "other")
        with other.client() as o:  # tenant-scoped
            assert o.get(f"/api/v1/lines/{line['id']}/personal-data").status_code == 404
            assert o.post(f"/api/v1/lines/{line['id']}/erase").status_code == 404
        export = c.get(f"/api/v1/lines/{line['id']}/personal-data").json()
        assert export["line"]["username"] == "holder-of-line"
        assert export["line"]["password"] == LINE_PASSWORD
        assert [n["locations"] for n in export["notices"]] == [[url]]
        assert export["decisions"][0]["kind"] == "suspend_line"
        assert export["counter_notices"][0]["email"] == "jo@home.example"
        assert {e["action"] for e in export["audit"]} >= {"create", "update", "suspend_line"}

        assert "holder-of-line" in _stored_text(database_url)
        erased = c.post(f"/api/v1/lines/{line['id']}/erase")
        assert erased.status_code == 200, erased.text
        result = erased.json()
        assert (
            result["audit_entries_rewritten"] >= 3 and result["audit_entries_kept_as_written"] == 0
        )
        assert c.get(f"/api/v1/lines/{line['id']}").json()["username"] == result["pseudonym"]

    stored = _stored_text(database_url)
    for personal in (
        "holder-of-line",
        LINE_PASSWORD,
        "jo@home.example",
        "Jo Holder",
        "2 Side Street",
    ):
        assert personal not in stored, personal
    assert status(server, "holder-of-line") == "refused"
    code, out = audit_verify(tmp_path, database_url)
    assert code == 0, out

    # An erased entry is still covered: editing it by hand breaks the chain.
    sql(
        database_url,
        "UPDATE audit_log SET after = CAST(:v AS JSON) WHERE entity = 'line' AND action = 'create'",
        v='{"id": 1, "erased": false}',
    )
    code, out = audit_verify(tmp_path, database_url)
    assert code == 1 and "edited after its personal data was erased" in out, out


@pytest.mark.parametrize("who", ["owner"])
def test_admin_user_export_and_erasure(
    server: RunningServer, database_url: str, tmp_path: Path, who: str
) -> None:
    world = make_tenant(server, "acme")
    staff = add_user(server, world.id, "leaving-admin", Role.admin)
    with httpx.Client(base_url=server.base_url, timeout=30) as anyone:
        r = anyone.post(
            "/api/v1/auth/token", data={"username": "leaving-admin", "password": "wrong-one"}
        )
        assert r.status_code == 401
        r = anyone.post(
            "/api/v1/auth/token", data={"username": "leaving-admin", "password": USER_PASSWORD}
        )
        assert r.status_code == 200, r.text
    with server.client(staff.token) as c:
        created(c.post("/api/v1/categories", json={"name": "News", "kind": "live"}))
    with world.client(who) as c:
        r = c.patch(f"/api/v1/users/{staff.id}", json={"email": "leaving@acme.example"})
        assert r.status_code == 200, r.text
        export = c.get(f"/api/v1/users/{staff.id}/personal-data").json()
        assert export["user"]["username"] == "leaving-admin"
        assert export["user"]["password_hash"] == "********"
        actions = {e["action"] for e in export["audit"]}
        assert {"create", "login_failed", "update"} <= actions
        assert any(e["ip"] for e in export["audit"])
        r = c.post(f"/api/v1/users/{staff.id}/erase")
        assert r.status_code == 200, r.text
        assert c.post(f"/api/v1/users/{world.users[who].id}/erase").status_code == 403
    stored = _stored_text(database_url)
    assert "leaving-admin" not in stored and "leaving@acme.example" not in stored
    rows = sql(
        database_url,
        "SELECT ip FROM audit_log WHERE actor_id = :id OR actor = :pseudonym",
        id=staff.id,
        pseudonym=f"erased-user-{staff.id}",
    )
    assert rows and all(ip == "" for (ip,) in rows)
    with server.client(staff.token) as c:  # its sessions end with it
        assert c.get("/api/v1/auth/me").status_code == 401
    code, out = audit_verify(tmp_path, database_url)
    assert code == 0, out
