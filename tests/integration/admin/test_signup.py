"""Self-service panels over real HTTP, on SQLite and PostgreSQL: sign-up in each mode,
the plan's limits, approval, suspension and resumption by the platform admin."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from palinsesto.accounts.models import AdminUser, Tenant
from palinsesto.config import ConfigError
from support.admin_api import root_client
from support.server import RunningServer, make_settings, run_server

PASSWORD = "owner-password-1"


@pytest.fixture
def start(database_url: str, tmp_path: Path) -> Iterator[object]:
    def running(**settings: object):  # noqa: ANN202
        return run_server(make_settings(tmp_path, database_url, **settings))

    yield running


def _signup(c: httpx.Client, slug: str, **values: object) -> httpx.Response:
    body = {
        "panel_name": f"Panel {slug}",
        "slug": slug,
        "email": f"owner@{slug}.example",
        "username": f"owner-{slug}",
        "password": PASSWORD,
        **values,
    }
    return c.post("/api/v1/signup", json=body)


def _sign_in(c: httpx.Client, username: str) -> httpx.Response:
    return c.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})


def _counts(server: RunningServer) -> tuple[int, int]:
    with server.ctx.db.session() as session:
        return session.query(Tenant).count(), session.query(AdminUser).count()


def test_open_sign_up_gives_a_panel_limited_by_its_plan(start) -> None:  # noqa: ANN001
    with start(signup="open", signup_plan="trial", signup_per_hour=7) as server:
        with server.client() as c:
            info = c.get("/api/v1/signup").json()
            assert info["mode"] == "open" and info["plan"]["max_channels"] == 2
            before = _counts(server)
            # Bad input: a clear error on the field, nothing stored (attempts 1-3).
            r = _signup(c, "drums", email="not-an-address")
            assert r.status_code == 422 and "email" in r.json()["error"]["fields"]
            r = _signup(c, "Drums!", username="owner-x")
            assert r.status_code == 422 and "slug" in r.json()["error"]["fields"]
            r = _signup(c, "admin")
            assert r.status_code == 422 and "slug" in r.json()["error"]["fields"]
            r = _signup(c, "drums", password="short")  # the users' rule: 8 characters
            assert r.status_code == 422 and "password" in r.json()["error"]["fields"]
            assert _counts(server) == before

            r = _signup(c, "drums")  # attempt 4
            assert r.status_code == 201, r.text
            made = r.json()
            assert made["status"] == "active" and made["plan"] == "trial"
            ends = datetime.fromisoformat(made["trial_ends_at"])
            assert abs(ends - (datetime.now(UTC) + timedelta(days=14))) < timedelta(minutes=5)
            again = _signup(c, "drums", username="someone-else")  # attempt 5
            assert again.status_code == 409 and "slug" in again.json()["error"]["fields"]
            taken = _signup(c, "drums-2", username="owner-drums")  # attempt 6
            assert taken.status_code == 409 and "username" in taken.json()["error"]["fields"]

            signed = _sign_in(c, "owner-drums")
            assert signed.status_code == 200, signed.text
            token = signed.json()["access_token"]
        with server.client(token) as owner:
            me = owner.get("/api/v1/auth/me").json()
            assert me["role"] == "owner" and me["tenant_id"] == made["tenant_id"]
            for i in range(2):
                r = owner.post("/api/v1/channels", json={"name": f"Lesson {i}"})
                assert r.status_code == 201, r.text
            refused = owner.post("/api/v1/channels", json={"name": "One too many"})
            assert refused.status_code == 409
            assert refused.json()["error"]["code"] == "plan_limit_reached"
            assert "plan allows 2 channels" in refused.json()["error"]["message"]
            for i in range(5):
                r = owner.post("/api/v1/lines", json={"username": f"pupil{i}", "password": "pw1"})
                assert r.status_code == 201, r.text
            refused = owner.post("/api/v1/lines", json={"username": "pupil9", "password": "pw1"})
            assert refused.status_code == 409
            assert "plan allows 5 lines" in refused.json()["error"]["message"]
            assert len(owner.get("/api/v1/channels").json()["items"]) == 2
            # The owner cannot change its own plan's limits nor approve itself.
            tid = made["tenant_id"]
            raised = owner.patch(f"/api/v1/tenants/{tid}", json={"max_channels": 99})
            assert raised.status_code == 403
            assert owner.post(f"/api/v1/tenants/{tid}/suspend").status_code == 403
        with root_client(server) as root:
            tenant = root.get(f"/api/v1/tenants/{made['tenant_id']}").json()
            assert tenant["plan"] == "trial" and tenant["max_viewers"] == 5
        with server.client() as c:
            assert _signup(c, "drums-3").status_code == 201  # attempt 7, the last allowed
            throttled = _signup(c, "drums-4")
            assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
            assert _counts(server)[0] == before[0] + 2


def test_approval_mode_keeps_the_owner_out_until_approved(start) -> None:  # noqa: ANN001
    with start(signup="approval") as server:
        with server.client() as c:
            made = _signup(c, "campus").json()
            assert made["status"] == "pending"
            refused = _sign_in(c, "owner-campus")
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "tenant_pending"
            wrong = c.post(
                "/api/v1/auth/token", data={"username": "owner-campus", "password": "nope-nope"}
            )
            assert wrong.status_code == 401  # a wrong password does not learn the state
        with root_client(server) as root:
            pending = root.get("/api/v1/tenants", params={"status": "pending"}).json()
            assert [t["slug"] for t in pending["items"]] == ["campus"]
            tid = made["tenant_id"]
            assert root.post(f"/api/v1/tenants/{tid}/resume").status_code == 409
            approved = root.post(f"/api/v1/tenants/{tid}/approve")
            assert approved.status_code == 200 and approved.json()["status"] == "active"
            assert root.post(f"/api/v1/tenants/{tid}/approve").status_code == 409
        with server.client() as c:
            assert _sign_in(c, "owner-campus").status_code == 200


def test_sign_up_off_is_not_there(start) -> None:  # noqa: ANN001
    with start() as server:  # the default is off
        with server.client() as c:
            before = _counts(server)
            assert c.get("/api/v1/signup").status_code == 404
            r = _signup(c, "sneaky")
            assert r.status_code == 404 and r.json()["error"]["code"] == "signup_off"
            assert _counts(server) == before


def test_suspended_panel_is_read_only_and_resumes_intact(start) -> None:  # noqa: ANN001
    with start(signup="open") as server:
        with server.client() as c:
            tid = _signup(c, "hotel").json()["tenant_id"]
            token = _sign_in(c, "owner-hotel").json()["access_token"]
        with server.client(token) as owner:
            channel = owner.post("/api/v1/channels", json={"name": "Lobby"}).json()
        with root_client(server) as root:
            r = root.post(f"/api/v1/tenants/{tid}/suspend")
            assert r.status_code == 200 and r.json()["status"] == "suspended"
        with server.client(token) as owner:
            listed = owner.get("/api/v1/channels")
            assert listed.status_code == 200 and listed.json()["items"][0]["id"] == channel["id"]
            refused = owner.post("/api/v1/channels", json={"name": "Spa"})
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "tenant_suspended"
            assert owner.delete(f"/api/v1/channels/{channel['id']}").status_code == 403
        with root_client(server) as root:
            assert root.post(f"/api/v1/tenants/{tid}/resume").json()["status"] == "active"
        with server.client(token) as owner:
            assert owner.get(f"/api/v1/channels/{channel['id']}").status_code == 200
            assert owner.post("/api/v1/channels", json={"name": "Spa"}).status_code == 201


def test_an_unknown_sign_up_plan_stops_start_up(sqlite_url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PALINSESTO_SIGNUP_PLAN: unknown plan 'gold'"):
        with run_server(make_settings(tmp_path, sqlite_url, signup="open", signup_plan="gold")):
            pass
