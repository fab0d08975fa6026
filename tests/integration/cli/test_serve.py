"""The README's main command: `palinsesto serve` starts, migrates and creates the demo tenant."""

from __future__ import annotations

import os
import re
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


def _wait_healthy(base: str, timeout: float = 60) -> None:
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
        {
            "PALINSESTO_DATA_DIR": str(tmp_path / "data"),
            # Data plane and RTMP on ephemeral ports: tests never take the default ones.
            "PALINSESTO_LIVE_LISTEN": "127.0.0.1:0",
            "PALINSESTO_RTMP_LISTEN": "127.0.0.1:0",
            **extra,
        }
    )
    return env


def test_serve_starts_with_demo_tenant_and_generated_admin_password(tmp_path: Path) -> None:
    port = _free_port()
    env = _env(tmp_path, PALINSESTO_LISTEN=f"127.0.0.1:{port}")
    proc = subprocess.Popen(
        [str(BIN), "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline() if proc.stdout else ""
            lines.append(line)
            if "Admin API" in line or proc.poll() is not None:
                break
        output = "".join(lines)
        password = re.search(r"password \(shown once\): (\S+)", output)
        assert password, output
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base)
        token = httpx.post(
            f"{base}/api/v1/auth/token",
            data={"username": "admin", "password": password.group(1)},
        ).json()["access_token"]
        tenants = httpx.get(
            f"{base}/api/v1/tenants", headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert [t["slug"] for t in tenants["items"]] == ["demo"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    # The generated password is printed once: a second start does not show it again.
    port = _free_port()
    env["PALINSESTO_LISTEN"] = f"127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(BIN), "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert "shown once" not in out
    assert "demo-demo" not in out  # the demo line is printed on the first start only


def test_admin_commands_and_config(tmp_path: Path) -> None:
    env = _env(tmp_path, PALINSESTO_ADMIN_PASSWORD="never-printed-secret")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True)

    assert run("db", "upgrade").returncode == 0
    assert run("admin", "create-tenant", "acme", "--name", "Acme TV").returncode == 0
    again = run("admin", "create-tenant", "acme")
    assert again.returncode == 1 and "already exists" in again.stdout + again.stderr
    made = run("admin", "create-user", "boss", "--role", "owner", "--tenant", "acme")
    assert made.returncode == 0 and "shown once" in made.stdout
    missing = run("admin", "create-user", "x", "--role", "owner", "--tenant", "nope")
    assert missing.returncode == 1
    reset = run("admin", "reset-password", "boss", "--password", "new-pass-123")
    assert reset.returncode == 0
    config = run("config")
    assert config.returncode == 0
    assert "never-printed-secret" not in config.stdout
    assert "admin_password = ********" in config.stdout
    bad = subprocess.run(
        [str(BIN), "config"],
        env={**env, "PALINSESTO_LISTEN": "nope"},
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "PALINSESTO_LISTEN" in bad.stderr
