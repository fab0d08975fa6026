"""API hardening over real HTTP, on SQLite and PostgreSQL: tokens die with the password,
money and ids are strict JSON types, bodies are bounded per route and refused before they
are read, names refuse invisible characters, and every panel response carries the headers
that keep it from being framed or sniffed."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from palinsesto.panel.admin.api.identifiers import hidden_character
from palinsesto.panel.admin.body_limit import DEFAULT_MAX_BODY_BYTES
from support.admin_api import USER_PASSWORD, TenantWorld, make_tenant, root_client
from support.cli_runner import Cli
from support.server import RunningServer

RLO = "\u202e"
ZWSP = "\u200b"


@pytest.fixture(scope="module")
def world(shared_server: RunningServer) -> TenantWorld:
    return make_tenant(shared_server, "hard")


def _me(server: RunningServer, token: str) -> int:
    with server.client(token) as c:
        return c.get("/api/v1/auth/me").status_code


def test_tokens_issued_before_a_password_change_or_reset_are_refused(
    shared_server: RunningServer, world: TenantWorld, tmp_path: Path
) -> None:
    username = world.users["admin"].username
    before = shared_server.token(username, USER_PASSWORD)
    other = world.users["owner"].token
    assert _me(shared_server, before) == 200
    with shared_server.client(before) as c:
        r = c.post(
            "/api/v1/users/me/password",
            json={"current_password": USER_PASSWORD, "new_password": "changed-password-2"},
        )
        assert r.status_code == 204, r.text
        r = c.get("/api/v1/auth/me")
        assert r.status_code == 401 and "password changed" in r.json()["error"]["message"]
    assert _me(shared_server, other) == 200  # someone else's token is untouched
    after_change = shared_server.token(username, "changed-password-2")
    assert _me(shared_server, after_change) == 200

    # An operator resets it from the command line, in another process.
    cli = Cli(tmp_path / "cli", shared_server.ctx.settings.effective_database_url)
    done = cli.run("admin", "reset-password", username, "--password", "reset-password-3")
    assert done.returncode == 0, done.stderr
    assert _me(shared_server, after_change) == 401
    assert _me(shared_server, shared_server.token(username, "reset-password-3")) == 200


@pytest.mark.parametrize("amount", [True, "5", 5.0, "5.0", None])
def test_money_and_ids_are_strict_json_integers(
    shared_server: RunningServer, world: TenantWorld, amount: object
) -> None:
    reseller = world.users["sibling"].id
    with world.client("owner") as c:
        ledger = c.get("/api/v1/credits/ledger", params={"per_page": 100}).json()["total"]
        r = c.post("/api/v1/credits/grants", json={"user_id": reseller, "amount": amount})
        assert r.status_code == 422 and "amount" in r.json()["error"]["fields"], r.text
        r = c.post("/api/v1/credits/grants", json={"user_id": str(reseller), "amount": 5})
        assert r.status_code == 422 and "user_id" in r.json()["error"]["fields"], r.text
        r = c.post("/api/v1/packages", json={"name": "P", "duration_days": 30, "credits": "3"})
        assert r.status_code == 422 and "credits" in r.json()["error"]["fields"], r.text
        assert c.get("/api/v1/credits/ledger").json()["total"] == ledger
        # A real integer still works, so the refusals above are about the type.
        r = c.post("/api/v1/credits/grants", json={"user_id": reseller, "amount": 5})
        assert r.status_code == 201, r.text


def _raw_post(server: RunningServer, path: str, token: str, declared: int, send: int) -> tuple:
    """POST ``declared`` bytes of body but send at most ``send``; (status, seconds, sent)."""
    host, port = server.base_url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n".encode()
        )
        sent = 0
        chunk = b" " * 65536
        sock.settimeout(0.05)
        reply = b""
        while sent < send and b"\r\n\r\n" not in reply:
            try:
                sock.sendall(chunk)
                sent += len(chunk)
                reply += sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
        sock.settimeout(20)
        while b"\r\n\r\n" not in reply:
            data = sock.recv(65536)
            if not data:
                break
            reply += data
    return int(reply.split()[1]), time.monotonic() - started, sent


def test_a_50_mb_body_is_refused_quickly_without_being_read(
    shared_server: RunningServer, world: TenantWorld
) -> None:
    token = world.users["owner"].token
    status, seconds, sent = _raw_post(
        shared_server, "/api/v1/channels", token, 50 * 1024 * 1024, 4 * 1024 * 1024
    )
    assert status == 413 and seconds < 5 and sent <= 4 * 1024 * 1024
    with shared_server.client(token) as c:
        # Chunked (no Content-Length): counted as it is read, refused past the limit.
        def body():  # type: ignore[no-untyped-def]
            yield b'{"name": "'
            for _ in range(64):
                yield b"x" * 65536
            yield b'"}'

        r = c.post("/api/v1/channels", content=body(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"
        assert f"{DEFAULT_MAX_BODY_BYTES:,} bytes" in r.json()["error"]["message"]
        # An XMLTV upload has its own, larger limit: 3 MB passes the body check.
        source = c.post("/api/v1/epg/sources", json={"name": "Big upload"}).json()
        files = {"file": ("guide.xml", b"<tv>" + b" " * (3 * 1024 * 1024) + b"</tv>")}
        r = c.put(f"/api/v1/epg/sources/{source['id']}/document", files=files)
        assert r.status_code == 200, r.text
        # So does a bouquet's full contents (the schema allows 100,000 items).
        bouquet = c.post("/api/v1/bouquets", json={"name": "Huge"}).json()
        items = [{"item_type": "channel", "item_id": 2_000_000 + i} for i in range(60_000)]
        r = c.put(f"/api/v1/bouquets/{bouquet['id']}/items", json={"items": items})
        assert r.status_code == 422 and "items.0" in r.json()["error"]["fields"], r.text[:300]
        assert c.get("/api/v1/channels", params={"q": "xxxx"}).json()["total"] == 0


@pytest.mark.parametrize("char", [RLO, ZWSP, "\u2066", "\ufeff", "\x07"])
def test_names_usernames_and_slugs_refuse_invisible_characters(
    shared_server: RunningServer, world: TenantWorld, char: str
) -> None:
    assert hidden_character(f"ab{char}") is not None
    with world.client("owner") as c:
        for path, body, field in [
            ("/api/v1/channels", {"name": f"Sports{char}vt.exe"}, "name"),
            ("/api/v1/bouquets", {"name": f"Full{char}"}, "name"),
            ("/api/v1/categories", {"name": f"News{char}", "kind": "live"}, "name"),
            ("/api/v1/packages", {"name": f"M{char}", "duration_days": 30, "credits": 1}, "name"),
            (
                "/api/v1/users",
                {"username": f"ad{char}min", "password": "long-password", "role": "support"},
                "username",
            ),
            ("/api/v1/lines", {"username": f"v{char}", "password": "pw-123456"}, "username"),
        ]:
            r = c.post(path, json=body)
            assert r.status_code == 422, (path, r.text)
            assert field in r.json()["error"]["fields"], (path, r.text)
        r = c.post(
            "/api/v1/channels",
            json={"name": "Sports \u00e9t\u00e9 \u0627\u0644\u0639\u0631\u0628\u064a\u0629"},
        )
        assert r.status_code == 201, r.text  # accents and right-to-left scripts are fine
    with root_client(shared_server) as root:
        r = root.post("/api/v1/tenants", json={"name": f"T{char}", "slug": "tenant-x"})
        assert r.status_code == 422 and "name" in r.json()["error"]["fields"]
        r = root.post("/api/v1/tenants", json={"name": "T", "slug": f"ten{char}ant"})
        assert r.status_code == 422 and "slug" in r.json()["error"]["fields"]


def test_panel_and_api_responses_carry_security_headers(shared_server: RunningServer) -> None:
    with shared_server.client() as c:
        for path in ("/panel/", "/panel/js/app.js", "/watch/abc", "/api/v1/openapi.json"):
            r = c.get(path)
            assert r.status_code == 200, path
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["x-frame-options"] == "DENY"
            policy = r.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
            assert "worker-src 'self' blob:" in policy and "object-src 'none'" in policy
