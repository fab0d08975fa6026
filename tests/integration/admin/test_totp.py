"""Two-factor sign-in from the outside: codes computed by pyotp (what authenticator apps do),
sign-in over HTTP, recovery codes, replays, and the setting that makes it compulsory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from palinsesto.accounts.models import Role
from support.admin_api import USER_PASSWORD, make_tenant
from support.server import RunningServer, make_settings, run_server


def _sign_in(
    server: RunningServer, username: str, password: str, otp: str | None = None
) -> httpx.Response:
    data = {"username": username, "password": password}
    if otp is not None:
        data["otp"] = otp
    with server.client() as c:
        return c.post("/api/v1/auth/token", data=data)


def _turn_on(server: RunningServer, token: str) -> tuple[pyotp.TOTP, list[str]]:
    with server.client(token) as c:
        setup = c.post("/api/v1/auth/totp/setup").json()
        authenticator = pyotp.TOTP(setup["secret"])
        assert pyotp.parse_uri(setup["uri"]).secret == setup["secret"]
        r = c.post("/api/v1/auth/totp/confirm", json={"code": "000000"})
        assert r.status_code == 422 and "code" in r.json()["error"]["fields"]
        r = c.post("/api/v1/auth/totp/confirm", json={"code": authenticator.now()})
        assert r.status_code == 200, r.text
        codes = r.json()["recovery_codes"]
        assert len(codes) == 10 and len(set(codes)) == 10
        assert c.get("/api/v1/auth/totp").json() == {
            "enabled": True,
            "required": False,
            "recovery_codes_left": 10,
        }
    return authenticator, codes


def _next_code(authenticator: pyotp.TOTP) -> str:
    """A code of the next 30-second step (the current one was spent by the confirmation)."""
    return authenticator.at(time.time() + 30)


def test_sign_in_needs_the_code_once_turned_on(server: RunningServer) -> None:
    world = make_tenant(server, "acme")
    owner = world.users["owner"]
    authenticator, recovery = _turn_on(server, owner.token)

    r = _sign_in(server, owner.username, USER_PASSWORD)
    assert r.status_code == 401 and r.json()["error"]["code"] == "otp_required"
    r = _sign_in(server, owner.username, "wrong-password", _next_code(authenticator))
    assert r.status_code == 401 and r.json()["error"]["message"] == "Wrong username or password."
    r = _sign_in(server, owner.username, USER_PASSWORD, "123456")
    assert r.status_code == 401 and "code" in r.json()["error"]["message"]

    code = _next_code(authenticator)
    r = _sign_in(server, owner.username, USER_PASSWORD, code)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    with server.client(token) as c:
        assert c.get("/api/v1/auth/me").json()["username"] == owner.username
    # The same code again is a replay: refused.
    assert _sign_in(server, owner.username, USER_PASSWORD, code).status_code == 401

    # A recovery code works once, and the audit log says so.
    r = _sign_in(server, owner.username, USER_PASSWORD, recovery[0].upper())
    assert r.status_code == 200, r.text
    assert _sign_in(server, owner.username, USER_PASSWORD, recovery[0]).status_code == 401
    with server.client(token) as c:
        assert c.get("/api/v1/auth/totp").json()["recovery_codes_left"] == 9
        audit = c.get("/api/v1/audit", params={"entity": "user"}).json()["items"]
        assert {"totp_enabled", "recovery_code_used"} <= {e["action"] for e in audit}
        for entry in audit:  # neither secrets nor recovery codes reach the log
            assert recovery[1] not in str(entry) and "totp_secret" not in str(entry["after"])


def test_turning_it_off_needs_password_and_code(server: RunningServer) -> None:
    world = make_tenant(server, "acme")
    owner = world.users["owner"]
    authenticator, recovery = _turn_on(server, owner.token)
    with server.client(owner.token) as c:
        r = c.post("/api/v1/auth/totp/disable", json={"password": "nope", "code": recovery[0]})
        assert r.status_code == 401
        r = c.post(
            "/api/v1/auth/totp/disable", json={"password": USER_PASSWORD, "code": recovery[1]}
        )
        assert r.status_code == 204, r.text
        assert c.get("/api/v1/auth/totp").json()["enabled"] is False
    assert _sign_in(server, owner.username, USER_PASSWORD).status_code == 200


@pytest.fixture
def strict_server(database_url: str, tmp_path: Path) -> Any:
    settings = make_settings(tmp_path, database_url, totp_required_roles="owner")
    with run_server(settings) as running:
        yield running


def test_required_roles_reach_only_the_set_up_until_they_have_it(strict_server: Any) -> None:
    server: RunningServer = strict_server
    world = make_tenant(server, "acme")
    owner, admin = world.users["owner"], world.users["admin"]
    with server.client(owner.token) as c:
        r = c.get("/api/v1/channels")
        assert r.status_code == 403 and r.json()["error"]["code"] == "totp_setup_required"
        assert c.get("/api/v1/auth/me").status_code == 200
        assert c.get("/api/v1/auth/totp").json()["required"] is True
    with server.client(admin.token) as c:  # a role the setting does not name
        assert c.get("/api/v1/channels").status_code == 200
    _turn_on_required(server, owner.token)
    with server.client(owner.token) as c:
        assert c.get("/api/v1/channels").status_code == 200


def _turn_on_required(server: RunningServer, token: str) -> None:
    with server.client(token) as c:
        secret = c.post("/api/v1/auth/totp/setup").json()["secret"]
        r = c.post("/api/v1/auth/totp/confirm", json={"code": pyotp.TOTP(secret).now()})
        assert r.status_code == 200, r.text


def test_an_unknown_role_in_the_setting_is_a_clear_error(tmp_path: Path, sqlite_url: str) -> None:
    from palinsesto.config import ConfigError
    from palinsesto.context import totp_roles

    settings = make_settings(tmp_path, sqlite_url, totp_required_roles="owner,superuser")
    with pytest.raises(ConfigError, match="TOTP_REQUIRED_ROLES"):
        totp_roles(settings)
    good = make_settings(tmp_path, sqlite_url, totp_required_roles=" owner , platform_admin")
    assert totp_roles(good) == {Role.owner, Role.platform_admin}
