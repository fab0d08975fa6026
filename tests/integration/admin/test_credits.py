"""Credits: grants, transfers, the ledger, and purchases that never overspend."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from palinsesto.accounts.models import AdminUser, CreditEntry, Line
from support.admin_api import created, make_tenant, root_client
from support.server import RunningServer


def _balance(server: RunningServer, user_id: int) -> int:
    with server.ctx.db.session() as session:
        return session.scalar(select(AdminUser.credits).where(AdminUser.id == user_id)) or 0


def test_concurrent_purchases_never_overspend(server: RunningServer) -> None:
    world = make_tenant(server, "rush")
    reseller = world.users["reseller"]
    with world.client() as owner:
        package = created(
            owner.post("/api/v1/packages", json={"name": "Week", "duration_days": 7, "credits": 3})
        )
        created(owner.post("/api/v1/credits/grants", json={"user_id": reseller.id, "amount": 15}))

    def buy(i: int) -> int:
        with world.client("reseller") as c:
            r = c.post(
                "/api/v1/lines/purchase",
                json={"package_id": package["id"], "username": f"rush{i}"},
            )
            assert r.status_code in (201, 409), r.text
            if r.status_code == 409:
                assert r.json()["error"]["code"] == "insufficient_credits"
            return r.status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = list(pool.map(buy, range(20)))

    assert codes.count(201) == 5 and codes.count(409) == 15
    assert _balance(server, reseller.id) == 0
    with server.ctx.db.session() as session:
        entries = session.scalars(
            select(CreditEntry).where(CreditEntry.user_id == reseller.id).order_by(CreditEntry.id)
        ).all()
        lines = session.scalar(select(func.count(Line.id)).where(Line.tenant_id == world.id))
    assert lines == 5
    assert [e.amount for e in entries] == [15] + [-3] * 5
    assert sum(e.amount for e in entries) == 0
    # Each row's balance_after follows from the one before it.
    running = 0
    for entry in entries:
        running += entry.amount
        assert entry.balance_after == running
    assert all(e.line_id is not None for e in entries[1:])


def test_grants_transfers_and_ledger_scoping(shared_server: RunningServer) -> None:
    world = make_tenant(shared_server, "ledger")
    reseller, sub, sibling = (world.users[k] for k in ("reseller", "sub", "sibling"))
    with world.client() as owner:
        created(owner.post("/api/v1/credits/grants", json={"user_id": reseller.id, "amount": 10}))
        created(owner.post("/api/v1/credits/grants", json={"user_id": sibling.id, "amount": 4}))
        r = owner.post("/api/v1/credits/grants", json={"user_id": sibling.id, "amount": -5})
        assert r.status_code == 409 and r.json()["error"]["code"] == "insufficient_credits"
        removal = created(
            owner.post("/api/v1/credits/grants", json={"user_id": sibling.id, "amount": -1})
        )
        assert removal["balance_after"] == 3
        # Only resellers hold credits.
        r = owner.post(
            "/api/v1/credits/grants", json={"user_id": world.users["support"].id, "amount": 1}
        )
        assert r.status_code == 422 and "user_id" in r.json()["error"]["fields"]
        assert (
            owner.post(
                "/api/v1/credits/transfers", json={"to_user_id": sub.id, "amount": 1}
            ).status_code
            == 403
        )
    with world.client("reseller") as c:
        moved = created(
            c.post("/api/v1/credits/transfers", json={"to_user_id": sub.id, "amount": 4})
        )
        assert moved["debit"]["balance_after"] == 6 and moved["credit"]["balance_after"] == 4
        # Not below it: the sibling is out of scope; too much is refused; nothing moves.
        r = c.post("/api/v1/credits/transfers", json={"to_user_id": sibling.id, "amount": 1})
        assert r.status_code == 404
        r = c.post("/api/v1/credits/transfers", json={"to_user_id": sub.id, "amount": 7})
        assert r.status_code == 409
        assert (
            c.post("/api/v1/credits/grants", json={"user_id": sub.id, "amount": 5}).status_code
            == 403
        )
        ledger = c.get("/api/v1/credits/ledger").json()
        assert {e["user_id"] for e in ledger["items"]} == {reseller.id, sub.id}
        ids = [e["id"] for e in ledger["items"]]
        assert ids == sorted(ids, reverse=True)
    with world.client("sub") as c:
        r = c.post("/api/v1/credits/transfers", json={"to_user_id": reseller.id, "amount": 1})
        assert r.status_code == 404
        assert {e["user_id"] for e in c.get("/api/v1/credits/ledger").json()["items"]} == {sub.id}
    assert _balance(shared_server, reseller.id) == 6
    assert _balance(shared_server, sub.id) == 4
    assert _balance(shared_server, sibling.id) == 3


def test_extend_spends_credits_and_trial_package_may_be_free(
    shared_server: RunningServer,
) -> None:
    world = make_tenant(shared_server, "extend")
    reseller = world.users["reseller"]
    with world.client() as owner:
        bouquet = created(owner.post("/api/v1/bouquets", json={"name": "All"}))
        trial = created(
            owner.post(
                "/api/v1/packages",
                json={
                    "name": "Trial",
                    "duration_days": 1,
                    "credits": 0,
                    "is_trial": True,
                    "max_connections": 1,
                    "bouquet_ids": [bouquet["id"]],
                },
            )
        )
        month = created(
            owner.post(
                "/api/v1/packages",
                json={"name": "Month", "duration_days": 30, "credits": 2, "max_connections": 2},
            )
        )
        created(owner.post("/api/v1/credits/grants", json={"user_id": reseller.id, "amount": 2}))
    with world.client("reseller") as c:
        bought = created(
            c.post(
                "/api/v1/lines/purchase",
                json={"package_id": trial["id"], "username": "trialist"},
            )
        )
        line = bought["line"]
        assert line["is_trial"] and line["bouquet_ids"] == [bouquet["id"]]
        assert line["reseller_id"] == reseller.id and line["password"]
        assert bought["charge"]["amount"] == 0 and bought["charge"]["balance_after"] == 2
        r = c.post(f"/api/v1/lines/{line['id']}/extend", json={"package_id": month["id"]})
        assert r.status_code == 200, r.text
        extended = r.json()["line"]
        assert extended["exp_date"] > line["exp_date"] and not extended["is_trial"]
        assert r.json()["charge"]["balance_after"] == 0
        r = c.post(f"/api/v1/lines/{line['id']}/extend", json={"package_id": month["id"]})
        assert r.status_code == 409
        assert c.get(f"/api/v1/lines/{line['id']}").json()["exp_date"] == extended["exp_date"]
    assert _balance(shared_server, reseller.id) == 0


def _ledger_rows(server: RunningServer, tenant_id: int) -> list[tuple[int, int | None, int]]:
    with server.ctx.db.session() as session:
        rows = session.execute(
            select(CreditEntry.user_id, CreditEntry.actor_id, CreditEntry.amount)
            .where(CreditEntry.tenant_id == tenant_id)
            .order_by(CreditEntry.id)
        ).all()
    return [tuple(r) for r in rows]


def test_users_the_ledger_names_are_disabled_not_deleted(shared_server: RunningServer) -> None:
    """The ledger is append-only: deleting its reseller or actor is refused, rows intact."""
    world = make_tenant(shared_server, "keep")
    reseller, sub, admin = (world.users[k] for k in ("reseller", "sub", "admin"))
    with world.client("admin") as c:
        created(c.post("/api/v1/credits/grants", json={"user_id": reseller.id, "amount": 5}))
    with world.client("reseller") as c:
        created(c.post("/api/v1/credits/transfers", json={"to_user_id": sub.id, "amount": 2}))
    history = _ledger_rows(shared_server, world.id)
    assert len(history) == 3

    with world.client() as owner:
        # The holder of credits, its parent, and the admin who granted them: all named.
        for user in (sub, reseller, admin):
            r = owner.delete(f"/api/v1/users/{user.id}")
            assert r.status_code == 409, r.text
            error = r.json()["error"]
            assert error["code"] == "still_referenced"
            assert "ledger" in error["message"] and "enabled=false" in error["message"]
            assert owner.get(f"/api/v1/users/{user.id}").status_code == 200
        assert _ledger_rows(shared_server, world.id) == history
        refusals = owner.get("/api/v1/audit", params={"entity": "user", "action": "delete"})
        assert refusals.json()["items"] == []
        # Disabling is the way out: the account can no longer sign in, its history stays.
        r = owner.patch(f"/api/v1/users/{sub.id}", json={"enabled": False})
        assert r.status_code == 200 and r.json()["enabled"] is False
        ledger = owner.get("/api/v1/credits/ledger", params={"per_page": 50}).json()["items"]
        assert sub.id in {e["user_id"] for e in ledger}
        # A user the ledger does not name is deleted as before.
        assert owner.delete(f"/api/v1/users/{world.users['support'].id}").status_code == 204
    with world.client("sub") as c:
        assert c.get("/api/v1/auth/me").status_code == 401

    # The database refuses too, for writers that bypass the API.
    with pytest.raises(IntegrityError):
        with shared_server.ctx.db.transaction() as session:
            session.execute(delete(AdminUser).where(AdminUser.id == reseller.id))
    assert _ledger_rows(shared_server, world.id) == history

    # Deleting the whole tenant still takes its ledger with it.
    with root_client(shared_server) as root:
        assert root.delete(f"/api/v1/tenants/{world.id}").status_code == 204
    assert _ledger_rows(shared_server, world.id) == []
