"""`palinsesto serve` believes X-Forwarded-For only from PALINSESTO_TRUSTED_PROXIES: not from
loopback by default, as uvicorn alone would (README "Sign-in throttling")."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).with_name("palinsesto")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(base: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{base} did not become healthy in {timeout} s")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PALINSESTO_")}
    env.update(
        PALINSESTO_DATA_DIR=str(tmp_path / "data"),
        PALINSESTO_LIVE_LISTEN="127.0.0.1:0",
        PALINSESTO_RTMP_LISTEN="127.0.0.1:0",
        **extra,
    )
    return env


def _wrong_sign_ins(tmp_path: Path, **extra: str) -> list[int]:
    """Four wrong admin sign-ins, each claiming another client address."""
    port = _free_port()
    env = _env(
        tmp_path,
        PALINSESTO_LISTEN=f"127.0.0.1:{port}",
        PALINSESTO_ADMIN_PASSWORD="the-right-password",
        PALINSESTO_LOGIN_MAX_FAILURES="3",
        **extra,
    )
    proc = subprocess.Popen(
        [str(BIN), "serve", "--no-demo"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, timeout=180)
        return [
            httpx.post(
                f"{base}/api/v1/auth/token",
                data={"username": "admin", "password": "wrong"},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
                timeout=60,
            ).status_code
            for i in range(4)
        ]
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_forwarded_for_from_loopback_is_ignored_by_default(tmp_path: Path) -> None:
    assert _wrong_sign_ins(tmp_path / "a") == [401, 401, 401, 429]


def test_forwarded_for_from_a_configured_proxy_names_the_client(tmp_path: Path) -> None:
    statuses = _wrong_sign_ins(tmp_path / "b", PALINSESTO_TRUSTED_PROXIES="127.0.0.1")
    assert statuses == [401, 401, 401, 401]
