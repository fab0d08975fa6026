"""The audit log is hash-chained: `palinsesto audit verify` finds any edited or removed entry.

Changes are made through the real admin API over HTTP; tampering is done by hand in the
database, as an intruder with database access would; the verdict comes from the real
command in a child process.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from palinsesto.db import make_engine, upgrade
from support.cli_runner import Cli
from support.server import RunningServer


def _make_changes(server: RunningServer, count: int) -> None:
    with server.client(server.token()) as client:
        r = client.post("/api/v1/tenants", json={"slug": "chain", "name": "Chain"})
        assert r.status_code == 201, r.text
        tenant_id = r.json()["id"]
        for i in range(count):
            r = client.post(
                "/api/v1/categories",
                json={"name": f"Category {i}", "kind": "live", "tenant_id": tenant_id},
            )
            assert r.status_code == 201, r.text


def _sql(url: str, statement: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def _verify(tmp_path: Path, url: str) -> tuple[int, str]:
    result = Cli(tmp_path / "cli-data", url).run("audit", "verify")
    return result.returncode, result.stdout + result.stderr


def test_intact_chain_verifies_and_names_its_head(
    server: RunningServer, database_url: str, tmp_path: Path
) -> None:
    _make_changes(server, 4)
    code, out = _verify(tmp_path, database_url)
    assert code == 0, out
    assert "Audit chain intact: 5 entries, head 5 " in out
    digest = out.split()[-1]
    assert len(digest) == 64 and int(digest, 16) >= 0


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3", "entry 3 (id"),
        ("UPDATE audit_log SET after = NULL WHERE seq = 2", "entry 2 (id"),
        ("DELETE FROM audit_log WHERE seq = 3", "entries 3 are missing"),
        ("DELETE FROM audit_log WHERE seq >= 4", "newest entries 4–5 were removed"),
    ],
    ids=["edit-actor", "edit-payload", "remove-middle", "remove-newest"],
)
def test_tampering_is_found(
    server: RunningServer, database_url: str, tmp_path: Path, tamper: str, expected: str
) -> None:
    _make_changes(server, 4)
    assert _verify(tmp_path, database_url)[0] == 0
    _sql(database_url, tamper)
    code, out = _verify(tmp_path, database_url)
    assert code == 1, out
    assert "Audit chain broken" in out and expected in out


def test_concurrent_changes_never_fork_the_chain(
    server: RunningServer, database_url: str, tmp_path: Path
) -> None:
    _make_changes(server, 0)
    token = server.token()
    failures: list[str] = []

    def create(worker: int) -> None:
        with server.client(token) as client:
            tenant = client.get("/api/v1/tenants", params={"q": "chain"}).json()["items"][0]
            for i in range(5):
                r = client.post(
                    "/api/v1/categories",
                    json={"name": f"W{worker}-{i}", "kind": "live", "tenant_id": tenant["id"]},
                )
                if r.status_code != 201:
                    failures.append(r.text)

    threads = [threading.Thread(target=create, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    code, out = _verify(tmp_path, database_url)
    assert code == 0, out
    assert "41 entries" in out


def test_entries_outlive_their_tenant(
    server: RunningServer, database_url: str, tmp_path: Path
) -> None:
    _make_changes(server, 2)
    with server.client(server.token()) as client:
        tenant = client.get("/api/v1/tenants", params={"q": "chain"}).json()["items"][0]
        assert client.delete(f"/api/v1/tenants/{tenant['id']}").status_code == 204
        entries = client.get("/api/v1/audit", params={"per_page": 100}).json()["items"]
    assert {e["entity"] for e in entries} >= {"tenant", "category"}
    code, out = _verify(tmp_path, database_url)
    assert code == 0, out
    assert "4 entries" in out


def test_upgrade_chains_entries_written_before_the_chain(sqlite_url: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001_initial")
    for i in range(3):
        _sql(
            url,
            "INSERT INTO audit_log (tenant_id, actor_id, actor, action, entity, entity_id, "
            "before, after, ip, created_at) VALUES (NULL, 1, 'admin', 'create', 'tenant', "
            f"'{i}', NULL, '{{\"slug\": \"t{i}\", \"n\": {i}}}', '127.0.0.1', "
            f"'2026-11-2{i} 10:00:00.000000')",
        )
    upgrade(url)
    code, out = _verify(tmp_path, url)
    assert code == 0, out
    assert "3 entries" in out
    _sql(url, 'UPDATE audit_log SET after = \'{"slug": "forged", "n": 1}\' WHERE seq = 2')
    assert _verify(tmp_path, url)[0] == 1
