"""Who runs a service, in public: its operator page, its own security.txt, and the published
transparency report (JSON and page), each per tenant and for the platform."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from support.admin_api import make_tenant
from support.legal import act, catalogue, file_notice
from support.server import RunningServer


def _fields(text: str) -> list[tuple[str, str]]:
    return [(name, value) for name, value in (line.split(": ", 1) for line in text.splitlines())]


def test_operator_page_and_security_txt_per_tenant(sqlite_server: RunningServer) -> None:
    server = sqlite_server
    world = make_tenant(server, "acme")
    other = make_tenant(server, "other")
    details = {
        "operator_name": "Acme Media S.r.l.",
        "operator_address": "Via Roma 1, 00100 Roma <IT>",
        "operator_email": "legal@acme.example",
        "security_contact": "mailto:security@acme.example",
    }
    with other.client() as c:  # another service's owner cannot set acme's details
        assert c.put(f"/api/v1/tenants/{world.id}/operator", json=details).status_code == 404
    with world.client("reseller") as c:
        assert c.put(f"/api/v1/tenants/{world.id}/operator", json=details).status_code == 403
    with world.client() as c:
        r = c.put(f"/api/v1/tenants/{world.id}/operator", json={"security_contact": "call us"})
        assert r.status_code == 422 and "security_contact" in r.text
        r = c.put(f"/api/v1/tenants/{world.id}/operator", json=details)
        assert r.status_code == 200, r.text
        assert r.json()["page"].endswith("/t/acme/operator")

    page = httpx.get(f"{server.base_url}/t/acme/operator")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for text in ("Acme Media S.r.l.", "Via Roma 1, 00100 Roma &lt;IT&gt;", "legal@acme.example"):
        assert text in page.text
    assert "/notice?service=acme" in page.text and "/counter-notice" in page.text
    assert "mailto:security@acme.example" in page.text
    assert "/t/acme/.well-known/security.txt" in page.text
    assert "<script" not in page.text

    txt = httpx.get(f"{server.base_url}/t/acme/.well-known/security.txt")
    assert txt.status_code == 200 and txt.headers["content-type"].startswith("text/plain")
    fields = _fields(txt.text)
    contacts = [v for n, v in fields if n == "Contact"]
    assert contacts[0] == "mailto:security@acme.example"
    assert contacts[-1].endswith("/notice?service=acme")
    assert dict(fields)["Canonical"].endswith("/t/acme/.well-known/security.txt")
    assert dict(fields)["Policy"].endswith("/t/acme/operator")
    expires = datetime.fromisoformat(dict(fields)["Expires"].replace("Z", "+00:00"))
    assert timedelta(days=300) < expires - datetime.now(UTC) <= timedelta(days=366)

    # A service without details still has both, naming what the platform knows.
    bare = _fields(httpx.get(f"{server.base_url}/t/other/.well-known/security.txt").text)
    assert [v for n, v in bare if n == "Contact"] == [f"{server.base_url}/notice?service=other"]
    assert "Operated by" not in httpx.get(f"{server.base_url}/t/other/operator").text
    assert httpx.get(f"{server.base_url}/t/nobody/operator").status_code == 404
    assert httpx.get(f"{server.base_url}/t/nobody/.well-known/security.txt").status_code == 404
    assert httpx.get(f"{server.base_url}/counter-notice").status_code == 200


def test_published_transparency_report_counts_what_happened(sqlite_server: RunningServer) -> None:
    server = sqlite_server
    world = make_tenant(server, "acme")
    quiet = make_tenant(server, "quiet")
    channel_id = catalogue(world, ["fan-1", "fan-2", "fan-3"])
    receipts = [
        file_notice(server, world, f"/live/{u}/viewer-pass-1/{channel_id}.ts")
        for u in ("fan-1", "fan-2", "fan-3")
    ]
    act(world, receipts[0], "suspend_line")
    act(world, receipts[1], "reject")
    with server.client() as c:  # one to the platform itself
        r = c.post(
            "/api/v1/public/notices",
            json={
                "regime": "dsa",
                "notifier_name": "Someone",
                "notifier_email": "someone@example.org",
                "explanation": "Illegal content is offered on this platform, here.",
                "locations": ["https://elsewhere.example/x"],
                "good_faith": True,
                "accurate": True,
            },
        )
        assert r.status_code == 201, r.text
        acme = c.get("/api/v1/public/transparency-report", params={"tenant": "acme"}).json()
        platform = c.get("/api/v1/public/transparency-report").json()
        empty = c.get("/api/v1/public/transparency-report", params={"tenant": "quiet"}).json()
        assert (
            c.get("/api/v1/public/transparency-report", params={"tenant": "nope"}).status_code
            == 404
        )
        r = c.get(
            "/api/v1/public/transparency-report",
            params={"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        )
        assert r.status_code == 422
    assert acme["notices"] == 3 and acme["service"] == "acme"
    assert acme["by_status"] == {"received": 1, "actioned": 1, "rejected": 1}
    assert acme["actions"] == {
        "end_sessions": 0,
        "block_item": 0,
        "suspend_line": 1,
        "disable_item": 0,
        "suspend_tenant": 0,
        "reject": 1,
    }
    assert acme["median_seconds_to_action"] is not None
    assert acme["counter_notices"] == {"received": 0, "by_status": {}}
    assert platform["notices"] == 4 and platform["by_regime"] == {"dsa": 4, "dmca": 0}
    assert empty["notices"] == 0 and empty["median_seconds_to_decision"] is None
    with world.client() as c:  # staff see the same figures for their service
        staff = c.get("/api/v1/transparency-report").json()
    assert staff["by_status"] == acme["by_status"]
    with quiet.client() as c:
        assert c.get("/api/v1/transparency-report").json()["notices"] == 0

    page = httpx.get(f"{server.base_url}/t/acme/transparency")
    assert page.status_code == 200 and "Transparency report — Acme" in page.text
    assert "<tr><th>received</th><td>3</td></tr>" in page.text
    assert "<tr><th>suspend line</th><td>1</td></tr>" in page.text
    whole = httpx.get(f"{server.base_url}/transparency")
    assert "<tr><th>received</th><td>4</td></tr>" in whole.text
    assert httpx.get(f"{server.base_url}/t/nope/transparency").status_code == 404
    bad = httpx.get(f"{server.base_url}/transparency", params={"since": "2030-01-01T00:00:00Z"})
    assert bad.status_code == 422
