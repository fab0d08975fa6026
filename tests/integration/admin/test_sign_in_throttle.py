"""Admin sign-in throttling from the outside: concurrent guesses, per-account accounting,
lock-outs and the client address behind (un)trusted proxies (README "Sign-in throttling")."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from palinsesto.accounts.models import Role
from support.admin_api import USER_PASSWORD, add_user
from support.server import ADMIN_PASSWORD, ADMIN_USER, RunningServer, make_settings, run_server

LIMIT = 5


@pytest.fixture
def behind_proxy(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """127.0.0.1 is a trusted proxy: X-Forwarded-For names the client."""
    settings = make_settings(
        tmp_path, database_url, trusted_proxies="127.0.0.1", login_max_failures=LIMIT
    )
    with run_server(settings) as running:
        yield running


@pytest.fixture
def direct(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """No trusted proxy (the default): the connecting peer is the client."""
    settings = make_settings(tmp_path, database_url, login_max_failures=LIMIT)
    with run_server(settings) as running:
        yield running


def sign_in(
    server: RunningServer, username: str, password: str, client_ip: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": client_ip} if client_ip else {}
    return httpx.post(
        f"{server.base_url}/api/v1/auth/token",
        data={"username": username, "password": password},
        headers=headers,
        timeout=60,
    )


def test_concurrent_guesses_beyond_the_limit_are_refused_unchecked(direct) -> None:
    # 30 wrong passwords at once: only LIMIT may be checked (401); the rest must be refused
    # before argon2 runs (429), not all checked and counted afterwards.
    with ThreadPoolExecutor(30) as pool:
        statuses = list(
            pool.map(lambda _: sign_in(direct, ADMIN_USER, "guess").status_code, range(30))
        )
    assert statuses.count(401) <= LIMIT
    assert statuses.count(429) >= 30 - LIMIT
    assert set(statuses) <= {401, 429}
    # Locked out now: the right password from this address is refused as well.
    locked = sign_in(direct, ADMIN_USER, ADMIN_PASSWORD)
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0


def test_success_at_one_account_does_not_reset_guesses_at_another(behind_proxy) -> None:
    add_user(behind_proxy, None, "mine", Role.platform_admin)
    attacker = "198.51.100.9"
    for _ in range(LIMIT - 1):
        assert sign_in(behind_proxy, ADMIN_USER, "guess", attacker).status_code == 401
    # Signing in to one's own account in between used to wipe the count.
    assert sign_in(behind_proxy, "mine", USER_PASSWORD, attacker).status_code == 200
    assert sign_in(behind_proxy, ADMIN_USER, "guess", attacker).status_code == 401
    assert sign_in(behind_proxy, ADMIN_USER, "guess", attacker).status_code == 429
    assert sign_in(behind_proxy, ADMIN_USER, ADMIN_PASSWORD, attacker).status_code == 429
    # The account it signed in to before stays open to it (a known pair), and the
    # guessed-at account stays open to its owner elsewhere.
    assert sign_in(behind_proxy, "mine", USER_PASSWORD, attacker).status_code == 200
    assert sign_in(behind_proxy, ADMIN_USER, ADMIN_PASSWORD, "203.0.113.5").status_code == 200


def test_own_typos_are_cleared_by_signing_in(behind_proxy) -> None:
    me = "192.0.2.44"
    for _ in range(3):
        for _ in range(LIMIT - 1):
            assert sign_in(behind_proxy, ADMIN_USER, "typo", me).status_code == 401
        assert sign_in(behind_proxy, ADMIN_USER, ADMIN_PASSWORD, me).status_code == 200


def test_guesses_spread_over_addresses_lock_the_account_but_not_its_known_addresses(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path,
        database_url,
        trusted_proxies="127.0.0.1",
        login_max_failures=LIMIT,
        login_account_max_failures=8,
    )
    with run_server(settings) as server:
        assert sign_in(server, ADMIN_USER, ADMIN_PASSWORD, "192.0.2.1").status_code == 200
        statuses = [
            sign_in(server, ADMIN_USER, "guess", f"198.51.100.{i}").status_code for i in range(12)
        ]
        assert statuses == [401] * 8 + [429] * 4
        # A new address is refused even with the right password; the owner's is not.
        assert sign_in(server, ADMIN_USER, ADMIN_PASSWORD, "203.0.113.7").status_code == 429
        assert sign_in(server, ADMIN_USER, ADMIN_PASSWORD, "192.0.2.1").status_code == 200


def test_forwarded_for_from_an_untrusted_peer_is_ignored(direct) -> None:
    # Each guess claims another address; none is believed, so all count for 127.0.0.1.
    for i in range(LIMIT):
        r = sign_in(direct, ADMIN_USER, "guess", f"198.51.100.{i}")
        assert r.status_code == 401
    assert sign_in(direct, ADMIN_USER, "guess", "198.51.100.200").status_code == 429


def test_forwarded_for_from_a_trusted_proxy_names_the_client(behind_proxy) -> None:
    for i in range(LIMIT + 3):
        assert sign_in(behind_proxy, ADMIN_USER, "guess", f"198.51.100.{i}").status_code == 401
    # One address is locked out, another is not.
    for _ in range(LIMIT):
        sign_in(behind_proxy, "nobody", "guess", "192.0.2.99")
    assert sign_in(behind_proxy, ADMIN_USER, ADMIN_PASSWORD, "192.0.2.99").status_code == 429
    assert sign_in(behind_proxy, ADMIN_USER, ADMIN_PASSWORD, "192.0.2.100").status_code == 200
    # The audit trail records the client, not the proxy.
    token = behind_proxy.token()
    with behind_proxy.client(token) as c:
        page = c.get("/api/v1/audit", params={"action": "login_failed", "per_page": 100}).json()
    ips = {row["ip"] for row in page["items"]}
    assert "192.0.2.99" in ips and "127.0.0.1" not in ips
