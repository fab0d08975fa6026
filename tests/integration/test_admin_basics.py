"""Sign-in, tenants and categories over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from support.server import RunningServer


def _make_tenant_owner(server: RunningServer, root: str, slug: str) -> str:
    from palinsesto.accounts.models import AdminUser, Role
    from palinsesto.accounts.security import hash_password

    with server.client(root) as c:
        r = c.post("/api/v1/tenants", json={"name": slug.title(), "slug": slug})
        assert r.status_code == 201, r.text
        tenant_id = r.json()["id"]
    with server.ctx.db.transaction() as session:
        session.add(
            AdminUser(
                tenant_id=tenant_id,
                username=f"owner-{slug}",
                password_hash=hash_password("pw-" + slug),
                role=Role.owner,
            )
        )
    return server.token(f"owner-{slug}", "pw-" + slug)


def test_sign_in_rejects_wrong_password_with_json_error(server: RunningServer) -> None:
    with server.client() as c:
        r = c.post("/api/v1/auth/token", data={"username": "root", "password": "nope"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"


def test_api_requires_a_token(server: RunningServer) -> None:
    with server.client() as c:
        r = c.get("/api/v1/categories")
        assert r.status_code == 401
        r = c.get("/api/v1/categories", headers={"Authorization": "Bearer forged.token.here"})
        assert r.status_code == 401


def test_tenant_cannot_see_another_tenants_category(server: RunningServer) -> None:
    root = server.token()
    token_a = _make_tenant_owner(server, root, "alpha")
    token_b = _make_tenant_owner(server, root, "bravo")
    with server.client(token_b) as b:
        r = b.post("/api/v1/categories", json={"kind": "live", "name": "Bravo News"})
        assert r.status_code == 201, r.text
        bravo_cat = r.json()["id"]
    with server.client(token_a) as a:
        assert a.get(f"/api/v1/categories/{bravo_cat}").status_code == 404
        assert a.patch(f"/api/v1/categories/{bravo_cat}", json={"name": "x"}).status_code == 404
        assert a.delete(f"/api/v1/categories/{bravo_cat}").status_code == 404
        listing = a.get("/api/v1/categories").json()
        assert listing["total"] == 0 and listing["items"] == []
    with server.client(token_b) as b:
        assert b.get(f"/api/v1/categories/{bravo_cat}").json()["name"] == "Bravo News"


def test_validation_errors_name_each_field_and_change_nothing(server: RunningServer) -> None:
    root = server.token()
    token = _make_tenant_owner(server, root, "charlie")
    with server.client(token) as c:
        r = c.post("/api/v1/categories", json={"kind": "podcast", "name": ""})
        assert r.status_code == 422
        fields = r.json()["error"]["fields"]
        assert set(fields) == {"kind", "name"}
        assert c.get("/api/v1/categories").json()["total"] == 0


def test_every_change_is_audited(server: RunningServer) -> None:
    from sqlalchemy import select

    from palinsesto.trust.models import AuditEntry

    root = server.token()
    token = _make_tenant_owner(server, root, "delta")
    with server.client(token) as c:
        cat = c.post("/api/v1/categories", json={"kind": "movie", "name": "Films"}).json()
        c.patch(f"/api/v1/categories/{cat['id']}", json={"name": "Cinema"})
    with server.ctx.db.session() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "category").order_by(AuditEntry.id)
        ).all()
    assert [e.action for e in entries] == ["create", "update"]
    assert entries[1].before["name"] == "Films" and entries[1].after["name"] == "Cinema"
    assert entries[1].actor == "owner-delta"


def test_api_key_signs_in_and_records_its_use(server: RunningServer) -> None:
    root = server.token()
    with server.client(root) as c:
        created = c.post("/api/v1/auth/api-keys", json={"name": "billing"})
        assert created.status_code == 201
        key = created.json()["key"]
        assert created.json()["last_used_at"] is None
    with server.client(key) as k:
        assert k.get("/api/v1/auth/me").json()["username"] == "root"
        assert k.get("/api/v1/tenants").status_code == 200
    with server.client(root) as c:
        listed = c.get("/api/v1/auth/api-keys").json()
        assert listed[0]["last_used_at"] is not None
        assert c.delete(f"/api/v1/auth/api-keys/{listed[0]['id']}").status_code == 204
    with server.client(key) as k:
        assert k.get("/api/v1/auth/me").status_code == 401
