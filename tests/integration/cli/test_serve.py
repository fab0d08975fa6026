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

from support.serve_process import run_serve, serve_env, serve_process

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


# ---- start-up: ports first, then the database, then the admin; a banner that can be copied ----


def _taken_port() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def test_taken_ports_stop_the_start_before_the_admin_is_created(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with _taken_port() as taken:
        port = taken.getsockname()[1]
        for setting in ("listen", "live_listen", "rtmp_listen"):
            env = serve_env(data, admin_username="boss", **{setting: f"127.0.0.1:{port}"})
            started = time.monotonic()
            failed = run_serve(env)
            output = failed.stdout + failed.stderr
            assert failed.returncode == 1, output
            assert time.monotonic() - started < 30, output
            variable = f"PALINSESTO_{setting.upper()}"
            assert f"Cannot listen on 127.0.0.1:{port} ({variable})" in failed.stderr, output
            assert "already in use" in failed.stderr and "Traceback" not in output, output
            assert "shown once" not in output and "startup complete" not in output, output
            # Nothing was written: not even the database file.
            assert not (data / "palinsesto.db").exists(), output
    # So the first start that can listen still creates the admin and shows its password,
    # and its banner names the panel and the admin on whole lines, however narrow the
    # terminal (COLUMNS=30).
    env = serve_env(data, admin_username="boss", COLUMNS="30")
    with serve_process(env, "--no-demo") as server:
        server.wait_healthy()
        base = server.base_url
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base), server.output
        password = re.search(r"^Its password \(shown once\): (\S+)$", server.output, re.M)
        assert password, server.output
        assert re.search(r"^Admin user: boss$", server.output, re.M), server.output
        assert re.search(rf"^Admin API: {re.escape(base)}/api/v1/docs$", server.output, re.M)
        token = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "boss", "password": password.group(1)}
        )
        assert token.status_code == 200, token.text
    with serve_process(env, "--no-demo") as server:
        server.wait_healthy()
        assert "shown once" not in server.output
        assert re.search(r"^Admin user: boss$", server.output, re.M), server.output


def test_unreachable_database_is_one_line_with_the_fix(tmp_path: Path) -> None:
    closed = _free_port()  # nothing listens there
    url = f"postgresql://palinsesto:hunter2-secret@127.0.0.1:{closed}/palinsesto"
    failed = run_serve(serve_env(tmp_path / "data", database_url=url, COLUMNS="40"))
    lines = [line for line in (failed.stdout + failed.stderr).splitlines() if line.strip()]
    assert failed.returncode == 1, lines
    assert len(lines) == 1, lines
    assert "PALINSESTO_DATABASE_URL" in lines[0] and "Connection refused" in lines[0], lines
    assert f"127.0.0.1:{closed}" in lines[0] and "hunter2-secret" not in lines[0], lines


def test_listening_on_every_interface_takes_the_live_port_there_too(tmp_path: Path) -> None:
    # No LIVE_LISTEN: the data plane follows LISTEN's host (port 0 here, so a free one).
    env = serve_env(tmp_path / "data", listen="0.0.0.0:0", live_listen="", rtmp_listen="off")
    with serve_process(env, "--no-demo") as server:
        server.wait_healthy()
        host, live_port = server.live_address
        assert host == "0.0.0.0", server.output
        assert "PALINSESTO_PUBLIC_URL is not set" in server.output
        panel_port = int(server.base_url.rsplit(":", 1)[1])
        assert f"Listening on 0.0.0.0:{panel_port}\n" in server.output  # the socket itself
        # A player that reached this machine on another of its addresses (127.0.0.2 is
        # loopback too) is sent to that address, whatever Host it claims, and the data
        # plane answers there.
        with socket.create_connection(("127.0.0.2", panel_port), timeout=10) as sock:
            sock.sendall(
                b"GET /live/nobody/nothing/1.ts HTTP/1.1\r\nHost: evil.example\r\n"
                b"Connection: close\r\n\r\n"
            )
            head = sock.makefile("rb").read().split(b"\r\n\r\n")[0].decode()
        location = f"http://127.0.0.2:{live_port}/live/nobody/nothing/1.ts"
        assert head.startswith("HTTP/1.1 302") and f"location: {location}" in head.lower(), head
        assert httpx.get(location, timeout=20).status_code == 401
