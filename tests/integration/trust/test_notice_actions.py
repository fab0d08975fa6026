"""Staff review of decisions over HTTP: the list of restrictions in force, a review that
keeps one (with its next review date), a lift that brings the item back with a statement
and moots pending counter-notices, refusals that change nothing, and another tenant's
decisions out of reach."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from support.admin_api import created, make_tenant
from support.legal import LINE_PASSWORD, act, catalogue, file_notice
from support.server import RunningServer


def _live_ids(server: RunningServer, username: str) -> list[int]:
    r = httpx.get(
        f"{server.base_url}/player_api.php",
        params={"username": username, "password": LINE_PASSWORD, "action": "get_live_streams"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return [int(s["stream_id"]) for s in r.json()]


def test_staff_review_and_lift_a_restriction(server: RunningServer) -> None:
    world = make_tenant(server, "acme")
    other = make_tenant(server, "other")
    channel_id = catalogue(world, ["fan"])
    location = f"{server.base_url}/live/fan/{LINE_PASSWORD}/{channel_id}.ts"
    disabled = act(world, file_notice(server, world, location), "disable_item", review_days=1)
    rejected = act(world, file_notice(server, world, location), "reject")
    assert channel_id not in _live_ids(server, "fan")

    with world.client() as c:
        listed = c.get("/api/v1/notice-actions").json()
        assert [a["id"] for a in listed["items"]] == [rejected["id"], disabled["id"]]
        in_force = c.get("/api/v1/notice-actions", params={"state": "in_force"}).json()
        assert [a["id"] for a in in_force["items"]] == [disabled["id"]]
        assert c.get("/api/v1/notice-actions", params={"state": "lifted"}).json()["total"] == 0

        # A review keeps the restriction and moves its review date.
        r = c.post(
            f"/api/v1/notice-actions/{disabled['id']}/review",
            json={"note": "Still restreamed", "review_days": 7},
        )
        assert r.status_code == 200, r.text
        review_at = datetime.fromisoformat(r.json()["review_at"]).replace(tzinfo=UTC)
        assert timedelta(days=6.9) < review_at - datetime.now(UTC) < timedelta(days=7.1)
        assert channel_id not in _live_ids(server, "fan")

        # Bad input and impossible moves are refused and change nothing.
        r = c.post(f"/api/v1/notice-actions/{disabled['id']}/lift", json={"facts": "short"})
        assert r.status_code == 422, r.text
        assert "facts" in r.json()["error"]["fields"]
        r = c.post(
            f"/api/v1/notice-actions/{rejected['id']}/lift",
            json={"facts": "Nothing to lift on a rejection."},
        )
        assert r.status_code == 409, r.text
        assert channel_id not in _live_ids(server, "fan")

    # Another tenant neither sees nor lifts it.
    with other.client() as c:
        assert c.get("/api/v1/notice-actions").json()["total"] == 0
        r = c.post(
            f"/api/v1/notice-actions/{disabled['id']}/lift",
            json={"facts": "The other tenant tries to lift it."},
        )
        assert r.status_code == 404, r.text
    assert channel_id not in _live_ids(server, "fan")

    with world.client() as c:
        r = c.post(
            f"/api/v1/notice-actions/{disabled['id']}/lift",
            json={"facts": "The rights holder withdrew the notice after a licence was signed."},
        )
        assert r.status_code == 200, r.text
        lifted = r.json()
        assert lifted["lift_reason"] == "staff"
        assert lifted["lift_statement"]["facts_and_circumstances"].startswith("The rights holder")
        assert lifted["lift_statement"]["automated_means"] == {"used_for_decision": False}
        assert channel_id in _live_ids(server, "fan")
        r = c.post(
            f"/api/v1/notice-actions/{disabled['id']}/lift",
            json={"facts": "Lifting it a second time."},
        )
        assert r.status_code == 409, r.text
        lifted_list = c.get("/api/v1/notice-actions", params={"state": "lifted"}).json()
        assert [a["id"] for a in lifted_list["items"]] == [disabled["id"]]
        entries = c.get("/api/v1/audit", params={"per_page": 100}).json()["items"]
        mine = [e for e in entries if e["entity"] == "notice_action"]
        assert {e["action"] for e in mine} >= {"review", "lift"}
        assert all(e["actor"] == "owner-acme" for e in mine)
        report = c.get("/api/v1/transparency-report").json()
        assert report["lifted_after_review"] == 1 and report["expired_restrictions_lifted"] == 0


def test_lifting_moots_a_pending_counter_notice(server: RunningServer) -> None:
    world = make_tenant(server, "acme")
    channel_id = catalogue(world, ["fan"])
    location = f"{server.base_url}/live/fan/{LINE_PASSWORD}/{channel_id}.ts"
    action = act(world, file_notice(server, world, location), "suspend_line")
    with server.client() as c:
        created(
            c.post(
                "/api/v1/public/counter-notices",
                json={
                    "reference": action["reference"],
                    "name": "Fan",
                    "email": "fan@home.example",
                    "address": "1 Main Street",
                    "phone": "+1 555 0100",
                    "explanation": "I only watched at home, never restreamed.",
                    "good_faith": True,
                    "consent_jurisdiction": True,
                    "signature": "Fan",
                },
            )
        )
    with world.client() as c:
        r = c.post(
            f"/api/v1/notice-actions/{action['id']}/lift",
            json={"facts": "The counter-notice convinced us: the line only watched."},
        )
        assert r.status_code == 200, r.text
        counters = c.get("/api/v1/counter-notices").json()["items"]
        assert [x["status"] for x in counters] == ["moot"]
