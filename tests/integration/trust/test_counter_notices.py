"""Counter-notices and the restore timer, over HTTP against a real server whose legal jobs run
every second: the affected party objects with the reference from its statement of reasons,
the notifier is told on its receipt, and a restriction nobody took to court is lifted by the
background job (audited, with a statement), while one the notifier took to court stays.
Graduated actions with an expiry end by themselves. The transparency report counts it all.

"Time passing" is a hand edit of the stored deadline, as an operator could not do otherwise
in a test that must not wait ten business days.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from support.admin_api import created, make_tenant
from support.legal import act, audit_verify, catalogue, file_notice, sql, status, wait_until
from support.server import RunningServer, make_settings, run_server

COUNTER_REQUIRED = {
    "reference",
    "name",
    "email",
    "address",
    "phone",
    "explanation",
    "good_faith",
    "consent_jurisdiction",
    "signature",
}


@pytest.fixture
def legal_server(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    settings = make_settings(tmp_path, database_url, legal_jobs_seconds=1)
    with run_server(settings) as running:
        yield running


def _counter(reference: str, name: str) -> dict[str, object]:
    return {
        "reference": reference,
        "name": name,
        "email": "viewer@home.example",
        "address": "1 Main Street, Springfield",
        "phone": "+1 555 0199",
        "explanation": "I watched at home; I never restreamed anything to anyone.",
        "good_faith": True,
        "consent_jurisdiction": True,
        "signature": name,
    }


def _line_url(server: RunningServer, username: str, channel_id: int) -> str:
    return f"{server.base_url}/live/{username}/viewer-pass-1/{channel_id}.ts"


def test_counter_notice_restores_unless_the_notifier_goes_to_court(
    legal_server: RunningServer, database_url: str, tmp_path: Path
) -> None:
    server = legal_server
    world = make_tenant(server, "acme")
    other = make_tenant(server, "other")
    channel_id = catalogue(world, ["fan-a", "fan-b"])
    receipts = {
        u: file_notice(server, world, _line_url(server, u, channel_id)) for u in ("fan-a", "fan-b")
    }
    actions = {u: act(world, receipts[u], "suspend_line") for u in receipts}
    assert all(status(server, u) == "Disabled" for u in receipts)
    reference = actions["fan-a"]["statement"]["reference"]
    assert reference == actions["fan-a"]["reference"]
    assert actions["fan-a"]["statement"]["counter_notice"].endswith("/counter-notice")

    with server.client() as c:
        r = c.post("/api/v1/public/counter-notices", json={})
        assert r.status_code == 422, r.text
        assert set(r.json()["error"]["fields"]) == COUNTER_REQUIRED
        r = c.post("/api/v1/public/counter-notices", json=_counter("not-a-reference", "A"))
        assert set(r.json()["error"]["fields"]) == {"reference"}
        filed = {
            u: created(
                c.post(
                    "/api/v1/public/counter-notices",
                    json=_counter(actions[u]["reference"], f"Holder {u}"),
                )
            )
            for u in receipts
        }
        # One objection at a time per decision.
        r = c.post("/api/v1/public/counter-notices", json=_counter(reference, "Holder again"))
        assert r.status_code == 409, r.text
        for _u, receipt in filed.items():
            received = datetime.fromisoformat(receipt["received_at"])
            due = datetime.fromisoformat(receipt["restore_due_at"])
            # Ten business days later: ten weekdays in (received, due], due on a weekday.
            days = [received + timedelta(days=n) for n in range(1, (due - received).days + 1)]
            assert sum(d.weekday() < 5 for d in days) == 10 and due.weekday() < 5, receipt
            assert due.time() == received.time(), receipt
            assert receipt["status"] == "pending"
        # The notifier is told: its receipt lists the objection and the deadline.
        told = c.get(f"/api/v1/public/notices/{receipts['fan-a']}").json()["counter_notices"]
        assert [o["status"] for o in told] == ["pending"]
        assert told[0]["restore_due_at"] == filed["fan-a"]["restore_due_at"]
        # The notifier of fan-a's notice goes to court and says so on its receipt.
        r = c.post(
            f"/api/v1/public/notices/{receipts['fan-a']}/legal-action",
            json={"note": "Filed at the District Court, case 26-cv-0042, on 2026-11-29."},
        )
        assert r.status_code == 200, r.text
        assert [x["status"] for x in r.json()] == ["upheld"]

    with world.client() as c:
        counters = c.get("/api/v1/counter-notices").json()["items"]
        assert {x["status"] for x in counters} == {"pending", "upheld"}
        assert all(x["notifier_told_at"] for x in counters)
    with other.client() as c:
        assert c.get("/api/v1/counter-notices").json()["total"] == 0

    # Ten business days pass (the stored deadlines move into the past); the job runs.
    sql(
        database_url,
        "UPDATE counter_notices SET restore_due_at = :past",
        past=datetime.now(UTC) - timedelta(minutes=1),
    )
    wait_until(lambda: status(server, "fan-b") == "Active", what="fan-b restored")
    assert status(server, "fan-a") == "Disabled"  # taken to court: stays suspended

    with server.client() as c:
        assert (
            c.get(f"/api/v1/public/counter-notices/{filed['fan-b']['receipt']}").json()["status"]
            == "restored"
        )
        assert (
            c.get(f"/api/v1/public/counter-notices/{filed['fan-a']['receipt']}").json()["status"]
            == "upheld"
        )
    with world.client() as c:
        notices = {n["receipt"]: n for n in c.get("/api/v1/notices").json()["items"]}
        lifted = c.get(f"/api/v1/notices/{notices[receipts['fan-b']]['id']}/actions").json()[0]
        kept = c.get(f"/api/v1/notices/{notices[receipts['fan-a']]['id']}/actions").json()[0]
        assert lifted["lift_reason"] == "counter_notice" and lifted["lifted_at"]
        statement = lifted["lift_statement"]
        assert statement["restriction_lifted"]["kind"] == "suspend_line"
        assert "512(g)(2)(C)" in statement["legal_ground"] and statement["redress"]
        assert kept["lifted_at"] is None
        audit = c.get("/api/v1/audit", params={"entity": "counter_notice"}).json()["items"]
        assert {e["action"] for e in audit} >= {"create", "legal_action", "restore"}
        lifts = c.get("/api/v1/audit", params={"entity": "notice_action"}).json()["items"]
        assert [e["actor"] for e in lifts] == ["system:legal-jobs"]
        report = c.get("/api/v1/transparency-report").json()
    assert report["notices"] == 2 and report["actions"]["suspend_line"] == 2
    assert report["counter_notices"] == {"received": 2, "by_status": {"restored": 1, "upheld": 1}}
    assert report["restorations"] == 1 and report["expired_restrictions_lifted"] == 0
    assert report["median_seconds_to_action"] is not None
    code, out = audit_verify(tmp_path, database_url)
    assert code == 0, out


def test_an_expired_action_is_lifted_and_reviews_are_dated(
    legal_server: RunningServer, database_url: str, tmp_path: Path
) -> None:
    server = legal_server
    world = make_tenant(server, "acme")
    channel_id = catalogue(world, ["fan-c"])
    receipt = file_notice(server, world, _line_url(server, "fan-c", channel_id))
    action = act(world, receipt, "suspend_line", days=7, review_days=3)
    created_at = datetime.fromisoformat(action["created_at"])
    assert datetime.fromisoformat(action["expires_at"]) - created_at == timedelta(days=7)
    assert datetime.fromisoformat(action["review_at"]) - created_at == timedelta(days=3)
    assert status(server, "fan-c") == "Disabled"
    with world.client() as c:
        assert c.get("/api/v1/notice-actions/due-for-review").json() == []
        sql(database_url, "UPDATE notice_actions SET review_at = :t", t=datetime.now(UTC))
        due = c.get("/api/v1/notice-actions/due-for-review").json()
        assert [a["id"] for a in due] == [action["id"]]
    time_passes = datetime.now(UTC) - timedelta(seconds=1)
    sql(
        database_url,
        "UPDATE notice_actions SET expires_at = :t WHERE id = :id",
        t=time_passes,
        id=action["id"],
    )
    wait_until(lambda: status(server, "fan-c") == "Active", what="the expired suspension lifted")
    with world.client() as c:
        lifted = c.get(f"/api/v1/notices/{action['notice_id']}/actions").json()[0]
        assert lifted["lift_reason"] == "expired"
        assert lifted["lift_statement"]["reason"] == "expired"
        with server.client() as anyone:  # an ended restriction takes no counter-notice
            r = anyone.post(
                "/api/v1/public/counter-notices", json=_counter(action["reference"], "C")
            )
            assert r.status_code == 409, r.text
        report = c.get("/api/v1/transparency-report").json()
    assert report["expired_restrictions_lifted"] == 1 and report["restorations"] == 0
    assert audit_verify(tmp_path, database_url)[0] == 0
